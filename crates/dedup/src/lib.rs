//! Deduplication of recommendations (kiến nghị): the same matter arrives from
//! many communes and blocs, phrased differently, typed with or without
//! diacritics, in NFC or NFD, with old or new tone placement and with or
//! without abbreviations. This crate decides whether a new recommendation is
//! a matter already on file.
//!
//! It is pure and deterministic: no I/O, no clock, no randomness; its data
//! (abbreviations, opening vocabulary, synonyms, stop words, commune names)
//! is compiled in. The server persists what [`Engine::analyze`] returns
//! (exact key, LSH band keys, terms for document frequencies), loads
//! candidates sharing a band key and calls [`Engine::decide`]; the offline
//! batch command uses [`BatchClusterer`], which runs exactly the same two
//! steps over in-memory indexes, so both agree.
//!
//! Precision comes first: a wrong merge tells a commune its matter is
//! resolved when it is not. What is uncertain becomes a
//! [`Decision::Review`] for an officer, never a link.
//!
//! # Pipeline
//!
//! 1. Normalise ([`Engine::analyze`]): NFD decomposition so every letter is
//!    base + modifier + tone; Ð/ð → Đ/đ; the tone moved to the canonical
//!    vowel of each syllable by rule; lower case; numbers canonical
//!    ("4.063,6" → "4063.6"); abbreviations expanded (`data/abbreviations.tsv`);
//!    formulaic openings ("Đảng ủy phường X kiến nghị:", "Kính đề nghị Thành
//!    phố sớm") and sender mentions removed (`data/phrases.tsv`); names
//!    after unit words in the body taken out as places; synonyms mapped
//!    (`data/synonyms.tsv`); stop words marked (`data/stopwords.txt`);
//!    semantic fields named (`data/concepts.tsv`; in text without tones only
//!    by phrases of two syllables or more). Text with no diacritic at all is
//!    matched and compared on folded forms only.
//! 2. Exact duplicates share [`Analysis::exact_key`] (XXH64 of the normalised
//!    text).
//! 3. Candidates share an LSH band key: MinHash over the folded content
//!    syllables plus three copies of each semantic field (so paraphrases
//!    naming the same things in other words still meet) with
//!    [`PERMUTATIONS`] = 126 fixed-seed permutations in [`BANDS`] = 42 bands
//!    of [`ROWS_PER_BAND`] = 3 rows. The S-curve 1 − (1 − J³)⁴² passes half
//!    the pairs at Jaccard 0.25 and 94 % at 0.4; on the labelled set 65 % of
//!    gold pairs share a band (46 % without the fields), and 197 of the 206
//!    pairs scoring above 0.55.
//! 4. Score ([`Engine::decide`]): half the IDF-weighted cosine over words
//!    and adjacent word pairs, half the IDF-weighted cosine over semantic
//!    fields, with document frequencies from [`CorpusStats`]; numbers or
//!    places disagreeing veto a link; a link also needs the cluster's
//!    canonical member to score at least
//!    [`DedupConfig::canonical_threshold`]. Then link, review or new by the
//!    thresholds of [`DedupConfig`].
//!
//! Measure with `cargo run -p lienthong-dedup --example evaluate --
//! crates/dedup/data/labelled/recommendations.jsonl`; `--example tune`
//! prints score separability and a threshold grid.

mod analysis;
mod batch;
pub mod evaluation;
mod hashing;
mod lexicon;
mod scoring;
mod text_check;
mod tokens;
mod vietnamese;

pub use analysis::{Analysis, CONCEPT_TERM_PREFIX, FOLDED_TERM_PREFIX};
pub use batch::{Added, BatchClusterer};
pub use hashing::{BANDS, PERMUTATIONS, ROWS_PER_BAND, xxh64};
pub use scoring::{Candidate, CorpusStats, Decision, ScoredCandidate, Similarity, term_hash, terms_to_weigh};
pub use text_check::{MAX_SENTENCES, MAX_TEXT_CHARS, TextProblem};

use lexicon::Lexicon;

/// Version of the normalisation, shingling and hashing. Everything derived
/// from a text ([`Analysis`], band keys, exact keys, terms) names the version
/// that produced it; analyses of different versions are never compared, so
/// bump this whenever any of it changes and re-analyse what is stored.
pub const NORM_VERSION: u32 = 3;

/// The most recommendations kept under one LSH band key, the oldest:
/// [`DedupConfig::max_postings_per_band`] never reads further, so the
/// server's band index stores no more, and a new text's keys that already
/// hold this many cost no write. Most of a large corpus's postings fall
/// under such keys.
pub const MAX_POSTINGS_PER_BAND: usize = 64;

/// Thresholds and bounds of the decision, shared by the server and the batch
/// command so both decide alike.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DedupConfig {
    /// A candidate scoring at least this (and passing every check) is the
    /// same matter: the new recommendation joins its cluster.
    pub link_threshold: f64,
    /// A candidate scoring at least this, but not linkable, is offered to an
    /// officer for review.
    pub review_threshold: f64,
    /// Against chaining: a link also needs this score against the cluster's
    /// canonical member, so a cluster cannot drift away from its matter one
    /// near-duplicate at a time.
    pub canonical_threshold: f64,
    /// At most this many candidates are scored; callers should pass those
    /// sharing the most band keys first.
    pub max_candidates: usize,
    /// Under each LSH band key only the oldest this many recommendations
    /// count as candidates. A key shared by thousands of texts says little
    /// about any one of them, and walking its whole list would dominate a
    /// decision; the oldest stay because a cluster's first members stand
    /// for it (the canonical one among them). At most
    /// [`MAX_POSTINGS_PER_BAND`].
    pub max_postings_per_band: usize,
    /// At most this many suggestions are offered in a review.
    pub max_review_suggestions: usize,
}

impl Default for DedupConfig {
    /// Tuned on the labelled set with the `tune` example: the lowest link
    /// threshold whose pairwise precision keeps a margin above 0.95 (0.98 at
    /// 0.48 with the canonical check at the same level; 0.957 already with
    /// it at 0.43). Reviews start where gold pairs outnumber other pairs
    /// about five to one.
    fn default() -> Self {
        DedupConfig {
            link_threshold: 0.48,
            review_threshold: 0.4,
            canonical_threshold: 0.48,
            max_candidates: 50,
            max_postings_per_band: MAX_POSTINGS_PER_BAND,
            max_review_suggestions: 5,
        }
    }
}

impl DedupConfig {
    pub fn candidate_limits(&self) -> CandidateLimits {
        CandidateLimits {
            max_candidates: self.max_candidates,
            max_postings_per_band: self.max_postings_per_band,
        }
    }

    /// What is wrong with these settings, by name, if anything.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (name, threshold) in [
            ("link_threshold", self.link_threshold),
            ("review_threshold", self.review_threshold),
            ("canonical_threshold", self.canonical_threshold),
        ] {
            // Above 1 is allowed: never reached, it turns that outcome off.
            if !(threshold.is_finite() && threshold >= 0.0) {
                problems.push(format!("{name} must be a score of 0 or more, not {threshold}"));
            }
        }
        if self.review_threshold > self.link_threshold {
            problems.push(format!(
                "review_threshold ({}) must not be above link_threshold ({})",
                self.review_threshold, self.link_threshold
            ));
        }
        if self.max_candidates == 0 {
            problems.push("max_candidates must be at least 1".to_owned());
        }
        if !(1..=MAX_POSTINGS_PER_BAND).contains(&self.max_postings_per_band) {
            problems.push(format!(
                "max_postings_per_band must be from 1 to {MAX_POSTINGS_PER_BAND}, the most the band index keeps \
                 under a key, not {}",
                self.max_postings_per_band
            ));
        }
        problems
    }
}

/// How many candidates are looked up, and how: the server's store and the
/// batch clusterer follow the same limits so both find the same ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CandidateLimits {
    /// See [`DedupConfig::max_candidates`].
    pub max_candidates: usize,
    /// See [`DedupConfig::max_postings_per_band`].
    pub max_postings_per_band: usize,
}

/// Orders candidates as they are scored: exact duplicates first, oldest
/// first; then by the number of band keys shared with the new text, older
/// first on ties; at most `max_candidates`. `shared_band_keys` pairs each
/// id once with the number of the new text's band keys it is found under
/// (among each key's oldest postings); ids are ascending with age.
pub fn rank_candidates(
    exact_duplicates: &[i64],
    shared_band_keys: &[(i64, u64)],
    max_candidates: usize,
) -> Vec<i64> {
    let mut ranked: Vec<i64> = exact_duplicates.to_vec();
    ranked.sort_unstable();
    ranked.dedup();
    ranked.truncate(max_candidates);
    let room = max_candidates.saturating_sub(ranked.len());
    if room == 0 {
        return ranked;
    }
    let eligible = |(id, _): &(i64, u64)| !ranked.contains(id);
    // Thousands may share a key with a common text; only those that can be
    // among the first `room` are copied, and only those need ordering.
    let lowest_kept = lowest_bucket_reaching(shared_band_keys.iter().filter(|entry| eligible(entry)), room);
    let mut banded: Vec<(i64, u64)> = shared_band_keys
        .iter()
        .filter(|entry| count_bucket(entry.1) >= lowest_kept && eligible(entry))
        .copied()
        .collect();
    let order = |(left, left_shared): &(i64, u64), (right, right_shared): &(i64, u64)| {
        right_shared.cmp(left_shared).then(left.cmp(right))
    };
    if banded.len() > room {
        banded.select_nth_unstable_by(room - 1, order);
        banded.truncate(room);
    }
    banded.sort_unstable_by(order);
    ranked.extend(banded.into_iter().map(|(id, _)| id));
    ranked
}

/// Buckets of shared-key counts for [`lowest_bucket_reaching`]: a count is
/// at most the number of band keys of a text ([`BANDS`]); larger ones share
/// the last bucket.
const COUNT_BUCKETS: usize = 64;

fn count_bucket(count: u64) -> usize {
    usize::try_from(count).map_or(COUNT_BUCKETS - 1, |count| count.min(COUNT_BUCKETS - 1))
}

/// The bucket of the `room`-th highest count (0 when there are fewer): all
/// of the `room` sharing the most keys have a count in it or above, so a
/// histogram, in one pass, leaves the comparisons of ordering to the few
/// that can be among them.
fn lowest_bucket_reaching<'a>(entries: impl Iterator<Item = &'a (i64, u64)>, room: usize) -> usize {
    let mut histogram = [0usize; COUNT_BUCKETS];
    for &(_, count) in entries {
        if let Some(slot) = histogram.get_mut(count_bucket(count)) {
            *slot += 1;
        }
    }
    let mut reaching = 0;
    for (bucket, &in_bucket) in histogram.iter().enumerate().rev() {
        reaching += in_bucket;
        if reaching >= room {
            return bucket;
        }
    }
    0
}

/// The deduplication engine: the configuration and the parsed lexicon.
/// Building one parses the bundled data; build it once and share it.
#[derive(Debug)]
pub struct Engine {
    config: DedupConfig,
    lexicon: Lexicon,
}

impl Default for Engine {
    fn default() -> Self {
        Engine::new(DedupConfig::default())
    }
}

impl Engine {
    pub fn new(config: DedupConfig) -> Engine {
        Engine {
            config,
            lexicon: Lexicon::bundled(),
        }
    }

    pub fn config(&self) -> &DedupConfig {
        &self.config
    }
}

#[cfg(test)]
mod tests {
    use super::{DedupConfig, MAX_POSTINGS_PER_BAND, rank_candidates};

    #[test]
    fn settings_out_of_range_are_named() {
        assert!(DedupConfig::default().problems().is_empty());
        let problems = DedupConfig {
            link_threshold: f64::NAN,
            review_threshold: 0.6,
            canonical_threshold: -0.1,
            max_candidates: 0,
            max_postings_per_band: MAX_POSTINGS_PER_BAND + 1,
            max_review_suggestions: 5,
        }
        .problems();
        for name in [
            "link_threshold",
            "canonical_threshold",
            "max_candidates",
            "max_postings_per_band",
        ] {
            assert!(
                problems.iter().any(|problem| problem.starts_with(name)),
                "{name} not named in {problems:?}"
            );
        }
        let review_above_link = DedupConfig {
            review_threshold: 0.5,
            link_threshold: 0.45,
            ..DedupConfig::default()
        };
        assert_eq!(review_above_link.problems().len(), 1);
        let never_linking = DedupConfig {
            link_threshold: 1.01,
            canonical_threshold: 1.01,
            ..DedupConfig::default()
        };
        assert!(never_linking.problems().is_empty());
    }

    #[test]
    fn exact_duplicates_come_first_then_by_keys_shared_then_age() {
        // 7 shares three keys, 5 and 9 two, 3 one; 4 is an exact duplicate.
        let postings = [(9, 2), (7, 3), (3, 1), (5, 2), (4, 1)];
        assert_eq!(rank_candidates(&[4], &postings, 10), [4, 7, 5, 9, 3]);
        assert_eq!(rank_candidates(&[4], &postings, 3), [4, 7, 5]);
        assert_eq!(rank_candidates(&[8, 2, 8], &[], 2), [2, 8]);
        assert_eq!(rank_candidates(&[8, 2], &postings, 1), [2]);
    }

    /// Ranking by sorting everything, as the order is defined.
    fn ranked_by_sorting(exact: &[i64], shared: &[(i64, u64)], max: usize) -> Vec<i64> {
        let mut ranked: Vec<i64> = exact.to_vec();
        ranked.sort_unstable();
        ranked.dedup();
        ranked.truncate(max);
        let mut banded: Vec<(i64, u64)> = shared
            .iter()
            .copied()
            .filter(|(id, _)| !ranked.contains(id))
            .collect();
        banded.sort_by(|(left, left_shared), (right, right_shared)| {
            right_shared.cmp(left_shared).then(left.cmp(right))
        });
        let room = max.saturating_sub(ranked.len());
        ranked.extend(banded.into_iter().take(room).map(|(id, _)| id));
        ranked
    }

    #[test]
    fn ranking_keeps_the_same_first_candidates_as_sorting_them_all() {
        // A fixed-seed stream, so a failure can be replayed.
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = |bound: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % bound
        };
        for round in 0..2_000 {
            let ids = 1 + next(400);
            // Mostly counts a text's 42 keys allow, sometimes far beyond the
            // histogram, and many ties.
            let high = if round % 5 == 0 { 1_000 } else { 43 };
            let mut shared: Vec<(i64, u64)> = Vec::new();
            for id in 0..ids {
                if next(3) > 0 {
                    shared.push((i64::try_from(id).unwrap_or(0), 1 + next(high)));
                }
            }
            let exact: Vec<i64> = (0..next(4))
                .map(|_| i64::try_from(next(ids)).unwrap_or(0))
                .collect();
            let max = usize::try_from(next(80)).unwrap_or(0);
            assert_eq!(
                rank_candidates(&exact, &shared, max),
                ranked_by_sorting(&exact, &shared, max),
                "round {round}"
            );
        }
    }
}
