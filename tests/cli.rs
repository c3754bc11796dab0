//! End-to-end: the `lienthong` command itself — administration on the
//! database (directory import, tokens) and the client commands against a
//! running server. The binary is run with a blocking call, so these tests use
//! a multi-threaded runtime: the server keeps answering on another worker.

mod common;

use std::process::{Command, Output};

use common::*;
use lienthong::proto;
use tonic::Code;

fn lienthong(arguments: &[&str], environment: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lienthong"));
    command
        .args(arguments)
        .env_remove("LIENTHONG_TOKEN")
        .env_remove("LIENTHONG_DATABASE_URL");
    for (name, value) in environment {
        command.env(name, value);
    }
    command.output().expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_import_is_idempotent_and_reports_bad_lines() {
    let server = TestServer::start().await;
    let folder = tempfile::tempdir().expect("temp dir");
    let file = folder.path().join("province.csv");
    std::fs::write(
        &file,
        "code,full_name,province_code\n90001,Phường Một,90\n90002,Xã Hai,90\n",
    )
    .expect("write");
    let url = server.database.url.clone();
    let path = file.to_str().expect("utf-8 path");
    let first = stdout(&lienthong(
        &["directory", "import", "--database-url", &url, path],
        &[],
    ));
    // Two communes and the province, plus four organs each and the city organs.
    assert!(first.contains("localities: 3 added, 0 updated"), "{first}");
    let second = stdout(&lienthong(
        &["directory", "import", "--database-url", &url, path],
        &[],
    ));
    assert!(
        second.contains("localities: 0 added, 0 updated; organs: 0 added, 0 updated"),
        "{second}"
    );

    std::fs::write(&file, "code,full_name,province_code\n9x,Phường Một,90\n").expect("write");
    let refused = lienthong(&["directory", "import", "--database-url", &url, path], &[]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("line 2"),
        "{refused:?}"
    );

    let organ = server
        .directory(Some(
            &server
                .token(WARD, &[lienthong_domain::auth::Role::Submitter])
                .await,
        ))
        .await
        .get_organ(proto::GetOrganRequest {
            name: "organs/90002-peoples-committee".to_owned(),
        })
        .await
        .expect("imported organ")
        .into_inner()
        .organ
        .expect("organ");
    assert_eq!(organ.display_name, "Ủy ban nhân dân Xã Hai");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_issued_on_the_command_line_work_until_revoked() {
    let server = TestServer::start().await;
    let url = server.database.url.clone();
    let token = stdout(&lienthong(
        &[
            "token",
            "issue",
            "--database-url",
            &url,
            "--organ",
            WARD,
            "--role",
            "submitter",
            "--expires",
            "1d",
        ],
        &[],
    ))
    .trim()
    .to_owned();
    assert!(token.starts_with("lt_"), "{token}");
    let mut client = server.directory(Some(&token)).await;
    client
        .list_localities(proto::ListLocalitiesRequest::default())
        .await
        .expect("token works");

    if let Some(changes) = server.store.principal_changes() {
        // Once changes are followed the server keeps the token it reads
        // next, so only the news of the revocation below can end it.
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        while changes.generation().is_none() {
            assert!(tokio::time::Instant::now() < deadline, "not following changes");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        client
            .list_localities(proto::ListLocalitiesRequest::default())
            .await
            .expect("token works, and is kept");
    }

    let listed = stdout(&lienthong(&["token", "list", "--database-url", &url], &[]));
    let line = listed
        .lines()
        .find(|line| line.contains(WARD) && line.contains("active"))
        .expect("listed as active");
    assert!(!listed.contains(&token), "secrets are never listed");
    let id = line.split_whitespace().next().expect("id column");
    stdout(&lienthong(&["token", "revoke", "--database-url", &url, id], &[]));
    // Another process revoked it: a server on PostgreSQL hears of it by a
    // notification, a moment after the revocation commits.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    let status = loop {
        match client
            .list_localities(proto::ListLocalitiesRequest::default())
            .await
        {
            Err(status) => break status,
            Ok(_) => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "still accepted 5 s after its revocation"
                );
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    };
    assert_eq!(status.code(), Code::Unauthenticated);
    assert!(status.message().contains("revoked"), "{}", status.message());

    let unknown = lienthong(
        &[
            "token",
            "issue",
            "--database-url",
            &url,
            "--organ",
            "nobody",
            "--role",
            "ADMIN",
        ],
        &[],
    );
    assert!(!unknown.status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_commands_submit_show_and_list() {
    let server = TestServer::start().await;
    let token = server
        .token(WARD, &[lienthong_domain::auth::Role::Submitter])
        .await;
    let address = format!("http://{}", server.address);
    let environment = [
        ("LIENTHONG_SERVER", address.as_str()),
        ("LIENTHONG_TOKEN", token.as_str()),
    ];
    let folder = tempfile::tempdir().expect("temp dir");
    let values = folder.path().join("values.json");
    std::fs::write(
        &values,
        r#"{"dossiers_received": 532, "dossiers_online": 75, "dossiers_resolved_on_time": 498, "dossiers_overdue": 12}"#,
    )
    .expect("write");
    let values = values.to_str().expect("utf-8 path");

    let submitted = stdout(&lienthong(
        &[
            "report",
            "submit",
            "--organ",
            WARD,
            "--form",
            "tthc-monthly",
            "--period",
            "2025-09",
            "--values",
            values,
        ],
        &environment,
    ));
    assert!(submitted.contains("submitted reports/"), "{submitted}");
    assert!(submitted.contains("online_rate"), "{submitted}");
    // Re-running the same command is a safe retry.
    let again = stdout(&lienthong(
        &[
            "report",
            "submit",
            "--organ",
            WARD,
            "--form",
            "tthc-monthly",
            "--period",
            "2025-09",
            "--values",
            values,
        ],
        &environment,
    ));
    assert_eq!(submitted, again);

    let name = submitted
        .split_whitespace()
        .nth(1)
        .expect("report name")
        .to_owned();
    let shown = stdout(&lienthong(&["report", "get", &name], &environment));
    assert!(
        shown.contains("dossiers_received") && shown.contains("532"),
        "{shown}"
    );
    let listed = stdout(&lienthong(&["report", "list"], &environment));
    assert_eq!(listed.lines().count(), 1, "{listed}");
    let obligations = stdout(&lienthong(
        &["obligations", "--organ", WARD, "--form", "tthc-monthly"],
        &environment,
    ));
    assert!(
        obligations.contains("2025-09") && obligations.contains("Submitted"),
        "{obligations}"
    );

    std::fs::write(
        folder.path().join("bad.json"),
        r#"{"dossiers_received": 10, "dossiers_online": 50}"#,
    )
    .expect("write");
    let refused = lienthong(
        &[
            "report",
            "submit",
            "--organ",
            WARD,
            "--form",
            "tthc-monthly",
            "--period",
            "2025-10",
            "--values",
            folder.path().join("bad.json").to_str().expect("utf-8 path"),
        ],
        &environment,
    );
    assert!(!refused.status.success());
    let errors = String::from_utf8_lossy(&refused.stderr);
    assert!(errors.contains("InvalidArgument"), "{errors}");
    assert!(errors.contains("values[dossiers_online]"), "{errors}");
    assert!(
        errors.contains("values[dossiers_overdue]: required value missing"),
        "{errors}"
    );
}

#[test]
fn recommendations_cluster_writes_one_line_per_input() {
    let folder = tempfile::tempdir().expect("temp dir");
    let input = folder.path().join("in.jsonl");
    let output = folder.path().join("out.jsonl");
    let same = "Đề nghị Thành phố bổ sung biên chế công chức công nghệ thông tin cho phường.";
    std::fs::write(
        &input,
        format!(
            "{{\"id\": \"a\", \"text\": \"{same}\", \"bloc\": \"PARTY\"}}\n\
             {{\"id\": 7, \"text\": \"{}\"}}\n\
             {{\"id\": \"c\", \"text\": \"Đề nghị hướng dẫn xử lý trụ sở dôi dư sau sắp xếp.\"}}\n\
             {{\"id\": \"d\", \"text\": \"\"}}\n",
            same.to_uppercase()
        ),
    )
    .expect("write");
    // Runs the command with `extra` arguments and reads what it wrote.
    let clustered = |extra: &[&str]| -> Vec<serde_json::Value> {
        let mut arguments = vec![
            "recommendations",
            "cluster",
            "--input",
            input.to_str().expect("utf-8 path"),
            "--output",
            output.to_str().expect("utf-8 path"),
        ];
        arguments.extend_from_slice(extra);
        stdout(&lienthong(&arguments, &[]));
        std::fs::read_to_string(&output)
            .expect("output")
            .lines()
            .map(|line| serde_json::from_str(line).expect("json line"))
            .collect()
    };
    let lines = clustered(&[]);
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[1]["id"], 7, "ids come back as given");
    assert_eq!(
        lines[0]["cluster"], lines[1]["cluster"],
        "case does not split a matter"
    );
    assert_ne!(lines[0]["cluster"], lines[2]["cluster"]);
    assert_eq!(lines[3]["cluster"], "d", "a refused text stands alone");

    // With the server's configuration file, its thresholds decide: here no
    // score but an exact duplicate's reaches the link threshold.
    let config = folder.path().join("lienthong.toml");
    std::fs::write(
        &config,
        "[dedup]\nlink_threshold = 1.01\nreview_threshold = 0.4\ncanonical_threshold = 1.01\n\
         max_candidates = 50\nmax_postings_per_band = 64\nmax_review_suggestions = 5\n",
    )
    .expect("write");
    let strict = clustered(&["--config", config.to_str().expect("utf-8 path")]);
    assert_ne!(
        strict[0]["cluster"], strict[1]["cluster"],
        "the configured link threshold is out of reach"
    );
}

const IT_STAFF: &str = "Đề nghị Thành phố bổ sung biên chế công chức chuyên trách công nghệ thông tin cho phường, vì \
     hiện nay phường chưa có cán bộ CNTT để vận hành phần mềm một cửa.";
const PREMISES: &str = "Đề nghị Thành phố sớm ban hành hướng dẫn xử lý trụ sở, nhà đất dôi dư sau khi sắp xếp đơn vị \
     hành chính để tránh lãng phí tài sản công.";
const TRAFFIC_LIGHTS: &str = "Đề nghị lắp đặt đèn tín hiệu giao thông tại nút giao trước cổng trường tiểu học để bảo \
     đảm an toàn cho học sinh giờ tan trường.";

/// The lines of an import file: the first three are the part loaded before
/// an interruption; then a duplicate, an empty text, a line that is not
/// JSON, another organ's line, a reused id and one more new matter.
fn import_lines() -> Vec<String> {
    let line = |value: serde_json::Value| value.to_string();
    vec![
        line(serde_json::json!({"id": "h-1", "text": IT_STAFF, "topic": "staffing"})),
        line(serde_json::json!({"id": 2, "text": IT_STAFF, "source": "Hội nghị tiếp xúc cử tri 2024"})),
        line(serde_json::json!({"id": "h-3", "text": PREMISES, "addressee": "CENTRAL"})),
        line(serde_json::json!({"id": "h-4", "text": PREMISES, "addressee": "CENTRAL"})),
        line(serde_json::json!({"id": "h-5", "text": ""})),
        r#"{"id": "h-6", "text": "Đề nghị"#.to_owned(),
        line(serde_json::json!({"id": "h-7", "text": TRAFFIC_LIGHTS, "organ": OTHER_WARD})),
        line(serde_json::json!({"id": "h-1", "text": TRAFFIC_LIGHTS})),
        line(serde_json::json!({"id": "h-9", "text": TRAFFIC_LIGHTS})),
    ]
}

/// The `N submitted, N replayed, N failed` line and the outcome and
/// failure lines of an import summary.
fn summary_lines(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| line.split_once(": ").map_or(line, |(_, rest)| rest).to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recommendations_import_resumes_without_duplicates_and_reports_bad_lines() {
    let server = TestServer::start().await;
    let token = server
        .token(WARD, &[lienthong_domain::auth::Role::Submitter])
        .await;
    let address = format!("http://{}", server.address);
    let environment = [
        ("LIENTHONG_SERVER", address.as_str()),
        ("LIENTHONG_TOKEN", token.as_str()),
    ];
    let folder = tempfile::tempdir().expect("temp dir");
    let file = folder.path().join("history.jsonl");
    let path = file.to_str().expect("utf-8 path");
    let errors = folder.path().join("errors.jsonl");
    let errors_path = errors.to_str().expect("utf-8 path");
    let import = |extra: &[&str]| {
        let mut arguments = vec![
            "recommendations",
            "import",
            path,
            "--organ",
            WARD,
            "--addressee",
            STAFFING_OWNER,
        ];
        arguments.extend_from_slice(extra);
        lienthong(&arguments, &environment)
    };

    // The first three lines, as far as an interrupted run got.
    let lines = import_lines();
    std::fs::write(&file, format!("{}\n\n", lines[..3].join("\n"))).expect("write");
    let partial = import(&["--concurrency", "1"]);
    let partial_summary = summary_lines(&partial);
    stdout(&partial);
    assert_eq!(
        partial_summary,
        [
            "3 lines, 3 submitted, 0 replayed, 0 failed",
            "NEW_CLUSTER 2, JOINED_CLUSTER 1, ALREADY_ANSWERED 0, NEEDS_REVIEW 0",
        ]
    );

    // The whole file: the first three are replayed, the bad lines fail
    // without stopping the others, and the exit status says so.
    std::fs::write(&file, lines.join("\n")).expect("write");
    let full = import(&["--errors", errors_path, "--quiet"]);
    assert!(!full.status.success(), "{full:?}");
    assert_eq!(
        summary_lines(&full),
        [
            "9 lines, 2 submitted, 3 replayed, 4 failed",
            "NEW_CLUSTER 3, JOINED_CLUSTER 2, ALREADY_ANSWERED 0, NEEDS_REVIEW 0",
            "DuplicateId 1, InvalidArgument 1, MalformedLine 1, PermissionDenied 1",
        ]
    );
    let diagnostics = String::from_utf8_lossy(&full.stderr);
    assert!(
        diagnostics.contains("line 6 (id null): MalformedLine: not a recommendation object"),
        "{diagnostics}"
    );
    assert!(
        diagnostics.contains("line 8 (id \"h-1\"): DuplicateId: id \"h-1\" is already used on line 1"),
        "{diagnostics}"
    );
    assert!(
        diagnostics.contains("error: 4 of 9 lines failed"),
        "{diagnostics}"
    );
    let failures: Vec<serde_json::Value> = std::fs::read_to_string(&errors)
        .expect("errors file")
        .lines()
        .map(|line| serde_json::from_str(line).expect("json line"))
        .collect();
    let described: Vec<(u64, &str)> = failures
        .iter()
        .map(|failure| {
            (
                failure["line"].as_u64().expect("line"),
                failure["code"].as_str().expect("code"),
            )
        })
        .collect();
    assert_eq!(
        described,
        [
            (5, "InvalidArgument"),
            (6, "MalformedLine"),
            (7, "PermissionDenied"),
            (8, "DuplicateId"),
        ]
    );
    assert_eq!(failures[0]["id"], "h-5");
    assert_eq!(failures[0]["violations"][0]["field"], "text");

    // The server holds each good line once, in three matters.
    let recommendations = proto::recommendation_service_client::RecommendationServiceClient::with_interceptor(
        server.channel().await,
        bearer(Some(&token)),
    );
    let listed = || {
        let mut recommendations = recommendations.clone();
        async move {
            recommendations
                .list_recommendations(proto::ListRecommendationsRequest {
                    organ: WARD.to_owned(),
                    ..Default::default()
                })
                .await
                .expect("listed")
                .into_inner()
                .recommendations
        }
    };
    let stored = listed().await;
    assert_eq!(stored.len(), 5, "{stored:#?}");
    let mut clusters: Vec<&str> = stored.iter().map(|item| item.cluster.as_str()).collect();
    clusters.sort_unstable();
    clusters.dedup();
    assert_eq!(clusters.len(), 3);
    let premises: Vec<&proto::Recommendation> = stored.iter().filter(|item| item.text == PREMISES).collect();
    assert_eq!(premises.len(), 2);
    assert!(premises.iter().all(|item| item.addressee == "CENTRAL"));
    assert_eq!(premises[0].cluster, premises[1].cluster);
    let staffing = stored
        .iter()
        .find(|item| item.source == "Hội nghị tiếp xúc cử tri 2024")
        .expect("the numbered id's line");
    assert_eq!(staffing.addressee, STAFFING_OWNER, "--addressee fills in");

    // Once more: nothing new, everything replayed.
    let again = import(&["--concurrency", "3"]);
    assert!(!again.status.success());
    assert_eq!(
        summary_lines(&again)[0],
        "9 lines, 0 submitted, 5 replayed, 4 failed"
    );
    let restored = listed().await;
    assert_eq!(
        restored.iter().map(|item| &item.name).collect::<Vec<_>>(),
        stored.iter().map(|item| &item.name).collect::<Vec<_>>()
    );

    // A token the server refuses stops the import at once.
    let refused = lienthong(
        &[
            "recommendations",
            "import",
            path,
            "--organ",
            WARD,
            "--token",
            "lt_not-a-token",
        ],
        &[("LIENTHONG_SERVER", address.as_str())],
    );
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("Unauthenticated"),
        "{refused:?}"
    );
}

/// A server, an administrator's token, and the environment that points the
/// command line at the server with that token.
async fn server_for_an_administrator() -> (TestServer, String, [(&'static str, String); 2]) {
    let server = TestServer::start().await;
    let admin = server
        .token(ADMIN_ORGAN, &[lienthong_domain::auth::Role::Admin])
        .await;
    let environment = [
        ("LIENTHONG_SERVER", format!("http://{}", server.address)),
        ("LIENTHONG_TOKEN", admin.clone()),
    ];
    (server, admin, environment)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recommendations_import_keeps_original_times_oldest_first() {
    let (server, admin, environment) = server_for_an_administrator().await;
    let environment = borrowed(&environment);
    let folder = tempfile::tempdir().expect("temp dir");
    let file = folder.path().join("register.jsonl");
    let line = |value: serde_json::Value| value.to_string();
    // In the register's order, which is not the order they were raised in.
    let lines = [
        line(
            serde_json::json!({"id": "r-1", "text": IT_STAFF, "organ": OTHER_WARD, "submitted_at": "2025-09-10"}),
        ),
        line(serde_json::json!({"id": "r-2", "text": IT_STAFF, "organ": WARD,
            "submitted_at": "2025-08-05T09:30:00+07:00"})),
        line(serde_json::json!({"id": "r-3", "text": PREMISES, "organ": WARD, "submitted_at": "5/8/2025"})),
        line(serde_json::json!({"id": "r-4", "text": PREMISES, "organ": WARD})),
    ];
    std::fs::write(&file, lines.join("\n")).expect("write");
    let path = file.to_str().expect("utf-8 path");
    let output = lienthong(
        &[
            "recommendations",
            "import",
            path,
            "--addressee",
            STAFFING_OWNER,
            "--quiet",
        ],
        &environment,
    );
    assert!(!output.status.success(), "{output:?}");
    assert_eq!(
        summary_lines(&output),
        [
            "4 lines, 2 submitted, 0 replayed, 2 failed",
            "NEW_CLUSTER 1, JOINED_CLUSTER 1, ALREADY_ANSWERED 0, NEEDS_REVIEW 0",
            "MalformedLine 1, PermissionDenied 1",
        ]
    );
    let diagnostics = String::from_utf8_lossy(&output.stderr);
    assert!(
        diagnostics.contains("line 3 (id \"r-3\"): MalformedLine: `submitted_at` \"5/8/2025\""),
        "{diagnostics}"
    );
    // An administrator imports dated lines for any organ, but submits now
    // only for its own.
    assert!(
        diagnostics.contains("line 4 (id \"r-4\"): PermissionDenied"),
        "{diagnostics}"
    );

    let mut recommendations =
        proto::recommendation_service_client::RecommendationServiceClient::with_interceptor(
            server.channel().await,
            bearer(Some(&admin)),
        );
    let only = |organ: &str| {
        let request = proto::ListRecommendationsRequest {
            organ: organ.to_owned(),
            ..Default::default()
        };
        let mut recommendations = recommendations.clone();
        async move {
            let listed = recommendations
                .list_recommendations(request)
                .await
                .expect("listed")
                .into_inner()
                .recommendations;
            assert_eq!(listed.len(), 1, "{listed:#?}");
            listed.into_iter().next().expect("one")
        }
    };
    // The older line went first and opened the cluster the later one joined.
    let (older, newer) = (only(WARD).await, only(OTHER_WARD).await);
    assert_eq!(older.outcome(), proto::DedupOutcome::NewCluster);
    assert_eq!(newer.outcome(), proto::DedupOutcome::JoinedCluster);
    assert_eq!(newer.cluster, older.cluster);
    assert_eq!(older.imported_by, ADMIN_ORGAN);
    // 2025-08-05 09:30 in Vietnam, and midnight in Vietnam for a date alone.
    assert_eq!(older.submit_time.expect("time").seconds, 1_754_361_000);
    assert_eq!(newer.submit_time.expect("time").seconds, 1_757_437_200);
    let cluster = recommendations
        .get_cluster(proto::GetClusterRequest {
            name: older.cluster.clone(),
        })
        .await
        .expect("cluster")
        .into_inner()
        .cluster
        .expect("cluster");
    assert_eq!(cluster.representative, older.name);

    // With a SUBMITTER's token, dated lines stop the import at once with a
    // hint; --server-time submits them now instead.
    let submitter = server
        .token(WARD, &[lienthong_domain::auth::Role::Submitter])
        .await;
    let own = folder.path().join("own.jsonl");
    std::fs::write(
        &own,
        [
            line(serde_json::json!({"id": "o-1", "text": TRAFFIC_LIGHTS, "submitted_at": "2025-08-05"})),
            line(serde_json::json!({"id": "o-2", "text": TRAFFIC_LIGHTS, "submitted_at": 1754361000})),
        ]
        .join("\n"),
    )
    .expect("write");
    let own_path = own.to_str().expect("utf-8 path");
    let submitter_environment = [
        ("LIENTHONG_SERVER", environment[0].1),
        ("LIENTHONG_TOKEN", submitter.as_str()),
    ];
    let arguments = [
        "recommendations",
        "import",
        own_path,
        "--organ",
        WARD,
        "--addressee",
        STAFFING_OWNER,
    ];
    let refused = lienthong(&arguments, &submitter_environment);
    assert!(!refused.status.success());
    let diagnostics = String::from_utf8_lossy(&refused.stderr);
    assert!(
        diagnostics.contains("import stopped at line 1") && diagnostics.contains("--server-time"),
        "{diagnostics}"
    );
    let now_submitted = lienthong(
        &[&arguments[..], &["--server-time"]].concat(),
        &submitter_environment,
    );
    assert_eq!(
        summary_lines(&now_submitted)[0],
        "2 lines, 2 submitted, 0 replayed, 0 failed",
        "{now_submitted:?}"
    );
    let mine = recommendations
        .list_recommendations(proto::ListRecommendationsRequest {
            organ: WARD.to_owned(),
            ..Default::default()
        })
        .await
        .expect("listed")
        .into_inner()
        .recommendations;
    let submitted_now: Vec<&proto::Recommendation> =
        mine.iter().filter(|item| item.text == TRAFFIC_LIGHTS).collect();
    assert_eq!(submitted_now.len(), 2);
    for item in submitted_now {
        assert!(item.imported_by.is_empty());
        assert!(
            item.submit_time.expect("time").seconds > 1_790_000_000,
            "stamped now"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recommendations_import_brings_answers_with_the_time_they_were_given() {
    let (server, admin, environment) = server_for_an_administrator().await;
    let environment = borrowed(&environment);
    let folder = tempfile::tempdir().expect("temp dir");
    let file = folder.path().join("register.jsonl");
    let line = |value: serde_json::Value| value.to_string();
    let answer = serde_json::json!({"text": "Đã bổ sung 02 biên chế CNTT.", "document": "15/SNV",
        "document_date": "2025-08-20"});
    // Raised on 5 August and answered on 20 August; raised again before
    // and after the answer, and once more with the same answer noted.
    let lines = [
        line(serde_json::json!({"id": "a-3", "text": IT_STAFF, "organ": WARD, "submitted_at": "2025-09-01"})),
        line(
            serde_json::json!({"id": "a-1", "text": IT_STAFF, "organ": WARD, "submitted_at": "2025-08-05",
            "answer": answer}),
        ),
        line(
            serde_json::json!({"id": "a-2", "text": IT_STAFF, "organ": OTHER_WARD, "submitted_at": "2025-08-10"}),
        ),
        line(
            serde_json::json!({"id": "a-4", "text": IT_STAFF, "organ": OTHER_WARD, "submitted_at": "2025-09-02",
            "answer": answer}),
        ),
        line(serde_json::json!({"id": "a-5", "text": PREMISES, "organ": WARD, "answer": answer})),
        line(
            serde_json::json!({"id": "a-6", "text": PREMISES, "organ": WARD, "submitted_at": "2025-08-01",
            "answer": {"text": "Đã trả lời.", "document": "1/SNV", "document_date": "2025-07-01",
                "answered_at": "2025-07-01"}}),
        ),
        line(
            serde_json::json!({"id": "a-7", "text": TRAFFIC_LIGHTS, "organ": WARD, "submitted_at": "2025-08-03",
            "answer": {"text": "Đã lắp đặt.", "document": "9/SGTVT", "document_date": "2025-08-04",
                "answering_organ": "01-nobody"}}),
        ),
    ];
    std::fs::write(&file, lines.join("\n")).expect("write");
    let path = file.to_str().expect("utf-8 path");
    let arguments = [
        "recommendations",
        "import",
        path,
        "--addressee",
        STAFFING_OWNER,
        "--quiet",
    ];
    let expected = |submitted: u32, replayed: u32| {
        [
            format!("7 lines, {submitted} submitted, {replayed} replayed, 2 failed"),
            "NEW_CLUSTER 2, JOINED_CLUSTER 1, ALREADY_ANSWERED 2, NEEDS_REVIEW 0".to_owned(),
            "1 recorded, 1 already given, 1 failed".to_owned(),
            "MalformedLine 2".to_owned(),
        ]
    };
    let output = lienthong(&arguments, &environment);
    assert!(!output.status.success(), "{output:?}");
    assert_eq!(summary_lines(&output), expected(5, 0), "{output:?}");
    let diagnostics = String::from_utf8_lossy(&output.stderr);
    assert!(
        diagnostics.contains("line 5 (id \"a-5\"): MalformedLine: an `answer` is imported with the time"),
        "{diagnostics}"
    );
    assert!(
        diagnostics.contains("line 6 (id \"a-6\"): MalformedLine: the answer's `answered_at` is before"),
        "{diagnostics}"
    );
    // The line is recorded; its answer is refused on its own.
    assert!(
        diagnostics.contains("line 7 (id \"a-7\"): InvalidArgument: its answer:")
            && diagnostics.contains("2 of 7 lines and 1 answers failed"),
        "{diagnostics}"
    );

    // The answer stands with the day of its document and its organ.
    let mut recommendations =
        proto::recommendation_service_client::RecommendationServiceClient::with_interceptor(
            server.channel().await,
            bearer(Some(&admin)),
        );
    let cluster = recommendations
        .list_clusters(proto::ListClustersRequest::default())
        .await
        .expect("listed")
        .into_inner()
        .clusters;
    assert_eq!(cluster.len(), 2, "{cluster:#?}");
    assert_eq!(cluster[0].member_count, 4);
    assert_eq!(cluster[1].answer, None);
    let given = cluster[0].answer.clone().expect("answered");
    assert_eq!(given.answering_organ, STAFFING_OWNER);
    // 2025-08-20 at midnight in Vietnam.
    assert_eq!(given.answer_time.expect("time").seconds, 1_755_622_800);

    // Loading the register again records nothing new.
    let again = lienthong(&arguments, &environment);
    assert_eq!(summary_lines(&again), expected(0, 5), "{again:?}");
}

/// A `tthc-monthly` submission with the four required figures.
fn tthc_figures(
    organ: &str,
    period: &str,
    received: i64,
    online: i64,
    resolved: i64,
    overdue: i64,
) -> proto::SubmitReportRequest {
    proto::SubmitReportRequest {
        values: vec![
            integer("dossiers_received", received),
            integer("dossiers_online", online),
            integer("dossiers_resolved_on_time", resolved),
            integer("dossiers_overdue", overdue),
        ],
        ..tthc_submission(organ, period, &format!("{organ}/{period}"))
    }
}

/// Three `tthc-monthly` reports, all submitted after their deadlines:
/// Ba Đình (00004) 100 received, 10 online in 2025-08 and 400, 100 in
/// 2025-09 (accepted); Ngọc Hà (00008) 200, 30 in 2025-09. The other 124
/// People's Committees owe them too. Returns the server and an analyst's
/// client environment.
async fn tthc_reports() -> (TestServer, Vec<(&'static str, String)>) {
    let server = TestServer::start().await;
    let mut ward = server.submitter(WARD).await;
    ward.submit_report(tthc_figures(WARD, "2025-08", 100, 10, 90, 1))
        .await
        .expect("submitted");
    let september = ward
        .submit_report(tthc_figures(WARD, "2025-09", 400, 100, 380, 5))
        .await
        .expect("submitted")
        .into_inner()
        .report;
    server
        .submitter(OTHER_WARD)
        .await
        .submit_report(tthc_figures(OTHER_WARD, "2025-09", 200, 30, 190, 2))
        .await
        .expect("submitted");
    server
        .reviewer(TTHC_OWNER)
        .await
        .review_report(proto::ReviewReportRequest {
            report: september,
            revision: 1,
            decision: proto::ReviewDecision::Accept.into(),
            comment: String::new(),
            request_id: "accept-september".to_owned(),
        })
        .await
        .expect("accepted");
    let token = server
        .token(ADMIN_ORGAN, &[lienthong_domain::auth::Role::Analyst])
        .await;
    let environment = vec![
        ("LIENTHONG_SERVER", format!("http://{}", server.address)),
        ("LIENTHONG_TOKEN", token),
    ];
    (server, environment)
}

fn borrowed<'e>(environment: &'e [(&'static str, String)]) -> Vec<(&'static str, &'e str)> {
    environment
        .iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analytics_export_writes_csv_to_a_file_or_to_stdout() {
    let (_server, environment) = tthc_reports().await;
    let environment = borrowed(&environment);
    let folder = tempfile::tempdir().expect("temp dir");
    let file = folder.path().join("september.csv");
    let path = file.to_str().expect("utf-8 path");
    // A refused export leaves an earlier one at the path as it was.
    std::fs::write(&file, "an earlier export\r\n").expect("write");
    let refused = lienthong(
        &[
            "analytics",
            "export",
            "--form",
            "no-such-form",
            "--from",
            "2025-09",
            "--to",
            "2025-09",
            "--out",
            path,
        ],
        &environment,
    );
    assert!(!refused.status.success());
    assert_eq!(
        std::fs::read_to_string(&file).expect("the earlier file"),
        "an earlier export\r\n"
    );

    let written = stdout(&lienthong(
        &[
            "analytics",
            "export",
            "--form",
            "tthc-monthly",
            "--from",
            "2025-09",
            "--to",
            "2025-09",
            "--indicator",
            "dossiers_received",
            "--indicator",
            "online_rate",
            "--group-by",
            "locality",
            "--locality",
            "00004",
            "--locality",
            "00008",
            "--locality",
            "00025",
            "--out",
            path,
        ],
        &environment,
    ));
    assert_eq!(written, format!("6 rows written to {path}\n"));
    assert_eq!(
        std::fs::read_dir(folder.path()).expect("folder").count(),
        1,
        "nothing but the export is left beside it"
    );
    // 100 of 400 and 30 of 200 online; Giảng Võ (00025) owes its report, so
    // it has no value (and its ratio parts add up to nothing).
    assert_eq!(
        std::fs::read_to_string(&file).expect("the CSV file"),
        "locality_code,indicator_code,aggregation,value,numerator_sum,denominator_sum,\
         expected_reports,contributing_reports,missing_reports,periods_not_yet_open\r\n\
         00004,dossiers_received,SUM,400,,,1,1,0,0\r\n\
         00004,online_rate,RATIO,25,100,400,1,1,0,0\r\n\
         00008,dossiers_received,SUM,200,,,1,1,0,0\r\n\
         00008,online_rate,RATIO,15,30,200,1,1,0,0\r\n\
         00025,dossiers_received,SUM,,,,1,0,1,0\r\n\
         00025,online_rate,RATIO,,0,0,1,0,1,0\r\n"
    );

    // Without --out the CSV alone goes to standard output. The quarter:
    // 100 + 400 + 200 of 126 committees × 3 months owed.
    let quarter = stdout(&lienthong(
        &[
            "analytics",
            "export",
            "--form",
            "tthc-monthly",
            "--from",
            "2025-07",
            "--to",
            "2025-09",
            "--indicator",
            "dossiers_received",
            "--group-by",
            "period",
            "--group-by",
            "bloc",
            "--rollup",
            "quarterly",
        ],
        &environment,
    ));
    assert_eq!(
        quarter,
        "period,bloc,indicator_code,aggregation,value,numerator_sum,denominator_sum,\
         expected_reports,contributing_reports,missing_reports,periods_not_yet_open\r\n\
         2025-Q3,GOVERNMENT,dossiers_received,SUM,700,,,378,3,375,0\r\n"
    );

    // Accepted reports only, for the whole city: Ba Đình's September.
    let accepted = stdout(&lienthong(
        &[
            "analytics",
            "export",
            "--form",
            "tthc-monthly",
            "--from",
            "2025-07",
            "--to",
            "2025-09",
            "--indicator",
            "online_rate",
            "--accepted-only",
        ],
        &environment,
    ));
    assert_eq!(
        accepted.lines().collect::<Vec<_>>(),
        [
            "indicator_code,aggregation,value,numerator_sum,denominator_sum,\
             expected_reports,contributing_reports,missing_reports,periods_not_yet_open",
            "online_rate,RATIO,25,100,400,378,1,377,0",
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analytics_export_of_a_reversed_range_fails_naming_the_field() {
    let (_server, environment) = tthc_reports().await;
    let environment = borrowed(&environment);
    let folder = tempfile::tempdir().expect("temp dir");
    let file = folder.path().join("never.csv");
    let refused = lienthong(
        &[
            "analytics",
            "export",
            "--form",
            "tthc-monthly",
            "--from",
            "2025-09",
            "--to",
            "2025-07",
            "--out",
            file.to_str().expect("utf-8 path"),
        ],
        &environment,
    );
    assert!(!refused.status.success(), "{refused:?}");
    assert!(refused.stdout.is_empty(), "{refused:?}");
    let errors = String::from_utf8_lossy(&refused.stderr);
    assert!(errors.contains("error: InvalidArgument"), "{errors}");
    assert!(errors.contains("  to_period: "), "{errors}");
    assert!(!file.exists(), "nothing is written for a refused request");
}

/// The whitespace-separated columns of the first line whose leading
/// columns are `leading`.
fn columns_of(text: &str, leading: &[&str]) -> Vec<String> {
    text.lines()
        .map(|line| line.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .find(|columns| {
            columns.starts_with(
                &leading
                    .iter()
                    .map(|&column| column.to_owned())
                    .collect::<Vec<_>>(),
            )
        })
        .unwrap_or_else(|| panic!("no line starting {leading:?} in\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analytics_rates_print_each_locality_and_the_city_trend() {
    let (_server, environment) = tthc_reports().await;
    let environment = borrowed(&environment);
    let printed = stdout(&lienthong(
        &[
            "analytics",
            "rates",
            "--form",
            "tthc-monthly",
            "--from",
            "2025-08",
            "--to",
            "2025-09",
            "--locality",
            "00004",
            "--locality",
            "00008",
        ],
        &environment,
    ));
    // period, locality, expected, submitted, on time, late, accepted,
    // reporting and on-time rates; every report here came late.
    let expected = [
        (["2025-08", "00004"], "1 1 0 1 0 100.0% 0.0%"),
        (["2025-08", "00008"], "1 0 0 0 0 0.0% 0.0%"),
        (["2025-09", "00004"], "1 1 0 1 1 100.0% 0.0%"),
        (["2025-09", "00008"], "1 1 0 1 0 100.0% 0.0%"),
        (["2025-08", "city"], "2 1 0 1 0 50.0% 0.0%"),
        (["2025-09", "city"], "2 2 0 2 1 100.0% 0.0%"),
    ];
    for (leading, figures) in expected {
        assert_eq!(
            columns_of(&printed, &leading)[2..9].join(" "),
            figures,
            "{leading:?}:\n{printed}"
        );
    }
    assert_eq!(
        printed.lines().count(),
        11,
        "six rows, two titles, two headers, a blank line:\n{printed}"
    );
    assert!(printed.contains("tthc-monthly: city trend"), "{printed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analytics_clusters_and_answered_print_their_tables() {
    use lienthong::proto::recommendation_service_client::RecommendationServiceClient;
    use lienthong_domain::auth::Role;
    use time::macros::datetime;

    let clock = ManualClock::at(datetime!(2025-07-10 02:00 UTC));
    let server = TestServer::start_with_clock(clock.clock()).await;
    let recommendations = async |organ: &str, role: Role| {
        let token = server.token(organ, &[role]).await;
        RecommendationServiceClient::with_interceptor(server.channel().await, bearer(Some(&token)))
    };
    let submit = async |organ: &str, text: &str, request_id: &str| {
        recommendations(organ, Role::Submitter)
            .await
            .submit_recommendation(proto::SubmitRecommendationRequest {
                organ: organ.to_owned(),
                text: text.to_owned(),
                topic: "staffing".to_owned(),
                addressee: STAFFING_OWNER.to_owned(),
                source: String::new(),
                request_id: request_id.to_owned(),
            })
            .await
            .expect("submitted")
            .into_inner()
    };
    // July: Ba Đình and Ngọc Hà raise the IT matter, Ba Đình's Party
    // committee the premises matter. August: Home Affairs answers the IT
    // matter, and Giảng Võ's repeat of it gets the answer at once.
    let first = submit(WARD, IT_STAFF, "it-1").await;
    submit(OTHER_WARD, IT_STAFF, "it-2").await;
    submit(WARD_PARTY, PREMISES, "premises-1").await;
    clock.set(datetime!(2025-08-02 02:00 UTC));
    recommendations(STAFFING_OWNER, Role::Reviewer)
        .await
        .answer_cluster(proto::AnswerClusterRequest {
            cluster: first.recommendation.expect("recommendation").cluster,
            text: "Thành phố giao bổ sung biên chế công nghệ thông tin cho cấp xã.".to_owned(),
            document: "456/SNV-CCVC".to_owned(),
            document_date: "2025-08-01".to_owned(),
            request_id: "answer-it".to_owned(),
        })
        .await
        .expect("answered");
    clock.set(datetime!(2025-08-05 02:00 UTC));
    let settled = submit("00025-peoples-committee", IT_STAFF, "it-3").await;
    assert_eq!(settled.outcome(), proto::DedupOutcome::AlreadyAnswered);

    let token = server.token(ADMIN_ORGAN, &[Role::Analyst]).await;
    let address = format!("http://{}", server.address);
    let environment = [
        ("LIENTHONG_SERVER", address.as_str()),
        ("LIENTHONG_TOKEN", token.as_str()),
    ];
    let ranked = stdout(&lienthong(
        &["analytics", "clusters", "--from", "2025-Q3", "--to", "2025-Q3"],
        &environment,
    ));
    let lines: Vec<&str> = ranked.lines().collect();
    assert_eq!(lines.len(), 3, "{ranked}");
    let it_excerpt: String = IT_STAFF.chars().take(80).collect();
    // rank, cluster, localities, blocs, recommendations, status, text.
    let it = columns_of(&ranked, &["1"]);
    assert!(it[1].starts_with("clusters/"), "{ranked}");
    assert_eq!(it[2..6], ["3", "GOVERNMENT", "3", "ANSWERED"], "{ranked}");
    assert!(lines[1].ends_with(&format!(" {it_excerpt}…")), "{ranked}");
    assert_eq!(
        columns_of(&ranked, &["2"])[2..6],
        ["1", "PARTY", "1", "OPEN"],
        "{ranked}"
    );
    let premises_excerpt: String = PREMISES.chars().take(40).collect();
    assert!(lines[2].contains(&premises_excerpt), "{ranked}");
    let widely = stdout(&lienthong(
        &[
            "analytics",
            "clusters",
            "--from",
            "2025-Q3",
            "--to",
            "2025-Q3",
            "--min-localities",
            "2",
        ],
        &environment,
    ));
    assert_eq!(widely.lines().count(), 2, "{widely}");
    assert!(widely.contains(&it_excerpt), "{widely}");

    let answered = stdout(&lienthong(
        &["analytics", "answered", "--from", "2025-07", "--to", "2025-08"],
        &environment,
    ));
    // period, bloc, submitted, already answered, share.
    let rows: Vec<String> = answered
        .lines()
        .skip(1)
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        rows,
        [
            "2025-07 PARTY 1 0 0.0%",
            "2025-07 COUNCIL 0 0 -",
            "2025-07 GOVERNMENT 2 0 0.0%",
            "2025-07 FRONT 0 0 -",
            "2025-08 PARTY 0 0 -",
            "2025-08 COUNCIL 0 0 -",
            "2025-08 GOVERNMENT 1 1 100.0%",
            "2025-08 FRONT 0 0 -",
            "total PARTY 1 0 0.0%",
            "total COUNCIL 0 0 -",
            "total GOVERNMENT 3 1 33.3%",
            "total FRONT 0 0 -",
            "total all 4 1 25.0%",
        ],
        "{answered}"
    );

    // A submitter may not rank clusters; the refusal goes to stderr.
    let submitter = server.token(WARD, &[Role::Submitter]).await;
    let refused = lienthong(
        &["analytics", "clusters", "--from", "2025-Q3", "--to", "2025-Q3"],
        &[
            ("LIENTHONG_SERVER", address.as_str()),
            ("LIENTHONG_TOKEN", submitter.as_str()),
        ],
    );
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("error: PermissionDenied"),
        "{refused:?}"
    );
}

/// The count before `what` in the demo summary `line`.
fn summary_count(line: &str, what: &str) -> u32 {
    line.trim()
        .split(", ")
        .find_map(|part| part.trim_start_matches("demo data: ").strip_suffix(what))
        .and_then(|count| count.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {what} in {line:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_loads_a_generated_history_of_a_commune_sample_and_loading_again_changes_nothing() {
    use lienthong_domain::report::ReportStatus;
    use lienthong_domain::store::ReportFilter;

    let server = TestServer::start().await;
    let url = server.database.url.clone();
    let reports_stored = || async {
        let mut reports = server
            .store
            .list_reports(&ReportFilter::default(), None, u32::MAX)
            .await
            .expect("reports listed");
        reports.sort_by_key(|report| report.id);
        reports
    };

    let first = stdout(&lienthong(&["demo", "--database-url", &url], &[]));
    let reports = reports_stored().await;
    assert_eq!(
        summary_count(&first, "sample reports") as usize,
        reports.len(),
        "{first}"
    );
    assert_eq!(summary_count(&first, "sample recommendations"), 338, "{first}");
    // Every sixth commune's People's Committee and Party committee, from
    // July 2025 on: 21 communes.
    let communes: std::collections::BTreeSet<&str> = reports
        .iter()
        .map(|report| report.locality_code.as_str())
        .collect();
    assert!((19..=21).contains(&communes.len()), "{communes:?}");
    assert!(
        communes.contains("00004"),
        "the first commune in code order: {communes:?}"
    );
    let staffing_q3: Vec<_> = reports
        .iter()
        .filter(|report| report.form_code == "staffing-quarterly" && report.period.to_string() == "2025-Q3")
        .collect();
    assert!((36..=42).contains(&staffing_q3.len()), "{}", staffing_q3.len());
    let tthc_july = reports
        .iter()
        .filter(|report| report.form_code == "tthc-monthly" && report.period.to_string() == "2025-07")
        .count();
    assert!((17..=21).contains(&tthc_july), "{tthc_july}");
    // Realistic: some late, most accepted, some amended.
    let late = reports.iter().filter(|report| report.late).count();
    let accepted = reports
        .iter()
        .filter(|report| report.status == ReportStatus::Accepted)
        .count();
    let amended = reports.iter().filter(|report| report.latest_revision > 1).count();
    assert!(
        late * 30 > reports.len() && late * 5 < reports.len(),
        "{late} of {}",
        reports.len()
    );
    assert!(
        accepted * 10 > reports.len() * 7,
        "{accepted} of {}",
        reports.len()
    );
    assert!(amended > 0);

    let second = stdout(&lienthong(&["demo", "--database-url", &url], &[]));
    assert_eq!(
        summary_count(&second, "sample reports"),
        summary_count(&first, "sample reports")
    );
    assert_eq!(
        reports_stored().await,
        reports,
        "a second load replays what is stored"
    );
}
