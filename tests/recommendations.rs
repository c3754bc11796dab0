//! End-to-end: recommendations deduplicated across communes and blocs, and
//! the officers' work on clusters, through the generated gRPC client.

mod common;

use common::*;
use lienthong::proto;
use lienthong::proto::recommendation_service_client::RecommendationServiceClient;
use lienthong_domain::auth::Role;
use tonic::Code;

const BA_DINH_COMMITTEE: &str = "00004-peoples-committee";
const NGOC_HA_PARTY: &str = "00008-party-committee";
const GIANG_VO_FRONT: &str = "00025-front-committee";
const HOME_AFFAIRS: &str = "01-home-affairs";

const IT_STAFF: &str = "UBND phường Ba Đình đề nghị Thành phố bổ sung biên chế công chức chuyên trách công nghệ \
     thông tin cho phường, vì hiện nay phường chưa có cán bộ CNTT để vận hành phần mềm một cửa.";
const IT_STAFF_PARTY: &str = "Đảng ủy phường Ngọc Hà kiến nghị: đề nghị thành phố bổ sung biên chế công chức \
     chuyên trách CNTT cho phường vì phường chưa có cán bộ công nghệ thông tin vận hành phần mềm một cửa.";
const PREMISES: &str = "Đề nghị Thành phố sớm ban hành hướng dẫn xử lý trụ sở, nhà đất dôi dư sau khi sắp xếp đơn \
     vị hành chính để tránh lãng phí tài sản công.";

async fn client(server: &TestServer, organ: &str, role: Role) -> RecommendationServiceClient<Authorised> {
    let token = server.token(organ, &[role]).await;
    RecommendationServiceClient::with_interceptor(server.channel().await, bearer(Some(&token)))
}

fn submission(organ: &str, text: &str, request_id: &str) -> proto::SubmitRecommendationRequest {
    proto::SubmitRecommendationRequest {
        organ: organ.to_owned(),
        text: text.to_owned(),
        topic: "staffing".to_owned(),
        addressee: HOME_AFFAIRS.to_owned(),
        source: String::new(),
        request_id: request_id.to_owned(),
    }
}

#[tokio::test]
async fn a_paraphrase_from_another_bloc_joins_and_then_gets_the_answer() {
    let server = TestServer::start().await;
    let mut government = client(&server, BA_DINH_COMMITTEE, Role::Submitter).await;
    let mut party = client(&server, NGOC_HA_PARTY, Role::Submitter).await;
    let mut front = client(&server, GIANG_VO_FRONT, Role::Submitter).await;
    let mut department = client(&server, HOME_AFFAIRS, Role::Reviewer).await;

    let first = government
        .submit_recommendation(submission(BA_DINH_COMMITTEE, IT_STAFF, "it-1"))
        .await
        .expect("submitted")
        .into_inner();
    assert_eq!(first.outcome(), proto::DedupOutcome::NewCluster);
    let cluster = first.recommendation.clone().expect("recommendation").cluster;

    let different = government
        .submit_recommendation(submission(BA_DINH_COMMITTEE, PREMISES, "premises-1"))
        .await
        .expect("submitted")
        .into_inner();
    assert_eq!(
        different.outcome(),
        proto::DedupOutcome::NewCluster,
        "same ward, different matter"
    );

    let joined = party
        .submit_recommendation(submission(NGOC_HA_PARTY, IT_STAFF_PARTY, "it-2"))
        .await
        .expect("submitted")
        .into_inner();
    assert_eq!(joined.outcome(), proto::DedupOutcome::JoinedCluster, "{joined:?}");
    assert_eq!(
        joined.recommendation.as_ref().expect("recommendation").cluster,
        cluster
    );
    let matched = joined.matched.expect("matched");
    assert_eq!(
        matched.recommendation,
        first.recommendation.expect("recommendation").name
    );
    assert!(matched.score > 0.0 && matched.score <= 1.0, "{}", matched.score);

    let answered = department
        .answer_cluster(proto::AnswerClusterRequest {
            cluster: cluster.clone(),
            text: "Sở Nội vụ đã trình UBND Thành phố giao bổ sung 1 biên chế công chức CNTT cho mỗi phường, xã trong \
                   quý IV/2025."
                .to_owned(),
            document: "2145/SNV-TCBC".to_owned(),
            document_date: "2025-10-20".to_owned(),
            request_id: "answer-1".to_owned(),
        })
        .await
        .expect("answered")
        .into_inner()
        .cluster
        .expect("cluster");
    assert_eq!(answered.status(), proto::ClusterStatus::Answered);
    assert_eq!(answered.member_count, 2);
    assert_eq!(answered.blocs.len(), 2);

    // The front committee of a third ward raises the same matter: it is
    // settled on the spot.
    let settled = front
        .submit_recommendation(submission(
            GIANG_VO_FRONT,
            "Ban Thường trực UB MTTQ phường Giảng Võ đề xuất Thành phố bổ sung biên chế công chức chuyên trách \
             công nghệ thông tin cho phường vì phường chưa có cán bộ CNTT vận hành phần mềm một cửa.",
            "it-3",
        ))
        .await
        .expect("submitted")
        .into_inner();
    assert_eq!(
        settled.outcome(),
        proto::DedupOutcome::AlreadyAnswered,
        "{settled:?}"
    );
    let answer = settled.answer.expect("the answer comes back");
    assert_eq!(answer.document, "2145/SNV-TCBC");
    assert_eq!(answer.answering_organ, HOME_AFFAIRS);
    assert_eq!(answer.document_date, "2025-10-20");

    // Every member sees the answer in its own list.
    let listed = party
        .list_recommendations(proto::ListRecommendationsRequest {
            organ: NGOC_HA_PARTY.to_owned(),
            ..Default::default()
        })
        .await
        .expect("listed")
        .into_inner()
        .recommendations;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].cluster_status(), proto::ClusterStatus::Answered);
    assert_eq!(
        listed[0].answer.as_ref().expect("answer").document,
        "2145/SNV-TCBC"
    );

    let full = department
        .get_cluster(proto::GetClusterRequest {
            name: cluster.clone(),
        })
        .await
        .expect("cluster")
        .into_inner()
        .cluster
        .expect("cluster");
    assert_eq!(full.members.len(), 3);
    assert_eq!(full.locality_codes, ["00004", "00008", "00025"]);
    let multi_bloc = department
        .list_clusters(proto::ListClustersRequest {
            min_distinct_blocs: 3,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .clusters;
    assert_eq!(
        multi_bloc
            .iter()
            .map(|cluster| cluster.name.clone())
            .collect::<Vec<_>>(),
        [cluster]
    );
}

#[tokio::test]
async fn bad_input_is_refused_field_by_field_and_nothing_is_stored() {
    let server = TestServer::start().await;
    let mut government = client(&server, BA_DINH_COMMITTEE, Role::Submitter).await;
    let long_text = "Đề nghị bổ sung biên chế. ".repeat(200);
    let cases = [
        ("", HOME_AFFAIRS, "staffing", "text"),
        ("!!! ... ???", HOME_AFFAIRS, "staffing", "text"),
        (long_text.as_str(), HOME_AFFAIRS, "staffing", "text"),
        (IT_STAFF, "01-nowhere", "staffing", "addressee"),
        (IT_STAFF, NGOC_HA_PARTY, "staffing", "addressee"),
        (IT_STAFF, HOME_AFFAIRS, "Nhân Sự", "topic"),
    ];
    for (index, (text, addressee, topic, field)) in cases.iter().enumerate() {
        let mut request = submission(BA_DINH_COMMITTEE, text, &format!("bad-{index}"));
        request.addressee = (*addressee).to_owned();
        request.topic = (*topic).to_owned();
        let status = government
            .submit_recommendation(request)
            .await
            .expect_err("refused");
        let violations = field_violations(&status);
        assert!(
            violations.iter().any(|(got, _)| got == field),
            "case {index}: {violations:?}"
        );
    }
    let listed = government
        .list_recommendations(proto::ListRecommendationsRequest {
            organ: BA_DINH_COMMITTEE.to_owned(),
            ..Default::default()
        })
        .await
        .expect("listed")
        .into_inner();
    assert!(listed.recommendations.is_empty());

    let status = government
        .submit_recommendation(submission(NGOC_HA_PARTY, IT_STAFF, "other-organ"))
        .await
        .expect_err("other organ");
    assert_eq!(status.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn retries_are_idempotent() {
    let server = TestServer::start().await;
    let mut government = client(&server, BA_DINH_COMMITTEE, Role::Submitter).await;
    let first = government
        .submit_recommendation(submission(BA_DINH_COMMITTEE, IT_STAFF, "same-key"))
        .await
        .expect("submitted")
        .into_inner();
    let again = government
        .submit_recommendation(submission(BA_DINH_COMMITTEE, IT_STAFF, "same-key"))
        .await
        .expect("replayed")
        .into_inner();
    assert_eq!(first, again);
    let status = government
        .submit_recommendation(submission(BA_DINH_COMMITTEE, PREMISES, "same-key"))
        .await
        .expect_err("key reused for other content");
    assert_eq!(status.code(), Code::AlreadyExists);
}

#[tokio::test]
async fn concurrent_near_identical_submissions_end_in_one_cluster() {
    let server = TestServer::start().await;
    let organs = [
        "00004-peoples-committee",
        "00008-party-committee",
        "00025-front-committee",
        "00070-peoples-committee",
        "00082-party-committee",
        "00091-peoples-council",
    ];
    let mut clients = Vec::new();
    for organ in organs {
        clients.push((organ, client(&server, organ, Role::Submitter).await));
    }
    let tasks = clients.into_iter().map(|(organ, mut client)| {
        tokio::spawn(async move {
            client
                .submit_recommendation(submission(organ, IT_STAFF_PARTY, &format!("race-{organ}")))
                .await
        })
    });
    let mut clusters = Vec::new();
    for task in tasks {
        let response = task.await.expect("task").expect("submitted").into_inner();
        clusters.push(response.recommendation.expect("recommendation").cluster);
    }
    clusters.dedup();
    assert_eq!(clusters.len(), 1, "{clusters:?}");
}

#[tokio::test]
async fn officers_act_only_on_their_clusters_and_transitions_are_enforced() {
    let server = TestServer::start().await;
    let mut government = client(&server, BA_DINH_COMMITTEE, Role::Submitter).await;
    let mut department = client(&server, HOME_AFFAIRS, Role::Reviewer).await;
    let mut other_department = client(&server, "01-finance", Role::Reviewer).await;
    let mut admin = client(&server, ADMIN_ORGAN, Role::Admin).await;
    let cluster = government
        .submit_recommendation(submission(BA_DINH_COMMITTEE, IT_STAFF, "o-1"))
        .await
        .expect("submitted")
        .into_inner()
        .recommendation
        .expect("recommendation")
        .cluster;

    let assign = |department: &str, key: &str| proto::AssignClusterRequest {
        cluster: cluster.clone(),
        department: department.to_owned(),
        request_id: key.to_owned(),
    };
    let status = other_department
        .assign_cluster(assign("01-finance", "a-0"))
        .await
        .expect_err("not addressed to finance");
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = department
        .assign_cluster(assign("00004-party-committee", "a-1"))
        .await
        .expect_err("not a department");
    assert_eq!(field_violations(&status)[0].0, "department");
    // Home Affairs hands the matter to Finance, which may then act on it.
    let assigned = department
        .assign_cluster(assign("01-finance", "a-2"))
        .await
        .expect("assigned")
        .into_inner()
        .cluster
        .expect("cluster");
    assert_eq!(assigned.status(), proto::ClusterStatus::Assigned);
    assert_eq!(assigned.assigned_department, "01-finance");
    let status = department
        .escalate_cluster(proto::EscalateClusterRequest {
            cluster: cluster.clone(),
            proposal: "x".to_owned(),
            request_id: "e-0".to_owned(),
        })
        .await
        .expect_err("now Finance's");
    assert_eq!(status.code(), Code::PermissionDenied);

    let status = other_department
        .reopen_cluster(proto::ReopenClusterRequest {
            cluster: cluster.clone(),
            reason: "chưa giải quyết".to_owned(),
            request_id: "r-0".to_owned(),
        })
        .await
        .expect_err("not answered");
    assert_eq!(status.code(), Code::FailedPrecondition);

    let escalated = other_department
        .escalate_cluster(proto::EscalateClusterRequest {
            cluster: cluster.clone(),
            proposal: "Đề xuất Chính phủ cho phép Thành phố chủ động bổ sung biên chế CNTT cấp xã."
                .to_owned(),
            request_id: "e-1".to_owned(),
        })
        .await
        .expect("escalated")
        .into_inner()
        .cluster
        .expect("cluster");
    assert_eq!(escalated.status(), proto::ClusterStatus::EscalatedToCentral);
    let status = admin
        .assign_cluster(assign(HOME_AFFAIRS, "a-3"))
        .await
        .expect_err("escalated clusters are not reassigned");
    assert_eq!(status.code(), Code::FailedPrecondition);

    let mut answer = proto::AnswerClusterRequest {
        cluster: cluster.clone(),
        text: "Bộ Nội vụ đồng ý.".to_owned(),
        document: "15/BNV".to_owned(),
        document_date: "2099-01-01".to_owned(),
        request_id: "ans-1".to_owned(),
    };
    let status = admin
        .answer_cluster(answer.clone())
        .await
        .expect_err("dated in the future");
    assert_eq!(field_violations(&status)[0].0, "document_date");
    answer.document_date = "2025-11-02".to_owned();
    answer.request_id = "ans-2".to_owned();
    let answered = admin
        .answer_cluster(answer.clone())
        .await
        .expect("answered")
        .into_inner();
    // A retry of the same request, later, replays the answer as it was.
    let replayed = admin
        .answer_cluster(answer.clone())
        .await
        .expect("the retry replays")
        .into_inner();
    assert_eq!(replayed, answered);
    answer.request_id = "ans-3".to_owned();
    let status = admin.answer_cluster(answer).await.expect_err("answered already");
    assert_eq!(status.code(), Code::FailedPrecondition);
    let reopened = admin
        .reopen_cluster(proto::ReopenClusterRequest {
            cluster: cluster.clone(),
            reason: "Văn bản trả lời chưa nêu thời hạn.".to_owned(),
            request_id: "r-1".to_owned(),
        })
        .await
        .expect("reopened")
        .into_inner()
        .cluster
        .expect("cluster");
    assert_eq!(reopened.status(), proto::ClusterStatus::Reopened);
    assert!(reopened.answer.is_none());

    // Submitters do not read clusters.
    let status = government
        .get_cluster(proto::GetClusterRequest {
            name: cluster.clone(),
        })
        .await
        .expect_err("submitter");
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = department
        .get_cluster(proto::GetClusterRequest {
            name: "clusters/999999".to_owned(),
        })
        .await
        .expect_err("unknown");
    assert_eq!(status.code(), Code::NotFound);
}

#[tokio::test]
async fn find_similar_checks_without_submitting() {
    let server = TestServer::start().await;
    let mut government = client(&server, BA_DINH_COMMITTEE, Role::Submitter).await;
    let mut party = client(&server, NGOC_HA_PARTY, Role::Submitter).await;
    government
        .submit_recommendation(submission(BA_DINH_COMMITTEE, IT_STAFF, "f-1"))
        .await
        .expect("submitted");
    let similar = party
        .find_similar_recommendations(proto::FindSimilarRecommendationsRequest {
            text: IT_STAFF_PARTY.to_owned(),
            max_results: 0,
        })
        .await
        .expect("found")
        .into_inner()
        .similar;
    assert_eq!(similar.len(), 1);
    assert_eq!(similar[0].text, IT_STAFF);
    let none = party
        .find_similar_recommendations(proto::FindSimilarRecommendationsRequest {
            text: PREMISES.to_owned(),
            max_results: 3,
        })
        .await
        .expect("found")
        .into_inner()
        .similar;
    assert!(none.is_empty(), "{none:?}");
    let listed = party
        .list_recommendations(proto::ListRecommendationsRequest {
            organ: NGOC_HA_PARTY.to_owned(),
            ..Default::default()
        })
        .await
        .expect("listed")
        .into_inner();
    assert!(listed.recommendations.is_empty(), "nothing was submitted");

    // A confident match does not hide the other similar clusters: split the
    // matter in two, and both come back, the closer first.
    let joined = submit(&mut party, submission(NGOC_HA_PARTY, IT_STAFF_PARTY, "f-2")).await;
    assert_eq!(joined.outcome(), proto::DedupOutcome::JoinedCluster);
    let mut department = client(&server, HOME_AFFAIRS, Role::Reviewer).await;
    let split = department
        .move_recommendation(proto::MoveRecommendationRequest {
            recommendation: joined.recommendation.expect("recommendation").name,
            target_cluster: String::new(),
            request_id: "f-split".to_owned(),
        })
        .await
        .expect("moved")
        .into_inner()
        .recommendation
        .expect("recommendation");
    let similar = government
        .find_similar_recommendations(proto::FindSimilarRecommendationsRequest {
            text: IT_STAFF.to_owned(),
            max_results: 5,
        })
        .await
        .expect("found")
        .into_inner()
        .similar;
    assert_eq!(
        similar
            .iter()
            .map(|found| found.text.as_str())
            .collect::<Vec<_>>(),
        [IT_STAFF, IT_STAFF_PARTY]
    );
    assert_ne!(similar[0].cluster, similar[1].cluster);
    assert_eq!(similar[1].cluster, split.cluster);
    let only_best = government
        .find_similar_recommendations(proto::FindSimilarRecommendationsRequest {
            text: IT_STAFF.to_owned(),
            max_results: 1,
        })
        .await
        .expect("found")
        .into_inner()
        .similar;
    assert_eq!(only_best.len(), 1);
}

#[tokio::test]
async fn resolving_a_review_needs_one_pending() {
    let server = TestServer::start().await;
    let mut government = client(&server, BA_DINH_COMMITTEE, Role::Submitter).await;
    let mut department = client(&server, HOME_AFFAIRS, Role::Reviewer).await;
    let mut other_department = client(&server, "01-justice", Role::Reviewer).await;
    let recommendation = government
        .submit_recommendation(submission(BA_DINH_COMMITTEE, IT_STAFF, "rv-1"))
        .await
        .expect("submitted")
        .into_inner()
        .recommendation
        .expect("recommendation");
    let request = |key: &str| proto::ResolveReviewRequest {
        recommendation: recommendation.name.clone(),
        confirm_cluster: String::new(),
        request_id: key.to_owned(),
    };
    let status = other_department
        .resolve_review(request("rv-a"))
        .await
        .expect_err("not its department");
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = department
        .resolve_review(request("rv-b"))
        .await
        .expect_err("nothing to review");
    assert_eq!(status.code(), Code::FailedPrecondition);
    let status = department
        .resolve_review(proto::ResolveReviewRequest {
            recommendation: "recommendations/x".to_owned(),
            ..request("rv-c")
        })
        .await
        .expect_err("bad name");
    assert_eq!(field_violations(&status)[0].0, "recommendation");
}

const FRONT_IT_STAFF: &str = "Ban Thường trực UB MTTQ phường Giảng Võ đề xuất Thành phố bổ sung biên chế công chức \
     chuyên trách công nghệ thông tin cho phường vì phường chưa có cán bộ CNTT vận hành phần mềm một cửa.";

async fn submit(
    client: &mut RecommendationServiceClient<Authorised>,
    request: proto::SubmitRecommendationRequest,
) -> proto::SubmitRecommendationResponse {
    client
        .submit_recommendation(request)
        .await
        .expect("submitted")
        .into_inner()
}

async fn get_cluster(client: &mut RecommendationServiceClient<Authorised>, name: &str) -> proto::Cluster {
    client
        .get_cluster(proto::GetClusterRequest {
            name: name.to_owned(),
        })
        .await
        .expect("cluster")
        .into_inner()
        .cluster
        .expect("cluster")
}

async fn listed_clusters(client: &mut RecommendationServiceClient<Authorised>) -> Vec<String> {
    client
        .list_clusters(proto::ListClustersRequest::default())
        .await
        .expect("list")
        .into_inner()
        .clusters
        .into_iter()
        .map(|cluster| cluster.name)
        .collect()
}

fn merge(target: &str, source: &str, key: &str) -> proto::MergeClustersRequest {
    proto::MergeClustersRequest {
        target: target.to_owned(),
        source: source.to_owned(),
        request_id: key.to_owned(),
    }
}

fn answer(cluster: &str, text: &str, document: &str, key: &str) -> proto::AnswerClusterRequest {
    proto::AnswerClusterRequest {
        cluster: cluster.to_owned(),
        text: text.to_owned(),
        document: document.to_owned(),
        document_date: "2025-10-20".to_owned(),
        request_id: key.to_owned(),
    }
}

/// An import request for `organ`, first submitted `seconds_ago` before now.
fn import(organ: &str, text: &str, seconds_ago: i64, request_id: &str) -> proto::ImportRecommendationRequest {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970");
    proto::ImportRecommendationRequest {
        organ: organ.to_owned(),
        text: text.to_owned(),
        topic: "staffing".to_owned(),
        addressee: HOME_AFFAIRS.to_owned(),
        source: "Sổ theo dõi kiến nghị 2025".to_owned(),
        submit_time: Some(prost_types::Timestamp {
            seconds: i64::try_from(now.as_secs()).expect("seconds") - seconds_ago,
            nanos: i32::try_from(now.subsec_micros() * 1_000).expect("nanos"),
        }),
        request_id: request_id.to_owned(),
    }
}

/// Behind a load balancer a retry may reach a server whose clock lags the
/// first one's, where the request would now fail its checks: it is still
/// the same request, and gets the same answer.
#[tokio::test]
async fn a_retry_is_replayed_even_where_its_checks_would_now_fail() {
    let clock = ManualClock::at(time::OffsetDateTime::now_utc());
    let server = TestServer::start_with_clock(clock.clock()).await;
    let mut admin = client(&server, ADMIN_ORGAN, Role::Admin).await;
    let line = import(BA_DINH_COMMITTEE, IT_STAFF, 1, "lagging-clock");
    let now = time::OffsetDateTime::now_utc();
    clock.set(now);
    let first = admin
        .import_recommendation(line.clone())
        .await
        .expect("imported")
        .into_inner();

    let cluster = first.recommendation.clone().expect("recommendation").cluster;
    let answer = imported_answer(&cluster, 0, "lagging-clock-answer");
    let now = time::OffsetDateTime::now_utc();
    clock.set(now);
    let answered = admin
        .import_cluster_answer(answer.clone())
        .await
        .expect("answered")
        .into_inner();

    clock.set(now - time::Duration::hours(1));
    let again = admin
        .import_recommendation(line.clone())
        .await
        .expect("replayed")
        .into_inner();
    assert_eq!(
        again.recommendation.map(|again| again.name),
        first.recommendation.map(|first| first.name)
    );
    let answered_again = admin
        .import_cluster_answer(answer.clone())
        .await
        .expect("replayed")
        .into_inner();
    assert_eq!(answered_again, answered);
    let status = admin
        .import_cluster_answer(proto::ImportClusterAnswerRequest {
            request_id: "lagging-clock-answer-new".to_owned(),
            ..answer
        })
        .await
        .expect_err("a new request is checked");
    assert_eq!(field_violations(&status)[0].0, "answer_time");
    let status = admin
        .import_recommendation(proto::ImportRecommendationRequest {
            request_id: "lagging-clock-new".to_owned(),
            ..line
        })
        .await
        .expect_err("a new request is checked");
    assert_eq!(field_violations(&status)[0].0, "submit_time");
}

#[tokio::test]
async fn an_administrator_imports_earlier_recommendations_with_their_original_times() {
    const DAY: i64 = 86_400;
    let server = TestServer::start().await;
    let mut admin = client(&server, ADMIN_ORGAN, Role::Admin).await;
    let mut party = client(&server, NGOC_HA_PARTY, Role::Submitter).await;
    let mut department = client(&server, HOME_AFFAIRS, Role::Reviewer).await;

    // Ninety days ago, Ba Đình's committee raised the matter on paper.
    let register_line = import(BA_DINH_COMMITTEE, IT_STAFF, 90 * DAY, "register-1");
    let first = admin
        .import_recommendation(register_line.clone())
        .await
        .expect("imported")
        .into_inner();
    assert_eq!(first.outcome(), proto::DedupOutcome::NewCluster);
    let recorded = first.recommendation.expect("recommendation");
    assert_eq!(recorded.organ, BA_DINH_COMMITTEE);
    assert_eq!(recorded.imported_by, ADMIN_ORGAN);
    let days_ago = |time: Option<prost_types::Timestamp>| {
        let now = import(BA_DINH_COMMITTEE, IT_STAFF, 0, "")
            .submit_time
            .expect("now");
        (now.seconds - time.expect("time").seconds) / DAY
    };
    assert_eq!(days_ago(recorded.submit_time), 90);
    let cluster = get_cluster(&mut department, &recorded.cluster).await;
    assert_eq!(cluster.first_seen_time, recorded.submit_time);

    // A retry returns the same recommendation; the key with other content is refused.
    let again = admin
        .import_recommendation(register_line.clone())
        .await
        .expect("replayed")
        .into_inner();
    assert_eq!(again.recommendation.expect("recommendation").name, recorded.name);
    let status = admin
        .import_recommendation(import(BA_DINH_COMMITTEE, IT_STAFF, 80 * DAY, "register-1"))
        .await
        .expect_err("key reused");
    assert_eq!(status.code(), Code::AlreadyExists);

    // The department answers today. A paraphrase from sixty days ago, before
    // the answer, was not settled on arrival: it joins, and the answer
    // reaches it as a member.
    department
        .answer_cluster(answer(
            &recorded.cluster,
            "Đã giao bổ sung biên chế CNTT.",
            "1/SNV",
            "imp-answer",
        ))
        .await
        .expect("answered");
    let earlier = admin
        .import_recommendation(import(NGOC_HA_PARTY, IT_STAFF_PARTY, 60 * DAY, "register-2"))
        .await
        .expect("imported")
        .into_inner();
    assert_eq!(
        earlier.outcome(),
        proto::DedupOutcome::JoinedCluster,
        "{earlier:?}"
    );
    assert_eq!(earlier.answer, None);
    let earlier = earlier.recommendation.expect("recommendation");
    assert_eq!(earlier.cluster, recorded.cluster);
    assert_eq!(earlier.cluster_status(), proto::ClusterStatus::Answered);
    assert_eq!(earlier.answer.expect("the member's answer").document, "1/SNV");
    // One dated after the answer was settled on arrival.
    let later = admin
        .import_recommendation(import(GIANG_VO_FRONT, FRONT_IT_STAFF, 0, "register-3"))
        .await
        .expect("imported")
        .into_inner();
    assert_eq!(later.outcome(), proto::DedupOutcome::AlreadyAnswered, "{later:?}");
    assert_eq!(later.answer.expect("answer").document, "1/SNV");
    // The organ reads it as its own.
    let listed = party
        .list_recommendations(proto::ListRecommendationsRequest {
            organ: NGOC_HA_PARTY.to_owned(),
            ..Default::default()
        })
        .await
        .expect("listed")
        .into_inner()
        .recommendations;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].imported_by, ADMIN_ORGAN);

    // Only an administrator imports, and only with a time that has passed.
    let status = party
        .import_recommendation(import(NGOC_HA_PARTY, PREMISES, DAY, "own-import"))
        .await
        .expect_err("a submitter");
    assert_eq!(status.code(), Code::PermissionDenied);
    let not_a_time = || proto::ImportRecommendationRequest {
        submit_time: Some(prost_types::Timestamp {
            seconds: i64::MAX,
            nanos: 0,
        }),
        ..import(NGOC_HA_PARTY, PREMISES, DAY, "not-a-time")
    };
    let status = party
        .import_recommendation(not_a_time())
        .await
        .expect_err("a submitter, whatever the time");
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = admin
        .import_recommendation(not_a_time())
        .await
        .expect_err("not a time");
    assert_eq!(field_violations(&status)[0].0, "submit_time");
    let status = admin
        .import_recommendation(import(NGOC_HA_PARTY, PREMISES, -DAY, "future"))
        .await
        .expect_err("in the future");
    assert_eq!(field_violations(&status)[0].0, "submit_time");
    let status = admin
        .import_recommendation(proto::ImportRecommendationRequest {
            submit_time: None,
            ..import(NGOC_HA_PARTY, PREMISES, DAY, "no-time")
        })
        .await
        .expect_err("no time");
    assert_eq!(field_violations(&status)[0].0, "submit_time");
    let status = admin
        .import_recommendation(import(NGOC_HA_PARTY, PREMISES, 365 * 27 * DAY, "too-old"))
        .await
        .expect_err("before 2000");
    assert_eq!(field_violations(&status)[0].0, "submit_time");
    // The organ's request ids are one namespace: a key it used to submit
    // cannot import another recommendation.
    submit(&mut party, submission(NGOC_HA_PARTY, PREMISES, "shared-key")).await;
    let status = admin
        .import_recommendation(import(NGOC_HA_PARTY, PREMISES, DAY, "shared-key"))
        .await
        .expect_err("key used by a submission");
    assert_eq!(status.code(), Code::AlreadyExists);
    let status = admin
        .import_recommendation(import("00008-nobody", PREMISES, DAY, "no-organ"))
        .await
        .expect_err("no such organ");
    assert_eq!(status.code(), Code::NotFound);
    let members = get_cluster(&mut department, &recorded.cluster).await.member_count;
    assert_eq!(members, 3, "nothing refused was recorded");
}

/// An answer from the register, given `seconds_ago` by Home Affairs.
fn imported_answer(cluster: &str, seconds_ago: i64, request_id: &str) -> proto::ImportClusterAnswerRequest {
    let answer_time = import(BA_DINH_COMMITTEE, IT_STAFF, seconds_ago, "")
        .submit_time
        .expect("a time");
    let answer_day = time::OffsetDateTime::from_unix_timestamp(answer_time.seconds)
        .expect("a time")
        .to_offset(time::macros::offset!(+7))
        .date();
    proto::ImportClusterAnswerRequest {
        cluster: cluster.to_owned(),
        text: "Đã bổ sung 02 biên chế công chức CNTT.".to_owned(),
        document: "15/SNV-CCVC".to_owned(),
        document_date: answer_day.to_string(),
        answering_organ: HOME_AFFAIRS.to_owned(),
        answer_time: Some(answer_time),
        request_id: request_id.to_owned(),
    }
}

#[tokio::test]
async fn an_administrator_imports_an_earlier_answer_with_the_time_it_was_given() {
    const DAY: i64 = 86_400;
    let server = TestServer::start().await;
    let mut admin = client(&server, ADMIN_ORGAN, Role::Admin).await;
    let mut department = client(&server, HOME_AFFAIRS, Role::Reviewer).await;
    let mut party = client(&server, NGOC_HA_PARTY, Role::Submitter).await;

    // The register: raised ninety days ago, answered sixty days ago.
    let raised = admin
        .import_recommendation(import(BA_DINH_COMMITTEE, IT_STAFF, 90 * DAY, "register-1"))
        .await
        .expect("imported")
        .into_inner()
        .recommendation
        .expect("recommendation");
    let request = imported_answer(&raised.cluster, 60 * DAY, "register-answer-1");
    let answered = admin
        .import_cluster_answer(request.clone())
        .await
        .expect("answer imported")
        .into_inner()
        .cluster
        .expect("cluster");
    assert_eq!(answered.status(), proto::ClusterStatus::Answered);
    let answer = answered.answer.clone().expect("answer");
    assert_eq!(
        (answer.answering_organ.as_str(), answer.document.as_str()),
        (HOME_AFFAIRS, "15/SNV-CCVC")
    );
    assert_eq!(answer.answer_time, request.answer_time);
    // The decision log shows who recorded it, and when: now.
    let detail = department
        .get_cluster(proto::GetClusterRequest {
            name: raised.cluster.clone(),
        })
        .await
        .expect("got")
        .into_inner();
    let decision = detail.decisions.last().expect("a decision");
    assert_eq!(decision.kind(), proto::ClusterDecisionKind::Answer);
    assert_eq!(decision.actor_organ, ADMIN_ORGAN);
    assert!(decision.decision_time.expect("time").seconds > answer.answer_time.expect("time").seconds);

    // A retry is replayed; the key with another time is refused.
    let again = admin
        .import_cluster_answer(request.clone())
        .await
        .expect("replayed")
        .into_inner()
        .cluster
        .expect("cluster");
    assert_eq!(again.answer, answered.answer);
    let status = admin
        .import_cluster_answer(imported_answer(&raised.cluster, 59 * DAY, "register-answer-1"))
        .await
        .expect_err("key reused");
    assert_eq!(status.code(), Code::AlreadyExists);

    // Raised again before the answer: it joins. After it: already answered,
    // as is a submission today.
    let before = admin
        .import_recommendation(import(NGOC_HA_PARTY, IT_STAFF_PARTY, 70 * DAY, "register-2"))
        .await
        .expect("imported")
        .into_inner();
    assert_eq!(before.outcome(), proto::DedupOutcome::JoinedCluster, "{before:?}");
    let after = admin
        .import_recommendation(import(GIANG_VO_FRONT, FRONT_IT_STAFF, 50 * DAY, "register-3"))
        .await
        .expect("imported")
        .into_inner();
    assert_eq!(after.outcome(), proto::DedupOutcome::AlreadyAnswered, "{after:?}");
    assert_eq!(after.answer.expect("answer").document, "15/SNV-CCVC");
    let today = party
        .submit_recommendation(submission(NGOC_HA_PARTY, IT_STAFF_PARTY, "today"))
        .await
        .expect("submitted")
        .into_inner();
    assert_eq!(today.outcome(), proto::DedupOutcome::AlreadyAnswered, "{today:?}");
}

#[tokio::test]
async fn importing_an_answer_is_checked_and_changes_nothing_when_refused() {
    const DAY: i64 = 86_400;
    let server = TestServer::start().await;
    let mut admin = client(&server, ADMIN_ORGAN, Role::Admin).await;
    let mut department = client(&server, HOME_AFFAIRS, Role::Reviewer).await;
    let cluster = admin
        .import_recommendation(import(BA_DINH_COMMITTEE, IT_STAFF, 30 * DAY, "register-1"))
        .await
        .expect("imported")
        .into_inner()
        .recommendation
        .expect("recommendation")
        .cluster;
    let refused = |request: proto::ImportClusterAnswerRequest| {
        let mut admin = admin.clone();
        async move { admin.import_cluster_answer(request).await.expect_err("refused") }
    };

    // Only an administrator imports an answer, even the department's own.
    let status = department
        .import_cluster_answer(imported_answer(&cluster, DAY, "by-department"))
        .await
        .expect_err("a reviewer");
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = refused(proto::ImportClusterAnswerRequest {
        answer_time: None,
        ..imported_answer(&cluster, DAY, "no-time")
    })
    .await;
    assert_eq!(field_violations(&status)[0].0, "answer_time");
    let status = refused(imported_answer(&cluster, -DAY, "future")).await;
    assert_eq!(field_violations(&status)[0].0, "answer_time");
    let status = refused(imported_answer(&cluster, 31 * DAY, "before-raised")).await;
    assert_eq!(field_violations(&status)[0].0, "answer_time");
    let status = refused(proto::ImportClusterAnswerRequest {
        document_date: "2099-01-01".to_owned(),
        ..imported_answer(&cluster, DAY, "late-document")
    })
    .await;
    assert_eq!(field_violations(&status)[0].0, "document_date");
    let status = refused(proto::ImportClusterAnswerRequest {
        answering_organ: "01-nobody".to_owned(),
        ..imported_answer(&cluster, DAY, "nobody")
    })
    .await;
    assert_eq!(field_violations(&status)[0].0, "answering_organ");
    let status = refused(imported_answer("clusters/999999", DAY, "no-cluster")).await;
    assert_eq!(status.code(), Code::NotFound);
    let unchanged = get_cluster(&mut department, &cluster).await;
    assert_eq!(unchanged.status(), proto::ClusterStatus::Open);
    assert_eq!(unchanged.answer, None);

    // An answered cluster takes no second answer.
    let first = imported_answer(&cluster, 2 * DAY, "answer");
    admin
        .clone()
        .import_cluster_answer(first.clone())
        .await
        .expect("answered");
    let status = refused(imported_answer(&cluster, DAY, "second-answer")).await;
    assert_eq!(status.code(), Code::FailedPrecondition);
    let kept = get_cluster(&mut department, &cluster).await.answer;
    assert_eq!(kept.expect("answer").answer_time, first.answer_time);
    // Nor does one reopened here: the register would settle again what an
    // officer found unsettled.
    department
        .reopen_cluster(proto::ReopenClusterRequest {
            cluster: cluster.clone(),
            reason: "Chưa bố trí đủ biên chế.".to_owned(),
            request_id: "reopen".to_owned(),
        })
        .await
        .expect("reopened");
    let status = refused(imported_answer(&cluster, DAY, "after-reopening")).await;
    assert_eq!(status.code(), Code::FailedPrecondition);
}

#[tokio::test]
async fn merging_clusters_from_two_blocs_moves_every_member_into_the_target() {
    let server = TestServer::start().await;
    let mut government = client(&server, BA_DINH_COMMITTEE, Role::Submitter).await;
    let mut party = client(&server, NGOC_HA_PARTY, Role::Submitter).await;
    let mut department = client(&server, HOME_AFFAIRS, Role::Reviewer).await;

    let first = submit(&mut government, submission(BA_DINH_COMMITTEE, IT_STAFF, "m-1")).await;
    assert_eq!(first.outcome(), proto::DedupOutcome::NewCluster);
    let target = first.recommendation.expect("recommendation");
    // A separate matter from another bloc and ward, judged the same one by
    // the department.
    let second = submit(&mut party, submission(NGOC_HA_PARTY, PREMISES, "m-2")).await;
    assert_eq!(second.outcome(), proto::DedupOutcome::NewCluster);
    let source = second.recommendation.expect("recommendation");
    assert_ne!(target.cluster, source.cluster);

    let merged = department
        .merge_clusters(merge(&target.cluster, &source.cluster, "merge-1"))
        .await
        .expect("merged")
        .into_inner()
        .cluster
        .expect("cluster");
    assert_eq!(merged.name, target.cluster);
    assert_eq!(merged.status(), proto::ClusterStatus::Open);
    assert_eq!(merged.member_count, 2);
    assert_eq!(
        merged.blocs,
        [i32::from(proto::Bloc::Party), i32::from(proto::Bloc::Government)]
    );
    assert_eq!(merged.locality_codes, ["00004", "00008"]);
    assert_eq!(
        merged.representative, target.name,
        "the target keeps its representative"
    );

    let full = get_cluster(&mut department, &target.cluster).await;
    assert_eq!(
        full.members
            .iter()
            .map(|member| member.name.clone())
            .collect::<Vec<_>>(),
        [target.name.clone(), source.name.clone()]
    );
    let emptied = get_cluster(&mut department, &source.cluster).await;
    assert_eq!(emptied.member_count, 0);
    assert!(emptied.members.is_empty());
    // Both clusters keep who merged them, and when.
    for (name, kind, detail) in [
        (
            &target.cluster,
            proto::ClusterDecisionKind::Merge,
            format!("1 members from {}", source.cluster),
        ),
        (
            &source.cluster,
            proto::ClusterDecisionKind::MergedInto,
            target.cluster.clone(),
        ),
    ] {
        let decisions = department
            .get_cluster(proto::GetClusterRequest { name: name.clone() })
            .await
            .expect("cluster")
            .into_inner()
            .decisions;
        assert_eq!(decisions.len(), 1, "{decisions:?}");
        let decision = &decisions[0];
        assert_eq!(decision.kind(), kind);
        assert_eq!(decision.actor_organ, HOME_AFFAIRS);
        assert_eq!(decision.detail, detail);
        assert_eq!(decision.recommendation, "");
        assert!(decision.decision_time.is_some());
    }
    // The emptied cluster is retired: whatever were done to it would reach
    // no one, so every action on it is refused and changes nothing.
    let refusals = [
        department
            .assign_cluster(proto::AssignClusterRequest {
                cluster: source.cluster.clone(),
                department: HOME_AFFAIRS.to_owned(),
                request_id: "m-empty-assign".to_owned(),
            })
            .await
            .map(drop),
        department
            .answer_cluster(answer(
                &source.cluster,
                "Đã giải quyết.",
                "3/SNV",
                "m-empty-answer",
            ))
            .await
            .map(drop),
        department
            .escalate_cluster(proto::EscalateClusterRequest {
                cluster: source.cluster.clone(),
                proposal: "Đề xuất Trung ương sửa quy định.".to_owned(),
                request_id: "m-empty-escalate".to_owned(),
            })
            .await
            .map(drop),
        department
            .merge_clusters(merge(&target.cluster, &source.cluster, "m-empty-source"))
            .await
            .map(drop),
        department
            .merge_clusters(merge(&source.cluster, &target.cluster, "m-empty-target"))
            .await
            .map(drop),
        department
            .move_recommendation(proto::MoveRecommendationRequest {
                recommendation: target.name.clone(),
                target_cluster: source.cluster.clone(),
                request_id: "m-empty-move".to_owned(),
            })
            .await
            .map(drop),
    ];
    for refusal in refusals {
        let status = refusal.expect_err("the cluster is empty");
        assert_eq!(precondition_violations(&status), ["EMPTY_CLUSTER"]);
    }
    assert_eq!(get_cluster(&mut department, &source.cluster).await, emptied);
    assert_eq!(get_cluster(&mut department, &target.cluster).await, full);
    assert_eq!(
        listed_clusters(&mut department).await,
        vec![target.cluster.clone()]
    );
    let two_blocs = department
        .list_clusters(proto::ListClustersRequest {
            min_distinct_blocs: 2,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .clusters;
    assert_eq!(two_blocs.len(), 1);
    // The party committee sees its recommendation in the merged cluster.
    let listed = party
        .list_recommendations(proto::ListRecommendationsRequest {
            organ: NGOC_HA_PARTY.to_owned(),
            ..Default::default()
        })
        .await
        .expect("listed")
        .into_inner()
        .recommendations;
    assert_eq!(listed[0].cluster, target.cluster);

    // A retry returns the same cluster; the key cannot be reused for another merge.
    let again = department
        .merge_clusters(merge(&target.cluster, &source.cluster, "merge-1"))
        .await
        .expect("replayed")
        .into_inner()
        .cluster
        .expect("cluster");
    assert_eq!(again.member_count, 2);
    let status = department
        .merge_clusters(merge(&source.cluster, &target.cluster, "merge-1"))
        .await
        .expect_err("key reused");
    assert_eq!(status.code(), Code::AlreadyExists);
}

#[tokio::test]
async fn merges_are_refused_into_itself_across_departments_and_between_different_answers() {
    let server = TestServer::start().await;
    let mut government = client(&server, BA_DINH_COMMITTEE, Role::Submitter).await;
    let mut party = client(&server, NGOC_HA_PARTY, Role::Submitter).await;
    let mut department = client(&server, HOME_AFFAIRS, Role::Reviewer).await;
    let mut finance = client(&server, "01-finance", Role::Reviewer).await;
    let mut admin = client(&server, ADMIN_ORGAN, Role::Admin).await;

    let ours = submit(&mut government, submission(BA_DINH_COMMITTEE, IT_STAFF, "x-1"))
        .await
        .recommendation
        .expect("recommendation")
        .cluster;
    let mut to_finance = submission(NGOC_HA_PARTY, PREMISES, "x-2");
    to_finance.addressee = "01-finance".to_owned();
    let finances = submit(&mut party, to_finance)
        .await
        .recommendation
        .expect("recommendation")
        .cluster;

    let status = department
        .merge_clusters(merge(&ours, &ours, "x-self"))
        .await
        .expect_err("into itself");
    assert_eq!(status.code(), Code::FailedPrecondition);
    for (target, source) in [(&ours, &finances), (&finances, &ours)] {
        let status = department
            .merge_clusters(merge(target, source, "x-perm"))
            .await
            .expect_err("one of them is Finance's");
        assert_eq!(status.code(), Code::PermissionDenied);
        let status = finance
            .merge_clusters(merge(target, source, "x-perm"))
            .await
            .expect_err("one of them is Home Affairs'");
        assert_eq!(status.code(), Code::PermissionDenied);
    }
    let status = department
        .merge_clusters(merge("clusters/x", &ours, "x-name"))
        .await
        .expect_err("bad name");
    assert_eq!(field_violations(&status)[0].0, "target");

    // Answered differently: an officer must reopen one first.
    admin
        .answer_cluster(answer(&ours, "Đã bổ sung biên chế.", "1/SNV", "x-a1"))
        .await
        .expect("answered");
    admin
        .answer_cluster(answer(&finances, "Đã ban hành hướng dẫn.", "2/STC", "x-a2"))
        .await
        .expect("answered");
    let status = admin
        .merge_clusters(merge(&ours, &finances, "x-answers"))
        .await
        .expect_err("different answers");
    assert_eq!(status.code(), Code::FailedPrecondition);
    admin
        .reopen_cluster(proto::ReopenClusterRequest {
            cluster: finances.clone(),
            reason: "Trùng nội dung với cụm khác.".to_owned(),
            request_id: "x-r".to_owned(),
        })
        .await
        .expect("reopened");
    // An answered cluster does not vanish into one that is not: its members
    // would lose their answer without a decision saying so.
    let status = admin
        .merge_clusters(merge(&finances, &ours, "x-answered-source"))
        .await
        .expect_err("answered source");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(precondition_violations(&status), ["ANSWERED_SOURCE"]);
    // An administrator merges across departments; the answered target keeps
    // its answer, which now reaches the moved member.
    let merged = admin
        .merge_clusters(merge(&ours, &finances, "x-admin"))
        .await
        .expect("merged")
        .into_inner()
        .cluster
        .expect("cluster");
    assert_eq!(merged.status(), proto::ClusterStatus::Answered);
    assert_eq!(merged.member_count, 2);
    assert_eq!(merged.answer.expect("answer").document, "1/SNV");
    let listed = party
        .list_recommendations(proto::ListRecommendationsRequest {
            organ: NGOC_HA_PARTY.to_owned(),
            ..Default::default()
        })
        .await
        .expect("listed")
        .into_inner()
        .recommendations;
    assert_eq!(listed[0].cluster_status(), proto::ClusterStatus::Answered);
}

#[tokio::test]
async fn a_wrongly_joined_member_moves_to_a_new_cluster_and_to_an_existing_one() {
    let server = TestServer::start().await;
    let mut government = client(&server, BA_DINH_COMMITTEE, Role::Submitter).await;
    let mut party = client(&server, NGOC_HA_PARTY, Role::Submitter).await;
    let mut front = client(&server, GIANG_VO_FRONT, Role::Submitter).await;
    let mut department = client(&server, HOME_AFFAIRS, Role::Reviewer).await;
    let mut finance = client(&server, "01-finance", Role::Reviewer).await;

    let first = submit(&mut government, submission(BA_DINH_COMMITTEE, IT_STAFF, "mv-1"))
        .await
        .recommendation
        .expect("recommendation");
    let joined = submit(&mut party, submission(NGOC_HA_PARTY, IT_STAFF_PARTY, "mv-2")).await;
    assert_eq!(joined.outcome(), proto::DedupOutcome::JoinedCluster, "{joined:?}");
    let joined = joined.recommendation.expect("recommendation");
    let third = submit(&mut front, submission(GIANG_VO_FRONT, FRONT_IT_STAFF, "mv-3")).await;
    assert_eq!(third.outcome(), proto::DedupOutcome::JoinedCluster, "{third:?}");
    let third = third.recommendation.expect("recommendation");
    let premises = submit(&mut government, submission(BA_DINH_COMMITTEE, PREMISES, "mv-4"))
        .await
        .recommendation
        .expect("recommendation");
    let shared = first.cluster.clone();
    assert_eq!(joined.cluster, shared);

    let move_request = |recommendation: &str, target: &str, key: &str| proto::MoveRecommendationRequest {
        recommendation: recommendation.to_owned(),
        target_cluster: target.to_owned(),
        request_id: key.to_owned(),
    };
    let status = finance
        .move_recommendation(move_request(&first.name, "", "mv-perm"))
        .await
        .expect_err("not Finance's");
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = department
        .move_recommendation(move_request(&first.name, &shared, "mv-same"))
        .await
        .expect_err("already there");
    assert_eq!(status.code(), Code::FailedPrecondition);
    let status = department
        .move_recommendation(move_request(&premises.name, "", "mv-alone"))
        .await
        .expect_err("already alone");
    assert_eq!(status.code(), Code::FailedPrecondition);

    // The representative leaves for a cluster of its own; the oldest
    // remaining member represents the old cluster.
    let moved = department
        .move_recommendation(move_request(&first.name, "", "mv-new"))
        .await
        .expect("moved")
        .into_inner()
        .recommendation
        .expect("recommendation");
    let own = moved.cluster.clone();
    assert!(own != shared && own != premises.cluster, "{own}");
    assert_eq!(moved.cluster_status(), proto::ClusterStatus::Open);
    let new_cluster = get_cluster(&mut department, &own).await;
    assert_eq!(new_cluster.member_count, 1);
    assert_eq!(new_cluster.representative, first.name);
    assert_eq!(new_cluster.representative_text, IT_STAFF);
    assert_eq!(new_cluster.topic, "staffing");
    assert_eq!(new_cluster.addressee, HOME_AFFAIRS);
    assert_eq!(new_cluster.locality_codes, ["00004"]);
    let old = get_cluster(&mut department, &shared).await;
    assert_eq!(old.member_count, 2);
    assert_eq!(old.representative, joined.name);
    assert_eq!(old.locality_codes, ["00008", "00025"]);
    let again = department
        .move_recommendation(move_request(&first.name, "", "mv-new"))
        .await
        .expect("replayed")
        .into_inner()
        .recommendation
        .expect("recommendation");
    assert_eq!(again.cluster, own, "a retry opens no second cluster");

    // Then it joins the premises cluster, and its own cluster is left empty.
    let moved = department
        .move_recommendation(move_request(&first.name, &premises.cluster, "mv-existing"))
        .await
        .expect("moved")
        .into_inner()
        .recommendation
        .expect("recommendation");
    assert_eq!(moved.cluster, premises.cluster);
    let target = get_cluster(&mut department, &premises.cluster).await;
    assert_eq!(target.member_count, 2);
    assert_eq!(target.representative, premises.name);
    assert_eq!(get_cluster(&mut department, &own).await.member_count, 0);
    let mut listed = listed_clusters(&mut department).await;
    listed.sort();
    let mut expected = vec![shared.clone(), premises.cluster.clone()];
    expected.sort();
    assert_eq!(listed, expected);
    assert_eq!(third.cluster, shared);
}

#[derive(serde::Deserialize)]
struct Labelled {
    id: String,
    text: String,
}

fn labelled() -> Vec<Labelled> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/crates/dedup/data/labelled/recommendations.jsonl"
    );
    std::fs::read_to_string(path)
        .expect("labelled set")
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).expect("labelled item"))
        .collect()
}

#[tokio::test]
async fn a_review_is_confirmed_into_the_suggested_cluster() {
    let server = TestServer::start().await;
    let mut government = client(&server, BA_DINH_COMMITTEE, Role::Submitter).await;
    let mut party = client(&server, NGOC_HA_PARTY, Role::Submitter).await;
    let mut front = client(&server, GIANG_VO_FRONT, Role::Submitter).await;
    let mut department = client(&server, HOME_AFFAIRS, Role::Reviewer).await;
    let items = labelled();
    let text = |id: &str| {
        items
            .iter()
            .find(|item| item.id == id)
            .unwrap_or_else(|| panic!("{id} in the labelled set"))
            .text
            .clone()
    };
    // The thresholds depend on document frequencies: seed the corpus first.
    for number in 1..=44 {
        let id = format!("r{number:04}");
        submit(&mut government, submission(BA_DINH_COMMITTEE, &text(&id), &id)).await;
    }
    let earlier = submit(&mut party, submission(NGOC_HA_PARTY, &text("r0045"), "r0045"))
        .await
        .recommendation
        .expect("recommendation");
    let review = submit(&mut front, submission(GIANG_VO_FRONT, &text("r0057"), "r0057")).await;
    assert_eq!(review.outcome(), proto::DedupOutcome::NeedsReview, "{review:?}");
    let pending = review.recommendation.clone().expect("recommendation");
    assert_ne!(pending.cluster, earlier.cluster, "it stands alone until reviewed");
    let suggested = review
        .suggestions
        .iter()
        .find(|suggestion| suggestion.cluster == earlier.cluster)
        .unwrap_or_else(|| panic!("r0045's cluster is suggested: {review:?}"));
    assert!(
        (0.40..0.55).contains(&suggested.score),
        "between the review and link thresholds: {}",
        suggested.score
    );

    // Confirming adds a member to the suggested cluster, so it needs the
    // department of both clusters: here Justice handles the suggested one.
    let mut admin = client(&server, ADMIN_ORGAN, Role::Admin).await;
    let mut justice = client(&server, "01-justice", Role::Reviewer).await;
    admin
        .assign_cluster(proto::AssignClusterRequest {
            cluster: earlier.cluster.clone(),
            department: "01-justice".to_owned(),
            request_id: "assign-justice".to_owned(),
        })
        .await
        .expect("assigned");
    let confirm = |key: &str| proto::ResolveReviewRequest {
        recommendation: pending.name.clone(),
        confirm_cluster: earlier.cluster.clone(),
        request_id: key.to_owned(),
    };
    for officer in [&mut department, &mut justice] {
        let status = officer
            .resolve_review(confirm("confirm-denied"))
            .await
            .expect_err("one of the clusters is another department's");
        assert_eq!(status.code(), Code::PermissionDenied);
    }
    assert_eq!(get_cluster(&mut admin, &earlier.cluster).await.member_count, 1);

    let resolved = admin
        .resolve_review(confirm("confirm-1"))
        .await
        .expect("confirmed")
        .into_inner()
        .recommendation
        .expect("recommendation");
    assert_eq!(resolved.cluster, earlier.cluster);
    assert!(resolved.pending_suggestions.is_empty());
    let cluster = get_cluster(&mut department, &earlier.cluster).await;
    assert_eq!(cluster.member_count, 2);
    assert_eq!(cluster.locality_codes, ["00008", "00025"]);
    assert_eq!(
        get_cluster(&mut department, &pending.cluster).await.member_count,
        0
    );
}

#[tokio::test]
async fn watchers_see_decisions_and_resume_without_losing_any() {
    let server = TestServer::start().await;
    let mut party = client(&server, NGOC_HA_PARTY, Role::Submitter).await;
    let mut department = client(&server, HOME_AFFAIRS, Role::Reviewer).await;
    let mut admin = client(&server, ADMIN_ORGAN, Role::Admin).await;
    let recommendation = party
        .submit_recommendation(submission(NGOC_HA_PARTY, IT_STAFF_PARTY, "w-1"))
        .await
        .expect("submitted")
        .into_inner()
        .recommendation
        .expect("recommendation");
    let watch = |cursor: &str| proto::WatchRecommendationsRequest {
        organ: NGOC_HA_PARTY.to_owned(),
        cursor: cursor.to_owned(),
        announce_start: false,
    };
    let mut stream = party
        .watch_recommendations(watch(""))
        .await
        .expect("watch")
        .into_inner();
    department
        .answer_cluster(proto::AnswerClusterRequest {
            cluster: recommendation.cluster.clone(),
            text: "Đã giao bổ sung biên chế CNTT.".to_owned(),
            document: "2145/SNV-TCBC".to_owned(),
            document_date: "2025-10-20".to_owned(),
            request_id: "w-answer".to_owned(),
        })
        .await
        .expect("answered");
    let answered = next_event(&mut stream).await;
    let event = answered.event.clone().expect("event");
    assert_eq!(event.kind(), proto::RecommendationEventKind::Answered);
    assert_eq!(event.recommendation, recommendation.name);
    assert!(event.detail.contains("2145/SNV-TCBC"), "{}", event.detail);
    drop(stream);
    // A watch lost before any event arrived resumes from the position it
    // announced on opening.
    let mut short_lived = party
        .watch_recommendations(proto::WatchRecommendationsRequest {
            announce_start: true,
            ..watch("")
        })
        .await
        .expect("watch")
        .into_inner();
    let started_at = next_event(&mut short_lived).await;
    assert_eq!(started_at.event, None);
    assert_eq!(
        started_at.cursor, answered.cursor,
        "it starts after the latest event"
    );
    drop(short_lived);

    // Decided while nobody watched: a resumed watch delivers it.
    admin
        .reopen_cluster(proto::ReopenClusterRequest {
            cluster: recommendation.cluster.clone(),
            reason: "Chưa nêu thời hạn.".to_owned(),
            request_id: "w-reopen".to_owned(),
        })
        .await
        .expect("reopened");
    for cursor in [&answered.cursor, &started_at.cursor] {
        let mut resumed = party
            .watch_recommendations(watch(cursor))
            .await
            .expect("watch")
            .into_inner();
        let reopened = next_event(&mut resumed).await.event.expect("event");
        assert_eq!(reopened.kind(), proto::RecommendationEventKind::Reopened);
    }

    let mut other = client(&server, BA_DINH_COMMITTEE, Role::Submitter).await;
    let status = other
        .watch_recommendations(watch(""))
        .await
        .expect_err("another organ");
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = party
        .watch_recommendations(watch("later"))
        .await
        .expect_err("bad cursor");
    assert_eq!(field_violations(&status)[0].0, "cursor");
}

#[tokio::test]
async fn a_watch_ends_when_its_token_is_revoked() {
    let server = TestServer::start().await;
    let tokens = lienthong_domain::service::TokenService::new(
        server.store.clone(),
        lienthong_domain::service::system_clock(),
    );
    let issued = tokens
        .issue(NGOC_HA_PARTY, &[Role::Submitter], "watcher", None)
        .await
        .expect("issued");
    let mut party =
        RecommendationServiceClient::with_interceptor(server.channel().await, bearer(Some(&issued.secret)));
    let mut stream = party
        .watch_recommendations(proto::WatchRecommendationsRequest {
            organ: NGOC_HA_PARTY.to_owned(),
            cursor: String::new(),
            announce_start: true,
        })
        .await
        .expect("watch")
        .into_inner();
    assert_eq!(next_event(&mut stream).await.event, None);
    tokens.revoke(issued.record.id).await.expect("revoked");
    let status = tokio::time::timeout(std::time::Duration::from_secs(10), stream.message())
        .await
        .expect("the stream ends within the re-check interval")
        .expect_err("ended by an error");
    assert_eq!(status.code(), Code::Unauthenticated);
    assert!(status.message().contains("revoked"), "{}", status.message());
}

/// The next message of a watch, waiting at most 10 seconds.
async fn next_event(
    stream: &mut tonic::Streaming<proto::WatchRecommendationsResponse>,
) -> proto::WatchRecommendationsResponse {
    tokio::time::timeout(std::time::Duration::from_secs(10), stream.message())
        .await
        .expect("an event arrives")
        .expect("stream")
        .expect("not closed")
}

/// SubmitRecommendationRequest with its text as raw bytes, to send what a
/// generated client never would: text that is not UTF-8.
#[derive(Clone, PartialEq, prost::Message)]
struct SubmissionWithRawText {
    #[prost(string, tag = "1")]
    organ: String,
    #[prost(bytes = "vec", tag = "2")]
    text: Vec<u8>,
    #[prost(string, tag = "4")]
    addressee: String,
    #[prost(string, tag = "6")]
    request_id: String,
}

#[tokio::test]
async fn text_that_is_not_utf8_or_holds_control_characters_is_refused_by_field() {
    let server = TestServer::start().await;
    let token = server.token(BA_DINH_COMMITTEE, &[Role::Submitter]).await;
    let mut government =
        RecommendationServiceClient::with_interceptor(server.channel().await, bearer(Some(&token)));
    let mut department = client(&server, HOME_AFFAIRS, Role::Reviewer).await;

    let mut raw = tonic::client::Grpc::new(server.channel().await);
    raw.ready().await.expect("ready");
    let mut request = tonic::Request::new(SubmissionWithRawText {
        organ: BA_DINH_COMMITTEE.to_owned(),
        // "Đề nghị" in Windows-1258, as an old form-filling tool would send it.
        text: b"\xd0\xea\xd2 ngh\xf2 b\xf4 sung bi\xean ch\xea\xd2.".to_vec(),
        addressee: HOME_AFFAIRS.to_owned(),
        request_id: "raw-1".to_owned(),
    });
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().expect("ascii"));
    let status = raw
        .unary::<_, proto::SubmitRecommendationResponse, _>(
            request,
            http::uri::PathAndQuery::from_static("/lienthong.v1.RecommendationService/SubmitRecommendation"),
            tonic_prost::ProstCodec::default(),
        )
        .await
        .expect_err("not UTF-8");
    let violations = field_violations(&status);
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert_eq!(violations[0].0, "text");
    assert!(violations[0].1.contains("UTF-8"), "{}", violations[0].1);

    // NUL would be stored by SQLite and refused by PostgreSQL: refused on both.
    let status = government
        .submit_recommendation(submission(
            BA_DINH_COMMITTEE,
            "Đề nghị bổ sung\0 biên chế.",
            "nul-1",
        ))
        .await
        .expect_err("NUL");
    assert_eq!(field_violations(&status)[0].0, "text");
    let mut with_source = submission(BA_DINH_COMMITTEE, IT_STAFF, "nul-2");
    with_source.source = "Hội nghị\u{1b}[0m".to_owned();
    let status = government
        .submit_recommendation(with_source)
        .await
        .expect_err("escape");
    assert_eq!(field_violations(&status)[0].0, "source");
    // An identifier with NUL is refused as well, on either database.
    let mut to_nowhere = submission(BA_DINH_COMMITTEE, IT_STAFF, "nul-3");
    to_nowhere.addressee = "01-home\0-affairs".to_owned();
    let status = government
        .submit_recommendation(to_nowhere)
        .await
        .expect_err("NUL in an id");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let listed = government
        .list_recommendations(proto::ListRecommendationsRequest {
            organ: BA_DINH_COMMITTEE.to_owned(),
            ..Default::default()
        })
        .await
        .expect("listed")
        .into_inner();
    assert!(listed.recommendations.is_empty(), "nothing was stored");

    let cluster = submit(&mut government, submission(BA_DINH_COMMITTEE, IT_STAFF, "ok-1"))
        .await
        .recommendation
        .expect("recommendation")
        .cluster;
    let status = department
        .answer_cluster(answer(&cluster, "Đã giao\0 biên chế.", "1/SNV", "nul-answer"))
        .await
        .expect_err("NUL");
    assert_eq!(field_violations(&status)[0].0, "text");
    assert_eq!(
        get_cluster(&mut department, &cluster).await.status(),
        proto::ClusterStatus::Open
    );
}

/// Every RecommendationService RPC × every kind of caller: who is let
/// through and who gets PERMISSION_DENIED. Officer RPCs are asked what
/// their state refuses anyway (reopening an open cluster, merging a cluster
/// into itself…), so a caller let through gets FAILED_PRECONDITION and
/// nothing changes between callers.
#[tokio::test]
async fn recommendation_authorisation_matrix() {
    const DENIED: Code = Code::PermissionDenied;
    const REFUSED_BY_STATE: Code = Code::FailedPrecondition;
    let server = TestServer::start().await;
    let callers = [
        ("own submitter", BA_DINH_COMMITTEE, Role::Submitter),
        ("other submitter", NGOC_HA_PARTY, Role::Submitter),
        ("addressed reviewer", HOME_AFFAIRS, Role::Reviewer),
        ("other reviewer", "01-justice", Role::Reviewer),
        ("analyst", ADMIN_ORGAN, Role::Analyst),
        ("admin", ADMIN_ORGAN, Role::Admin),
    ];
    let mut own = client(&server, BA_DINH_COMMITTEE, Role::Submitter).await;
    let recommendation = submit(&mut own, submission(BA_DINH_COMMITTEE, IT_STAFF, "matrix-base"))
        .await
        .recommendation
        .expect("recommendation");
    let cluster = recommendation.cluster.clone();

    for (who, organ, role) in callers {
        let mut caller = client(&server, organ, role).await;
        let allowed = |roles: &[&str], when_allowed: Code| {
            if roles.contains(&who) {
                when_allowed
            } else {
                DENIED
            }
        };
        let readers = ["addressed reviewer", "other reviewer", "analyst", "admin"];
        let officers = ["addressed reviewer", "admin"];
        let own_and_readers = [
            "own submitter",
            "addressed reviewer",
            "other reviewer",
            "analyst",
            "admin",
        ];
        let matrix = [
            (
                "SubmitRecommendation",
                code_of(
                    caller
                        .submit_recommendation(submission(
                            BA_DINH_COMMITTEE,
                            PREMISES,
                            &format!("matrix-{who}"),
                        ))
                        .await,
                ),
                allowed(&["own submitter"], Code::Ok),
            ),
            (
                "ImportRecommendation",
                code_of(
                    caller
                        .import_recommendation(import(
                            BA_DINH_COMMITTEE,
                            PREMISES,
                            -60,
                            &format!("matrix-import-{who}"),
                        ))
                        .await,
                ),
                allowed(&["admin"], Code::InvalidArgument),
            ),
            (
                "FindSimilarRecommendations",
                code_of(
                    caller
                        .find_similar_recommendations(proto::FindSimilarRecommendationsRequest {
                            text: IT_STAFF.to_owned(),
                            max_results: 0,
                        })
                        .await,
                ),
                Code::Ok,
            ),
            (
                "ListRecommendations",
                code_of(
                    caller
                        .list_recommendations(proto::ListRecommendationsRequest {
                            organ: BA_DINH_COMMITTEE.to_owned(),
                            ..Default::default()
                        })
                        .await,
                ),
                allowed(&own_and_readers, Code::Ok),
            ),
            (
                "WatchRecommendations",
                code_of(
                    caller
                        .watch_recommendations(proto::WatchRecommendationsRequest {
                            organ: BA_DINH_COMMITTEE.to_owned(),
                            cursor: String::new(),
                            announce_start: false,
                        })
                        .await,
                ),
                allowed(&own_and_readers, Code::Ok),
            ),
            (
                "GetCluster",
                code_of(
                    caller
                        .get_cluster(proto::GetClusterRequest {
                            name: cluster.clone(),
                        })
                        .await,
                ),
                allowed(&readers, Code::Ok),
            ),
            (
                "ListClusters",
                code_of(caller.list_clusters(proto::ListClustersRequest::default()).await),
                allowed(&readers, Code::Ok),
            ),
            (
                "ReopenCluster",
                code_of(
                    caller
                        .reopen_cluster(proto::ReopenClusterRequest {
                            cluster: cluster.clone(),
                            reason: "Kiểm tra quyền.".to_owned(),
                            request_id: format!("matrix-reopen-{who}"),
                        })
                        .await,
                ),
                allowed(&officers, REFUSED_BY_STATE),
            ),
            (
                "MergeClusters",
                code_of(
                    caller
                        .merge_clusters(merge(&cluster, &cluster, &format!("matrix-merge-{who}")))
                        .await,
                ),
                allowed(&officers, REFUSED_BY_STATE),
            ),
            (
                "MoveRecommendation",
                code_of(
                    caller
                        .move_recommendation(proto::MoveRecommendationRequest {
                            recommendation: recommendation.name.clone(),
                            target_cluster: String::new(),
                            request_id: format!("matrix-move-{who}"),
                        })
                        .await,
                ),
                allowed(&officers, REFUSED_BY_STATE),
            ),
            (
                "ResolveReview",
                code_of(
                    caller
                        .resolve_review(proto::ResolveReviewRequest {
                            recommendation: recommendation.name.clone(),
                            confirm_cluster: String::new(),
                            request_id: format!("matrix-review-{who}"),
                        })
                        .await,
                ),
                allowed(&officers, REFUSED_BY_STATE),
            ),
        ];
        for (rpc, got, expected) in matrix {
            assert_eq!(got, expected, "{rpc} as {who}");
        }
    }
    let base = get_cluster(&mut client(&server, ADMIN_ORGAN, Role::Admin).await, &cluster).await;
    assert_eq!(base.status(), proto::ClusterStatus::Open);
    assert_eq!(
        base.member_count, 1,
        "no refused or state-refused call changed the cluster"
    );
}
