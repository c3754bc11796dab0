//! Writes what the engine makes of a JSONL file of `{"id", "text"}` lines,
//! one line per text, so two builds can be compared byte for byte:
//! `cargo run --release -p lienthong-dedup --example dump -- decisions IN.jsonl`
//! prints each text's cluster and decision (scores included) as the batch
//! clusterer makes them; `analyses` prints each text's full analysis with
//! its band keys.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "printing the dump is the point of this example"
)]

use std::io::{BufRead as _, BufWriter, Write as _};

use lienthong_dedup::{BatchClusterer, Engine};

#[derive(serde::Deserialize)]
struct Line {
    id: String,
    text: String,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut arguments = std::env::args().skip(1);
    let (Some(mode), Some(path)) = (arguments.next(), arguments.next()) else {
        return Err("usage: dump decisions|analyses IN.jsonl".into());
    };
    let mut lines = Vec::new();
    for line in std::io::BufReader::new(std::fs::File::open(path)?).lines() {
        let line = line?;
        if !line.trim().is_empty() {
            lines.push(serde_json::from_str::<Line>(&line)?);
        }
    }
    let engine = Engine::default();
    let mut out = BufWriter::new(std::io::stdout().lock());
    match mode.as_str() {
        "decisions" => {
            let mut clusterer = BatchClusterer::new(&engine);
            let mut results = Vec::with_capacity(lines.len());
            clusterer.add_all(
                &lines,
                |line| line.text.as_str(),
                |line| line.id.clone(),
                |position, added| {
                    results.push((position, added));
                    if position + 1 == lines.len() {
                        report_thread_times();
                    }
                },
            );
            for (position, added) in results {
                let id = lines.get(position).map_or("", |line| line.id.as_str());
                match added {
                    Ok(added) => writeln!(
                        out,
                        "{id}\t{}\t{}",
                        added.cluster,
                        serde_json::to_string(&added.decision)?
                    )?,
                    Err(problem) => writeln!(out, "{id}\trefused\t{problem}")?,
                }
            }
        }
        "analyses" => {
            for line in &lines {
                let analysis = engine.analyze(&line.text);
                writeln!(
                    out,
                    "{}\t{}\t{:?}",
                    line.id,
                    serde_json::to_string(&analysis)?,
                    analysis.band_keys
                )?;
            }
        }
        other => return Err(format!("unknown mode {other}").into()),
    }
    out.flush()?;
    Ok(())
}

/// On Linux, prints each thread's time on a processor so far (from
/// `/proc/self/task/*/schedstat`): on a busy machine that says more about
/// the cost of deciding and analysing than the wall clock.
fn report_thread_times() {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return;
    };
    for task in tasks.flatten() {
        let path = task.path().join("schedstat");
        let Ok(stat) = std::fs::read_to_string(&path) else {
            continue;
        };
        let nanos: u64 = stat
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let name = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        eprintln!(
            "thread {} ({}): {:.2} s on a processor",
            task.file_name().to_string_lossy(),
            name.trim(),
            nanos as f64 / 1e9
        );
    }
}
