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

    let listed = stdout(&lienthong(&["token", "list", "--database-url", &url], &[]));
    let line = listed
        .lines()
        .find(|line| line.contains(WARD) && line.contains("active"))
        .expect("listed as active");
    assert!(!listed.contains(&token), "secrets are never listed");
    let id = line.split_whitespace().next().expect("id column");
    stdout(&lienthong(&["token", "revoke", "--database-url", &url, id], &[]));
    let status = client
        .list_localities(proto::ListLocalitiesRequest::default())
        .await
        .expect_err("revoked");
    assert_eq!(status.code(), Code::Unauthenticated);

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
    stdout(&lienthong(
        &[
            "recommendations",
            "cluster",
            "--input",
            input.to_str().expect("utf-8 path"),
            "--output",
            output.to_str().expect("utf-8 path"),
        ],
        &[],
    ));
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&output)
        .expect("output")
        .lines()
        .map(|line| serde_json::from_str(line).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[1]["id"], 7, "ids come back as given");
    assert_eq!(
        lines[0]["cluster"], lines[1]["cluster"],
        "case does not split a matter"
    );
    assert_ne!(lines[0]["cluster"], lines[2]["cluster"]);
    assert_eq!(lines[3]["cluster"], "d", "a refused text stands alone");
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
