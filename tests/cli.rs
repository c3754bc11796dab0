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
