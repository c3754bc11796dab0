//! Measuring a clustering against gold labels: pairwise precision, recall
//! and F1 (every pair of items is a merge or not, in the gold labels and in
//! the clustering), failures broken down by the kinds of variation of the
//! items involved, a loader for the labelled JSONL set and a plain-text
//! report.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::Path;

use crate::Engine;
use crate::batch::BatchClusterer;

/// One line of the labelled set.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LabelledItem {
    pub id: String,
    pub text: String,
    /// Gold cluster: items with the same value raise the same matter.
    pub cluster: String,
    #[serde(default)]
    pub bloc: Option<String>,
    #[serde(default)]
    pub unit: Option<String>,
    /// Kinds of variation the item exhibits ("nfd", "paraphrase",
    /// "hard_negative", …).
    #[serde(default)]
    pub kinds: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("line {line}: {source}")]
    Parse { line: usize, source: serde_json::Error },
    #[error("line {line}: id {id} appears twice")]
    DuplicateId { line: usize, id: String },
}

/// Parses labelled JSONL (blank lines are skipped).
pub fn parse_labelled(jsonl: &str) -> Result<Vec<LabelledItem>, LoadError> {
    let mut items = Vec::new();
    let mut ids = BTreeSet::new();
    for (index, line) in jsonl.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let item: LabelledItem = serde_json::from_str(line).map_err(|source| LoadError::Parse {
            line: index + 1,
            source,
        })?;
        if !ids.insert(item.id.clone()) {
            return Err(LoadError::DuplicateId {
                line: index + 1,
                id: item.id,
            });
        }
        items.push(item);
    }
    Ok(items)
}

/// Reads and parses a labelled JSONL file.
pub fn load_labelled(path: &Path) -> Result<Vec<LabelledItem>, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse_labelled(&text)
}

/// Pairwise counts and the scores derived from them.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct PairwiseScores {
    /// Pairs merged by the clustering that are in one gold cluster.
    pub true_positives: u64,
    /// Pairs merged by the clustering that are in different gold clusters.
    pub false_positives: u64,
    /// Pairs in one gold cluster that the clustering kept apart.
    pub false_negatives: u64,
    /// 1 when nothing was merged (no merge is wrong).
    pub precision: f64,
    /// 1 when the gold labels have no pair.
    pub recall: f64,
    pub f1: f64,
}

impl PairwiseScores {
    fn from_counts(true_positives: u64, false_positives: u64, false_negatives: u64) -> PairwiseScores {
        let ratio = |numerator: u64, denominator: u64| {
            if denominator == 0 {
                1.0
            } else {
                numerator as f64 / denominator as f64
            }
        };
        let precision = ratio(true_positives, true_positives + false_positives);
        let recall = ratio(true_positives, true_positives + false_negatives);
        let f1 = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        PairwiseScores {
            true_positives,
            false_positives,
            false_negatives,
            precision,
            recall,
            f1,
        }
    }
}

/// Failures among pairs that involve an item of one kind.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KindFailures {
    pub kind: String,
    /// Gold pairs (same cluster) involving an item of this kind.
    pub gold_pairs: u64,
    /// Wrong merges involving an item of this kind.
    pub false_merges: u64,
    /// Gold pairs involving an item of this kind that were kept apart.
    pub missed_pairs: u64,
}

/// Everything measured on one clustering.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Evaluation {
    pub items: usize,
    pub gold_clusters: usize,
    pub predicted_clusters: usize,
    pub scores: PairwiseScores,
    /// By kind, in name order.
    pub kinds: Vec<KindFailures>,
    /// Wrongly merged pairs, by id.
    pub false_merges: Vec<(String, String)>,
    /// Gold pairs kept apart, by id.
    pub missed_pairs: Vec<(String, String)>,
    /// Items the clustering did not assign (e.g. refused texts), by id.
    pub unassigned: Vec<String>,
}

/// Compares `assignments` (id → predicted cluster) with the gold labels.
/// An item without an assignment counts as a cluster of its own.
pub fn evaluate(items: &[LabelledItem], assignments: &[(String, String)]) -> Evaluation {
    let predicted: HashMap<&str, &str> = assignments
        .iter()
        .map(|(id, cluster)| (id.as_str(), cluster.as_str()))
        .collect();
    let mut kinds: BTreeMap<&str, KindFailures> = BTreeMap::new();
    for kind in items.iter().flat_map(|item| &item.kinds) {
        kinds.entry(kind).or_insert_with(|| KindFailures {
            kind: kind.clone(),
            gold_pairs: 0,
            false_merges: 0,
            missed_pairs: 0,
        });
    }
    let (mut true_positives, mut false_positives, mut false_negatives) = (0, 0, 0);
    let mut false_merges = Vec::new();
    let mut missed_pairs = Vec::new();
    for (index, left) in items.iter().enumerate() {
        for right in items.iter().skip(index + 1) {
            let gold_same = left.cluster == right.cluster;
            let predicted_same = matches!(
                (predicted.get(left.id.as_str()), predicted.get(right.id.as_str())),
                (Some(a), Some(b)) if a == b
            );
            let involved: BTreeSet<&str> = left
                .kinds
                .iter()
                .chain(&right.kinds)
                .map(String::as_str)
                .collect();
            for kind in &involved {
                if let Some(failures) = kinds.get_mut(kind) {
                    failures.gold_pairs += u64::from(gold_same);
                    failures.false_merges += u64::from(predicted_same && !gold_same);
                    failures.missed_pairs += u64::from(gold_same && !predicted_same);
                }
            }
            match (gold_same, predicted_same) {
                (true, true) => true_positives += 1,
                (false, true) => {
                    false_positives += 1;
                    false_merges.push((left.id.clone(), right.id.clone()));
                }
                (true, false) => {
                    false_negatives += 1;
                    missed_pairs.push((left.id.clone(), right.id.clone()));
                }
                (false, false) => {}
            }
        }
    }
    let gold_clusters = items
        .iter()
        .map(|item| item.cluster.as_str())
        .collect::<BTreeSet<_>>()
        .len();
    let predicted_clusters = predicted.values().collect::<BTreeSet<_>>().len();
    Evaluation {
        items: items.len(),
        gold_clusters,
        predicted_clusters,
        scores: PairwiseScores::from_counts(true_positives, false_positives, false_negatives),
        kinds: kinds.into_values().collect(),
        false_merges,
        missed_pairs,
        unassigned: items
            .iter()
            .filter(|item| !predicted.contains_key(item.id.as_str()))
            .map(|item| item.id.clone())
            .collect(),
    }
}

/// Clusters the labelled items in file order with [`BatchClusterer`] and
/// evaluates the result.
pub fn evaluate_engine(engine: &Engine, items: &[LabelledItem]) -> Evaluation {
    let mut clusterer = BatchClusterer::new(engine);
    for item in items {
        // A refused text stays unassigned and is reported as such.
        let _refused = clusterer.add(item.id.clone(), &item.text);
    }
    evaluate(items, &clusterer.assignments())
}

/// Most failing pairs listed in a report, per list.
const MAX_LISTED_PAIRS: usize = 25;

/// A plain-text report: scores, per-kind failures and the failing pairs
/// with their texts.
pub fn report(evaluation: &Evaluation, items: &[LabelledItem]) -> String {
    let texts: HashMap<&str, &LabelledItem> = items.iter().map(|item| (item.id.as_str(), item)).collect();
    let scores = &evaluation.scores;
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(
        out,
        "items: {}  gold clusters: {}  predicted clusters: {}",
        evaluation.items, evaluation.gold_clusters, evaluation.predicted_clusters
    );
    let _ = writeln!(
        out,
        "pairwise precision: {:.4}  recall: {:.4}  F1: {:.4}  (true merges {}, false merges {}, missed pairs {})",
        scores.precision,
        scores.recall,
        scores.f1,
        scores.true_positives,
        scores.false_positives,
        scores.false_negatives
    );
    if !evaluation.unassigned.is_empty() {
        let _ = writeln!(
            out,
            "unassigned (refused) items: {}",
            evaluation.unassigned.join(", ")
        );
    }
    let _ = writeln!(
        out,
        "\n{:<20} {:>10} {:>12} {:>12}",
        "kind", "gold pairs", "false merges", "missed pairs"
    );
    for kind in &evaluation.kinds {
        let _ = writeln!(
            out,
            "{:<20} {:>10} {:>12} {:>12}",
            kind.kind, kind.gold_pairs, kind.false_merges, kind.missed_pairs
        );
    }
    let describe = |id: &str| {
        texts.get(id).map_or_else(
            || format!("{id} (unknown)"),
            |item| format!("{id} [{}] {}", item.cluster, item.text),
        )
    };
    for (title, pairs) in [
        ("false merges", &evaluation.false_merges),
        ("missed pairs", &evaluation.missed_pairs),
    ] {
        if pairs.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "\n{title} ({}, first {}):",
            pairs.len(),
            MAX_LISTED_PAIRS.min(pairs.len())
        );
        for (left, right) in pairs.iter().take(MAX_LISTED_PAIRS) {
            let _ = writeln!(out, "  - {}\n    {}", describe(left), describe(right));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, cluster: &str, kinds: &[&str]) -> LabelledItem {
        LabelledItem {
            id: id.to_owned(),
            text: format!("text {id}"),
            cluster: cluster.to_owned(),
            bloc: None,
            unit: None,
            kinds: kinds.iter().map(|kind| (*kind).to_owned()).collect(),
        }
    }

    #[test]
    fn pairwise_scores_count_pairs() {
        let items = vec![
            item("a", "x", &["nfd"]),
            item("b", "x", &["paraphrase"]),
            item("c", "x", &[]),
            item("d", "y", &["hard_negative"]),
        ];
        // a+b merged (true), c apart (2 missed), d wrongly merged with a and b.
        let assignments: Vec<(String, String)> = [("a", "1"), ("b", "1"), ("c", "2"), ("d", "1")]
            .iter()
            .map(|(id, cluster)| ((*id).to_owned(), (*cluster).to_owned()))
            .collect();
        let evaluation = evaluate(&items, &assignments);
        assert_eq!(evaluation.scores.true_positives, 1);
        assert_eq!(evaluation.scores.false_positives, 2);
        assert_eq!(evaluation.scores.false_negatives, 2);
        assert!((evaluation.scores.precision - 1.0 / 3.0).abs() < 1e-9);
        let hard_negative = evaluation.kinds.iter().find(|kind| kind.kind == "hard_negative");
        assert_eq!(hard_negative.map(|kind| kind.false_merges), Some(2));
        let paraphrase = evaluation.kinds.iter().find(|kind| kind.kind == "paraphrase");
        assert_eq!(
            paraphrase.map(|kind| (kind.gold_pairs, kind.missed_pairs)),
            Some((2, 1))
        );
        assert!(report(&evaluation, &items).contains("false merges"));
    }

    #[test]
    fn nothing_merged_is_fully_precise() {
        let items = vec![item("a", "x", &[]), item("b", "y", &[])];
        let evaluation = evaluate(&items, &[]);
        assert_eq!(evaluation.scores.precision, 1.0);
        assert_eq!(evaluation.unassigned.len(), 2);
    }

    #[test]
    fn labelled_lines_parse_and_duplicates_are_refused() {
        let line = r#"{"id":"r1","text":"Đề nghị bổ sung","cluster":"c1","bloc":"PARTY","unit":"x","kinds":["nfd"]}"#;
        let items = parse_labelled(&format!("{line}\n\n")).expect("parses");
        assert_eq!(items.len(), 1);
        assert!(matches!(
            parse_labelled(&format!("{line}\n{line}")),
            Err(LoadError::DuplicateId { line: 2, .. })
        ));
    }
}
