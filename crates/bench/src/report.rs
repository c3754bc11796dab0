//! Printing results: a line per backend as soon as it is done, then one table
//! with the backends side by side, then anything that makes the run fail.

use std::fmt::Write as _;
use std::time::Duration;

use crate::load::{Outcome, Plan};
use crate::setup::Backend;

/// The result of one backend's run.
#[derive(Debug)]
pub struct Row {
    pub backend: Backend,
    pub plan: Plan,
    pub outcome: Outcome,
    /// `bench-20` reports found in the database afterwards.
    pub stored: u64,
}

impl Row {
    /// Why this run cannot be trusted; empty when it can.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (code, error) in &self.outcome.errors {
            problems.push(format!(
                "{}: {} × {code}, e.g. {:?}",
                self.backend, error.count, error.example
            ));
        }
        if self.outcome.exhausted_workers > 0 {
            problems.push(format!(
                "{}: {} workers ran out of periods before the end; use a shorter --duration or a lower --concurrency",
                self.backend, self.outcome.exhausted_workers
            ));
        }
        if self.stored != self.outcome.successes {
            problems.push(format!(
                "{}: {} reports acknowledged but {} stored",
                self.backend, self.outcome.successes, self.stored
            ));
        }
        problems
    }
}

pub fn print_machine(cores: usize) {
    println!("machine: {cores} cores (server and load generator share them)");
}

/// The one-line summary of a finished backend.
pub fn print_progress(row: &Row) {
    println!(
        "{}: {} reports in {:.1} s, {:.0} reports/s, {} errors; verified {} stored ({} acknowledged including warm-up)",
        row.backend,
        row.outcome.measured(),
        row.outcome.elapsed.as_secs_f64(),
        row.outcome.reports_per_second(),
        row.outcome.error_count(),
        row.stored,
        row.outcome.successes,
    );
}

const HEADERS: [&str; 12] = [
    "backend",
    "concurrency",
    "connections",
    "duration s",
    "reports",
    "reports/s",
    "p50 ms",
    "p90 ms",
    "p99 ms",
    "max ms",
    "errors",
    "stored",
];

pub fn print_table(rows: &[Row]) {
    let cells: Vec<Vec<String>> = rows.iter().map(|row| cells(row).to_vec()).collect();
    println!();
    print_rows(&HEADERS, &cells);
}

/// A table: a header line, a rule, then one line per row; the first column
/// left-aligned, the others right-aligned.
pub fn print_rows(headers: &[&str], rows: &[Vec<String>]) {
    let widths: Vec<usize> = (0..headers.len())
        .map(|column| {
            rows.iter()
                .filter_map(|row| row.get(column))
                .map(|cell| cell.chars().count())
                .chain([headers[column].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    println!(
        "{}",
        line(
            &headers
                .iter()
                .map(|header| (*header).to_owned())
                .collect::<Vec<_>>(),
            &widths
        )
    );
    println!(
        "{}",
        line(
            &widths.iter().map(|width| "-".repeat(*width)).collect::<Vec<_>>(),
            &widths
        )
    );
    for row in rows {
        println!("{}", line(row, &widths));
    }
}

/// Left-aligned first column (a name), right-aligned numbers.
fn line(cells: &[String], widths: &[usize]) -> String {
    let mut text = String::new();
    for (index, (cell, width)) in cells.iter().zip(widths).enumerate() {
        // Writing to a String cannot fail. Widths count characters, as
        // `{:width$}` pads by characters.
        let _ = if index == 0 {
            write!(text, "{cell:<width$}")
        } else {
            write!(text, "  {cell:>width$}")
        };
    }
    text
}

fn cells(row: &Row) -> [String; 12] {
    let latencies = &row.outcome.latencies;
    let millis = |micros: u64| format!("{:.1}", Duration::from_micros(micros).as_secs_f64() * 1_000.0);
    [
        row.backend.to_string(),
        row.plan.concurrency.to_string(),
        row.plan.connections.to_string(),
        format!("{:.1}", row.outcome.elapsed.as_secs_f64()),
        row.outcome.measured().to_string(),
        format!("{:.0}", row.outcome.reports_per_second()),
        millis(latencies.value_at_quantile(0.50)),
        millis(latencies.value_at_quantile(0.90)),
        millis(latencies.value_at_quantile(0.99)),
        millis(latencies.max()),
        row.outcome.error_count().to_string(),
        row.stored.to_string(),
    ]
}
