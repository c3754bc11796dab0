//! A rough timing of analysis and batch clustering, run by hand in release
//! mode (`cargo test --release -p lienthong-dedup --test timing -- --ignored
//! --nocapture`). It asserts nothing about time: machines differ, and CI
//! shares its cores.

use std::time::Instant;

use lienthong_dedup::evaluation::parse_labelled;
use lienthong_dedup::{BatchClusterer, Engine};

const LABELLED: &str = include_str!("../data/labelled/recommendations.jsonl");

#[test]
#[ignore = "timing note, run by hand in release mode"]
#[allow(clippy::print_stdout, reason = "the timings are the output of this test")]
fn analysis_and_batch_timing() {
    let engine = Engine::default();
    let texts: Vec<String> = parse_labelled(LABELLED)
        .expect("the labelled set parses")
        .into_iter()
        .map(|item| item.text)
        .collect();
    let rounds = 30;
    let started = Instant::now();
    let mut band_keys = 0;
    for _ in 0..rounds {
        for text in &texts {
            band_keys += engine.analyze(text).band_keys.len();
        }
    }
    let per_text = started.elapsed() / u32::try_from(rounds * texts.len()).unwrap_or(u32::MAX);
    println!("analyze: {per_text:?} per text ({band_keys} band keys)");

    // A larger batch: the labelled texts repeated with a distinguishing
    // number, so most are near-duplicates of one another.
    let batch: Vec<String> = (0..30)
        .flat_map(|round| texts.iter().map(move |text| format!("{text} Đợt {round}.")))
        .collect();
    let started = Instant::now();
    let mut clusterer = BatchClusterer::new(&engine);
    for (index, text) in batch.iter().enumerate() {
        let _refused = clusterer.add(index.to_string(), text);
    }
    let elapsed = started.elapsed();
    println!(
        "batch: {} texts in {elapsed:?} ({:?} per text)",
        batch.len(),
        elapsed / u32::try_from(batch.len()).unwrap_or(u32::MAX)
    );
}
