//! Tuning aid on a labelled JSONL set: separability of gold pairs and other
//! pairs by score (document frequencies over the whole set), LSH candidate
//! recall, and batch-clustering results over a grid of thresholds:
//! `cargo run --release -p lienthong-dedup --example tune -- LABELLED.jsonl`.

#![allow(
    clippy::print_stdout,
    reason = "printing the tables is the point of this example"
)]

use std::collections::HashMap;
use std::path::PathBuf;

use lienthong_dedup::evaluation::{evaluate_engine, load_labelled};
use lienthong_dedup::{CorpusStats, DedupConfig, Engine};

struct WholeSet {
    documents: u64,
    frequencies: HashMap<String, u64>,
}

impl CorpusStats for WholeSet {
    fn document_count(&self) -> u64 {
        self.documents
    }

    fn document_frequency(&self, term: &str) -> u64 {
        self.frequencies.get(term).copied().unwrap_or(0)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .ok_or("usage: tune LABELLED.jsonl")?;
    let items = load_labelled(&path)?;
    let engine = Engine::default();
    let analyses: Vec<_> = items.iter().map(|item| engine.analyze(&item.text)).collect();
    let mut frequencies = HashMap::new();
    for analysis in &analyses {
        for term in &analysis.terms {
            *frequencies.entry(term.clone()).or_insert(0) += 1;
        }
    }
    let corpus = WholeSet {
        documents: analyses.len() as u64,
        frequencies,
    };
    let mut above = [(0.3, 0u64, 0u64), (0.45, 0, 0), (0.55, 0, 0)];
    let mut positives = Vec::new();
    let mut negatives = Vec::new();
    let (mut gold_pairs, mut candidate_gold_pairs, mut candidate_pairs) = (0u64, 0u64, 0u64);
    for (left_index, left) in analyses.iter().enumerate() {
        for (right_index, right) in analyses.iter().enumerate().skip(left_index + 1) {
            let similarity = engine.similarity(left, right, &corpus);
            let same = items.get(left_index).map(|item| &item.cluster)
                == items.get(right_index).map(|item| &item.cluster);
            let shares_band = left.band_keys.iter().any(|key| right.band_keys.contains(key));
            candidate_pairs += u64::from(shares_band);
            for (threshold, pairs, candidates) in &mut above {
                if similarity.score >= *threshold {
                    *pairs += 1;
                    *candidates += u64::from(shares_band);
                }
            }
            if same {
                gold_pairs += 1;
                candidate_gold_pairs += u64::from(shares_band);
                positives.push((similarity.score, similarity.vetoed));
            } else {
                negatives.push((similarity.score, similarity.vetoed));
            }
        }
    }
    println!(
        "LSH: {candidate_gold_pairs}/{gold_pairs} gold pairs are candidates ({:.3}); {candidate_pairs} candidate pairs of {}",
        candidate_gold_pairs as f64 / gold_pairs.max(1) as f64,
        positives.len() + negatives.len()
    );
    for (threshold, pairs, candidates) in above {
        println!("LSH: {candidates}/{pairs} pairs scoring at least {threshold} are candidates");
    }
    println!(
        "vetoed: {} gold pairs, {} other pairs",
        positives.iter().filter(|p| p.1).count(),
        negatives.iter().filter(|p| p.1).count()
    );
    println!("{:>6} {:>10} {:>10} {:>8}", "score≥", "gold", "other", "prec");
    for step in 1..=18 {
        let threshold = f64::from(step) * 0.05;
        let gold = positives.iter().filter(|(score, _)| *score >= threshold).count();
        let other = negatives.iter().filter(|(score, _)| *score >= threshold).count();
        println!(
            "{threshold:>6.2} {gold:>10} {other:>10} {:>8.3}",
            gold as f64 / (gold + other).max(1) as f64
        );
    }
    println!(
        "\n{:>6} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "link", "canon", "P", "R", "F1", "clusters"
    );
    for link in [0.4, 0.45, 0.48, 0.5, 0.52, 0.55, 0.6, 0.65] {
        for canonical_offset in [0.0, 0.05, 0.1, 0.2] {
            let canonical = link - canonical_offset;
            let config = DedupConfig {
                link_threshold: link,
                review_threshold: link.min(0.2),
                canonical_threshold: canonical,
                ..DedupConfig::default()
            };
            let evaluation = evaluate_engine(&Engine::new(config), &items);
            println!(
                "{link:>6.2} {canonical:>9.2} {:>9.4} {:>9.4} {:>9.4} {:>9}",
                evaluation.scores.precision,
                evaluation.scores.recall,
                evaluation.scores.f1,
                evaluation.predicted_clusters
            );
        }
    }
    Ok(())
}
