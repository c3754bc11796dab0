//! Quality on the labelled set, so CI notices when a change costs precision
//! or recall. Clustering runs exactly as the batch command runs it: file
//! order, default configuration.

use lienthong_dedup::evaluation::{evaluate_engine, parse_labelled};
use lienthong_dedup::{BatchClusterer, Engine};

const LABELLED: &str = include_str!("../data/labelled/recommendations.jsonl");

/// Written separately, without sight of the engine's lexicons or of the set
/// above; never tune on it. Precision must hold here too; its recall guard
/// is the measured 0.451 less a margin.
const HELD_OUT: &str = include_str!("../data/heldout/recommendations.jsonl");
const MIN_HELD_OUT_RECALL: f64 = 0.42;

/// Precision comes first: a wrong merge tells a commune its matter is
/// resolved when it is not.
const MIN_PRECISION: f64 = 0.95;

/// Recall is guarded at the level measured with the default configuration
/// (0.337), less a margin. Words and word pairs alone reached 0.07 at the
/// precision above; the semantic fields of `data/concepts.tsv` brought it
/// here. The target (F1 ≥ 0.85) needs more meaning than the fields carry.
const MIN_RECALL: f64 = 0.32;

#[test]
fn the_labelled_set_is_usable() {
    let items = parse_labelled(LABELLED).expect("the labelled set parses");
    let clusters: std::collections::BTreeSet<&str> = items.iter().map(|item| item.cluster.as_str()).collect();
    assert!(items.len() >= 200, "{} items", items.len());
    assert!(clusters.len() >= 50, "{} clusters", clusters.len());
}

#[test]
fn default_configuration_meets_the_quality_floor() {
    let items = parse_labelled(LABELLED).expect("the labelled set parses");
    let engine = Engine::default();
    let evaluation = evaluate_engine(&engine, &items);
    let scores = evaluation.scores;
    assert!(
        scores.precision >= MIN_PRECISION,
        "precision {:.4} below {MIN_PRECISION}",
        scores.precision
    );
    assert!(
        scores.recall >= MIN_RECALL,
        "recall {:.4} below {MIN_RECALL}",
        scores.recall
    );
    assert!(
        evaluation.unassigned.is_empty(),
        "refused: {:?}",
        evaluation.unassigned
    );
}

#[test]
fn the_held_out_set_keeps_precision() {
    let items = parse_labelled(HELD_OUT).expect("the held-out set parses");
    let evaluation = evaluate_engine(&Engine::default(), &items);
    let scores = evaluation.scores;
    assert!(
        scores.precision >= MIN_PRECISION,
        "held-out precision {:.4} below {MIN_PRECISION}",
        scores.precision
    );
    assert!(
        scores.recall >= MIN_HELD_OUT_RECALL,
        "held-out recall {:.4} below {MIN_HELD_OUT_RECALL}",
        scores.recall
    );
    assert!(
        evaluation.unassigned.is_empty(),
        "refused: {:?}",
        evaluation.unassigned
    );
}

#[test]
fn analysing_ahead_on_other_threads_gives_the_same_clusters() {
    let items = parse_labelled(LABELLED).expect("the labelled set parses");
    let engine = Engine::default();
    let mut one_at_a_time = BatchClusterer::new(&engine);
    let expected: Vec<String> = items
        .iter()
        .map(|item| {
            one_at_a_time
                .add(item.id.clone(), &item.text)
                .expect("a valid text")
        })
        .collect();
    let mut ahead = BatchClusterer::new(&engine);
    let mut clusters = Vec::new();
    ahead.add_all(
        &items,
        |item| item.text.as_str(),
        |item| item.id.clone(),
        |position, added| clusters.push((position, added.expect("a valid text").cluster)),
    );
    let positions: Vec<usize> = clusters.iter().map(|(position, _)| *position).collect();
    assert_eq!(positions, (0..items.len()).collect::<Vec<_>>(), "in input order");
    let labels: Vec<String> = clusters.into_iter().map(|(_, cluster)| cluster).collect();
    assert_eq!(labels, expected);
    assert_eq!(ahead.assignments(), one_at_a_time.assignments());
}
