//! In-memory clustering of a batch of recommendations, for the offline
//! command. It runs exactly what the server runs — [`Engine::analyze`],
//! candidates by shared LSH band keys (and exact key), [`Engine::decide`]
//! against document frequencies of everything added so far — only with the
//! indexes in memory, so a batch run and the server decide alike.

use rustc_hash::FxHashMap;

use crate::analysis::Analysis;
use crate::scoring::{Candidate, CorpusStats, Decision, term_hash};
use crate::text_check::TextProblem;
use crate::{Engine, rank_candidates};

/// Texts an analysing thread hands over at a time. Handing over one at a
/// time woke a waiting thread at every text, which cost the deciding
/// thread more than some of its deciding.
const ANALYSIS_CHUNK: usize = 32;

/// Chunks waiting to be decided, per analysing thread: enough to ride out
/// uneven texts, little memory.
const ANALYSIS_QUEUE_CHUNKS: usize = 8;

/// Analysing threads beyond this would only wait on the deciding one.
const MAX_ANALYSIS_THREADS: usize = 4;

const _: () = assert!(
    crate::BANDS <= u8::MAX as usize,
    "shared band keys are counted in a byte"
);

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
    /// Positions under each band key, oldest first, at most
    /// [`crate::DedupConfig::max_postings_per_band`]: later ones are never
    /// candidates under that key, as on the server.
    by_band_key: FxHashMap<u64, Postings>,
    /// The lists of [`Postings::Many`].
    posting_lists: Vec<Vec<u32>>,
    /// Positions of exact duplicates, oldest first, at most
    /// [`crate::DedupConfig::max_candidates`].
    by_exact_key: FxHashMap<u64, Vec<usize>>,
    /// By term hash: the batch never needs a term's text back.
    document_frequencies: FxHashMap<u64, u64>,
    /// Scratch of [`decide`](Self::decide): band keys shared with the new
    /// text, by position, zero outside `shared_positions`; kept between
    /// decisions so counting allocates and hashes nothing. A text has at
    /// most [`crate::BANDS`] distinct keys, so a byte holds a count, and the
    /// whole table stays in cache where counting touches it at random.
    shared_counts: Vec<u8>,
    shared_positions: Vec<u32>,
}

/// The positions under one band key. Most keys are a single text's, so its
/// position is kept in the table itself: no list to allocate, and no
/// second cache miss to read it.
#[derive(Debug, Clone, Copy)]
enum Postings {
    One(u32),
    /// An index into [`BatchClusterer::posting_lists`].
    Many(u32),
}

/// Document frequencies over the documents added so far.
pub(crate) struct InMemoryCorpus<'a> {
    pub(crate) document_count: u64,
    pub(crate) document_frequencies: &'a FxHashMap<u64, u64>,
}

impl CorpusStats for InMemoryCorpus<'_> {
    fn document_count(&self) -> u64 {
        self.document_count
    }

    fn document_frequency(&self, term: &str) -> u64 {
        self.document_frequency_by_hash(term, term_hash(term))
    }

    fn document_frequency_by_hash(&self, _term: &str, hash: u64) -> u64 {
        self.document_frequencies.get(&hash).copied().unwrap_or(0)
    }

    fn counts_by_hash_alone(&self) -> bool {
        true
    }
}

impl<'engine> BatchClusterer<'engine> {
    pub fn new(engine: &'engine Engine) -> BatchClusterer<'engine> {
        BatchClusterer {
            engine,
            documents: Vec::new(),
            clusters: Vec::new(),
            by_band_key: FxHashMap::default(),
            posting_lists: Vec::new(),
            by_exact_key: FxHashMap::default(),
            document_frequencies: FxHashMap::default(),
            shared_counts: Vec::new(),
            shared_positions: Vec::new(),
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
        let analysis = checked_analysis(self.engine, text)?;
        Ok(self.add_analysis(id, analysis))
    }

    /// Adds `items` in order, as [`add_detailed`](Self::add_detailed) one at a
    /// time would, calling `on_added` with each item's position and result.
    /// Texts are checked and analysed ahead on other threads while this one
    /// decides, so on a machine with spare cores analysis costs no time;
    /// decisions still happen one at a time in input order, so the clusters
    /// are the same.
    pub fn add_all<T: Sync>(
        &mut self,
        items: &[T],
        text_of: impl Fn(&T) -> &str + Sync,
        id_of: impl Fn(&T) -> String,
        mut on_added: impl FnMut(usize, Result<Added, TextProblem>),
    ) {
        let engine = self.engine;
        let analysers = Self::analysis_threads();
        std::thread::scope(|scope| {
            // Analyser `a` takes every `analysers`-th chunk from `a`, so the
            // results can be read back in order, round robin.
            let receivers: Vec<_> = (0..analysers)
                .map(|analyser| {
                    let (sender, receiver) = std::sync::mpsc::sync_channel(ANALYSIS_QUEUE_CHUNKS);
                    let text_of = &text_of;
                    scope.spawn(move || {
                        for chunk in items.chunks(ANALYSIS_CHUNK).skip(analyser).step_by(analysers) {
                            let analysed: Vec<_> = chunk
                                .iter()
                                .map(|item| checked_analysis(engine, text_of(item)))
                                .collect();
                            if sender.send(analysed).is_err() {
                                break;
                            }
                        }
                    });
                    receiver
                })
                .collect();
            for (chunk_index, chunk) in items.chunks(ANALYSIS_CHUNK).enumerate() {
                let mut analysed = receivers
                    .get(chunk_index % analysers)
                    .and_then(|receiver| receiver.recv().ok())
                    .unwrap_or_default()
                    .into_iter();
                for (offset, item) in chunk.iter().enumerate() {
                    let analysis = analysed
                        .next()
                        // An analyser only stops early by panicking; analyse here instead.
                        .unwrap_or_else(|| checked_analysis(engine, text_of(item)));
                    on_added(
                        chunk_index * ANALYSIS_CHUNK + offset,
                        analysis.map(|analysis| self.add_analysis(id_of(item), analysis)),
                    );
                }
            }
        });
    }

    /// Threads [`add_all`](Self::add_all) analyses on: the cores beside the
    /// deciding one, at least one.
    pub fn analysis_threads() -> usize {
        std::thread::available_parallelism()
            .map_or(1, usize::from)
            .saturating_sub(1)
            .clamp(1, MAX_ANALYSIS_THREADS)
    }

    /// Decides and records an analysed text.
    fn add_analysis(&mut self, id: String, mut analysis: Analysis) -> Added {
        // Filed under its keys, a kept text never needs them again.
        let band_keys = analysis.take_distinct_band_keys();
        let decision = self.decide(&analysis, &band_keys);
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
        let config = self.engine.config();
        // A batch would need terabytes of memory before positions outgrew
        // u32; past that, texts are still decided but never candidates.
        if let Ok(position) = u32::try_from(position) {
            for key in band_keys {
                self.add_posting(key, position, config.max_postings_per_band);
            }
        }
        push_bounded(
            self.by_exact_key.entry(analysis.exact_key).or_default(),
            position,
            config.max_candidates,
        );
        for hash in analysis.term_hashes() {
            *self.document_frequencies.entry(hash).or_insert(0) += 1;
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
        Added {
            cluster: label,
            decision,
        }
    }

    /// Files `position` under a band key, unless the key already has
    /// `bound` (older) ones.
    fn add_posting(&mut self, key: u64, position: u32, bound: usize) {
        match self.by_band_key.entry(key) {
            std::collections::hash_map::Entry::Vacant(entry) => {
                if bound > 0 {
                    entry.insert(Postings::One(position));
                }
            }
            std::collections::hash_map::Entry::Occupied(mut entry) => match *entry.get() {
                Postings::One(first) => {
                    if bound > 1
                        && let Ok(list) = u32::try_from(self.posting_lists.len())
                    {
                        self.posting_lists.push(vec![first, position]);
                        entry.insert(Postings::Many(list));
                    }
                }
                Postings::Many(list) => {
                    if let Some(list) = usize::try_from(list)
                        .ok()
                        .and_then(|list| self.posting_lists.get_mut(list))
                        && list.len() < bound
                    {
                        list.push(position);
                    }
                }
            },
        }
    }

    /// Candidates as the server finds them: exact duplicates first, then by
    /// the number of shared band keys, older first on ties.
    fn decide(&mut self, analysis: &Analysis, band_keys: &[u64]) -> Decision {
        let exact: Vec<i64> = self
            .by_exact_key
            .get(&analysis.exact_key)
            .into_iter()
            .flatten()
            .filter_map(|&position| i64::try_from(position).ok())
            .collect();
        self.shared_counts.resize(self.documents.len(), 0);
        // Each key's postings are a cache miss away (the table's slot), and a
        // list of several one more. Looking every key up first, then reading
        // a word of every cache line of every list, lets those misses
        // overlap instead of following one another.
        let lists: Vec<&[u32]> = band_keys
            .iter()
            .map(|key| match self.by_band_key.get(key) {
                None => &[][..],
                Some(Postings::One(position)) => std::slice::from_ref(position),
                Some(&Postings::Many(list)) => usize::try_from(list)
                    .ok()
                    .and_then(|list| self.posting_lists.get(list))
                    .map_or(&[][..], Vec::as_slice),
            })
            .collect();
        /// Positions per 64-byte cache line.
        const POSITIONS_PER_LINE: usize = 16;
        std::hint::black_box(lists.iter().fold(0u32, |sum, list| {
            list.iter()
                .step_by(POSITIONS_PER_LINE)
                .fold(sum, |sum, &position| sum.wrapping_add(position))
        }));
        for list in lists {
            for &position in list {
                let Ok(index) = usize::try_from(position) else {
                    continue;
                };
                if let Some(count) = self.shared_counts.get_mut(index) {
                    if *count == 0 {
                        self.shared_positions.push(position);
                    }
                    *count = count.saturating_add(1);
                }
            }
        }
        let mut shared: Vec<(i64, u64)> = Vec::with_capacity(self.shared_positions.len());
        for position in self.shared_positions.drain(..) {
            let Ok(index) = usize::try_from(position) else {
                continue;
            };
            if let Some(count) = self.shared_counts.get_mut(index) {
                shared.push((i64::from(position), u64::from(*count)));
                *count = 0;
            }
        }
        let ranked = rank_candidates(&exact, &shared, self.engine.config().max_candidates);
        let candidates: Vec<Candidate<'_>> = ranked
            .iter()
            .filter_map(|&id| {
                let position = usize::try_from(id).ok()?;
                let document = self.documents.get(position)?;
                let cluster = self.clusters.get(document.cluster)?;
                let canonical = self.documents.get(cluster.canonical)?;
                Some(Candidate {
                    recommendation_id: id,
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

/// The analysis of a text the server would accept, its terms already
/// indexed for scoring (that happens on first use otherwise, which would be
/// on the deciding thread) and only what the batch reads kept: see
/// [`Analysis::keep_only_hashed_terms`].
fn checked_analysis(engine: &Engine, text: &str) -> Result<Analysis, TextProblem> {
    engine.check_text(text)?;
    let mut analysis = engine.analyze(text);
    analysis.keep_only_hashed_terms();
    Ok(analysis)
}

/// Appends `position` unless the list already holds `bound` (older) ones.
fn push_bounded(positions: &mut Vec<usize>, position: usize, bound: usize) {
    if positions.len() < bound {
        positions.push(position);
    }
}
