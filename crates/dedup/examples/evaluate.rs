//! Clusters a labelled JSONL set with the default engine and prints pairwise
//! precision, recall and F1 with failures by kind of variation:
//! `cargo run -p lienthong-dedup --example evaluate -- crates/dedup/data/labelled/recommendations.jsonl`.

#![allow(
    clippy::print_stdout,
    reason = "printing the report is the point of this example"
)]

use std::path::PathBuf;

use lienthong_dedup::Engine;
use lienthong_dedup::evaluation::{evaluate_engine, load_labelled, report};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .ok_or("usage: evaluate LABELLED.jsonl")?;
    let items = load_labelled(&path)?;
    let engine = Engine::default();
    let evaluation = evaluate_engine(&engine, &items);
    print!("{}", report(&evaluation, &items));
    Ok(())
}
