//! In-memory clustering of a batch of recommendations, for the offline
//! command. It runs exactly what the server runs — [`Engine::analyze`],
//! candidates by shared LSH band keys (and exact key), [`Engine::decide`]
//! against document frequencies of everything added so far — only with the
//! indexes in memory, so a batch run and the server decide alike.

use std::collections::HashMap;

use crate::Engine;
use crate::analysis::Analysis;
use crate::scoring::{Candidate, CorpusStats, Decision};
use crate::text_check::TextProblem;

#[derive(Debug)]
struct Document {
    id: String,
    analysis: Analysis,
    cluster: usize,
}

#[derive(Debug)]
struct Cluster {
    label: String,
    canonical: usize,
}

/// What happened to one added text.
#[derive(Debug, Clone, PartialEq)]
pub struct Added {
    /// Label of the cluster the text is now in.
    pub cluster: String,
    /// The engine's decision; candidate ids in it are positions in the batch
    /// (see [`BatchClusterer::document_id`]).
    pub decision: Decision,
}

/// Clusters texts one at a time, in the order they are added.
#[derive(Debug)]
pub struct BatchClusterer<'engine> {
    engine: &'engine Engine,
    documents: Vec<Document>,
    clusters: Vec<Cluster>,
    by_band_key: HashMap<u64, Vec<usize>>,
    by_exact_key: HashMap<u64, Vec<usize>>,
    document_frequencies: HashMap<String, u64>,
}

/// Document frequencies over the documents added so far.
struct InMemoryCorpus<'a> {
    document_count: u64,
    document_frequencies: &'a HashMap<String, u64>,
}

impl CorpusStats for InMemoryCorpus<'_> {
    fn document_count(&self) -> u64 {
        self.document_count
    }

    fn document_frequency(&self, term: &str) -> u64 {
        self.document_frequencies.get(term).copied().unwrap_or(0)
    }
}

impl<'engine> BatchClusterer<'engine> {
    pub fn new(engine: &'engine Engine) -> BatchClusterer<'engine> {
        BatchClusterer {
            engine,
            documents: Vec::new(),
            clusters: Vec::new(),
            by_band_key: HashMap::new(),
            by_exact_key: HashMap::new(),
            document_frequencies: HashMap::new(),
        }
    }

    /// Adds a text and returns the label of its cluster: the id of the
    /// cluster's first (canonical) member. Ids should be unique.
    pub fn add(&mut self, id: String, text: &str) -> Result<String, TextProblem> {
        self.add_detailed(id, text).map(|added| added.cluster)
    }

    /// Adds a text and returns its cluster with the decision behind it. A
    /// review opens a cluster of its own, as on the server until an officer
    /// confirms.
    pub fn add_detailed(&mut self, id: String, text: &str) -> Result<Added, TextProblem> {
        self.engine.check_text(text)?;
        let analysis = self.engine.analyze(text);
        let decision = self.decide(&analysis);
        let position = self.documents.len();
        let linked_cluster = match &decision {
            Decision::Link(link) => usize::try_from(link.recommendation_id)
                .ok()
                .and_then(|linked| self.documents.get(linked))
                .map(|linked| linked.cluster),
            Decision::New | Decision::Review(_) => None,
        };
        let cluster = linked_cluster.unwrap_or_else(|| {
            self.clusters.push(Cluster {
                label: id.clone(),
                canonical: position,
            });
            self.clusters.len() - 1
        });
        for key in &analysis.band_keys {
            self.by_band_key.entry(*key).or_default().push(position);
        }
        self.by_exact_key
            .entry(analysis.exact_key)
            .or_default()
            .push(position);
        for term in &analysis.terms {
            *self.document_frequencies.entry(term.clone()).or_insert(0) += 1;
        }
        self.documents.push(Document {
            id,
            analysis,
            cluster,
        });
        let label = self
            .clusters
            .get(cluster)
            .map(|cluster| cluster.label.clone())
            .unwrap_or_default();
        Ok(Added {
            cluster: label,
            decision,
        })
    }

    /// Candidates as the server finds them: exact duplicates first, then by
    /// the number of shared band keys, older first on ties.
    fn decide(&self, analysis: &Analysis) -> Decision {
        let mut shared_keys: HashMap<usize, usize> = HashMap::new();
        for key in &analysis.band_keys {
            for &position in self.by_band_key.get(key).into_iter().flatten() {
                *shared_keys.entry(position).or_insert(0) += 1;
            }
        }
        for &position in self.by_exact_key.get(&analysis.exact_key).into_iter().flatten() {
            *shared_keys.entry(position).or_insert(0) += usize::MAX / 2;
        }
        let mut ranked: Vec<(usize, usize)> = shared_keys.into_iter().collect();
        ranked.sort_unstable_by(|(left, left_shared), (right, right_shared)| {
            right_shared.cmp(left_shared).then(left.cmp(right))
        });
        ranked.truncate(self.engine.config().max_candidates);
        let candidates: Vec<Candidate<'_>> = ranked
            .iter()
            .filter_map(|&(position, _)| {
                let document = self.documents.get(position)?;
                let cluster = self.clusters.get(document.cluster)?;
                let canonical = self.documents.get(cluster.canonical)?;
                Some(Candidate {
                    recommendation_id: i64::try_from(position).ok()?,
                    cluster_id: i64::try_from(document.cluster).ok()?,
                    analysis: &document.analysis,
                    cluster_canonical: &canonical.analysis,
                })
            })
            .collect();
        let corpus = InMemoryCorpus {
            document_count: self.documents.len() as u64,
            document_frequencies: &self.document_frequencies,
        };
        self.engine.decide(analysis, &candidates, &corpus)
    }

    /// The id of the document at a position named in a [`Decision`].
    pub fn document_id(&self, recommendation_id: i64) -> Option<&str> {
        let position = usize::try_from(recommendation_id).ok()?;
        self.documents.get(position).map(|document| document.id.as_str())
    }

    /// Every added id with its cluster label, in the order added.
    pub fn assignments(&self) -> Vec<(String, String)> {
        self.documents
            .iter()
            .map(|document| {
                let label = self
                    .clusters
                    .get(document.cluster)
                    .map(|cluster| cluster.label.clone())
                    .unwrap_or_default();
                (document.id.clone(), label)
            })
            .collect()
    }
}
