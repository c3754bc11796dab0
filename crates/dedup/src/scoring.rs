//! Exact scoring of candidates and the three-way decision. A candidate is
//! scored by IDF-weighted cosine over words and over semantic fields, with
//! document frequencies from the caller's corpus; numbers or places that disagree veto a link; a link
//! also needs the cluster's canonical member to agree, so clusters cannot
//! chain away from their matter.

use std::sync::OnceLock;

use rustc_hash::FxHashMap;

use crate::analysis::{Analysis, CONCEPT_TERM_PREFIX, FOLDED_TERM_PREFIX};
use crate::hashing::{TERM_SEED, xxh64};
use crate::{DedupConfig, Engine};

/// Document frequencies of the corpus the candidates come from. The server
/// counts them over the `terms` of stored analyses of the same
/// [`crate::NORM_VERSION`]; the batch clusterer keeps them in memory.
pub trait CorpusStats {
    /// Number of analysed recommendations.
    fn document_count(&self) -> u64;
    /// Number of those whose `terms` contain `term`.
    fn document_frequency(&self, term: &str) -> u64;
    /// The same, for a corpus that counts terms by [`term_hash`], which
    /// scoring has at hand.
    fn document_frequency_by_hash(&self, term: &str, _hash: u64) -> u64 {
        self.document_frequency(term)
    }
    /// True when [`document_frequency_by_hash`](Self::document_frequency_by_hash)
    /// reads the hash alone: scoring then passes an empty term rather than
    /// reading each term's text from a candidate scattered in memory.
    fn counts_by_hash_alone(&self) -> bool {
        false
    }
}

/// A stored recommendation that may be the same matter as the new one.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    pub recommendation_id: i64,
    pub cluster_id: i64,
    pub analysis: &'a Analysis,
    /// The analysis of the canonical member of the candidate's cluster (the
    /// candidate's own analysis when it is the canonical member).
    pub cluster_canonical: &'a Analysis,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ScoredCandidate {
    pub recommendation_id: i64,
    pub cluster_id: i64,
    /// Similarity in [0, 1]; 1 for an exact duplicate.
    pub score: f64,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Decision {
    /// No candidate is close: a new matter, a new cluster.
    New,
    /// The same matter as this candidate: join its cluster.
    Link(ScoredCandidate),
    /// Possibly the same matter as these (best first, one per cluster,
    /// bounded): an officer decides. Until then it is a cluster of its own.
    Review(Vec<ScoredCandidate>),
}

/// Terms of an analysis by the hashes of their texts, sorted, so scoring
/// looks up integers instead of comparing strings, always in one order.
/// Two distinct terms sharing
/// a 64-bit hash among the few hundred thousand of a corpus is about a
/// one-in-a-billion event, and would only blur one weight.
#[derive(Debug, Clone, Copy)]
struct HashedTerms<'a> {
    hashes: &'a [u64],
    /// Where the text of the term hashed `hashes[i]` is in
    /// [`Analysis::terms`]; apart from the hashes, which are all that
    /// comparing reads, so that reading them touches half the memory.
    positions: &'a [u32],
}

/// [`Analysis::terms`] by hash, in the three groups scoring compares, each
/// sorted by hash: accented words, folded words, semantic fields, one after
/// the other, so comparing folded text reads one run of memory.
#[derive(Debug, Clone, Default)]
pub(crate) struct TermIndex {
    hashes: Box<[u64]>,
    positions: Box<[u32]>,
    folded_start: usize,
    concepts_start: usize,
}

impl TermIndex {
    fn of(terms: &[String]) -> TermIndex {
        let mut groups: [Vec<(u64, u32)>; 3] = Default::default();
        for (position, term) in terms.iter().enumerate() {
            // Texts are bounded far below this; a term beyond it would only
            // be weighed as unseen on a server counting by text.
            let position = u32::try_from(position).unwrap_or(u32::MAX);
            let group = if term.starts_with(CONCEPT_TERM_PREFIX) {
                2
            } else if term.starts_with(FOLDED_TERM_PREFIX) {
                1
            } else {
                0
            };
            if let Some(group) = groups.get_mut(group) {
                group.push((term_hash(term), position));
            }
        }
        // An analysis' terms are distinct; one read back from elsewhere
        // might not be, and scoring counts each hash once.
        let [accented, folded, concepts] = groups.map(|mut group| {
            group.sort_unstable();
            group.dedup_by_key(|(hash, _)| *hash);
            group
        });
        let folded_start = accented.len();
        let concepts_start = folded_start + folded.len();
        let (hashes, positions) = accented
            .into_iter()
            .chain(folded)
            .chain(concepts)
            .unzip::<_, _, Vec<_>, Vec<_>>();
        TermIndex {
            hashes: hashes.into_boxed_slice(),
            positions: positions.into_boxed_slice(),
            folded_start,
            concepts_start,
        }
    }

    fn group(&self, range: std::ops::Range<usize>) -> HashedTerms<'_> {
        HashedTerms {
            hashes: self.hashes.get(range.clone()).unwrap_or_default(),
            positions: self.positions.get(range).unwrap_or_default(),
        }
    }

    fn all(&self) -> HashedTerms<'_> {
        self.group(0..self.hashes.len())
    }

    fn accented(&self) -> HashedTerms<'_> {
        self.group(0..self.folded_start)
    }

    fn folded(&self) -> HashedTerms<'_> {
        self.group(self.folded_start..self.concepts_start)
    }

    fn concepts(&self) -> HashedTerms<'_> {
        self.group(self.concepts_start..self.hashes.len())
    }
}

/// The [`TermIndex`] of an analysis, built the first time it is scored (a
/// stored analysis is scored many times). It follows from `terms`, so it
/// takes no part in equality; an analysis that [keeps only hashed
/// terms](Analysis::keep_only_hashed_terms) has no `terms` left to compare,
/// and is never compared or stored.
#[derive(Clone, Default)]
pub(crate) struct LazyTermIndex(OnceLock<TermIndex>);

impl PartialEq for LazyTermIndex {
    fn eq(&self, _: &LazyTermIndex) -> bool {
        true
    }
}

impl std::fmt::Debug for LazyTermIndex {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("LazyTermIndex")
    }
}

impl Analysis {
    /// The scoring index of `terms` (which must not change once scored).
    fn term_index(&self) -> &TermIndex {
        self.term_index.0.get_or_init(|| TermIndex::of(&self.terms))
    }

    /// The groups of terms of this analysis that comparing it with `new`
    /// reads: its words as compared (accented when both texts are, folded
    /// otherwise; see [`Engine::compare`]), then its semantic fields.
    fn terms_compared_with(&self, new: &Analysis) -> [HashedTerms<'_>; 2] {
        let index = self.term_index();
        let wording = if new.accented && self.accented {
            index.accented()
        } else {
            index.folded()
        };
        [wording, index.concepts()]
    }

    /// Indexes the terms, then lets go of what scoring reads only for a
    /// corpus counting by text (the term texts and their positions) and of
    /// the folded form, which scoring never reads. Scoring under a corpus
    /// that [counts by hash alone](CorpusStats::counts_by_hash_alone)
    /// decides the same; a batch keeps every analysis, and these are most of
    /// its memory. What is left is for scoring only: it no longer equals,
    /// serialises or weighs terms like the whole analysis.
    pub(crate) fn keep_only_hashed_terms(&mut self) {
        let index = self
            .term_index
            .0
            .take()
            .unwrap_or_else(|| TermIndex::of(&self.terms));
        self.term_index = LazyTermIndex(OnceLock::from(TermIndex {
            positions: Box::default(),
            ..index
        }));
        self.terms = Vec::new();
        self.folded = String::new();
    }

    /// The hash of each of `terms`, as scoring and [`term_hash`] compute it.
    pub(crate) fn term_hashes(&self) -> impl Iterator<Item = u64> + '_ {
        self.term_index().hashes.iter().copied()
    }
}

/// The terms whose document frequencies deciding `new` against `others`
/// (candidates and their clusters' canonical members) reads, without
/// repeats, in the order of their hashes: every term of the new text and,
/// of each other analysis, its semantic fields and the words it is compared
/// on — accented when both texts are accented, folded otherwise. A store
/// need read no others, which halves what it reads. Terms are told apart
/// by hash, as scoring tells them, which is also much cheaper than
/// comparing their texts.
pub fn terms_to_weigh<'a>(new: &'a Analysis, others: impl IntoIterator<Item = &'a Analysis>) -> Vec<&'a str> {
    let mut terms: Vec<(u64, &str)> = Vec::with_capacity(MASSES_PER_DECISION);
    let mut add = |analysis: &'a Analysis, group: HashedTerms<'a>| {
        terms.extend(
            group
                .hashes
                .iter()
                .zip(group.positions)
                .filter_map(|(&hash, &position)| {
                    Some((
                        hash,
                        analysis.terms.get(usize::try_from(position).ok()?)?.as_str(),
                    ))
                }),
        );
    };
    add(new, new.term_index().all());
    for other in others {
        for group in other.terms_compared_with(new) {
            add(other, group);
        }
    }
    // Stable, so that of texts sharing a hash the new text's own is kept,
    // which scoring weighs first.
    terms.sort_by_key(|&(hash, _)| hash);
    terms.dedup_by_key(|&mut (hash, _)| hash);
    terms.into_iter().map(|(_, term)| term).collect()
}

/// The hash scoring knows a term by.
pub fn term_hash(term: &str) -> u64 {
    xxh64(term.as_bytes(), TERM_SEED)
}

/// Distinct terms a decision typically weighs (about 240 on the bench
/// corpus): a small table stays in the fastest cache and is cheap to set up
/// for every decision; it grows if a decision needs more.
const MASSES_PER_DECISION: usize = 512;

/// Squared inverse document frequencies, looked up once per term per
/// decision.
struct Weights<'a> {
    corpus: &'a dyn CorpusStats,
    counts_by_hash_alone: bool,
    document_count: f64,
    masses: MassTable,
}

impl<'a> Weights<'a> {
    fn new(corpus: &'a dyn CorpusStats) -> Weights<'a> {
        Weights {
            corpus,
            counts_by_hash_alone: corpus.counts_by_hash_alone(),
            document_count: corpus.document_count() as f64,
            masses: MassTable::with_capacity(MASSES_PER_DECISION),
        }
    }

    /// A term's contribution to a squared norm: its smoothed IDF, squared.
    /// The IDF counts the new text as one more document containing the
    /// term, so unseen terms get the highest finite weight and a term in
    /// every document still weighs 1.
    ///
    /// The term is the `index`-th of `group`, whose texts are `texts`. Its
    /// position there is read only when the corpus needs the text: in a
    /// comparison it is a memory read as costly as the hash's.
    #[inline]
    fn weigh(&mut self, group: HashedTerms<'_>, index: usize, texts: &[String]) -> Mass {
        let Some(&hash) = group.hashes.get(index) else {
            return Mass {
                value: 1.0,
                of_new_text: false,
            };
        };
        // Most terms of a candidate were weighed earlier in the decision:
        // that lookup is inlined into the scoring loop, the rest is not.
        match self.masses.get(hash) {
            Some(mass) => mass,
            None => self.weigh_unseen(group, index, texts, hash),
        }
    }

    #[inline(never)]
    fn weigh_unseen(&mut self, group: HashedTerms<'_>, index: usize, texts: &[String], hash: u64) -> Mass {
        let text = if self.counts_by_hash_alone {
            ""
        } else {
            group
                .positions
                .get(index)
                .and_then(|&position| texts.get(usize::try_from(position).ok()?))
                .map_or("", String::as_str)
        };
        let frequency = self.corpus.document_frequency_by_hash(text, hash);
        let bounded = (frequency as f64).min(self.document_count);
        let idf = ((self.document_count + 1.0) / (bounded + 1.0)).ln() + 1.0;
        let mass = Mass {
            value: idf * idf,
            of_new_text: false,
        };
        self.masses.insert(hash, mass);
        mass
    }

    /// Weighs a term of the new text, and marks it as one: a stored text's
    /// term so marked is shared with the new text.
    fn weigh_new(&mut self, group: HashedTerms<'_>, index: usize, texts: &[String]) -> f64 {
        let mass = Mass {
            of_new_text: true,
            ..self.weigh(group, index, texts)
        };
        if let Some(&hash) = group.hashes.get(index) {
            self.masses.insert(hash, mass);
        }
        mass.value
    }
}

/// A term's weight in a decision, and whether the new text has the term.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Mass {
    value: f64,
    of_new_text: bool,
}

/// Masses by term hash, open addressing on the hash's own low bits: term
/// hashes are already uniform, so hashing them again, as a general map
/// does, is wasted on the lookup scoring makes most often. A mass is at
/// least 1, so a zero marks an empty slot, and the sign whether the term is
/// the new text's: one slot of 16 bytes holds all scoring asks of a term.
struct MassTable {
    slots: Vec<(u64, f64)>,
    len: usize,
}

impl MassTable {
    fn with_capacity(capacity: usize) -> MassTable {
        MassTable {
            slots: vec![(0, 0.0); (capacity * 2).next_power_of_two()],
            len: 0,
        }
    }

    /// The slot holding `hash`, or the empty one it would go in.
    #[inline]
    fn slot(&self, hash: u64) -> usize {
        let mask = self.slots.len() - 1;
        // Truncating keeps the low bits, which are all the mask reads.
        let mut slot = hash as usize & mask;
        while let Some(&(held, mass)) = self.slots.get(slot) {
            if mass == 0.0 || held == hash {
                break;
            }
            slot = (slot + 1) & mask;
        }
        slot
    }

    #[inline]
    fn get(&self, hash: u64) -> Option<Mass> {
        let &(_, held) = self.slots.get(self.slot(hash))?;
        (held != 0.0).then_some(Mass {
            value: held.abs(),
            of_new_text: held < 0.0,
        })
    }

    /// Holds `mass` for `hash`, in place of any it held; the table is kept
    /// at most half full, so probes stay short and always reach an empty
    /// slot.
    fn insert(&mut self, hash: u64, mass: Mass) {
        debug_assert!(mass.value >= 1.0, "a mass is a squared IDF of at least 1");
        let held = if mass.of_new_text { -mass.value } else { mass.value };
        let slot = self.slot(hash);
        if let Some(entry) = self.slots.get_mut(slot) {
            if entry.1 == 0.0 {
                self.len += 1;
            }
            *entry = (hash, held);
        }
        if self.len * 2 > self.slots.len() {
            let grown = vec![(0, 0.0); self.slots.len() * 2];
            let old = std::mem::replace(&mut self.slots, grown);
            let mask = self.slots.len() - 1;
            for (hash, held) in old.into_iter().filter(|&(_, held)| held != 0.0) {
                let mut slot = hash as usize & mask;
                while self.slots.get(slot).is_some_and(|&(_, taken)| taken != 0.0) {
                    slot = (slot + 1) & mask;
                }
                if let Some(entry) = self.slots.get_mut(slot) {
                    *entry = (hash, held);
                }
            }
        }
    }
}

/// Share of the score that comes from the wording (IDF cosine over words
/// and word pairs); the rest comes from the semantic fields (IDF cosine
/// over `data/concepts.tsv` fields). Paraphrases share few words but name
/// the same things; texts sharing their frame but not their matter differ in
/// the fields. Half and half separated the labelled set best.
const WORDING_WEIGHT: f64 = 0.5;

/// How similar two analyses are, and whether anything forbids a link.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Comparison {
    score: f64,
    vetoed: bool,
}

/// The similarity of two analyses, as [`Engine::similarity`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Similarity {
    /// In [0, 1]; 1 for an exact duplicate.
    pub score: f64,
    /// Numbers or places disagree: the two may at most be reviewed.
    pub vetoed: bool,
}

/// Two sets disagree when both say something and neither includes the
/// other: "8-10 staff" and "10 staff" agree, "ward A" and "ward B" do not.
fn disagree(left: &[String], right: &[String]) -> bool {
    let includes = |outer: &[String], inner: &[String]| inner.iter().all(|item| outer.contains(item));
    !left.is_empty() && !right.is_empty() && !includes(left, right) && !includes(right, left)
}

/// IDF cosine of a group of the new text's terms, whose squared norm is
/// `new_norm`, with the same group of a stored analysis: the masses of the
/// terms both have over the norms. The new text's terms are marked in
/// `weights`, so one pass over the stored group's terms, in hash order,
/// sums both its norm and the shared masses.
fn cosine(new_norm: f64, other: HashedTerms<'_>, texts: &[String], weights: &mut Weights<'_>) -> f64 {
    let (mut other_norm, mut shared_mass) = (0.0, 0.0);
    for index in 0..other.hashes.len() {
        let mass = weights.weigh(other, index, texts);
        other_norm += mass.value;
        if mass.of_new_text {
            shared_mass += mass.value;
        }
    }
    if new_norm <= 0.0 || other_norm <= 0.0 {
        return 0.0;
    }
    (shared_mass / (new_norm * other_norm).sqrt()).clamp(0.0, 1.0)
}

/// The new text's squared IDF norms by group, weighed once per decision;
/// weighing marks its terms in the weights, for [`cosine`].
struct Profile<'a> {
    analysis: &'a Analysis,
    accented_norm: f64,
    folded_norm: f64,
    concepts_norm: f64,
}

impl<'a> Profile<'a> {
    fn new(analysis: &'a Analysis, weights: &mut Weights<'_>) -> Profile<'a> {
        let index = analysis.term_index();
        let texts = analysis.terms.as_slice();
        let mut norm = |terms: HashedTerms<'_>| -> f64 {
            (0..terms.hashes.len())
                .map(|index| weights.weigh_new(terms, index, texts))
                .sum()
        };
        Profile {
            analysis,
            accented_norm: norm(index.accented()),
            folded_norm: norm(index.folded()),
            concepts_norm: norm(index.concepts()),
        }
    }
}

/// Same normalised text and same places (which the normalised text leaves
/// out); numbers are part of the text.
fn is_exact_duplicate(left: &Analysis, right: &Analysis) -> bool {
    left.exact_key == right.exact_key && left.normalized == right.normalized && left.places == right.places
}

impl Engine {
    fn compare(&self, new: &Profile<'_>, other: &Analysis, weights: &mut Weights<'_>) -> Comparison {
        let profile = new;
        let new = profile.analysis;
        if is_exact_duplicate(new, other) {
            return Comparison {
                score: 1.0,
                vetoed: false,
            };
        }
        let other_index = other.term_index();
        let texts = other.terms.as_slice();
        // Accented text is compared on accented terms, so words that differ
        // only in tone stay different; text typed without diacritics can only
        // be compared on folded terms.
        let wording = if new.accented && other.accented {
            cosine(profile.accented_norm, other_index.accented(), texts, weights)
        } else {
            cosine(profile.folded_norm, other_index.folded(), texts, weights)
        };
        let meaning = cosine(profile.concepts_norm, other_index.concepts(), texts, weights);
        Comparison {
            score: WORDING_WEIGHT * wording + (1.0 - WORDING_WEIGHT) * meaning,
            vetoed: disagree(&new.numbers, &other.numbers) || disagree(&new.places, &other.places),
        }
    }

    /// How similar two analyses are under `corpus`'s document frequencies,
    /// and whether their numbers or places forbid a link. For diagnostics and
    /// tuning; [`Engine::decide`] is what decides.
    pub fn similarity(&self, left: &Analysis, right: &Analysis, corpus: &dyn CorpusStats) -> Similarity {
        let mut weights = Weights::new(corpus);
        let profile = Profile::new(left, &mut weights);
        let comparison = self.compare(&profile, right, &mut weights);
        Similarity {
            score: comparison.score,
            vetoed: comparison.vetoed,
        }
    }

    /// Decides whether `new` is a matter already on file among `candidates`
    /// (best first by shared band keys; at most `max_candidates` are scored,
    /// and candidates of another `norm_version` are ignored).
    pub fn decide(&self, new: &Analysis, candidates: &[Candidate<'_>], corpus: &dyn CorpusStats) -> Decision {
        let (best_link, suggestions) = self.score(new, candidates, corpus);
        if let Some(link) = best_link {
            return Decision::Link(link);
        }
        if suggestions.is_empty() {
            return Decision::New;
        }
        Decision::Review(best_per_cluster(
            suggestions,
            self.config.max_review_suggestions.max(1),
        ))
    }

    /// The candidates scoring at least the review threshold, one per
    /// cluster, at most `limit`: what a submitter checking a text before
    /// sending it is shown. The one [`decide`](Self::decide) would link to
    /// comes first (a candidate scoring higher may be barred from a link by
    /// its numbers or places), then the rest best first.
    pub fn rank_similar(
        &self,
        new: &Analysis,
        candidates: &[Candidate<'_>],
        corpus: &dyn CorpusStats,
        limit: usize,
    ) -> Vec<ScoredCandidate> {
        let (best_link, suggestions) = self.score(new, candidates, corpus);
        let mut ranked = best_per_cluster(suggestions, usize::MAX);
        if let Some(link) = best_link {
            ranked.retain(|suggestion| suggestion.cluster_id != link.cluster_id);
            ranked.insert(0, link);
        }
        ranked.truncate(limit);
        ranked
    }

    /// Scores the candidates: the best one a link may go to, and every one
    /// scoring at least the review threshold.
    fn score(
        &self,
        new: &Analysis,
        candidates: &[Candidate<'_>],
        corpus: &dyn CorpusStats,
    ) -> (Option<ScoredCandidate>, Vec<ScoredCandidate>) {
        let DedupConfig {
            link_threshold,
            review_threshold,
            canonical_threshold,
            max_candidates,
            max_postings_per_band: _,
            max_review_suggestions: _,
        } = self.config;
        let mut weights = Weights::new(corpus);
        let profile = Profile::new(new, &mut weights);
        // Many candidates share a cluster, so one canonical member is checked
        // again and again, and a canonical member is often a candidate too: a
        // comparison depends only on the analysis compared, so each is made
        // once per decision.
        let mut compared: FxHashMap<*const Analysis, Comparison> = FxHashMap::default();
        let mut compare = |other: &Analysis, weights: &mut Weights<'_>| {
            *compared
                .entry(std::ptr::from_ref(other))
                .or_insert_with(|| self.compare(&profile, other, weights))
        };
        touch(
            new,
            candidates
                .iter()
                .take(max_candidates)
                .map(|candidate| candidate.analysis),
        );
        let mut best_link: Option<ScoredCandidate> = None;
        let mut suggestions: Vec<ScoredCandidate> = Vec::new();
        let comparable = candidates
            .iter()
            .filter(|candidate| {
                candidate.analysis.norm_version == new.norm_version
                    && candidate.cluster_canonical.norm_version == new.norm_version
            })
            .take(max_candidates);
        for candidate in comparable {
            let comparison = compare(candidate.analysis, &mut weights);
            if comparison.score < review_threshold {
                continue;
            }
            let scored = ScoredCandidate {
                recommendation_id: candidate.recommendation_id,
                cluster_id: candidate.cluster_id,
                score: comparison.score,
            };
            let linkable = !comparison.vetoed
                && comparison.score >= link_threshold
                && (is_exact_duplicate(new, candidate.analysis) || {
                    let canonical = compare(candidate.cluster_canonical, &mut weights);
                    !canonical.vetoed && canonical.score >= canonical_threshold
                });
            if linkable && best_link.as_ref().is_none_or(|best| ranks_before(&scored, best)) {
                best_link = Some(scored.clone());
            }
            suggestions.push(scored);
        }
        (best_link, suggestions)
    }
}

/// Reads one word of every cache line of `others` that comparing them with
/// `new` reads first. Stored analyses lie scattered in memory; compared one
/// after the other, each waits for its own cache misses, while these reads
/// do not depend on each other, so the processor overlaps their misses.
fn touch<'a>(new: &Analysis, others: impl Iterator<Item = &'a Analysis>) {
    /// Term hashes per 64-byte cache line.
    const TERMS_PER_LINE: usize = 8;
    let mut sum = 0u64;
    for other in others {
        for group in other.terms_compared_with(new) {
            sum = group
                .hashes
                .iter()
                .step_by(TERMS_PER_LINE)
                .fold(sum, |sum, &hash| sum.wrapping_add(hash));
        }
    }
    std::hint::black_box(sum);
}

/// The best of `suggestions` in each cluster, best first, at most `limit`.
fn best_per_cluster(mut suggestions: Vec<ScoredCandidate>, limit: usize) -> Vec<ScoredCandidate> {
    suggestions.sort_by(|left, right| {
        if ranks_before(left, right) {
            std::cmp::Ordering::Less
        } else if ranks_before(right, left) {
            std::cmp::Ordering::Greater
        } else {
            std::cmp::Ordering::Equal
        }
    });
    let mut seen_clusters = Vec::new();
    suggestions.retain(|suggestion| {
        let first_of_cluster = !seen_clusters.contains(&suggestion.cluster_id);
        seen_clusters.push(suggestion.cluster_id);
        first_of_cluster
    });
    suggestions.truncate(limit);
    suggestions
}

/// Higher score first; equal scores by the older (smaller) id, so decisions
/// do not depend on the order candidates arrive in.
fn ranks_before(left: &ScoredCandidate, right: &ScoredCandidate) -> bool {
    match left.score.total_cmp(&right.score) {
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Less => false,
        std::cmp::Ordering::Equal => left.recommendation_id < right.recommendation_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mass_table_grows_and_keeps_every_mass() {
        let mut table = MassTable::with_capacity(2);
        // Hashes sharing their low bits collide, and 0 is a hash like any.
        let hashes: Vec<u64> = (0..100u64)
            .map(|index| index << 40)
            .chain([1, 5, 0x10_0001])
            .collect();
        for (index, &hash) in hashes.iter().enumerate() {
            assert_eq!(table.get(hash), None);
            table.insert(
                hash,
                Mass {
                    value: 1.0 + index as f64,
                    of_new_text: index % 3 == 0,
                },
            );
        }
        // Holding a mass again replaces the one held.
        let marked = Mass {
            value: 1.0,
            of_new_text: true,
        };
        table.insert(5, marked);
        for (index, &hash) in hashes.iter().enumerate() {
            let expected = Mass {
                value: 1.0 + index as f64,
                of_new_text: index % 3 == 0,
            };
            let expected = if hash == 5 { marked } else { expected };
            assert_eq!(table.get(hash), Some(expected), "{hash}");
        }
        assert_eq!(table.len, hashes.len());
        assert_eq!(table.get(7), None);
        assert!(table.slots.len() >= 2 * hashes.len());
    }

    #[test]
    fn analyses_keeping_only_hashed_terms_score_as_whole_ones() {
        let engine = Engine::default();
        let texts = [
            "Đề nghị Thành phố hỗ trợ kinh phí số hóa hồ sơ lưu trữ cho xã.",
            "De nghi ho tro kinh phi so hoa ho so, tai lieu luu tru cho phuong.",
            "Kiến nghị bổ sung biên chế giáo viên tiểu học cho các trường trên địa bàn.",
            "Đề nghị bố trí kinh phí số hoá tài liệu lưu trữ của các xã cũ.",
        ];
        let whole: Vec<Analysis> = texts.iter().map(|text| engine.analyze(text)).collect();
        let mut frequencies = FxHashMap::default();
        for analysis in &whole {
            for hash in analysis.term_hashes() {
                *frequencies.entry(hash).or_insert(0) += 1;
            }
        }
        // Frequencies by hash, as the batch counts them.
        let corpus = crate::batch::InMemoryCorpus {
            document_count: 10,
            document_frequencies: &frequencies,
        };
        // Fresh analyses, as the batch slims them: their index is built from
        // the terms on the way.
        let slim: Vec<Analysis> = texts
            .iter()
            .map(|text| {
                let mut analysis = engine.analyze(text);
                analysis.keep_only_hashed_terms();
                analysis
            })
            .collect();
        assert!(slim.iter().all(|analysis| analysis.terms.is_empty()));
        let mut compared = 0;
        for (left_whole, left_slim) in whole.iter().zip(&slim) {
            for (right_whole, right_slim) in whole.iter().zip(&slim) {
                let expected = engine.similarity(left_whole, right_whole, &corpus);
                assert_eq!(engine.similarity(left_slim, right_slim, &corpus), expected);
                assert_eq!(engine.similarity(left_slim, right_whole, &corpus), expected);
                compared += usize::from(expected.score > 0.0 && expected.score < 1.0);
            }
        }
        // The texts are near enough to score between the extremes.
        assert!(compared >= 4, "{compared}");
    }

    #[test]
    fn sets_disagree_only_when_neither_includes_the_other() {
        let set = |items: &[&str]| items.iter().map(|item| (*item).to_owned()).collect::<Vec<_>>();
        assert!(!disagree(&set(&[]), &set(&["5"])));
        assert!(!disagree(&set(&["8", "10"]), &set(&["10"])));
        assert!(disagree(&set(&["5"]), &set(&["10"])));
        assert!(disagree(&set(&["5", "7"]), &set(&["5", "10"])));
    }
}
