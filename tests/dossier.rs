//! End-to-end: the recommendations dossier for the central government,
//! built over gRPC from recommendations submitted at pinned dates.

mod common;

use common::*;
use lienthong::proto;
use lienthong::proto::analytics_service_client::AnalyticsServiceClient;
use lienthong::proto::dossier_service_client::DossierServiceClient;
use lienthong::proto::recommendation_service_client::RecommendationServiceClient;
use lienthong_domain::auth::Role;
use time::macros::datetime;
use tonic::Code;

const BA_DINH_COMMITTEE: &str = "00004-peoples-committee";
const NGOC_HA_PARTY: &str = "00008-party-committee";
const GIANG_VO_FRONT: &str = "00025-front-committee";
const HOAN_KIEM_COMMITTEE: &str = "00070-peoples-committee";
const HOAN_KIEM_PARTY: &str = "00070-party-committee";
const HOME_AFFAIRS: &str = "01-home-affairs";
const ANALYST_ORGAN: &str = "01-city-office";

/// The same request from three blocs of three wards: one matter.
const IT_STAFF: &str = "Đề nghị Thành phố bổ sung biên chế công chức công nghệ thông tin cho phường.";
const PREMISES: &str = "Đề nghị hướng dẫn xử lý trụ sở, nhà đất dôi dư sau sắp xếp đơn vị hành chính.";
const CAPITAL: &str =
    "Kiến nghị Quốc hội cho phép áp dụng cơ chế đặc thù về biên chế cho chính quyền cấp xã của Thủ đô.";
const VEHICLES: &str = "Đề nghị điều chuyển xe ô tô công dôi dư của quận cũ cho phường sử dụng.";

const GOLDEN: &str = "tests/golden/dossier-2025-Q3.md";

/// The topic each fixture text is filed under.
fn topic_of(text: &str) -> &'static str {
    match text {
        PREMISES | VEHICLES => "public-assets",
        CAPITAL => "special-mechanism",
        _ => "staffing",
    }
}

fn submission(
    organ: &str,
    text: &str,
    addressee: &str,
    request_id: &str,
) -> proto::SubmitRecommendationRequest {
    proto::SubmitRecommendationRequest {
        organ: organ.to_owned(),
        text: text.to_owned(),
        topic: topic_of(text).to_owned(),
        addressee: addressee.to_owned(),
        source: String::new(),
        request_id: request_id.to_owned(),
    }
}

struct Fixture {
    server: TestServer,
    clock: ManualClock,
}

impl Fixture {
    async fn recommendations(&self, organ: &str, role: Role) -> RecommendationServiceClient<Authorised> {
        let token = self.server.token(organ, &[role]).await;
        RecommendationServiceClient::with_interceptor(self.server.channel().await, bearer(Some(&token)))
    }

    async fn dossiers(&self, organ: &str, role: Role) -> DossierServiceClient<Authorised> {
        let token = self.server.token(organ, &[role]).await;
        DossierServiceClient::with_interceptor(self.server.channel().await, bearer(Some(&token)))
    }

    async fn analytics(&self, organ: &str, role: Role) -> AnalyticsServiceClient<Authorised> {
        let token = self.server.token(organ, &[role]).await;
        AnalyticsServiceClient::with_interceptor(self.server.channel().await, bearer(Some(&token)))
    }

    async fn submit(
        &self,
        organ: &str,
        text: &str,
        addressee: &str,
        request_id: &str,
    ) -> proto::SubmitRecommendationResponse {
        self.recommendations(organ, Role::Submitter)
            .await
            .submit_recommendation(submission(organ, text, addressee, request_id))
            .await
            .expect("submitted")
            .into_inner()
    }
}

/// Q3 2025: the IT matter from three wards and three blocs, a premises
/// matter from one ward that Home Affairs escalates, a matter one ward
/// addresses to the central government, and a one-ward matter for a
/// department that stays out. In Q4 a fourth ward repeats the IT matter.
async fn fixture() -> Fixture {
    let clock = ManualClock::at(datetime!(2025-07-10 02:00 UTC));
    let server = TestServer::start_with_clock(clock.clock()).await;
    let fixture = Fixture { server, clock };

    let it = fixture
        .submit(BA_DINH_COMMITTEE, IT_STAFF, HOME_AFFAIRS, "it-1")
        .await;
    assert_eq!(it.outcome(), proto::DedupOutcome::NewCluster);
    fixture.clock.set(datetime!(2025-07-20 02:00 UTC));
    let premises = fixture
        .submit(HOAN_KIEM_COMMITTEE, PREMISES, HOME_AFFAIRS, "premises-1")
        .await;
    fixture.clock.set(datetime!(2025-08-02 02:00 UTC));
    let joined = fixture
        .submit(NGOC_HA_PARTY, IT_STAFF, HOME_AFFAIRS, "it-2")
        .await;
    assert_eq!(joined.outcome(), proto::DedupOutcome::JoinedCluster);
    fixture
        .submit(BA_DINH_COMMITTEE, CAPITAL, "CENTRAL", "capital-1")
        .await;
    fixture.clock.set(datetime!(2025-09-10 02:00 UTC));
    let joined = fixture
        .submit(GIANG_VO_FRONT, IT_STAFF, HOME_AFFAIRS, "it-3")
        .await;
    assert_eq!(joined.outcome(), proto::DedupOutcome::JoinedCluster);
    fixture
        .submit(GIANG_VO_FRONT, VEHICLES, HOME_AFFAIRS, "vehicles-1")
        .await;

    let premises_cluster = premises.recommendation.expect("recommendation").cluster;
    fixture
        .recommendations(HOME_AFFAIRS, Role::Reviewer)
        .await
        .escalate_cluster(proto::EscalateClusterRequest {
            cluster: premises_cluster,
            proposal: "Đề nghị Chính phủ ban hành nghị định hướng dẫn xử lý tài sản công dôi dư sau sắp xếp."
                .to_owned(),
            request_id: "escalate-premises".to_owned(),
        })
        .await
        .expect("escalated");

    // Staffing reports for Q3 from two of the three wards behind the IT
    // matter: the dossier shows their figures as evidence.
    fixture.clock.set(datetime!(2025-09-20 02:00 UTC));
    for (organ, quota, in_post, vacancies) in [(BA_DINH_COMMITTEE, 40, 36, 2), (NGOC_HA_PARTY, 12, 10, 1)] {
        fixture
            .server
            .submitter(organ)
            .await
            .submit_report(proto::SubmitReportRequest {
                organ: organ.to_owned(),
                form_code: "staffing-quarterly".to_owned(),
                form_version: 0,
                period: "2025-Q3".to_owned(),
                values: vec![
                    integer("staffing_quota", quota),
                    integer("staff_in_post", in_post),
                    integer("key_post_vacancies", vacancies),
                ],
                narrative: String::new(),
                request_id: format!("staffing-{organ}"),
            })
            .await
            .expect("staffing report submitted");
    }

    fixture.clock.set(datetime!(2025-10-15 02:00 UTC));
    let joined = fixture
        .submit(HOAN_KIEM_COMMITTEE, IT_STAFF, HOME_AFFAIRS, "it-4")
        .await;
    assert_eq!(joined.outcome(), proto::DedupOutcome::JoinedCluster);
    fixture
}

fn request(from: &str, to: &str, min_distinct_localities: u32) -> proto::BuildRecommendationDossierRequest {
    proto::BuildRecommendationDossierRequest {
        from_period: from.to_owned(),
        to_period: to.to_owned(),
        min_distinct_localities,
        topics: Vec::new(),
    }
}

#[tokio::test]
async fn the_dossier_holds_escalated_central_and_widely_raised_matters() {
    let fixture = fixture().await;
    let mut dossiers = fixture.dossiers(ANALYST_ORGAN, Role::Analyst).await;
    let dossier = dossiers
        .build_recommendation_dossier(request("2025-Q3", "2025-Q3", 2))
        .await
        .expect("built")
        .into_inner();

    let summary: Vec<(String, proto::DossierInclusion, i32, Vec<String>)> = dossier
        .matters
        .iter()
        .map(|matter| {
            let ranked = matter.ranked.as_ref().expect("ranked");
            let cluster = ranked.cluster.as_ref().expect("cluster");
            (
                cluster.representative_text.clone(),
                matter.inclusion(),
                ranked.recommendations_in_range,
                ranked.locality_codes_in_range.clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                IT_STAFF.to_owned(),
                proto::DossierInclusion::WidelyRaised,
                3,
                vec!["00004".to_owned(), "00008".to_owned(), "00025".to_owned()]
            ),
            (
                PREMISES.to_owned(),
                proto::DossierInclusion::Escalated,
                1,
                vec!["00070".to_owned()]
            ),
            (
                CAPITAL.to_owned(),
                proto::DossierInclusion::AddressedToCentral,
                1,
                vec!["00004".to_owned()]
            ),
        ],
        "the one-ward vehicles matter stays out; October's IT recommendation is not in Q3"
    );
    let it = dossier
        .matters
        .first()
        .and_then(|matter| matter.ranked.as_ref())
        .expect("IT matter");
    assert_eq!(
        it.cluster.as_ref().expect("cluster").member_count,
        4,
        "the cluster as it stands counts all its members"
    );
    assert_eq!(it.blocs_in_range.len(), 3);
    assert_eq!(dossier.distinct_localities, 4);
    let names: Vec<&str> = dossier
        .matters
        .first()
        .expect("IT matter")
        .localities
        .iter()
        .map(|locality| locality.name.as_str())
        .collect();
    assert_eq!(names, ["Phường Ba Đình", "Phường Ngọc Hà", "Phường Giảng Võ"]);
    let evidence: Vec<(&str, Option<f64>, i32, i32)> = dossier
        .matters
        .first()
        .expect("IT matter")
        .evidence
        .iter()
        .map(|figure| {
            (
                figure.indicator_code.as_str(),
                figure.value,
                figure.contributing_reports,
                figure.missing_reports,
            )
        })
        .collect();
    // Three wards owe the form from two organs each; two reports are in.
    assert_eq!(
        evidence,
        [
            ("staffing_quota", Some(52.0), 2, 4),
            ("staff_in_post", Some(46.0), 2, 4),
            ("key_post_vacancies", Some(3.0), 2, 4),
        ]
    );

    let expected = std::fs::read_to_string(GOLDEN).unwrap_or_default();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(GOLDEN, &dossier.markdown).expect("golden file written");
    } else {
        assert_eq!(
            dossier.markdown, expected,
            "the dossier differs from {GOLDEN}; rerun with UPDATE_GOLDEN=1 if the change is intended"
        );
    }

    let again = dossiers
        .build_recommendation_dossier(request("2025-Q3", "2025-Q3", 2))
        .await
        .expect("built again")
        .into_inner();
    assert_eq!(
        again, dossier,
        "building the same dossier twice gives the same document"
    );
}

#[tokio::test]
async fn the_threshold_topics_and_range_select_the_matters() {
    let fixture = fixture().await;
    let mut dossiers = fixture.dossiers(HOME_AFFAIRS, Role::Reviewer).await;
    let build = |request: proto::BuildRecommendationDossierRequest| {
        let mut dossiers = dossiers.clone();
        async move {
            dossiers
                .build_recommendation_dossier(request)
                .await
                .expect("built")
                .into_inner()
                .matters
                .iter()
                .map(|matter| matter.ranked.as_ref().expect("ranked").recommendations_in_range)
                .collect::<Vec<_>>()
        }
    };
    // Threshold 1: every matter of the quarter, the vehicles one included.
    assert_eq!(build(request("2025-Q3", "2025-Q3", 1)).await, [3, 1, 1, 1]);
    // Threshold 4 in Q3: no matter has four wards, only the escalated and
    // central ones remain.
    assert_eq!(build(request("2025-Q3", "2025-Q3", 4)).await, [1, 1]);
    // Over both quarters the IT matter has its four wards.
    assert_eq!(build(request("2025-Q3", "2025-Q4", 4)).await, [4, 1, 1]);
    // Months work as well as quarters: October alone has the fourth ward.
    assert_eq!(build(request("2025-10", "2025-10", 1)).await, [1]);
    let mut other_topic = request("2025-Q3", "2025-Q3", 1);
    other_topic.topics = vec!["budget".to_owned()];
    assert!(build(other_topic).await.is_empty());

    let empty = dossiers
        .build_recommendation_dossier(request("2024-Q1", "2024-Q1", 2))
        .await
        .expect("built")
        .into_inner();
    assert!(empty.matters.is_empty());
    assert!(
        empty.markdown.contains("Không có vấn đề nào"),
        "{}",
        empty.markdown
    );
}

#[tokio::test]
async fn submitters_may_not_build_a_dossier() {
    let fixture = fixture().await;
    let mut submitter = fixture.dossiers(BA_DINH_COMMITTEE, Role::Submitter).await;
    assert_eq!(
        code_of(
            submitter
                .build_recommendation_dossier(request("2025-Q3", "2025-Q3", 2))
                .await
        ),
        Code::PermissionDenied
    );
}

#[tokio::test]
async fn bad_ranges_are_refused_with_field_details() {
    let server = TestServer::start().await;
    let token = server.token(ANALYST_ORGAN, &[Role::Analyst]).await;
    let mut dossiers = DossierServiceClient::with_interceptor(server.channel().await, bearer(Some(&token)));
    for (request, field) in [
        (request("", "2025-Q3", 2), "from_period"),
        (request("2025-13", "2025-Q3", 2), "from_period"),
        (request("2025-Q3", "2025-Q2", 2), "to_period"),
        (request("2025-Q3", "2025-09", 2), "to_period"),
        (request("2024-01-01", "2025-12-31", 2), "to_period"),
    ] {
        let status = dossiers
            .build_recommendation_dossier(request.clone())
            .await
            .expect_err("refused");
        assert_eq!(status.code(), Code::InvalidArgument, "{request:?}");
        let fields: Vec<String> = field_violations(&status)
            .into_iter()
            .map(|(field, _)| field)
            .collect();
        assert_eq!(fields, [field], "{request:?}");
    }
    let mut empty_topic = request("2025-Q3", "2025-Q3", 2);
    empty_topic.topics = vec![" ".to_owned()];
    let status = dossiers
        .build_recommendation_dossier(empty_topic)
        .await
        .expect_err("refused");
    assert_eq!(
        field_violations(&status).first().map(|(field, _)| field.as_str()),
        Some("topics[0]")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_writes_the_same_document() {
    let fixture = fixture().await;
    let token = fixture.server.token(ANALYST_ORGAN, &[Role::Analyst]).await;
    let folder = tempfile::tempdir().expect("temp dir");
    let path = folder.path().join("dossier.md");
    let server = format!("http://{}", fixture.server.address);
    // The binary blocks this worker; the server answers on the other.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_lienthong"))
        .args(["dossier", "build", "--server", &server, "--period", "2025-Q3"])
        .args([
            "--min-localities",
            "2",
            "--out",
            path.to_str().expect("utf-8 path"),
        ])
        .env("LIENTHONG_TOKEN", &token)
        .output()
        .expect("the binary runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(said.contains("3 matters from 4 localities"), "{said}");
    let written = std::fs::read_to_string(&path).expect("dossier written");
    let golden = std::fs::read_to_string(GOLDEN).expect("golden file");
    assert_eq!(written, golden);
}

fn ranking(from: &str, to: &str) -> proto::RankClustersRequest {
    proto::RankClustersRequest {
        from_period: from.to_owned(),
        to_period: to.to_owned(),
        ..Default::default()
    }
}

/// (representative text, recommendations in range, localities in range).
fn ranked(response: proto::RankClustersResponse) -> Vec<(String, i32, usize)> {
    response
        .clusters
        .into_iter()
        .map(|ranked| {
            let cluster = ranked.cluster.expect("cluster");
            (
                cluster.representative_text,
                ranked.recommendations_in_range,
                ranked.locality_codes_in_range.len(),
            )
        })
        .collect()
}

#[tokio::test]
async fn clusters_rank_by_localities_then_blocs_then_age() {
    let fixture = fixture().await;
    let mut analytics = fixture.analytics(ANALYST_ORGAN, Role::Analyst).await;
    let mut rank = async |request: proto::RankClustersRequest| {
        ranked(
            analytics
                .rank_clusters(request)
                .await
                .expect("ranked")
                .into_inner(),
        )
    };
    assert_eq!(
        rank(ranking("2025-Q3", "2025-Q3")).await,
        [
            (IT_STAFF.to_owned(), 3, 3),
            (PREMISES.to_owned(), 1, 1),
            (CAPITAL.to_owned(), 1, 1),
            (VEHICLES.to_owned(), 1, 1),
        ]
    );
    assert_eq!(
        rank(proto::RankClustersRequest {
            min_distinct_localities: 2,
            ..ranking("2025-Q3", "2025-Q4")
        })
        .await,
        [(IT_STAFF.to_owned(), 4, 4)]
    );
    assert_eq!(
        rank(proto::RankClustersRequest {
            status: proto::ClusterStatus::EscalatedToCentral.into(),
            ..ranking("2025-Q3", "2025-Q3")
        })
        .await,
        [(PREMISES.to_owned(), 1, 1)]
    );
    assert_eq!(
        rank(proto::RankClustersRequest {
            addressee: "CENTRAL".to_owned(),
            ..ranking("2025-07", "2025-09")
        })
        .await,
        [(CAPITAL.to_owned(), 1, 1)]
    );
    assert_eq!(
        rank(proto::RankClustersRequest {
            limit: 2,
            ..ranking("2025-Q3", "2025-Q3")
        })
        .await
        .len(),
        2
    );
    assert!(
        rank(proto::RankClustersRequest {
            topics: vec!["budget".to_owned()],
            ..ranking("2025-Q3", "2025-Q3")
        })
        .await
        .is_empty()
    );
    let status = analytics
        .rank_clusters(proto::RankClustersRequest {
            limit: 501,
            ..ranking("2025-Q4", "2025-Q3")
        })
        .await
        .expect_err("refused");
    let mut fields: Vec<String> = field_violations(&status)
        .into_iter()
        .map(|(field, _)| field)
        .collect();
    fields.sort();
    assert_eq!(fields, ["limit", "to_period"]);
}

#[tokio::test]
async fn the_answered_figure_counts_matches_per_period_and_bloc() {
    let fixture = fixture().await;
    let mut department = fixture.recommendations(HOME_AFFAIRS, Role::Reviewer).await;
    let it_cluster = department
        .list_clusters(proto::ListClustersRequest::default())
        .await
        .expect("listed")
        .into_inner()
        .clusters
        .into_iter()
        .find(|cluster| cluster.representative_text == IT_STAFF)
        .expect("the IT cluster")
        .name;
    fixture.clock.set(datetime!(2025-10-20 02:00 UTC));
    department
        .answer_cluster(proto::AnswerClusterRequest {
            cluster: it_cluster,
            text: "Thành phố giao bổ sung 126 biên chế công nghệ thông tin cho cấp xã trong năm 2026."
                .to_owned(),
            document: "456/SNV-CCVC".to_owned(),
            document_date: "2025-10-18".to_owned(),
            request_id: "answer-it".to_owned(),
        })
        .await
        .expect("answered");
    fixture.clock.set(datetime!(2025-11-03 02:00 UTC));
    let settled = fixture
        .submit(HOAN_KIEM_PARTY, IT_STAFF, HOME_AFFAIRS, "it-5")
        .await;
    assert_eq!(settled.outcome(), proto::DedupOutcome::AlreadyAnswered);

    let mut analytics = fixture.analytics(HOME_AFFAIRS, Role::Reviewer).await;
    let figures = analytics
        .get_answered_matches(proto::GetAnsweredMatchesRequest {
            from_period: "2025-Q3".to_owned(),
            to_period: "2025-Q4".to_owned(),
        })
        .await
        .expect("figures")
        .into_inner();
    let table = |rows: &[proto::BlocAnsweredMatches]| -> Vec<(proto::Bloc, i64, i64)> {
        rows.iter()
            .map(|row| (row.bloc(), row.submitted, row.already_answered))
            .collect()
    };
    let periods: Vec<&str> = figures
        .periods
        .iter()
        .map(|period| period.period.as_str())
        .collect();
    assert_eq!(periods, ["2025-Q3", "2025-Q4"]);
    assert_eq!(
        table(&figures.periods[0].blocs),
        [
            (proto::Bloc::Party, 1, 0),
            (proto::Bloc::Council, 0, 0),
            (proto::Bloc::Government, 3, 0),
            (proto::Bloc::Front, 2, 0),
        ]
    );
    assert_eq!(
        table(&figures.periods[1].blocs),
        [
            (proto::Bloc::Party, 1, 1),
            (proto::Bloc::Council, 0, 0),
            (proto::Bloc::Government, 1, 0),
            (proto::Bloc::Front, 0, 0),
        ]
    );
    assert_eq!(
        table(&figures.totals),
        [
            (proto::Bloc::Party, 2, 1),
            (proto::Bloc::Council, 0, 0),
            (proto::Bloc::Government, 4, 0),
            (proto::Bloc::Front, 2, 0),
        ]
    );

    let mut submitter = fixture.analytics(BA_DINH_COMMITTEE, Role::Submitter).await;
    assert_eq!(
        code_of(
            submitter
                .get_answered_matches(proto::GetAnsweredMatchesRequest {
                    from_period: "2025-Q3".to_owned(),
                    to_period: "2025-Q4".to_owned(),
                })
                .await
        ),
        Code::PermissionDenied
    );
    assert_eq!(
        code_of(submitter.rank_clusters(ranking("2025-Q3", "2025-Q3")).await),
        Code::PermissionDenied
    );
}
