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
    admin.answer_cluster(answer.clone()).await.expect("answered");
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
