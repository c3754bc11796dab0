//! Recommendations (kiến nghị) and the clusters that group the ones about the
//! same matter. Which cluster a new recommendation joins is decided by the
//! dedup engine ([`lienthong_dedup`]); this module holds the entities, their
//! lifecycle rules and the storage port.

use std::sync::Arc;

use async_trait::async_trait;
use lienthong_dedup::{Analysis, CandidateLimits, Decision};
use time::{Date, OffsetDateTime};

use crate::directory::Bloc;
use crate::error::Result;
use crate::store::IdempotencyKey;

/// The addressee that stands for the central government.
pub const CENTRAL: &str = "CENTRAL";

/// Longest topic label, in characters.
pub const MAX_TOPIC_CHARS: usize = 64;

/// What [`is_topic_label`] accepts, as a field violation says it.
pub const TOPIC_LABEL_RULE: &str = "lower-case letters, digits and hyphens, 1 to 64";

/// Whether `text` is a topic label ("staffing", "public-assets"): the
/// topics of recommendations, and of the indicators that measure them.
pub fn is_topic_label(text: &str) -> bool {
    !text.is_empty()
        && text.chars().count() <= MAX_TOPIC_CHARS
        && text
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DedupOutcome {
    NewCluster,
    JoinedCluster,
    AlreadyAnswered,
    NeedsReview,
}

impl DedupOutcome {
    pub const ALL: [DedupOutcome; 4] = [
        DedupOutcome::NewCluster,
        DedupOutcome::JoinedCluster,
        DedupOutcome::AlreadyAnswered,
        DedupOutcome::NeedsReview,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DedupOutcome::NewCluster => "NEW_CLUSTER",
            DedupOutcome::JoinedCluster => "JOINED_CLUSTER",
            DedupOutcome::AlreadyAnswered => "ALREADY_ANSWERED",
            DedupOutcome::NeedsReview => "NEEDS_REVIEW",
        }
    }

    pub fn parse(text: &str) -> Option<DedupOutcome> {
        DedupOutcome::ALL
            .into_iter()
            .find(|outcome| outcome.as_str() == text)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClusterStatus {
    Open,
    Assigned,
    Answered,
    Reopened,
    EscalatedToCentral,
}

impl ClusterStatus {
    pub const ALL: [ClusterStatus; 5] = [
        ClusterStatus::Open,
        ClusterStatus::Assigned,
        ClusterStatus::Answered,
        ClusterStatus::Reopened,
        ClusterStatus::EscalatedToCentral,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ClusterStatus::Open => "OPEN",
            ClusterStatus::Assigned => "ASSIGNED",
            ClusterStatus::Answered => "ANSWERED",
            ClusterStatus::Reopened => "REOPENED",
            ClusterStatus::EscalatedToCentral => "ESCALATED_TO_CENTRAL",
        }
    }

    pub fn parse(text: &str) -> Option<ClusterStatus> {
        ClusterStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
    }

    /// Whether the matter still waits for an answer (so it can be assigned,
    /// answered or escalated).
    pub fn is_unanswered(self) -> bool {
        matches!(
            self,
            ClusterStatus::Open | ClusterStatus::Assigned | ClusterStatus::Reopened
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterAnswer {
    pub text: String,
    pub answering_organ: String,
    pub document: String,
    pub document_date: Date,
    pub answered_at: OffsetDateTime,
}

/// Where a recommendation stands: its text, its cluster and the cluster's
/// status and answer, without the cluster's members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecommendationStanding {
    pub recommendation_id: i64,
    pub text: String,
    pub cluster_id: i64,
    pub cluster_status: ClusterStatus,
    pub answer: Option<ClusterAnswer>,
}

/// A recommendation as recorded, with where it and the recommendations it
/// names (its match or its suggestions) stood when it was decided.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRecommendation {
    pub recommendation: Recommendation,
    pub standings: Vec<RecommendationStanding>,
}

/// A possible duplicate offered for an officer to confirm.
#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    pub recommendation_id: i64,
    pub cluster_id: i64,
    pub score: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Recommendation {
    pub id: i64,
    pub organ_id: String,
    pub bloc: Bloc,
    pub locality_code: String,
    pub text: String,
    pub topic: Option<String>,
    pub addressee: String,
    pub source: Option<String>,
    pub cluster_id: i64,
    pub outcome: DedupOutcome,
    pub submitted_at: OffsetDateTime,
    /// Set when an administrator imported it from earlier records: the
    /// importing organ; `submitted_at` is then the original time.
    pub imported_by: Option<String>,
    /// JOINED_CLUSTER and ALREADY_ANSWERED: the earlier recommendation matched.
    pub matched: Option<Suggestion>,
    /// Suggestions still awaiting an officer; empty once settled.
    pub pending_suggestions: Vec<Suggestion>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    pub id: i64,
    pub status: ClusterStatus,
    pub representative_id: i64,
    pub representative_text: String,
    pub topic: Option<String>,
    pub addressee: String,
    pub assigned_department: Option<String>,
    pub answer: Option<ClusterAnswer>,
    pub escalation_proposal: Option<String>,
    pub member_count: u32,
    pub locality_codes: Vec<String>,
    pub blocs: Vec<Bloc>,
    pub first_seen: OffsetDateTime,
    pub last_seen: OffsetDateTime,
}

impl Cluster {
    /// Whether a department officer of `organ_id` works on this cluster: it
    /// is assigned to that department, or addressed to it and not assigned.
    pub fn is_handled_by(&self, organ_id: &str) -> bool {
        match &self.assigned_department {
            Some(department) => department == organ_id,
            None => self.addressee == organ_id,
        }
    }
}

/// A recommendation to record, already analysed.
#[derive(Debug, Clone)]
pub struct NewRecommendation {
    pub organ_id: String,
    pub bloc: Bloc,
    pub locality_code: String,
    pub text: String,
    pub topic: Option<String>,
    pub addressee: String,
    pub source: Option<String>,
    /// When the organ submitted it: now, or the original time of an import.
    pub submitted_at: OffsetDateTime,
    /// When the server received it.
    pub received_at: OffsetDateTime,
    /// The administrator's organ that imported it from earlier records.
    pub imported_by: Option<String>,
    pub analysis: Analysis,
}

/// An earlier recommendation found by the index, with what the dedup engine
/// needs to judge it.
#[derive(Debug, Clone)]
pub struct StoredCandidate {
    pub recommendation_id: i64,
    pub cluster_id: i64,
    /// Shared: candidates of one cluster share its canonical analysis.
    pub analysis: Arc<Analysis>,
    pub cluster_canonical: Arc<Analysis>,
}

/// Document frequencies of the terms in play, read in the same transaction
/// as the candidates.
#[derive(Debug, Clone, Default)]
pub struct CorpusSnapshot {
    pub document_count: u64,
    pub document_frequencies: std::collections::HashMap<String, u64>,
}

impl lienthong_dedup::CorpusStats for CorpusSnapshot {
    fn document_count(&self) -> u64 {
        self.document_count
    }

    fn document_frequency(&self, term: &str) -> u64 {
        self.document_frequencies.get(term).copied().unwrap_or(0)
    }
}

/// What the store hands the decision: the candidates and the corpus.
#[derive(Debug, Clone, Default)]
pub struct DedupContext {
    pub candidates: Vec<StoredCandidate>,
    pub corpus: CorpusSnapshot,
}

/// The pure decision the store runs inside its write transaction, so that
/// concurrent submissions are decided one after the other.
pub type DecideFn<'a> = &'a (dyn Fn(&DedupContext) -> Decision + Send + Sync);

/// The engine's analysis of a text, handed to the store for re-indexing.
pub type AnalyzeFn<'a> = &'a (dyn Fn(&str) -> Analysis + Send + Sync);

/// A decision an officer takes on a cluster, recorded with who and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterAction {
    Assign { department: String },
    Answer(ClusterAnswer),
    Reopen { reason: String },
    Escalate { proposal: String },
}

impl ClusterAction {
    /// What the officer asked for, as an idempotency fingerprint: all of it
    /// but the time the server stamps on an answer, so a retry of the same
    /// request replays instead of looking like another request.
    pub fn requested(&self) -> String {
        match self {
            ClusterAction::Answer(answer) => format!(
                "Answer {{ text: {:?}, answering_organ: {:?}, document: {:?}, document_date: {} }}",
                answer.text, answer.answering_organ, answer.document, answer.document_date
            ),
            other => format!("{other:?}"),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterFilter {
    pub status: Option<ClusterStatus>,
    pub topic: Option<String>,
    pub addressee: Option<String>,
    pub min_distinct_blocs: u32,
    pub min_distinct_localities: u32,
}

/// Which clusters to rank, by the recommendations received in a span of
/// time: a cluster counts the members submitted in `[from, until)` only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterRanking {
    pub from: OffsetDateTime,
    pub until: OffsetDateTime,
    pub status: Option<ClusterStatus>,
    /// Any of these topics; all topics when empty.
    pub topics: Vec<String>,
    pub addressee: Option<String>,
    pub min_distinct_localities: u32,
}

/// A cluster with the support it received in the ranked span.
#[derive(Debug, Clone, PartialEq)]
pub struct RankedCluster {
    pub cluster: Cluster,
    /// Members submitted in the span.
    pub members_in_span: u32,
    /// Distinct localities and blocs of those members, sorted.
    pub localities_in_span: Vec<String>,
    pub blocs_in_span: Vec<Bloc>,
}

/// How many recommendations of a bloc got one dedup outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutcomeCount {
    pub bloc: Bloc,
    pub outcome: DedupOutcome,
    pub count: u64,
}

/// A decision recorded on a cluster; each also becomes an event for the
/// recommendations it touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClusterDecision {
    Assign,
    Answer,
    Reopen,
    Escalate,
    ConfirmDuplicate,
    KeepSeparate,
    Merge,
    MergedInto,
    MoveOut,
    MoveIn,
}

impl ClusterDecision {
    pub const ALL: [ClusterDecision; 10] = [
        ClusterDecision::Assign,
        ClusterDecision::Answer,
        ClusterDecision::Reopen,
        ClusterDecision::Escalate,
        ClusterDecision::ConfirmDuplicate,
        ClusterDecision::KeepSeparate,
        ClusterDecision::Merge,
        ClusterDecision::MergedInto,
        ClusterDecision::MoveOut,
        ClusterDecision::MoveIn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ClusterDecision::Assign => "ASSIGN",
            ClusterDecision::Answer => "ANSWER",
            ClusterDecision::Reopen => "REOPEN",
            ClusterDecision::Escalate => "ESCALATE",
            ClusterDecision::ConfirmDuplicate => "CONFIRM_DUPLICATE",
            ClusterDecision::KeepSeparate => "KEEP_SEPARATE",
            ClusterDecision::Merge => "MERGE",
            ClusterDecision::MergedInto => "MERGED_INTO",
            ClusterDecision::MoveOut => "MOVE_OUT",
            ClusterDecision::MoveIn => "MOVE_IN",
        }
    }

    pub fn parse(text: &str) -> Option<ClusterDecision> {
        ClusterDecision::ALL
            .into_iter()
            .find(|decision| decision.as_str() == text)
    }
}

/// Something that happened to one recommendation (its cluster assigned,
/// answered, merged…), in the order the database recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecommendationEvent {
    /// Increases with every event; a watcher resumes after the last it saw.
    pub id: i64,
    pub recommendation_id: i64,
    pub cluster_id: i64,
    pub decision: ClusterDecision,
    pub detail: String,
    pub occurred_at: OffsetDateTime,
}

/// A decision an officer took on a cluster, as its audit log keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedDecision {
    pub decision: ClusterDecision,
    /// The member the decision named; `None` when it concerned the whole
    /// cluster.
    pub recommendation_id: Option<i64>,
    /// The organ whose officer decided.
    pub actor_organ: String,
    pub detail: String,
    pub decided_at: OffsetDateTime,
}

#[async_trait]
pub trait RecommendationStore: Send + Sync {
    /// Re-analyses with `analyze` every recommendation analysed by a
    /// normalisation version other than `norm_version`, re-indexes it and
    /// updates the document frequencies, in batches that each commit on
    /// their own (so submissions are not held up, and an interrupted run
    /// resumes where it stopped); returns how many changed.
    async fn reindex_recommendations(&self, norm_version: u32, analyze: AnalyzeFn<'_>) -> Result<u64>;
    /// Events of an organ's recommendations with ids above `after_id`, oldest first.
    async fn recommendation_events(
        &self,
        organ_id: &str,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<RecommendationEvent>>;
    /// The id of the latest event of an organ's recommendations; 0 if none.
    async fn latest_recommendation_event(&self, organ_id: &str) -> Result<i64>;
    /// Records a recommendation with its dedup decision, atomically: finds
    /// candidates by the analysis' band and exact keys, reads the corpus
    /// statistics, runs `decide`, and applies the outcome, while holding
    /// the database-wide recommendation lock. `AlreadyExists` of kind
    /// `IdempotencyKey`, with nothing recorded, when `key` already is.
    async fn record_recommendation(
        &self,
        new: &NewRecommendation,
        decide: DecideFn<'_>,
        limits: CandidateLimits,
        key: &IdempotencyKey,
    ) -> Result<RecordedRecommendation>;
    /// Candidates for a text without recording anything.
    async fn dedup_context(&self, analysis: &Analysis, limits: CandidateLimits) -> Result<DedupContext>;
    async fn get_recommendation(&self, id: i64) -> Result<Option<Recommendation>>;
    /// An organ's recommendations, newest first, with ids below `before_id`.
    async fn list_recommendations(
        &self,
        organ_id: &str,
        cluster_status: Option<ClusterStatus>,
        before_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Recommendation>>;
    async fn get_cluster(&self, id: i64) -> Result<Option<Cluster>>;
    /// Where each of `ids` stands, in one read; unknown ids are left out.
    async fn recommendation_standings(&self, ids: &[i64]) -> Result<Vec<RecommendationStanding>>;
    /// Clusters with members submitted in the ranking's span, most distinct
    /// localities first, then most distinct blocs, then the oldest cluster.
    async fn rank_clusters(&self, ranking: &ClusterRanking, limit: u32) -> Result<Vec<RankedCluster>>;
    /// Recommendations submitted in `[from, until)` by bloc and dedup outcome
    /// (the outcome when submitted); pairs with no recommendation are left out.
    async fn count_outcomes(&self, from: OffsetDateTime, until: OffsetDateTime) -> Result<Vec<OutcomeCount>>;
    /// Members of a cluster, oldest first.
    async fn cluster_members(&self, cluster_id: i64) -> Result<Vec<Recommendation>>;
    /// The decisions taken on a cluster, oldest first.
    async fn cluster_decisions(&self, cluster_id: i64) -> Result<Vec<RecordedDecision>>;
    /// Clusters, most recently active first, after the given (last_seen, id) key.
    async fn list_clusters(
        &self,
        filter: &ClusterFilter,
        after: Option<(OffsetDateTime, i64)>,
        limit: u32,
    ) -> Result<Vec<Cluster>>;
    /// Applies an officer's action if the cluster is still in `expected_status`.
    async fn act_on_cluster(
        &self,
        cluster_id: i64,
        expected_status: ClusterStatus,
        action: &ClusterAction,
        actor_organ: &str,
        at: OffsetDateTime,
        key: &IdempotencyKey,
    ) -> Result<()>;
    /// Settles a pending review: moves the recommendation into `confirm`
    /// (one of its suggested clusters) or keeps it where it is; clears the
    /// suggestions either way.
    async fn resolve_review(
        &self,
        recommendation_id: i64,
        confirm: Option<i64>,
        actor_organ: &str,
        at: OffsetDateTime,
        key: &IdempotencyKey,
    ) -> Result<()>;
    /// Moves every member of `source` into `target` if both clusters are
    /// still in their expected status; `target` keeps its state, `source`
    /// ends empty. Pending suggestions of `source` now name `target`.
    async fn merge_clusters(
        &self,
        target: ClusterExpectation,
        source: ClusterExpectation,
        actor_organ: &str,
        at: OffsetDateTime,
        key: &IdempotencyKey,
    ) -> Result<()>;
    /// Moves a recommendation out of `source` (its cluster) into `target`,
    /// or into a new cluster of its own when `target` is `None`, if the
    /// clusters are still in their expected status; clears its pending
    /// suggestions. Returns the cluster it is now in.
    async fn move_recommendation(
        &self,
        recommendation_id: i64,
        source: ClusterExpectation,
        target: Option<ClusterExpectation>,
        actor_organ: &str,
        at: OffsetDateTime,
        key: &IdempotencyKey,
    ) -> Result<i64>;
}

/// A cluster an operation touches and the status it was read in, for the
/// store's compare-and-set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClusterExpectation {
    pub cluster_id: i64,
    pub status: ClusterStatus,
}
