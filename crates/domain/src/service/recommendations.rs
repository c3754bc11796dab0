//! Submitting recommendations through the dedup engine, and the officers'
//! work on clusters: assign, answer, reopen, escalate, settle reviews.

use std::collections::HashMap;
use std::sync::Arc;

use lienthong_dedup::{Candidate, Decision, Engine};
use serde::Serialize;
use time::{Date, OffsetDateTime};

use super::{Clock, earlier_request, idempotency_key, is_key_race};
use crate::auth::{Principal, Role};
use crate::directory::{Organ, OrganKind};
use crate::error::{Error, ResourceKind, Result, Violations};
use crate::paging::{Page, PageRequest};
use crate::period::vietnam_date;
use crate::recommendation::{
    CENTRAL, Cluster, ClusterAction, ClusterAnswer, ClusterExpectation, ClusterFilter, ClusterStatus,
    DedupContext, NewRecommendation, Recommendation, RecommendationEvent, RecommendationStanding,
    RecommendationStore, RecordedDecision, RecordedRecommendation, Suggestion, TOPIC_LABEL_RULE,
    is_topic_label,
};
use crate::store::{IdempotencyKey, Store};
use crate::text::{check_free_text, control_character_problem};

const MAX_SOURCE_CHARS: usize = 200;
const MAX_ANSWER_CHARS: usize = 10_000;
const MAX_DOCUMENT_CHARS: usize = 200;
const MAX_SIMILAR_RESULTS: usize = 20;
/// The earliest submission time an import takes: a guard against unset
/// times read as 1970 or year 1.
const EARLIEST_IMPORT: OffsetDateTime = time::macros::datetime!(2000-01-01 00:00 +07:00);
const DEFAULT_SIMILAR_RESULTS: usize = 5;

/// A request to submit a recommendation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubmitRecommendation {
    pub organ_id: String,
    pub text: String,
    pub topic: String,
    pub addressee: String,
    pub source: String,
    #[serde(skip)]
    pub request_id: String,
}

/// Who imported a recommendation from earlier records, and when it was
/// first submitted.
#[derive(Debug)]
struct Imported {
    by: String,
    submitted_at: OffsetDateTime,
}

/// An earlier recommendation close to a text, with what a caller needs to see.
#[derive(Debug, Clone, PartialEq)]
pub struct SimilarRecommendation {
    pub recommendation_id: i64,
    pub cluster_id: i64,
    pub text: String,
    pub score: f64,
    pub cluster_status: ClusterStatus,
}

/// A recommendation with its cluster as it stands.
#[derive(Debug, Clone, PartialEq)]
pub struct RecommendationView {
    pub recommendation: Recommendation,
    pub cluster_status: ClusterStatus,
    pub answer: Option<ClusterAnswer>,
    pub matched: Option<SimilarRecommendation>,
    pub suggestions: Vec<SimilarRecommendation>,
}

/// A cluster with its members and its audit trail.
#[derive(Debug, Clone)]
pub struct ClusterDetail {
    pub cluster: Cluster,
    /// Oldest first.
    pub members: Vec<Recommendation>,
    /// Oldest first.
    pub decisions: Vec<RecordedDecision>,
}

#[derive(Clone)]
pub struct RecommendationService {
    store: Arc<dyn Store>,
    engine: Arc<Engine>,
    clock: Clock,
}

impl std::fmt::Debug for RecommendationService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecommendationService")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl RecommendationService {
    pub fn new(store: Arc<dyn Store>, engine: Arc<Engine>, clock: Clock) -> Self {
        Self { store, engine, clock }
    }

    fn recommendations(&self) -> &dyn RecommendationStore {
        self.store.as_ref()
    }

    pub async fn submit(
        &self,
        caller: &Principal,
        request: SubmitRecommendation,
    ) -> Result<RecommendationView> {
        if !caller.submits_for(&request.organ_id) {
            return Err(Error::PermissionDenied(format!(
                "{} may not submit recommendations for organ {}",
                caller.describe(),
                request.organ_id
            )));
        }
        let key = idempotency_key(
            &request.organ_id,
            "SubmitRecommendation",
            &request.request_id,
            &request,
        )?;
        // The caller's own organ, read with its token.
        let organ = caller.organ.clone();
        self.record(request, Some(organ), None, key).await
    }

    /// Records a recommendation from an organ's earlier records (a register
    /// kept on paper or in spreadsheets) with the time it was first
    /// submitted, deduplicated against everything stored as a submission is;
    /// it is already answered only by an answer given at or before that
    /// time. An administrator's act, for any organ.
    pub async fn import(
        &self,
        caller: &Principal,
        request: SubmitRecommendation,
        submitted_at: Option<Result<OffsetDateTime>>,
    ) -> Result<RecommendationView> {
        if !caller.has(Role::Admin) {
            return Err(Error::PermissionDenied(format!(
                "{} may not import recommendations: only an administrator imports earlier records",
                caller.describe()
            )));
        }
        // As sent, which may not have been a time: judged after the caller.
        let submitted_at = submitted_at
            .ok_or_else(|| Error::invalid("submit_time", "required: when the organ first submitted it"))??;
        #[derive(Serialize)]
        struct Content<'a> {
            request: &'a SubmitRecommendation,
            submitted_at_micros: String,
        }
        // The organ's request ids are one namespace, whoever records them: a
        // line submitted once and imported later under the same id is
        // refused as a reused key, never recorded twice.
        let key = idempotency_key(
            &request.organ_id,
            "SubmitRecommendation",
            &request.request_id,
            &Content {
                request: &request,
                submitted_at_micros: (submitted_at.unix_timestamp_nanos() / 1_000).to_string(),
            },
        )?;
        let imported = Imported {
            by: caller.organ.id.clone(),
            submitted_at,
        };
        self.record(request, None, Some(imported), key).await
    }

    /// Checks, deduplicates and stores a submission or an import; `organ`
    /// is the submitting organ when the caller already has it.
    async fn record(
        &self,
        request: SubmitRecommendation,
        organ: Option<Organ>,
        imported: Option<Imported>,
        key: IdempotencyKey,
    ) -> Result<RecommendationView> {
        // The key is looked up only when it matters: a retry fails on it in
        // the store, or here if it no longer passes the checks, and is
        // replayed; a first submission pays no lookup.
        let new = match self.checked(request, organ, imported).await {
            Ok(new) => new,
            Err(error) => {
                return match earlier_request(self.store.as_ref(), &key).await? {
                    Some(resource) => self.replay(&resource).await,
                    None => Err(error),
                };
            }
        };
        let engine = self.engine.clone();
        let new_analysis = new.analysis.clone();
        let decide = move |context: &DedupContext| decide_with(&engine, &new_analysis, context);
        let limits = self.engine.config().candidate_limits();
        match self
            .recommendations()
            .record_recommendation(&new, &decide, limits, &key)
            .await
        {
            Ok(RecordedRecommendation {
                recommendation,
                standings,
            }) => {
                tracing::info!(
                    recommendation_id = recommendation.id,
                    cluster_id = recommendation.cluster_id,
                    outcome = recommendation.outcome.as_str(),
                    organ = %recommendation.organ_id,
                    "recommendation recorded"
                );
                compose_view(recommendation, &by_recommendation(standings))
            }
            Err(error) if is_key_race(&error) => match earlier_request(self.store.as_ref(), &key).await? {
                Some(resource) => self.replay(&resource).await,
                None => Err(Error::internal("idempotency key conflict without a stored key")),
            },
            Err(error) => Err(error),
        }
    }

    /// The recommendation to record, once the request passes every check.
    async fn checked(
        &self,
        request: SubmitRecommendation,
        organ: Option<Organ>,
        imported: Option<Imported>,
    ) -> Result<NewRecommendation> {
        let organ = match organ {
            Some(organ) => organ,
            None => self
                .store
                .get_organ(&request.organ_id)
                .await?
                .ok_or_else(|| Error::not_found(ResourceKind::Organ, &request.organ_id))?,
        };
        let mut violations = Violations::new();
        check_recommendation_text(&self.engine, &request.text, &mut violations);
        let topic = optional_label(&request.topic, "topic", &mut violations);
        self.check_addressee(&request.addressee, &mut violations).await?;
        check_free_text("source", &request.source, MAX_SOURCE_CHARS, &mut violations);
        let received_at = (self.clock)();
        if let Some(imported) = &imported {
            if imported.submitted_at > received_at {
                violations.add("submit_time", "must not be in the future");
            } else if imported.submitted_at < EARLIEST_IMPORT {
                violations.add("submit_time", "must not be before 2000-01-01");
            }
        }
        violations.into_result()?;

        let analysis = self.engine.analyze(&request.text);
        Ok(NewRecommendation {
            organ_id: organ.id,
            bloc: organ.bloc,
            locality_code: organ.locality_code,
            source: (!request.source.is_empty()).then_some(request.source),
            text: request.text,
            topic,
            addressee: request.addressee,
            submitted_at: imported
                .as_ref()
                .map_or(received_at, |imported| imported.submitted_at),
            received_at,
            imported_by: imported.map(|imported| imported.by),
            analysis,
        })
    }

    /// Earlier recommendations like `text`, best first, one per cluster.
    pub async fn find_similar(
        &self,
        _caller: &Principal,
        text: &str,
        max_results: i32,
    ) -> Result<Vec<SimilarRecommendation>> {
        let mut violations = Violations::new();
        check_recommendation_text(&self.engine, text, &mut violations);
        violations.into_result()?;
        let max_results = match max_results {
            size if size < 0 => return Err(Error::invalid("max_results", "must not be negative")),
            0 => DEFAULT_SIMILAR_RESULTS,
            size => usize::try_from(size)
                .unwrap_or(MAX_SIMILAR_RESULTS)
                .min(MAX_SIMILAR_RESULTS),
        };
        let analysis = self.engine.analyze(text);
        let context = self
            .recommendations()
            .dedup_context(&analysis, self.engine.config().candidate_limits())
            .await?;
        let scored: Vec<Suggestion> = self
            .engine
            .rank_similar(&analysis, &candidates_of(&context), &context.corpus, max_results)
            .iter()
            .map(suggestion)
            .collect();
        self.describe(&scored).await
    }

    pub async fn list(
        &self,
        caller: &Principal,
        organ_id: &str,
        cluster_status: Option<ClusterStatus>,
        page: &PageRequest,
    ) -> Result<Page<RecommendationView>> {
        if !(caller.submits_for(organ_id) || reads_clusters(caller)) {
            return Err(Error::PermissionDenied(format!(
                "{} may read only its own organ's recommendations",
                caller.describe()
            )));
        }
        let fetched = self
            .recommendations()
            .list_recommendations(organ_id, cluster_status, page.after_id()?, page.fetch_limit())
            .await?;
        let page = Page::from_fetched(fetched, page, |recommendation| recommendation.id.to_string());
        let mut items = Vec::with_capacity(page.items.len());
        for recommendation in page.items {
            items.push(self.view(recommendation).await?);
        }
        Ok(Page {
            items,
            next_page_token: page.next_page_token,
        })
    }

    /// Brings every stored analysis to the engine's normalisation version,
    /// after an upgrade changed it; an administrator's act from the command line.
    pub async fn reindex(&self) -> Result<u64> {
        let engine = self.engine.clone();
        let analyze = move |text: &str| engine.analyze(text);
        let reindexed = self
            .recommendations()
            .reindex_recommendations(lienthong_dedup::NORM_VERSION, &analyze)
            .await?;
        tracing::info!(
            reindexed,
            norm_version = lienthong_dedup::NORM_VERSION,
            "recommendations re-analysed"
        );
        Ok(reindexed)
    }

    /// Where a watch of an organ's recommendations starts: after `cursor`
    /// (an event id given back by an earlier watch), or after the latest
    /// event when `cursor` is empty.
    pub async fn watch_start(&self, caller: &Principal, organ_id: &str, cursor: &str) -> Result<i64> {
        self.require_watcher(caller, organ_id).await?;
        if cursor.is_empty() {
            return self.recommendations().latest_recommendation_event(organ_id).await;
        }
        cursor
            .parse::<i64>()
            .ok()
            .filter(|after| *after >= 0)
            .ok_or_else(|| Error::invalid("cursor", "not a cursor returned by WatchRecommendations"))
    }

    /// The next events of an organ's recommendations after `after`, oldest first.
    pub async fn events_after(
        &self,
        caller: &Principal,
        organ_id: &str,
        after: i64,
        limit: u32,
    ) -> Result<Vec<RecommendationEvent>> {
        self.require_watcher(caller, organ_id).await?;
        self.recommendations()
            .recommendation_events(organ_id, after, limit)
            .await
    }

    async fn require_watcher(&self, caller: &Principal, organ_id: &str) -> Result<()> {
        if !(caller.submits_for(organ_id) || reads_clusters(caller)) {
            return Err(Error::PermissionDenied(format!(
                "{} may watch only its own organ's recommendations",
                caller.describe()
            )));
        }
        if self.store.get_organ(organ_id).await?.is_none() {
            return Err(Error::not_found(ResourceKind::Organ, organ_id));
        }
        Ok(())
    }

    pub async fn get_cluster(&self, caller: &Principal, cluster_id: i64) -> Result<ClusterDetail> {
        require_cluster_reader(caller)?;
        let cluster = self.cluster(cluster_id).await?;
        let members = self.recommendations().cluster_members(cluster_id).await?;
        let decisions = self.recommendations().cluster_decisions(cluster_id).await?;
        Ok(ClusterDetail {
            cluster,
            members,
            decisions,
        })
    }

    pub async fn list_clusters(
        &self,
        caller: &Principal,
        filter: &ClusterFilter,
        page: &PageRequest,
    ) -> Result<Page<Cluster>> {
        require_cluster_reader(caller)?;
        let after = page.after.as_deref().map(parse_cluster_key).transpose()?;
        let fetched = self
            .recommendations()
            .list_clusters(filter, after, page.fetch_limit())
            .await?;
        Ok(Page::from_fetched(fetched, page, |cluster| {
            format!(
                "{}:{}",
                cluster.last_seen.unix_timestamp_nanos() / 1_000,
                cluster.id
            )
        }))
    }

    pub async fn assign(
        &self,
        caller: &Principal,
        cluster_id: i64,
        department: &str,
        request_id: &str,
    ) -> Result<Cluster> {
        let mut violations = Violations::new();
        match self.store.get_organ(department).await? {
            Some(organ) if organ.kind == OrganKind::Department => {}
            _ => violations.add("department", format!("{department:?} is not a department")),
        }
        violations.into_result()?;
        self.act(
            caller,
            cluster_id,
            ClusterRequest {
                operation: "AssignCluster",
                request_id,
                action: ClusterAction::Assign {
                    department: department.to_owned(),
                },
                stated_time: None,
            },
            ClusterStatus::is_unanswered,
        )
        .await
    }

    pub async fn answer(
        &self,
        caller: &Principal,
        cluster_id: i64,
        text: &str,
        document: &str,
        document_date: &str,
        request_id: &str,
    ) -> Result<Cluster> {
        let answer = checked_answer(
            (text, document, document_date),
            &caller.organ.id,
            (self.clock)(),
            "the answering document cannot be dated in the future",
        )?;
        self.act(
            caller,
            cluster_id,
            ClusterRequest {
                operation: "AnswerCluster",
                request_id,
                action: ClusterAction::Answer(answer),
                stated_time: None,
            },
            |status| status.is_unanswered() || status == ClusterStatus::EscalatedToCentral,
        )
        .await
    }

    /// Records an answer from earlier records with the time it was given
    /// and the organ that gave it. An administrator's act.
    pub async fn import_answer(
        &self,
        caller: &Principal,
        cluster_id: i64,
        answer: ImportedAnswer<'_>,
        request_id: &str,
    ) -> Result<Cluster> {
        if !caller.has(Role::Admin) {
            return Err(Error::PermissionDenied(format!(
                "{} may not import answers: only an administrator imports earlier records",
                caller.describe()
            )));
        }
        // As sent, which may not have been a time: judged after the caller.
        let answered_at = answer
            .answered_at
            .ok_or_else(|| Error::invalid("answer_time", "required: when the answer was given"))??;
        let request = ClusterRequest {
            operation: "ImportClusterAnswer",
            request_id,
            action: ClusterAction::Answer(checked_answer(
                (answer.text, answer.document, answer.document_date),
                answer.answering_organ,
                answered_at,
                "must not be after the day of answer_time in Vietnam",
            )?),
            stated_time: Some(answered_at),
        };

        // Checks against the clock and what is stored, which a retry that
        // once passed them may fail (a lagging clock, members moved out):
        // such a retry is replayed.
        let cluster = self.cluster(cluster_id).await?;
        let mut violations = Violations::new();
        if answered_at > (self.clock)() {
            violations.add("answer_time", "must not be in the future");
        } else if answered_at < cluster.first_seen {
            violations.add(
                "answer_time",
                format!(
                    "must not be before the cluster's first recommendation, submitted {}",
                    cluster.first_seen
                ),
            );
        }
        if answer.answering_organ.is_empty() {
            violations.add("answering_organ", "required: the organ that answered");
        } else if self.store.get_organ(answer.answering_organ).await?.is_none() {
            violations.add(
                "answering_organ",
                format!("unknown organ {:?}", answer.answering_organ),
            );
        }
        if let Err(error) = violations.into_result() {
            let key = cluster_key(caller, cluster_id, &request)?;
            return match earlier_request(self.store.as_ref(), &key).await? {
                Some(_) => self.cluster(cluster_id).await,
                None => Err(error),
            };
        }
        // Not on a reopened cluster: an answer from the register would settle
        // again what an officer here found unsettled.
        self.act(caller, cluster_id, request, |status| {
            matches!(
                status,
                ClusterStatus::Open | ClusterStatus::Assigned | ClusterStatus::EscalatedToCentral
            )
        })
        .await
    }

    pub async fn reopen(
        &self,
        caller: &Principal,
        cluster_id: i64,
        reason: &str,
        request_id: &str,
    ) -> Result<Cluster> {
        let mut violations = Violations::new();
        bounded_text(reason, "reason", MAX_ANSWER_CHARS, &mut violations);
        violations.into_result()?;
        self.act(
            caller,
            cluster_id,
            ClusterRequest {
                operation: "ReopenCluster",
                request_id,
                action: ClusterAction::Reopen {
                    reason: reason.to_owned(),
                },
                stated_time: None,
            },
            |status| status == ClusterStatus::Answered,
        )
        .await
    }

    pub async fn escalate(
        &self,
        caller: &Principal,
        cluster_id: i64,
        proposal: &str,
        request_id: &str,
    ) -> Result<Cluster> {
        let mut violations = Violations::new();
        bounded_text(proposal, "proposal", MAX_ANSWER_CHARS, &mut violations);
        violations.into_result()?;
        self.act(
            caller,
            cluster_id,
            ClusterRequest {
                operation: "EscalateCluster",
                request_id,
                action: ClusterAction::Escalate {
                    proposal: proposal.to_owned(),
                },
                stated_time: None,
            },
            ClusterStatus::is_unanswered,
        )
        .await
    }

    /// Confirms a NEEDS_REVIEW recommendation into one of its suggested
    /// clusters (`Some`) or keeps it in its own (`None`).
    pub async fn resolve_review(
        &self,
        caller: &Principal,
        recommendation_id: i64,
        confirm_cluster: Option<i64>,
        request_id: &str,
    ) -> Result<RecommendationView> {
        let recommendation = self.recommendation(recommendation_id).await?;
        let own_cluster = self.cluster(recommendation.cluster_id).await?;
        require_officer(caller, &own_cluster)?;
        #[derive(Serialize)]
        struct Content {
            recommendation_id: i64,
            confirm_cluster: Option<i64>,
        }
        let key = idempotency_key(
            &caller.organ.id,
            "ResolveReview",
            request_id,
            &Content {
                recommendation_id,
                confirm_cluster,
            },
        )?;
        if earlier_request(self.store.as_ref(), &key).await?.is_some() {
            return self.view(self.recommendation(recommendation_id).await?).await;
        }
        if recommendation.pending_suggestions.is_empty() {
            return Err(Error::FailedPrecondition {
                violation_type: "NO_PENDING_REVIEW",
                subject: recommendation_name(recommendation_id),
                description: "the recommendation has no suggestions awaiting review".to_owned(),
            });
        }
        if let Some(cluster) = confirm_cluster
            && !recommendation
                .pending_suggestions
                .iter()
                .any(|suggestion| suggestion.cluster_id == cluster)
        {
            return Err(Error::invalid(
                "confirm_cluster",
                format!("{} is not among the suggested clusters", cluster_name(cluster)),
            ));
        }
        if let Some(cluster) = confirm_cluster {
            // Confirming adds a member to that cluster: its department decides.
            require_officer(caller, &self.cluster(cluster).await?)?;
        }
        match self
            .recommendations()
            .resolve_review(
                recommendation_id,
                confirm_cluster,
                &caller.organ.id,
                (self.clock)(),
                &key,
            )
            .await
        {
            Ok(())
            | Err(Error::AlreadyExists {
                kind: ResourceKind::IdempotencyKey,
                ..
            }) => self.view(self.recommendation(recommendation_id).await?).await,
            Err(error) => Err(error),
        }
    }

    /// Merges `source` into `target`: every member of `source` moves, the
    /// target keeps its state and `source` ends empty. An answered source
    /// merges only into a cluster with the same answer.
    pub async fn merge(
        &self,
        caller: &Principal,
        target_id: i64,
        source_id: i64,
        request_id: &str,
    ) -> Result<Cluster> {
        let target = self.cluster(target_id).await?;
        let source = self.cluster(source_id).await?;
        require_officer(caller, &target)?;
        require_officer(caller, &source)?;
        #[derive(Serialize)]
        struct Content {
            target: i64,
            source: i64,
        }
        let key = idempotency_key(
            &caller.organ.id,
            "MergeClusters",
            request_id,
            &Content {
                target: target_id,
                source: source_id,
            },
        )?;
        if earlier_request(self.store.as_ref(), &key).await?.is_some() {
            return self.cluster(target_id).await;
        }
        if target_id == source_id {
            return Err(Error::FailedPrecondition {
                violation_type: "SAME_CLUSTER",
                subject: cluster_name(source_id),
                description: "a cluster cannot be merged into itself".to_owned(),
            });
        }
        require_members(&target)?;
        require_members(&source)?;
        // The store refuses, under its lock, to take an answer away from the
        // source's members (ANSWERED_SOURCE, CONFLICTING_ANSWERS).
        match self
            .recommendations()
            .merge_clusters(
                ClusterExpectation {
                    cluster_id: target_id,
                    status: target.status,
                },
                ClusterExpectation {
                    cluster_id: source_id,
                    status: source.status,
                },
                &caller.organ.id,
                (self.clock)(),
                &key,
            )
            .await
        {
            Ok(())
            | Err(Error::AlreadyExists {
                kind: ResourceKind::IdempotencyKey,
                ..
            }) => {
                tracing::info!(target_id, source_id, actor = %caller.organ.id, "clusters merged");
                self.cluster(target_id).await
            }
            Err(error) => Err(error),
        }
    }

    /// Moves a wrongly joined recommendation into `target_cluster`, or into a
    /// new cluster of its own (`None`).
    pub async fn move_recommendation(
        &self,
        caller: &Principal,
        recommendation_id: i64,
        target_cluster: Option<i64>,
        request_id: &str,
    ) -> Result<RecommendationView> {
        let recommendation = self.recommendation(recommendation_id).await?;
        let source = self.cluster(recommendation.cluster_id).await?;
        require_officer(caller, &source)?;
        let target = match target_cluster {
            Some(id) => {
                let target = self.cluster(id).await?;
                require_officer(caller, &target)?;
                Some(target)
            }
            None => None,
        };
        #[derive(Serialize)]
        struct Content {
            recommendation_id: i64,
            target_cluster: Option<i64>,
        }
        let key = idempotency_key(
            &caller.organ.id,
            "MoveRecommendation",
            request_id,
            &Content {
                recommendation_id,
                target_cluster,
            },
        )?;
        if earlier_request(self.store.as_ref(), &key).await?.is_some() {
            return self.view(self.recommendation(recommendation_id).await?).await;
        }
        match &target {
            Some(target) if target.id == source.id => {
                return Err(Error::FailedPrecondition {
                    violation_type: "SAME_CLUSTER",
                    subject: recommendation_name(recommendation_id),
                    description: format!("the recommendation is already in {}", cluster_name(target.id)),
                });
            }
            None if source.member_count <= 1 => {
                return Err(Error::FailedPrecondition {
                    violation_type: "ALONE_IN_CLUSTER",
                    subject: recommendation_name(recommendation_id),
                    description: format!(
                        "the recommendation is already alone in {}",
                        cluster_name(source.id)
                    ),
                });
            }
            _ => {}
        }
        if let Some(target) = &target {
            require_members(target)?;
        }
        match self
            .recommendations()
            .move_recommendation(
                recommendation_id,
                ClusterExpectation {
                    cluster_id: source.id,
                    status: source.status,
                },
                target.as_ref().map(|target| ClusterExpectation {
                    cluster_id: target.id,
                    status: target.status,
                }),
                &caller.organ.id,
                (self.clock)(),
                &key,
            )
            .await
        {
            Ok(_)
            | Err(Error::AlreadyExists {
                kind: ResourceKind::IdempotencyKey,
                ..
            }) => {
                tracing::info!(recommendation_id, from = source.id, actor = %caller.organ.id, "recommendation moved");
                self.view(self.recommendation(recommendation_id).await?).await
            }
            Err(error) => Err(error),
        }
    }

    /// Checks and applies an officer's action on a cluster.
    async fn act(
        &self,
        caller: &Principal,
        cluster_id: i64,
        request: ClusterRequest<'_>,
        allowed_from: impl Fn(ClusterStatus) -> bool,
    ) -> Result<Cluster> {
        let cluster = self.cluster(cluster_id).await?;
        require_officer(caller, &cluster)?;
        let key = cluster_key(caller, cluster_id, &request)?;
        let ClusterRequest {
            operation, action, ..
        } = request;
        if earlier_request(self.store.as_ref(), &key).await?.is_some() {
            return self.cluster(cluster_id).await;
        }
        if !allowed_from(cluster.status) {
            return Err(Error::FailedPrecondition {
                violation_type: "CLUSTER_STATUS",
                subject: cluster_name(cluster_id),
                description: format!(
                    "{operation} is not allowed on a cluster that is {}",
                    cluster.status.as_str()
                ),
            });
        }
        require_members(&cluster)?;
        let at = (self.clock)();
        match self
            .recommendations()
            .act_on_cluster(cluster_id, cluster.status, &action, &caller.organ.id, at, &key)
            .await
        {
            Ok(()) => {
                tracing::info!(cluster_id, operation, actor = %caller.organ.id, "cluster updated");
                self.cluster(cluster_id).await
            }
            // A concurrent request with the key was recorded first: the same
            // request is replayed, another one refused.
            Err(error) if is_key_race(&error) => match earlier_request(self.store.as_ref(), &key).await? {
                Some(_) => self.cluster(cluster_id).await,
                None => Err(Error::internal("idempotency key conflict without a stored key")),
            },
            Err(error) => Err(error),
        }
    }

    async fn check_addressee(&self, addressee: &str, violations: &mut Violations) -> Result<()> {
        if addressee == CENTRAL {
            return Ok(());
        }
        match self.store.get_organ(addressee).await? {
            Some(organ) if organ.kind == OrganKind::Department => {}
            Some(_) => violations.add(
                "addressee",
                format!("{addressee} is not a department; name a department or CENTRAL"),
            ),
            None => violations.add(
                "addressee",
                format!("unknown addressee {addressee:?}; name a department or CENTRAL"),
            ),
        }
        Ok(())
    }

    async fn replay(&self, resource: &str) -> Result<RecommendationView> {
        let id = resource
            .strip_prefix("recommendations/")
            .and_then(|id| id.parse().ok())
            .ok_or_else(|| {
                Error::internal(format!("stored resource {resource:?} is not a recommendation"))
            })?;
        self.view(self.recommendation(id).await?).await
    }

    /// The recommendation with where it and the recommendations it names
    /// stand, read at once; the members of their clusters are not read.
    async fn view(&self, recommendation: Recommendation) -> Result<RecommendationView> {
        let named = recommendation
            .matched
            .iter()
            .chain(&recommendation.pending_suggestions);
        let ids: Vec<i64> = std::iter::once(recommendation.id)
            .chain(named.map(|suggestion| suggestion.recommendation_id))
            .collect();
        compose_view(recommendation, &self.standings(&ids).await?)
    }

    /// Texts and cluster states of scored recommendations, one per cluster.
    async fn describe(&self, scored: &[Suggestion]) -> Result<Vec<SimilarRecommendation>> {
        let ids: Vec<i64> = scored
            .iter()
            .map(|suggestion| suggestion.recommendation_id)
            .collect();
        similar(&self.standings(&ids).await?, scored)
    }

    async fn standings(&self, ids: &[i64]) -> Result<HashMap<i64, RecommendationStanding>> {
        Ok(by_recommendation(
            self.recommendations().recommendation_standings(ids).await?,
        ))
    }

    async fn recommendation(&self, id: i64) -> Result<Recommendation> {
        self.recommendations()
            .get_recommendation(id)
            .await?
            .ok_or_else(|| Error::not_found(ResourceKind::Recommendation, recommendation_name(id)))
    }

    async fn cluster(&self, id: i64) -> Result<Cluster> {
        self.recommendations()
            .get_cluster(id)
            .await?
            .ok_or_else(|| Error::not_found(ResourceKind::Cluster, cluster_name(id)))
    }
}

/// Runs the engine on what the store found.
fn decide_with(engine: &Engine, analysis: &lienthong_dedup::Analysis, context: &DedupContext) -> Decision {
    engine.decide(analysis, &candidates_of(context), &context.corpus)
}

/// The stored candidates of a context, as the engine takes them.
fn candidates_of(context: &DedupContext) -> Vec<Candidate<'_>> {
    context
        .candidates
        .iter()
        .map(|candidate| Candidate {
            recommendation_id: candidate.recommendation_id,
            cluster_id: candidate.cluster_id,
            analysis: &candidate.analysis,
            cluster_canonical: &candidate.cluster_canonical,
        })
        .collect()
}

fn by_recommendation(standings: Vec<RecommendationStanding>) -> HashMap<i64, RecommendationStanding> {
    standings
        .into_iter()
        .map(|standing| (standing.recommendation_id, standing))
        .collect()
}

/// The recommendation as its submitter sees it, from where it and the
/// recommendations it names stand.
fn compose_view(
    recommendation: Recommendation,
    standings: &HashMap<i64, RecommendationStanding>,
) -> Result<RecommendationView> {
    let own = standing_of(standings, recommendation.id)?;
    let matched = match &recommendation.matched {
        Some(matched) => similar(standings, std::slice::from_ref(matched))?.pop(),
        None => None,
    };
    let suggestions = similar(standings, &recommendation.pending_suggestions)?;
    Ok(RecommendationView {
        cluster_status: own.cluster_status,
        answer: own.answer.clone(),
        matched,
        suggestions,
        recommendation,
    })
}

fn standing_of(standings: &HashMap<i64, RecommendationStanding>, id: i64) -> Result<&RecommendationStanding> {
    standings
        .get(&id)
        .ok_or_else(|| Error::not_found(ResourceKind::Recommendation, recommendation_name(id)))
}

/// `scored` as the caller sees them, one per cluster, in their order.
fn similar(
    standings: &HashMap<i64, RecommendationStanding>,
    scored: &[Suggestion],
) -> Result<Vec<SimilarRecommendation>> {
    let mut described: Vec<SimilarRecommendation> = Vec::with_capacity(scored.len());
    for suggestion in scored {
        let standing = standing_of(standings, suggestion.recommendation_id)?;
        if described
            .iter()
            .any(|seen| seen.cluster_id == standing.cluster_id)
        {
            continue;
        }
        described.push(SimilarRecommendation {
            recommendation_id: standing.recommendation_id,
            cluster_id: standing.cluster_id,
            text: standing.text.clone(),
            score: suggestion.score,
            cluster_status: standing.cluster_status,
        });
    }
    Ok(described)
}

fn suggestion(scored: &lienthong_dedup::ScoredCandidate) -> Suggestion {
    Suggestion {
        recommendation_id: scored.recommendation_id,
        cluster_id: scored.cluster_id,
        score: scored.score,
    }
}

/// Reviewers, analysts and administrators read clusters; submitters see
/// their own recommendations through ListRecommendations.
fn reads_clusters(caller: &Principal) -> bool {
    caller.reads_everything() || caller.has(Role::Reviewer)
}

pub(super) fn require_cluster_reader(caller: &Principal) -> Result<()> {
    if reads_clusters(caller) {
        Ok(())
    } else {
        Err(Error::PermissionDenied(format!(
            "{} may not read clusters; reviewers, analysts and admins may",
            caller.describe()
        )))
    }
}

/// Administrators act on any cluster; a reviewer on the clusters its
/// department handles.
/// A cluster left without members (merged into another, or every member
/// moved out) is retired: acting on it would reach no one.
fn require_members(cluster: &Cluster) -> Result<()> {
    if cluster.member_count == 0 {
        return Err(Error::FailedPrecondition {
            violation_type: "EMPTY_CLUSTER",
            subject: cluster_name(cluster.id),
            description: "the cluster has no members left (merged into another cluster or moved out); \
                          act on the cluster they are in now"
                .to_owned(),
        });
    }
    Ok(())
}

/// An answer from earlier records, as sent.
#[derive(Debug)]
pub struct ImportedAnswer<'a> {
    pub text: &'a str,
    pub document: &'a str,
    pub document_date: &'a str,
    pub answering_organ: &'a str,
    /// As sent, which may not have been a time.
    pub answered_at: Option<Result<OffsetDateTime>>,
}

/// The answer given at `answered_at`, once its text, document and document
/// date pass their checks; the document may not be dated after the day of
/// `answered_at` in Vietnam (`too_late` says so).
fn checked_answer(
    (text, document, document_date): (&str, &str, &str),
    answering_organ: &str,
    answered_at: OffsetDateTime,
    too_late: &str,
) -> Result<ClusterAnswer> {
    let mut violations = Violations::new();
    bounded_text(text, "text", MAX_ANSWER_CHARS, &mut violations);
    bounded_text(document, "document", MAX_DOCUMENT_CHARS, &mut violations);
    let date = parse_date(document_date, "document_date", &mut violations);
    if date.is_some_and(|date| date > vietnam_date(answered_at)) {
        violations.add("document_date", too_late);
    }
    violations.into_result()?;
    let document_date = date.ok_or_else(|| Error::internal("a date without violations must have parsed"))?;
    Ok(ClusterAnswer {
        text: text.to_owned(),
        answering_organ: answering_organ.to_owned(),
        document: document.to_owned(),
        document_date,
        answered_at,
    })
}

/// An officer's request on a cluster, as [`RecommendationService::act`]
/// carries it out.
struct ClusterRequest<'a> {
    operation: &'static str,
    request_id: &'a str,
    action: ClusterAction,
    /// The time the caller states the action was taken (an imported
    /// answer's); `None` when the server stamps it.
    stated_time: Option<OffsetDateTime>,
}

/// The idempotency key of an officer's request on a cluster.
fn cluster_key(caller: &Principal, cluster_id: i64, request: &ClusterRequest<'_>) -> Result<IdempotencyKey> {
    let requested = (cluster_id, request.action.requested());
    // A stated time is part of what a retry must repeat; without one the
    // content is as it always was, so earlier keys still match.
    match request.stated_time {
        None => idempotency_key(
            &caller.organ.id,
            request.operation,
            request.request_id,
            &requested,
        ),
        Some(time) => idempotency_key(
            &caller.organ.id,
            request.operation,
            request.request_id,
            &(requested, (time.unix_timestamp_nanos() / 1_000).to_string()),
        ),
    }
}

fn require_officer(caller: &Principal, cluster: &Cluster) -> Result<()> {
    if caller.has(Role::Admin) || (caller.has(Role::Reviewer) && cluster.is_handled_by(&caller.organ.id)) {
        Ok(())
    } else {
        Err(Error::PermissionDenied(format!(
            "{} may not act on {}, which {} handles",
            caller.describe(),
            cluster_name(cluster.id),
            cluster
                .assigned_department
                .as_deref()
                .unwrap_or(&cluster.addressee)
        )))
    }
}

fn optional_label(text: &str, field: &str, violations: &mut Violations) -> Option<String> {
    if text.is_empty() {
        return None;
    }
    if !is_topic_label(text) {
        violations.add(field, TOPIC_LABEL_RULE);
    }
    Some(text.to_owned())
}

/// A recommendation's text: free of control characters, then as the
/// engine takes it (one to five sentences of bounded length).
fn check_recommendation_text(engine: &Engine, text: &str, violations: &mut Violations) {
    if let Some(problem) = control_character_problem(text) {
        violations.add("text", problem);
    } else if let Err(problem) = engine.check_text(text) {
        violations.add("text", problem.to_string());
    }
}

fn bounded_text(text: &str, field: &str, max_chars: usize, violations: &mut Violations) {
    if text.trim().is_empty() {
        violations.add(field, "required");
    } else {
        check_free_text(field, text, max_chars, violations);
    }
}

fn parse_date(text: &str, field: &str, violations: &mut Violations) -> Option<Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    match Date::parse(text, format) {
        Ok(date) => Some(date),
        Err(_) => {
            violations.add(field, format!("{text:?} is not a date like 2025-09-30"));
            None
        }
    }
}

fn parse_cluster_key(key: &str) -> Result<(OffsetDateTime, i64)> {
    let invalid = || Error::invalid("page_token", "not a token returned by this list call");
    let (micros, id) = key.split_once(':').ok_or_else(invalid)?;
    let micros: i128 = micros.parse().map_err(|_| invalid())?;
    let id: i64 = id.parse().map_err(|_| invalid())?;
    let instant = OffsetDateTime::from_unix_timestamp_nanos(micros * 1_000).map_err(|_| invalid())?;
    Ok((instant, id))
}

pub fn recommendation_name(id: i64) -> String {
    format!("recommendations/{id}")
}

pub fn cluster_name(id: i64) -> String {
    format!("clusters/{id}")
}
