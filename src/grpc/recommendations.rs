//! `lienthong.v1.RecommendationService`.

use lienthong_domain::paging::{PageRequest, REPORT_PAGES};
use lienthong_domain::recommendation::ClusterFilter;
use lienthong_domain::service::{
    ImportedAnswer, RecommendationService, RecommendationView, SubmitRecommendation, TokenService,
};
use tonic::{Request, Response, Status};

use super::auth::PresentedToken;
use super::caller;
use super::convert::{
    cluster_status_filter, cluster_to_proto, from_timestamp, id_in_name, optional,
    recommendation_event_to_proto, recommendation_view_to_proto, recorded_decision_to_proto,
    similar_to_proto,
};
use super::status::to_status;
use crate::proto;
use crate::proto::recommendation_service_server::RecommendationService as RecommendationRpc;

#[derive(Debug, Clone)]
pub struct RecommendationApi {
    recommendations: RecommendationService,
    /// Checks an open watch's token again, so revoking or expiring it ends
    /// the stream.
    tokens: TokenService,
}

impl RecommendationApi {
    pub fn new(recommendations: RecommendationService, tokens: TokenService) -> Self {
        Self {
            recommendations,
            tokens,
        }
    }
}

fn count_filter(field: &str, value: i32) -> Result<u32, Status> {
    u32::try_from(value)
        .map_err(|_| to_status(lienthong_domain::Error::invalid(field, "must not be negative")))
}

/// How often a watch looks for new events. Polling the database, rather than
/// a signal inside one process, is what lets a watcher on one server see
/// decisions taken on another.
const WATCH_POLL_INTERVAL: std::time::Duration = std::time::Duration::from_millis(500);
/// Events read per poll.
const WATCH_BATCH: u32 = 100;
/// How often an open watch checks its token again: a revoked or expired
/// token stops streaming within this time.
const WATCH_REAUTHENTICATE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

type EventStream = std::pin::Pin<
    Box<dyn tokio_stream::Stream<Item = Result<proto::WatchRecommendationsResponse, Status>> + Send>,
>;

#[tonic::async_trait]
impl RecommendationRpc for RecommendationApi {
    type WatchRecommendationsStream = EventStream;

    async fn watch_recommendations(
        &self,
        request: Request<proto::WatchRecommendationsRequest>,
    ) -> Result<Response<Self::WatchRecommendationsStream>, Status> {
        let caller = caller(&request)?;
        let presented = request
            .extensions()
            .get::<PresentedToken>()
            .cloned()
            .ok_or_else(|| Status::unauthenticated("no authenticated caller"))?;
        let request = request.into_inner();
        let mut after = self
            .recommendations
            .watch_start(&caller, &request.organ, &request.cursor)
            .await
            .map_err(to_status)?;
        let (sender, receiver) = tokio::sync::mpsc::channel(WATCH_BATCH as usize);
        let recommendations = self.recommendations.clone();
        let tokens = self.tokens.clone();
        let announce_start = request.announce_start;
        let organ = request.organ;
        tokio::spawn(async move {
            let mut authenticated_at = tokio::time::Instant::now();
            // Asked for, the position the watch starts from comes first, so a
            // client that loses the stream before any event can resume there.
            if announce_start {
                let opening = proto::WatchRecommendationsResponse {
                    cursor: after.to_string(),
                    event: None,
                };
                if sender.send(Ok(opening)).await.is_err() {
                    return;
                }
            }
            loop {
                if authenticated_at.elapsed() >= WATCH_REAUTHENTICATE_INTERVAL {
                    if let Err(error) = tokens.authenticate(&presented.0).await {
                        let _ = sender.send(Err(to_status(error))).await;
                        return;
                    }
                    authenticated_at = tokio::time::Instant::now();
                }
                let events = match recommendations
                    .events_after(&caller, &organ, after, WATCH_BATCH)
                    .await
                {
                    Ok(events) => events,
                    Err(error) => {
                        let _ = sender.send(Err(to_status(error))).await;
                        return;
                    }
                };
                if events.is_empty() {
                    tokio::select! {
                        () = tokio::time::sleep(WATCH_POLL_INTERVAL) => continue,
                        () = sender.closed() => return,
                    }
                }
                for event in events {
                    after = event.id;
                    if sender
                        .send(Ok(recommendation_event_to_proto(event)))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(receiver),
        )))
    }

    async fn submit_recommendation(
        &self,
        request: Request<proto::SubmitRecommendationRequest>,
    ) -> Result<Response<proto::SubmitRecommendationResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let view = self
            .recommendations
            .submit(
                &caller,
                SubmitRecommendation {
                    organ_id: request.organ,
                    text: request.text,
                    topic: request.topic,
                    addressee: request.addressee,
                    source: request.source,
                    request_id: request.request_id,
                },
            )
            .await
            .map_err(to_status)?;
        Ok(Response::new(submission_response(view)))
    }

    async fn import_recommendation(
        &self,
        request: Request<proto::ImportRecommendationRequest>,
    ) -> Result<Response<proto::ImportRecommendationResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let submitted_at = request
            .submit_time
            .as_ref()
            .map(|time| from_timestamp("submit_time", time));
        let view = self
            .recommendations
            .import(
                &caller,
                SubmitRecommendation {
                    organ_id: request.organ,
                    text: request.text,
                    topic: request.topic,
                    addressee: request.addressee,
                    source: request.source,
                    request_id: request.request_id,
                },
                submitted_at,
            )
            .await
            .map_err(to_status)?;
        let response = submission_response(view);
        Ok(Response::new(proto::ImportRecommendationResponse {
            recommendation: response.recommendation,
            outcome: response.outcome,
            matched: response.matched,
            answer: response.answer,
            suggestions: response.suggestions,
        }))
    }

    async fn find_similar_recommendations(
        &self,
        request: Request<proto::FindSimilarRecommendationsRequest>,
    ) -> Result<Response<proto::FindSimilarRecommendationsResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.get_ref();
        let similar = self
            .recommendations
            .find_similar(&caller, &request.text, request.max_results)
            .await
            .map_err(to_status)?;
        Ok(Response::new(proto::FindSimilarRecommendationsResponse {
            similar: similar.into_iter().map(similar_to_proto).collect(),
        }))
    }

    async fn list_recommendations(
        &self,
        request: Request<proto::ListRecommendationsRequest>,
    ) -> Result<Response<proto::ListRecommendationsResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let status = cluster_status_filter("cluster_status", request.cluster_status).map_err(to_status)?;
        let page =
            PageRequest::parse(request.page_size, &request.page_token, REPORT_PAGES).map_err(to_status)?;
        let page = self
            .recommendations
            .list(&caller, &request.organ, status, &page)
            .await
            .map_err(to_status)?;
        Ok(Response::new(proto::ListRecommendationsResponse {
            recommendations: page.items.into_iter().map(recommendation_view_to_proto).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn get_cluster(
        &self,
        request: Request<proto::GetClusterRequest>,
    ) -> Result<Response<proto::GetClusterResponse>, Status> {
        let caller = caller(&request)?;
        let cluster_id = id_in_name("name", &request.get_ref().name, "clusters").map_err(to_status)?;
        let detail = self
            .recommendations
            .get_cluster(&caller, cluster_id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(proto::GetClusterResponse {
            cluster: Some(cluster_to_proto(detail.cluster, detail.members)),
            decisions: detail
                .decisions
                .into_iter()
                .map(recorded_decision_to_proto)
                .collect(),
        }))
    }

    async fn list_clusters(
        &self,
        request: Request<proto::ListClustersRequest>,
    ) -> Result<Response<proto::ListClustersResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let filter = ClusterFilter {
            status: cluster_status_filter("status", request.status).map_err(to_status)?,
            topic: optional(request.topic),
            addressee: optional(request.addressee),
            min_distinct_blocs: count_filter("min_distinct_blocs", request.min_distinct_blocs)?,
            min_distinct_localities: count_filter(
                "min_distinct_localities",
                request.min_distinct_localities,
            )?,
        };
        let page =
            PageRequest::parse(request.page_size, &request.page_token, REPORT_PAGES).map_err(to_status)?;
        let page = self
            .recommendations
            .list_clusters(&caller, &filter, &page)
            .await
            .map_err(to_status)?;
        Ok(Response::new(proto::ListClustersResponse {
            clusters: page
                .items
                .into_iter()
                .map(|cluster| cluster_to_proto(cluster, Vec::new()))
                .collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn assign_cluster(
        &self,
        request: Request<proto::AssignClusterRequest>,
    ) -> Result<Response<proto::AssignClusterResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.get_ref();
        let cluster_id = id_in_name("cluster", &request.cluster, "clusters").map_err(to_status)?;
        let cluster = self
            .recommendations
            .assign(&caller, cluster_id, &request.department, &request.request_id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(proto::AssignClusterResponse {
            cluster: Some(cluster_to_proto(cluster, Vec::new())),
        }))
    }

    async fn answer_cluster(
        &self,
        request: Request<proto::AnswerClusterRequest>,
    ) -> Result<Response<proto::AnswerClusterResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.get_ref();
        let cluster_id = id_in_name("cluster", &request.cluster, "clusters").map_err(to_status)?;
        let cluster = self
            .recommendations
            .answer(
                &caller,
                cluster_id,
                &request.text,
                &request.document,
                &request.document_date,
                &request.request_id,
            )
            .await
            .map_err(to_status)?;
        Ok(Response::new(proto::AnswerClusterResponse {
            cluster: Some(cluster_to_proto(cluster, Vec::new())),
        }))
    }

    async fn import_cluster_answer(
        &self,
        request: Request<proto::ImportClusterAnswerRequest>,
    ) -> Result<Response<proto::ImportClusterAnswerResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.get_ref();
        let cluster_id = id_in_name("cluster", &request.cluster, "clusters").map_err(to_status)?;
        let answer = ImportedAnswer {
            text: &request.text,
            document: &request.document,
            document_date: &request.document_date,
            answering_organ: &request.answering_organ,
            answered_at: request
                .answer_time
                .as_ref()
                .map(|time| from_timestamp("answer_time", time)),
        };
        let cluster = self
            .recommendations
            .import_answer(&caller, cluster_id, answer, &request.request_id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(proto::ImportClusterAnswerResponse {
            cluster: Some(cluster_to_proto(cluster, Vec::new())),
        }))
    }

    async fn reopen_cluster(
        &self,
        request: Request<proto::ReopenClusterRequest>,
    ) -> Result<Response<proto::ReopenClusterResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.get_ref();
        let cluster_id = id_in_name("cluster", &request.cluster, "clusters").map_err(to_status)?;
        let cluster = self
            .recommendations
            .reopen(&caller, cluster_id, &request.reason, &request.request_id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(proto::ReopenClusterResponse {
            cluster: Some(cluster_to_proto(cluster, Vec::new())),
        }))
    }

    async fn escalate_cluster(
        &self,
        request: Request<proto::EscalateClusterRequest>,
    ) -> Result<Response<proto::EscalateClusterResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.get_ref();
        let cluster_id = id_in_name("cluster", &request.cluster, "clusters").map_err(to_status)?;
        let cluster = self
            .recommendations
            .escalate(&caller, cluster_id, &request.proposal, &request.request_id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(proto::EscalateClusterResponse {
            cluster: Some(cluster_to_proto(cluster, Vec::new())),
        }))
    }

    async fn resolve_review(
        &self,
        request: Request<proto::ResolveReviewRequest>,
    ) -> Result<Response<proto::ResolveReviewResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.get_ref();
        let recommendation_id =
            id_in_name("recommendation", &request.recommendation, "recommendations").map_err(to_status)?;
        let confirm = match optional(request.confirm_cluster.clone()) {
            Some(name) => Some(id_in_name("confirm_cluster", &name, "clusters").map_err(to_status)?),
            None => None,
        };
        let view = self
            .recommendations
            .resolve_review(&caller, recommendation_id, confirm, &request.request_id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(proto::ResolveReviewResponse {
            recommendation: Some(recommendation_view_to_proto(view)),
        }))
    }

    async fn merge_clusters(
        &self,
        request: Request<proto::MergeClustersRequest>,
    ) -> Result<Response<proto::MergeClustersResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.get_ref();
        let target = id_in_name("target", &request.target, "clusters").map_err(to_status)?;
        let source = id_in_name("source", &request.source, "clusters").map_err(to_status)?;
        let cluster = self
            .recommendations
            .merge(&caller, target, source, &request.request_id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(proto::MergeClustersResponse {
            cluster: Some(cluster_to_proto(cluster, Vec::new())),
        }))
    }

    async fn move_recommendation(
        &self,
        request: Request<proto::MoveRecommendationRequest>,
    ) -> Result<Response<proto::MoveRecommendationResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.get_ref();
        let recommendation_id =
            id_in_name("recommendation", &request.recommendation, "recommendations").map_err(to_status)?;
        let target = match optional(request.target_cluster.clone()) {
            Some(name) => Some(id_in_name("target_cluster", &name, "clusters").map_err(to_status)?),
            None => None,
        };
        let view = self
            .recommendations
            .move_recommendation(&caller, recommendation_id, target, &request.request_id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(proto::MoveRecommendationResponse {
            recommendation: Some(recommendation_view_to_proto(view)),
        }))
    }
}

/// What a submitter sees of a recorded submission: the answer only when it
/// settled the matter on arrival.
fn submission_response(view: RecommendationView) -> proto::SubmitRecommendationResponse {
    let outcome = view.recommendation.outcome;
    let matched = view.matched.clone().map(similar_to_proto);
    let answer_shown = matches!(
        outcome,
        lienthong_domain::recommendation::DedupOutcome::AlreadyAnswered
    );
    let recommendation = recommendation_view_to_proto(view);
    proto::SubmitRecommendationResponse {
        outcome: recommendation.outcome,
        matched,
        answer: if answer_shown {
            recommendation.answer.clone()
        } else {
            None
        },
        suggestions: recommendation.pending_suggestions.clone(),
        recommendation: Some(recommendation),
    }
}
