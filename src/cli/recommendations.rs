//! `lienthong recommendations cluster`: offline batch clustering with the
//! server's engine and default thresholds, for historical data or for
//! checking a labelled set.

use std::io::{BufRead as _, BufWriter, Write as _};
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;
use lienthong_dedup::{BatchClusterer, Engine, NORM_VERSION};
use lienthong_domain::service::Services;
use serde::{Deserialize, Serialize};

#[derive(Debug, Subcommand)]
pub enum RecommendationsCommand {
    /// Cluster a JSONL file of recommendations (`{"id": …, "text": …}` per
    /// line; `bloc` and `unit` are accepted and ignored) and write
    /// `{"id": …, "cluster": …}` per input line, in input order.
    Cluster {
        #[arg(long)]
        input: PathBuf,
        #[arg(long)]
        output: PathBuf,
    },
    /// Re-analyse stored recommendations after an upgrade changed the
    /// normalisation version, and rebuild the dedup index. Safe to repeat.
    Reindex {
        #[command(flatten)]
        database: super::DatabaseArgs,
    },
}

#[derive(Debug, Deserialize)]
struct InputLine {
    id: serde_json::Value,
    text: String,
}

#[derive(Debug, Serialize)]
struct OutputLine<'a> {
    id: &'a serde_json::Value,
    cluster: &'a str,
}

/// Ids may be strings or numbers in the input; clustering keys on their text.
fn id_text(id: &serde_json::Value) -> String {
    match id {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

pub async fn run(command: RecommendationsCommand) -> anyhow::Result<()> {
    match command {
        RecommendationsCommand::Cluster { input, output } => cluster(&input, &output),
        RecommendationsCommand::Reindex { database } => {
            let store = lienthong_store::connect(&database.database_url).await?;
            let services = Services::new(store, lienthong_domain::service::system_clock());
            let reindexed = services.recommendations.reindex().await?;
            say!("{reindexed} recommendations re-analysed (normalisation version {NORM_VERSION})");
            Ok(())
        }
    }
}

fn cluster(input: &std::path::Path, output: &std::path::Path) -> anyhow::Result<()> {
    let reader = std::io::BufReader::new(
        std::fs::File::open(input).with_context(|| format!("opening {}", input.display()))?,
    );
    let mut lines = Vec::new();
    for (index, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", input.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let parsed: InputLine = serde_json::from_str(&line)
            .with_context(|| format!("line {}: expected {{\"id\": …, \"text\": …}}", index + 1))?;
        lines.push(parsed);
    }

    let engine = Engine::default();
    let mut clusterer = BatchClusterer::new(&engine);
    let mut labels = Vec::with_capacity(lines.len());
    let mut refused = 0_usize;
    for line in &lines {
        let id = id_text(&line.id);
        match clusterer.add(id.clone(), &line.text) {
            Ok(label) => labels.push(label),
            Err(problem) => {
                // Every input gets an output line; a text the server would
                // refuse stands alone.
                tracing::warn!(id = %id, %problem, "text refused; it forms its own cluster");
                refused += 1;
                labels.push(id);
            }
        }
    }

    let file = std::fs::File::create(output).with_context(|| format!("creating {}", output.display()))?;
    let mut writer = BufWriter::new(file);
    for (line, label) in lines.iter().zip(&labels) {
        serde_json::to_writer(
            &mut writer,
            &OutputLine {
                id: &line.id,
                cluster: label,
            },
        )?;
        writer.write_all(b"\n")?;
    }
    writer.flush()?;
    let mut distinct: Vec<&String> = labels.iter().collect();
    distinct.sort_unstable();
    distinct.dedup();
    eprintln!(
        "{} recommendations in {} clusters ({refused} refused texts) written to {}",
        lines.len(),
        distinct.len(),
        output.display()
    );
    Ok(())
}
