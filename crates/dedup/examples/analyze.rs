//! Prints the analysis of each argument (or of each line of standard input)
//! as one JSON line, to see what the normaliser makes of a text:
//! `cargo run -p lienthong-dedup --example analyze -- "UBND phường X đề nghị …"`.

#![allow(
    clippy::print_stdout,
    reason = "printing the analysis is the point of this example"
)]

use std::io::BufRead as _;

use lienthong_dedup::Engine;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let engine = Engine::default();
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let texts = if arguments.is_empty() {
        std::io::stdin().lock().lines().collect::<Result<Vec<_>, _>>()?
    } else {
        arguments
    };
    for text in texts {
        if let Err(problem) = engine.check_text(&text) {
            println!("refused: {problem}");
            continue;
        }
        println!("{}", serde_json::to_string(&engine.analyze(&text))?);
    }
    Ok(())
}
