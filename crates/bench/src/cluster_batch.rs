//! `cluster-batch`: batch clustering throughput of the dedup engine against
//! datasketch's MinHash LSH on the same synthetic corpus.
//!
//! The Rust side adds every text to a [`BatchClusterer`] with
//! [`Engine::default`] — the server's engine and thresholds — so each text
//! is normalised, MinHashed, looked up by band keys, scored against up to
//! 50 candidates with IDF weights and decided; texts are analysed ahead on
//! the spare cores while one thread decides in order. The Python side
//! (`python/minhash_lsh.py`) hashes lower-cased whitespace words and, for
//! each text, queries the LSH index and inserts into it: the candidate step
//! only, without normalisation or scoring.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use hdrhistogram::Histogram;
use lienthong_dedup::{BatchClusterer, Engine};

use crate::cli::ClusterBatchArgs;
use crate::corpus::{self, Item, KINDS};
use crate::report;

const PYTHON_DIRECTORY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/python");
const DEFAULT_VENV: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/bench-venv");

/// The goal: the engine, normalising and scoring, at least this many
/// times datasketch's throughput.
const GOAL_RATIO: f64 = 3.0;

pub fn run(arguments: &ClusterBatchArgs) -> anyhow::Result<()> {
    let count = usize::try_from(arguments.count)?;
    let communes = corpus::hanoi_communes();
    let generating = Instant::now();
    let items = corpus::generate(count, arguments.seed, &communes);
    let matters = items
        .iter()
        .map(|item| item.matter)
        .max()
        .map_or(0, |last| last + 1);
    println!(
        "corpus: {} recommendations of {matters} planted matters (seed {}), generated in {:.1} s; {:.1} words per text",
        items.len(),
        arguments.seed,
        generating.elapsed().as_secs_f64(),
        items
            .iter()
            .map(|item| item.text.split_whitespace().count())
            .sum::<usize>() as f64
            / items.len().max(1) as f64,
    );

    if let Some(path) = &arguments.write_corpus {
        write_labelled(&items, path).with_context(|| format!("writing {}", path.display()))?;
        println!("corpus written to {}", path.display());
    }

    let venv = arguments
        .python_venv
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_VENV));
    let mut rounds: Vec<Round> = Vec::new();
    let mut python_failure = arguments.no_python.then(|| "skipped (--no-python)".to_owned());
    for round in 1..=arguments.rounds {
        let rust = cluster_in_rust(&items)?;
        println!(
            "round {round}: lienthong-dedup {} texts in {:.2} s, {:.0} texts/s; per text p50 {} µs, p99 {} µs, max {} µs; {} refused",
            items.len(),
            rust.elapsed.as_secs_f64(),
            per_second(items.len(), rust.elapsed),
            rust.latencies.value_at_quantile(0.5),
            rust.latencies.value_at_quantile(0.99),
            rust.latencies.max(),
            rust.refused,
        );
        let python = match &python_failure {
            Some(_) => None,
            None => match run_python(&items, &venv, arguments) {
                Ok(python) => {
                    println!(
                        "round {round}: {} {:.0} texts/s; ratio {:.2}",
                        python.engine,
                        python.texts_per_second,
                        per_second(items.len(), rust.elapsed) / python.texts_per_second
                    );
                    Some(python)
                }
                Err(why) => {
                    python_failure = Some(why);
                    None
                }
            },
        };
        rounds.push(Round { rust, python });
    }
    let ratios: Vec<f64> = rounds
        .iter()
        .filter_map(|round| round.ratio(items.len()))
        .collect();
    // The round of the median ratio stands for the run in the table (the
    // lower of the two middle ones for an even count, so a tie never tips
    // the goal towards met); when datasketch measured no round, the round
    // of the median engine rate.
    let compared: Vec<&Round> = rounds.iter().filter(|round| round.python.is_some()).collect();
    let mut standing = if compared.is_empty() {
        rounds.iter().collect()
    } else {
        compared
    };
    standing.sort_by(|left, right| {
        let key = |round: &Round| {
            round
                .ratio(items.len())
                .unwrap_or_else(|| per_second(items.len(), round.rust.elapsed))
        };
        key(left).total_cmp(&key(right))
    });
    let median = *standing
        .get(standing.len().saturating_sub(1) / 2)
        .context("at least one round runs")?;

    let scores = planted_scores(&items, &median.rust.labels);
    print_throughput(&items, &median.rust, median.python.as_ref(), &scores, &ratios);
    match &python_failure {
        Some(why) if ratios.is_empty() => println!("\ndatasketch: not measured: {why}"),
        Some(why) => println!(
            "\ndatasketch: failed after {} round(s), which alone are compared: {why}",
            ratios.len()
        ),
        None => {}
    }
    print_recall(&items, &median.rust.labels, &scores);
    Ok(())
}

/// One run of each side, one right after the other.
#[derive(Debug)]
struct Round {
    rust: RustRun,
    python: Option<PythonRun>,
}

impl Round {
    /// The engine's throughput over datasketch's in this round.
    fn ratio(&self, count: usize) -> Option<f64> {
        let python = self.python.as_ref()?;
        (python.texts_per_second > 0.0)
            .then(|| per_second(count, self.rust.elapsed) / python.texts_per_second)
    }
}

/// The corpus as labelled JSONL: one `{"id", "text", "cluster", "kinds"}`
/// object per line.
fn write_labelled(items: &[Item], path: &Path) -> anyhow::Result<()> {
    let mut writer = std::io::BufWriter::new(std::fs::File::create(path)?);
    for item in items {
        let line = serde_json::json!({
            "id": item.id,
            "text": item.text,
            "cluster": format!("m{:05}", item.matter),
            "kinds": item.kinds,
        });
        writeln!(writer, "{line}")?;
    }
    writer.flush()?;
    Ok(())
}

/// What the engine did with the corpus.
#[derive(Debug)]
struct RustRun {
    elapsed: Duration,
    /// Microseconds per added text.
    latencies: Histogram<u64>,
    /// Predicted cluster of each item, by position (refused texts alone).
    labels: Vec<usize>,
    refused: usize,
}

fn cluster_in_rust(items: &[Item]) -> anyhow::Result<RustRun> {
    tracing::info!(texts = items.len(), "clustering with lienthong-dedup");
    // Built once, as the server does; parsing the lexicon is not per text.
    let engine = Engine::default();
    let mut clusterer = BatchClusterer::new(&engine);
    let mut latencies =
        Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).context("creating a histogram")?;
    let mut refused = 0;
    let started = Instant::now();
    let mut previous = started;
    // Texts are analysed ahead on spare cores; what a text costs is the
    // time from one decision to the next.
    clusterer.add_all(
        items,
        |item| item.text.as_str(),
        |item| item.id.clone(),
        |_, added| {
            refused += usize::from(added.is_err());
            let now = Instant::now();
            let micros = u64::try_from(now.duration_since(previous).as_micros()).unwrap_or(u64::MAX);
            latencies.saturating_record(micros.max(1));
            previous = now;
        },
    );
    let elapsed = started.elapsed();

    let mut cluster_numbers: HashMap<String, usize> = HashMap::new();
    let by_id: HashMap<String, String> = clusterer.assignments().into_iter().collect();
    let labels = items
        .iter()
        .map(|item| {
            // A refused text is a cluster of its own, keyed by its id.
            let label = by_id.get(&item.id).cloned().unwrap_or_else(|| item.id.clone());
            let next = cluster_numbers.len();
            *cluster_numbers.entry(label).or_insert(next)
        })
        .collect();
    Ok(RustRun {
        elapsed,
        latencies,
        labels,
        refused,
    })
}

/// What `python/minhash_lsh.py` reports.
#[derive(Debug, serde::Deserialize)]
struct PythonRun {
    engine: String,
    python: String,
    num_perm: u32,
    threshold: f64,
    seconds: f64,
    texts_per_second: f64,
    candidate_pairs: u64,
    planted_pairs: u64,
    planted_pairs_found: u64,
}

/// Runs the datasketch side on the same texts, installing it first when
/// the virtual environment lacks it. Any failure is returned as a note.
fn run_python(items: &[Item], venv: &Path, arguments: &ClusterBatchArgs) -> Result<PythonRun, String> {
    let python = venv.join("bin").join("python");
    let has_datasketch = |python: &Path| {
        Command::new(python)
            .args(["-c", "import datasketch"])
            .output()
            .is_ok_and(|output| output.status.success())
    };
    if !has_datasketch(&python) {
        tracing::info!(venv = %venv.display(), "installing datasketch into a virtual environment");
        let setup = Command::new("sh")
            .arg(Path::new(PYTHON_DIRECTORY).join("setup.sh"))
            .arg(venv)
            .status()
            .map_err(|error| format!("cannot run python/setup.sh: {error}"))?;
        if !setup.success() || !has_datasketch(&python) {
            return Err(format!(
                "python/setup.sh could not install datasketch into {} (needs python3 with venv and PyPI)",
                venv.display()
            ));
        }
    }

    let mut input = tempfile::Builder::new()
        .prefix("cluster-batch-")
        .suffix(".jsonl")
        .tempfile()
        .map_err(|error| format!("cannot create a temporary file: {error}"))?;
    {
        let mut writer = std::io::BufWriter::new(input.as_file_mut());
        for item in items {
            let line = serde_json::json!({"id": item.id, "text": item.text, "cluster": item.matter});
            writeln!(writer, "{line}").map_err(|error| format!("cannot write the texts: {error}"))?;
        }
        writer
            .flush()
            .map_err(|error| format!("cannot write the texts: {error}"))?;
    }
    tracing::info!(texts = items.len(), "clustering with datasketch");
    let output = Command::new(&python)
        .arg(Path::new(PYTHON_DIRECTORY).join("minhash_lsh.py"))
        .arg(input.path())
        .args(["--num-perm", &arguments.num_perm.to_string()])
        .args(["--threshold", &arguments.threshold.to_string()])
        .output()
        .map_err(|error| format!("cannot run {}: {error}", python.display()))?;
    if !output.status.success() {
        return Err(format!(
            "minhash_lsh.py failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let run: PythonRun = serde_json::from_slice(&output.stdout).map_err(|error| {
        format!(
            "minhash_lsh.py printed something else than its JSON ({error}): {}",
            String::from_utf8_lossy(&output.stdout).trim()
        )
    })?;
    if run.texts_per_second > 0.0 {
        Ok(run)
    } else {
        Err(format!("minhash_lsh.py timed no throughput ({} s)", run.seconds))
    }
}

fn per_second(count: usize, elapsed: Duration) -> f64 {
    let seconds = elapsed.as_secs_f64();
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}

/// The table of the median round, and the ratio of every round.
fn print_throughput(
    items: &[Item],
    rust: &RustRun,
    python: Option<&PythonRun>,
    scores: &Scores,
    ratios: &[f64],
) {
    let rust_rate = per_second(items.len(), rust.elapsed);
    let mut rows = vec![vec![
        "lienthong-dedup (normalise, LSH, score, decide)".to_owned(),
        items.len().to_string(),
        format!("{:.2}", rust.elapsed.as_secs_f64()),
        format!("{rust_rate:.0}"),
        python.map_or_else(
            || "-".to_owned(),
            |python| format!("{:.2}", rust_rate / python.texts_per_second),
        ),
        format!(
            "{} of {} linked ({:.3})",
            scores.all.true_pairs, scores.all.gold_pairs, scores.all.recall
        ),
    ]];
    if let Some(python) = python {
        rows.push(vec![
            format!("{} (lower-case words, LSH query + insert)", python.engine),
            items.len().to_string(),
            format!("{:.2}", python.seconds),
            format!("{:.0}", python.texts_per_second),
            "1.00".to_owned(),
            format!(
                "{} of {} returned ({:.3})",
                python.planted_pairs_found,
                python.planted_pairs,
                ratio(python.planted_pairs_found, python.planted_pairs)
            ),
        ]);
    }
    println!();
    report::print_rows(
        &[
            "engine",
            "texts",
            "seconds",
            "texts/s",
            "× datasketch",
            "planted pairs",
        ],
        &rows,
    );
    if let Some(python) = python {
        let measured = rust_rate / python.texts_per_second;
        let each: Vec<String> = ratios.iter().map(|ratio| format!("{ratio:.2}")).collect();
        println!(
            "\nratio {measured:.2} (median of {} rounds: {}) against a goal of ≥ {GOAL_RATIO:.0}: {}. datasketch on Python {}, num_perm {}, threshold {}; \
             it returned {} candidate pairs, which the engine would still have to score. datasketch runs on one thread; \
             lienthong-dedup decides on one thread and analyses ahead on {} more.",
            ratios.len(),
            each.join(", "),
            if measured >= GOAL_RATIO { "met" } else { "NOT met" },
            python.python,
            python.num_perm,
            python.threshold,
            python.candidate_pairs,
            BatchClusterer::analysis_threads(),
        );
    }
}

fn ratio(numerator: u64, denominator: u64) -> f64 {
    if denominator == 0 {
        1.0
    } else {
        numerator as f64 / denominator as f64
    }
}

/// Pairwise counts of one clustering against the planted matters.
#[derive(Debug, Clone, Copy, Default)]
struct PairScores {
    /// Pairs of texts of one planted matter.
    gold_pairs: u64,
    /// Pairs the clustering put together.
    predicted_pairs: u64,
    /// Pairs of one planted matter the clustering put together.
    true_pairs: u64,
    precision: f64,
    recall: f64,
}

#[derive(Debug)]
struct Scores {
    all: PairScores,
    city_wide: PairScores,
    placed: PairScores,
    /// Per kind of variation: planted pairs with at least one text of that
    /// kind, and how many of them were linked.
    kinds: Vec<(&'static str, PairScores)>,
}

fn pairs(size: u64) -> u64 {
    size * size.saturating_sub(1) / 2
}

/// Pairwise precision and recall of `labels` against the planted matters
/// over the items that `include` keeps, from cluster sizes alone (linear,
/// where comparing every pair would be 5·10⁹ pairs at 100 000 texts).
fn pair_scores(items: &[Item], labels: &[usize], include: impl Fn(&Item) -> bool) -> PairScores {
    let mut gold: HashMap<usize, u64> = HashMap::new();
    let mut predicted: HashMap<usize, u64> = HashMap::new();
    let mut both: HashMap<(usize, usize), u64> = HashMap::new();
    for (item, &label) in items.iter().zip(labels) {
        if include(item) {
            *gold.entry(item.matter).or_insert(0) += 1;
            *predicted.entry(label).or_insert(0) += 1;
            *both.entry((item.matter, label)).or_insert(0) += 1;
        }
    }
    let gold_pairs = gold.values().map(|size| pairs(*size)).sum();
    let predicted_pairs = predicted.values().map(|size| pairs(*size)).sum();
    let true_pairs = both.values().map(|size| pairs(*size)).sum();
    PairScores {
        gold_pairs,
        predicted_pairs,
        true_pairs,
        precision: ratio(true_pairs, predicted_pairs),
        recall: ratio(true_pairs, gold_pairs),
    }
}

fn planted_scores(items: &[Item], labels: &[usize]) -> Scores {
    let all = pair_scores(items, labels, |_| true);
    let kinds = KINDS
        .iter()
        .map(|kind| {
            // Pairs involving the kind = all pairs − pairs with neither.
            let without = pair_scores(items, labels, |item| !item.kinds.contains(kind));
            let gold_pairs = all.gold_pairs - without.gold_pairs;
            let true_pairs = all.true_pairs - without.true_pairs;
            let predicted_pairs = all.predicted_pairs - without.predicted_pairs;
            (
                *kind,
                PairScores {
                    gold_pairs,
                    predicted_pairs,
                    true_pairs,
                    precision: ratio(true_pairs, predicted_pairs),
                    recall: ratio(true_pairs, gold_pairs),
                },
            )
        })
        .collect();
    Scores {
        all,
        city_wide: pair_scores(items, labels, |item| !item.placed),
        placed: pair_scores(items, labels, |item| item.placed),
        kinds,
    }
}

fn print_recall(items: &[Item], labels: &[usize], scores: &Scores) {
    let predicted_clusters = labels.iter().copied().max().map_or(0, |last| last + 1);
    let matters = |placed: bool| {
        let mut seen: Vec<usize> = items
            .iter()
            .filter(|item| item.placed == placed)
            .map(|item| item.matter)
            .collect();
        seen.sort_unstable();
        seen.dedup();
        seen.len()
    };
    println!(
        "\nplanted clusters against lienthong-dedup's clusters ({predicted_clusters} clusters for {} matters):",
        matters(false) + matters(true)
    );
    let row = |name: String, texts: usize, scores: &PairScores| {
        vec![
            name,
            texts.to_string(),
            scores.gold_pairs.to_string(),
            scores.true_pairs.to_string(),
            format!("{:.4}", scores.recall),
            scores.predicted_pairs.to_string(),
            format!("{:.4}", scores.precision),
        ]
    };
    let count = |placed: bool| items.iter().filter(|item| item.placed == placed).count();
    let mut rows = vec![
        row("all".to_owned(), items.len(), &scores.all),
        row(
            format!("city-wide matters ({})", matters(false)),
            count(false),
            &scores.city_wide,
        ),
        row(
            format!("matters naming a commune ({})", matters(true)),
            count(true),
            &scores.placed,
        ),
    ];
    for (kind, kind_scores) in &scores.kinds {
        let texts = items.iter().filter(|item| item.kinds.contains(kind)).count();
        rows.push(row(
            format!("pairs with a text of kind {kind}"),
            texts,
            kind_scores,
        ));
    }
    report::print_rows(
        &[
            "subset",
            "texts",
            "planted pairs",
            "linked",
            "recall",
            "pairs linked",
            "precision",
        ],
        &rows,
    );
    println!(
        "(per-subset precision counts pairs linked inside the subset; per-kind, pairs with a text of the kind)"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(matter: usize, placed: bool, kinds: Vec<&'static str>) -> Item {
        Item {
            id: String::new(),
            text: String::new(),
            matter,
            placed,
            organ_id: String::new(),
            topic: "t",
            addressee: "a",
            kinds,
        }
    }

    #[test]
    fn pair_scores_count_pairs_from_cluster_sizes() {
        // Matter 0: three texts, two linked; matter 1: one text wrongly
        // linked with the two.
        let items = vec![
            item(0, false, vec!["nfd"]),
            item(0, false, vec![]),
            item(0, false, vec![]),
            item(1, true, vec![]),
        ];
        let labels = vec![7, 7, 8, 7];
        let scores = planted_scores(&items, &labels);
        assert_eq!(
            (
                scores.all.gold_pairs,
                scores.all.predicted_pairs,
                scores.all.true_pairs
            ),
            (3, 3, 1)
        );
        assert!((scores.all.recall - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(scores.placed.gold_pairs, 0);
        let nfd = scores
            .kinds
            .iter()
            .find(|(kind, _)| *kind == "nfd")
            .expect("nfd")
            .1;
        assert_eq!((nfd.gold_pairs, nfd.true_pairs, nfd.predicted_pairs), (2, 1, 2));
    }
}
