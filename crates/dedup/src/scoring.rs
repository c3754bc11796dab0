//! Exact scoring of candidates and the three-way decision. A candidate is
//! scored by IDF-weighted cosine over words and over semantic fields, with
//! document frequencies from the caller's corpus; numbers or places that disagree veto a link; a link
//! also needs the cluster's canonical member to agree, so clusters cannot
//! chain away from their matter.

use std::collections::HashMap;

use crate::analysis::Analysis;
use crate::{DedupConfig, Engine};

/// Document frequencies of the corpus the candidates come from. The server
/// counts them over the `terms` of stored analyses of the same
/// [`crate::NORM_VERSION`]; the batch clusterer keeps them in memory.
pub trait CorpusStats {
    /// Number of analysed recommendations.
    fn document_count(&self) -> u64;
    /// Number of those whose `terms` contain `term`.
    fn document_frequency(&self, term: &str) -> u64;
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

/// Document frequencies and inverse document frequencies, looked up once
/// per term per decision.
struct Weights<'a, 't> {
    corpus: &'a dyn CorpusStats,
    document_count: f64,
    /// Keyed by the terms of the analyses being compared, which outlive
    /// the decision, so looking up allocates nothing.
    cache: HashMap<&'t str, (u64, f64)>,
}

impl<'a, 't> Weights<'a, 't> {
    fn new(corpus: &'a dyn CorpusStats) -> Weights<'a, 't> {
        Weights {
            corpus,
            document_count: corpus.document_count() as f64,
            cache: HashMap::new(),
        }
    }

    /// (document frequency, smoothed IDF). The IDF counts the new text as
    /// one more document containing the term, so unseen terms get the
    /// highest finite weight and a term in every document still weighs 1.
    fn lookup(&mut self, term: &'t str) -> (u64, f64) {
        if let Some(found) = self.cache.get(term) {
            return *found;
        }
        let frequency = self.corpus.document_frequency(term);
        let bounded = (frequency as f64).min(self.document_count);
        let idf = ((self.document_count + 1.0) / (bounded + 1.0)).ln() + 1.0;
        self.cache.insert(term, (frequency, idf));
        (frequency, idf)
    }

    /// A term's contribution to a squared norm.
    fn mass(&mut self, term: &'t str) -> f64 {
        self.lookup(term).1.powi(2)
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

/// Squared-IDF mass of a sorted term list and of its intersection with
/// another sorted term list.
fn cosine<'t>(
    left: impl Iterator<Item = &'t str>,
    right: impl Iterator<Item = &'t str>,
    weights: &mut Weights<'_, 't>,
) -> f64 {
    let mut left = left.peekable();
    let mut right = right.peekable();
    let (mut left_mass, mut right_mass, mut shared_mass) = (0.0, 0.0, 0.0);
    loop {
        match (left.peek(), right.peek()) {
            (Some(&l), Some(&r)) if l == r => {
                let weight = weights.mass(l);
                left_mass += weight;
                right_mass += weight;
                shared_mass += weight;
                left.next();
                right.next();
            }
            (Some(&l), Some(&r)) if l < r => {
                left_mass += weights.mass(l);
                left.next();
            }
            (Some(_), Some(&r)) => {
                right_mass += weights.mass(r);
                right.next();
            }
            (Some(&l), None) => {
                left_mass += weights.mass(l);
                left.next();
            }
            (None, Some(&r)) => {
                right_mass += weights.mass(r);
                right.next();
            }
            (None, None) => break,
        }
    }
    if left_mass <= 0.0 || right_mass <= 0.0 {
        return 0.0;
    }
    (shared_mass / (left_mass * right_mass).sqrt()).clamp(0.0, 1.0)
}

/// Same normalised text and same places (which the normalised text leaves
/// out); numbers are part of the text.
fn is_exact_duplicate(left: &Analysis, right: &Analysis) -> bool {
    left.exact_key == right.exact_key && left.normalized == right.normalized && left.places == right.places
}

impl Engine {
    fn compare<'t>(
        &self,
        new: &'t Analysis,
        other: &'t Analysis,
        weights: &mut Weights<'_, 't>,
    ) -> Comparison {
        if is_exact_duplicate(new, other) {
            return Comparison {
                score: 1.0,
                vetoed: false,
            };
        }
        // Accented text is compared on accented terms, so words that differ
        // only in tone stay different; text typed without diacritics can only
        // be compared on folded terms.
        let wording = if new.accented && other.accented {
            cosine(new.accented_terms(), other.accented_terms(), weights)
        } else {
            cosine(new.folded_terms(), other.folded_terms(), weights)
        };
        let meaning = cosine(new.concept_terms(), other.concept_terms(), weights);
        Comparison {
            score: WORDING_WEIGHT * wording + (1.0 - WORDING_WEIGHT) * meaning,
            vetoed: disagree(&new.numbers, &other.numbers) || disagree(&new.places, &other.places),
        }
    }

    /// How similar two analyses are under `corpus`'s document frequencies,
    /// and whether their numbers or places forbid a link. For diagnostics and
    /// tuning; [`Engine::decide`] is what decides.
    pub fn similarity(&self, left: &Analysis, right: &Analysis, corpus: &dyn CorpusStats) -> Similarity {
        let comparison = self.compare(left, right, &mut Weights::new(corpus));
        Similarity {
            score: comparison.score,
            vetoed: comparison.vetoed,
        }
    }

    /// Decides whether `new` is a matter already on file among `candidates`
    /// (best first by shared band keys; at most `max_candidates` are scored,
    /// and candidates of another `norm_version` are ignored).
    pub fn decide(&self, new: &Analysis, candidates: &[Candidate<'_>], corpus: &dyn CorpusStats) -> Decision {
        let DedupConfig {
            link_threshold,
            review_threshold,
            canonical_threshold,
            max_candidates,
            max_review_suggestions,
        } = self.config;
        let mut weights = Weights::new(corpus);
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
            let comparison = self.compare(new, candidate.analysis, &mut weights);
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
                    let canonical = self.compare(new, candidate.cluster_canonical, &mut weights);
                    !canonical.vetoed && canonical.score >= canonical_threshold
                });
            if linkable && best_link.as_ref().is_none_or(|best| ranks_before(&scored, best)) {
                best_link = Some(scored.clone());
            }
            suggestions.push(scored);
        }
        if let Some(link) = best_link {
            return Decision::Link(link);
        }
        if suggestions.is_empty() {
            return Decision::New;
        }
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
        suggestions.truncate(max_review_suggestions.max(1));
        Decision::Review(suggestions)
    }
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
    fn sets_disagree_only_when_neither_includes_the_other() {
        let set = |items: &[&str]| items.iter().map(|item| (*item).to_owned()).collect::<Vec<_>>();
        assert!(!disagree(&set(&[]), &set(&["5"])));
        assert!(!disagree(&set(&["8", "10"]), &set(&["10"])));
        assert!(disagree(&set(&["5"]), &set(&["10"])));
        assert!(disagree(&set(&["5", "7"]), &set(&["5", "10"])));
    }
}
