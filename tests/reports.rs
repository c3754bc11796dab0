//! End-to-end: submitting, amending, reviewing and reading reports,
//! obligations and completeness, through the generated gRPC client.

mod common;

use common::*;
use lienthong::proto;
use lienthong_domain::auth::Role;
use tonic::Code;

#[tokio::test]
async fn submit_records_values_in_form_order_and_computes_the_percentage() {
    let server = TestServer::start().await;
    let mut client = server.submitter(WARD).await;
    let period = current_month().to_string();
    let response = client
        .submit_report(tthc_submission(WARD, &period, "first"))
        .await
        .expect("submitted")
        .into_inner();
    assert!(response.report.starts_with("reports/"), "{}", response.report);
    let revision = response.revision.expect("revision");
    assert_eq!(revision.revision, 1);
    assert_eq!(revision.form_version, 1);
    assert!(!revision.late, "the current period's deadline has not passed");
    let codes: Vec<&str> = revision
        .values
        .iter()
        .map(|value| value.indicator_code.as_str())
        .collect();
    assert_eq!(
        codes,
        [
            "dossiers_received",
            "dossiers_online",
            "online_rate",
            "dossiers_resolved_on_time",
            "dossiers_overdue",
            "citizen_feedback_received"
        ]
    );
    assert_eq!(revision.values[2], decimal("online_rate", "14.1"));

    let fetched = client
        .get_report(proto::GetReportRequest {
            name: response.report.clone(),
        })
        .await
        .expect("get")
        .into_inner()
        .report
        .expect("report");
    assert_eq!(fetched.status(), proto::ReportStatus::Submitted);
    assert_eq!(fetched.organ, WARD);
    assert_eq!(fetched.locality_code, "00004");
    assert_eq!(fetched.revision.expect("revision").values, revision.values);
}

#[tokio::test]
async fn a_past_period_is_marked_late() {
    let server = TestServer::start().await;
    let mut client = server.submitter(WARD).await;
    let revision = client
        .submit_report(tthc_submission(WARD, "2025-09", "late-one"))
        .await
        .expect("submitted")
        .into_inner()
        .revision
        .expect("revision");
    assert!(revision.late);
}

#[tokio::test]
async fn every_violation_is_reported_at_once() {
    let server = TestServer::start().await;
    let mut client = server.submitter(WARD).await;
    let mut request = tthc_submission(WARD, "2025-09", "bad");
    request.values = vec![
        integer("dossiers_received", 100),
        integer("dossiers_online", 150),           // rule: online ≤ received
        integer("dossiers_overdue", -1),           // below min 0
        decimal("dossiers_resolved_on_time", "5"), // wrong type
        integer("no_such_indicator", 1),           // unknown
        integer("dossiers_received", 3),           // given twice
    ];
    let status = client.submit_report(request).await.expect_err("rejected");
    let violations = field_violations(&status);
    let has = |field: &str, needle: &str| {
        violations
            .iter()
            .any(|(got, description)| got == field && description.contains(needle))
    };
    assert!(has("values[dossiers_online]", "cannot exceed"), "{violations:?}");
    assert!(
        has("values[dossiers_overdue]", "below the minimum"),
        "{violations:?}"
    );
    assert!(
        has("values[dossiers_resolved_on_time]", "integer_value"),
        "{violations:?}"
    );
    assert!(
        has("values[4].indicator_code", "unknown indicator"),
        "{violations:?}"
    );
    assert!(has("values[dossiers_received]", "twice"), "{violations:?}");
    assert_eq!(violations.len(), 5, "{violations:?}");

    // Missing required values, a period of the wrong periodicity and a form
    // the organ does not owe.
    let mut request = tthc_submission(WARD_PARTY, "2025-Q3", "bad-2");
    request.values = vec![integer("dossiers_received", 10)];
    let mut party = server.submitter(WARD_PARTY).await;
    let status = party.submit_report(request).await.expect_err("rejected");
    let violations = field_violations(&status);
    let fields: Vec<&str> = violations.iter().map(|(field, _)| field.as_str()).collect();
    assert!(fields.contains(&"period"), "{violations:?}");
    assert!(fields.contains(&"organ"), "{violations:?}");
    assert!(fields.contains(&"values[dossiers_online]"), "{violations:?}");
    assert!(fields.contains(&"values[dossiers_overdue]"), "{violations:?}");

    // A period before the form's first, and one not yet started.
    for (period, needle) in [("2025-06", "owed from 2025-07"), ("2099-01", "has not started")] {
        let status = client
            .submit_report(tthc_submission(WARD, period, &format!("bad-{period}")))
            .await
            .expect_err("rejected");
        let violations = field_violations(&status);
        assert!(
            violations
                .iter()
                .any(|(field, description)| field == "period" && description.contains(needle)),
            "{period}: {violations:?}"
        );
    }

    // Nothing was stored by any of the rejected calls.
    let listed = server
        .reports(&server.token(ADMIN_ORGAN, &[Role::Admin]).await)
        .await
        .list_reports(proto::ListReportsRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert!(listed.reports.is_empty(), "{:?}", listed.reports);
}

#[tokio::test]
async fn unknown_form_and_missing_request_id_are_rejected() {
    let server = TestServer::start().await;
    let mut client = server.submitter(WARD).await;
    let mut request = tthc_submission(WARD, "2025-09", "x");
    request.form_code = "no-such-form".to_owned();
    assert_eq!(
        client.submit_report(request).await.expect_err("rejected").code(),
        Code::NotFound
    );
    let request = tthc_submission(WARD, "2025-09", "");
    let status = client.submit_report(request).await.expect_err("rejected");
    assert_eq!(field_violations(&status)[0].0, "request_id");
}

#[tokio::test]
async fn retries_with_the_same_request_id_return_the_original_response() {
    let server = TestServer::start().await;
    let mut client = server.submitter(WARD).await;
    let first = client
        .submit_report(tthc_submission(WARD, "2025-09", "retry-key"))
        .await
        .expect("submitted")
        .into_inner();
    let again = client
        .submit_report(tthc_submission(WARD, "2025-09", "retry-key"))
        .await
        .expect("replayed")
        .into_inner();
    assert_eq!(first, again);

    let mut different = tthc_submission(WARD, "2025-09", "retry-key");
    different.narrative = "another text".to_owned();
    let status = client.submit_report(different).await.expect_err("key reused");
    assert_eq!(status.code(), Code::AlreadyExists);
    assert!(status.message().contains("retry-key"), "{}", status.message());

    // A second report for the same organ, form and period needs an amendment.
    let status = client
        .submit_report(tthc_submission(WARD, "2025-09", "another-key"))
        .await
        .expect_err("duplicate report");
    assert_eq!(status.code(), Code::AlreadyExists);
    assert!(status.message().contains(&first.report), "{}", status.message());
}

#[tokio::test]
async fn concurrent_retries_create_one_report() {
    let server = TestServer::start().await;
    let client = server.submitter(WARD).await;
    let attempts = (0..8).map(|_| {
        let mut client = client.clone();
        tokio::spawn(async move {
            client
                .submit_report(tthc_submission(WARD, "2025-09", "same"))
                .await
        })
    });
    let mut names = Vec::new();
    for attempt in attempts {
        names.push(
            attempt
                .await
                .expect("task")
                .expect("each attempt succeeds")
                .into_inner()
                .report,
        );
    }
    names.dedup();
    assert_eq!(names.len(), 1, "{names:?}");
}

#[tokio::test]
async fn amend_and_review_follow_the_report_lifecycle() {
    let server = TestServer::start().await;
    let mut ward = server.submitter(WARD).await;
    let mut reviewer = server.reviewer(TTHC_OWNER).await;
    let mut wrong_reviewer = server.reviewer(STAFFING_OWNER).await;
    let report = ward
        .submit_report(tthc_submission(WARD, "2025-09", "s1"))
        .await
        .expect("submitted")
        .into_inner()
        .report;

    let amend = |revision: u32, received: i64, key: &str| {
        let mut values = tthc_values();
        values[0] = integer("dossiers_received", received);
        proto::AmendReportRequest {
            report: report.clone(),
            base_revision: revision,
            values,
            reason: "sửa số liệu".to_owned(),
            request_id: key.to_owned(),
            ..Default::default()
        }
    };
    let revision = ward
        .amend_report(amend(1, 600, "a1"))
        .await
        .expect("amended")
        .into_inner()
        .revision;
    assert_eq!(revision.expect("revision").revision, 2);

    // A stale base revision is refused.
    let status = ward
        .amend_report(amend(1, 610, "a-stale"))
        .await
        .expect_err("stale");
    assert_eq!(status.code(), Code::FailedPrecondition);

    // An amendment needs a reason.
    let mut no_reason = amend(2, 610, "a-noreason");
    no_reason.reason = String::new();
    assert_eq!(
        field_violations(&ward.amend_report(no_reason).await.expect_err("no reason"))[0].0,
        "reason"
    );

    let review = |revision: u32, decision: proto::ReviewDecision, comment: &str, key: &str| {
        proto::ReviewReportRequest {
            report: report.clone(),
            revision,
            decision: decision.into(),
            comment: comment.to_owned(),
            request_id: key.to_owned(),
        }
    };
    // Only the owning department reviews.
    let status = wrong_reviewer
        .review_report(review(2, proto::ReviewDecision::Accept, "", "r0"))
        .await
        .expect_err("not the owner");
    assert_eq!(status.code(), Code::PermissionDenied);
    // Returning needs a comment; reviewing an old revision is refused.
    let status = reviewer
        .review_report(review(2, proto::ReviewDecision::Return, "", "r1"))
        .await
        .expect_err("no comment");
    assert_eq!(field_violations(&status)[0].0, "comment");
    let status = reviewer
        .review_report(review(1, proto::ReviewDecision::Accept, "", "r2"))
        .await
        .expect_err("old revision");
    assert_eq!(status.code(), Code::FailedPrecondition);

    let returned = reviewer
        .review_report(review(
            2,
            proto::ReviewDecision::Return,
            "Thiếu số liệu hồ sơ quá hạn",
            "r3",
        ))
        .await
        .expect("returned")
        .into_inner()
        .report
        .expect("report");
    assert_eq!(returned.status(), proto::ReportStatus::Returned);
    assert_eq!(returned.reviewed_by, TTHC_OWNER);
    // A returned report cannot be reviewed again before it is amended.
    let status = reviewer
        .review_report(review(2, proto::ReviewDecision::Accept, "", "r4"))
        .await
        .expect_err("returned");
    assert_eq!(status.code(), Code::FailedPrecondition);

    ward.amend_report(amend(2, 620, "a2")).await.expect("resubmitted");
    let accepted = reviewer
        .review_report(review(3, proto::ReviewDecision::Accept, "", "r5"))
        .await
        .expect("accepted")
        .into_inner()
        .report
        .expect("report");
    assert_eq!(accepted.status(), proto::ReportStatus::Accepted);
    assert_eq!(accepted.latest_revision, 3);

    // Accepted is final.
    let status = ward
        .amend_report(amend(3, 630, "a3"))
        .await
        .expect_err("accepted");
    assert_eq!(status.code(), Code::FailedPrecondition);

    // Every revision stays readable.
    for (revision, received) in [(1, 532), (2, 600), (3, 620)] {
        let fetched = ward
            .get_report(proto::GetReportRequest {
                name: format!("{report}/revisions/{revision}"),
            })
            .await
            .expect("revision readable")
            .into_inner()
            .report
            .expect("report")
            .revision
            .expect("revision");
        assert_eq!(fetched.revision, revision);
        assert_eq!(fetched.values[0], integer("dossiers_received", received));
    }
    let status = ward
        .get_report(proto::GetReportRequest {
            name: format!("{report}/revisions/9"),
        })
        .await
        .expect_err("no such revision");
    assert_eq!(status.code(), Code::NotFound);
}

#[tokio::test]
async fn completeness_counts_and_names_the_missing() {
    let server = TestServer::start().await;
    let period = current_month().to_string();
    server
        .submitter(WARD)
        .await
        .submit_report(tthc_submission(WARD, &period, "c1"))
        .await
        .expect("on time");
    server
        .submitter(OTHER_WARD)
        .await
        .submit_report(tthc_submission(OTHER_WARD, "2025-09", "c2"))
        .await
        .expect("late");

    let mut analyst = server
        .reports(&server.token(ADMIN_ORGAN, &[Role::Analyst]).await)
        .await;
    let current = analyst
        .get_completeness(proto::GetCompletenessRequest {
            form_code: "tthc-monthly".to_owned(),
            period: period.clone(),
        })
        .await
        .expect("completeness")
        .into_inner();
    assert_eq!(current.expected_count, 126);
    assert_eq!(
        (current.submitted_count, current.on_time_count, current.late_count),
        (1, 1, 0)
    );
    assert_eq!(current.missing_organs.len(), 125);
    assert!(!current.missing_organs.iter().any(|organ| organ.id == WARD));

    let september = analyst
        .get_completeness(proto::GetCompletenessRequest {
            form_code: "tthc-monthly".to_owned(),
            period: "2025-09".to_owned(),
        })
        .await
        .expect("completeness")
        .into_inner();
    assert_eq!(
        (
            september.submitted_count,
            september.on_time_count,
            september.late_count
        ),
        (1, 0, 1)
    );

    let status = analyst
        .get_completeness(proto::GetCompletenessRequest {
            form_code: "tthc-monthly".to_owned(),
            period: "2025-Q3".to_owned(),
        })
        .await
        .expect_err("wrong periodicity");
    assert_eq!(field_violations(&status)[0].0, "period");
}

#[tokio::test]
async fn obligations_show_what_is_owed_and_where_it_stands() {
    let server = TestServer::start().await;
    let mut ward = server.submitter(WARD).await;
    ward.submit_report(tthc_submission(WARD, "2025-08", "o1"))
        .await
        .expect("submitted");
    let obligations = ward
        .list_obligations(proto::ListObligationsRequest {
            organ: WARD.to_owned(),
            form_code: "tthc-monthly".to_owned(),
            page_size: 500,
            ..Default::default()
        })
        .await
        .expect("obligations")
        .into_inner()
        .obligations;
    let by_period = |period: &str| {
        obligations
            .iter()
            .find(|obligation| obligation.period == period)
            .unwrap_or_else(|| panic!("{period} listed"))
    };
    assert_eq!(by_period("2025-07").status(), proto::ObligationStatus::Overdue);
    let august = by_period("2025-08");
    assert_eq!(august.status(), proto::ObligationStatus::Submitted);
    assert!(august.late);
    assert_eq!(august.cutoff_start_date, "2025-07-15");
    assert_eq!(august.cutoff_end_date, "2025-08-14");
    let current = by_period(&current_month().to_string());
    assert_eq!(current.status(), proto::ObligationStatus::NotSubmitted);
    // Latest deadline first.
    assert_eq!(obligations[0].period, current_month().to_string());
    let seconds = |obligation: &proto::Obligation| obligation.deadline_time.map(|time| time.seconds);
    assert!(
        obligations
            .windows(2)
            .all(|pair| seconds(&pair[0]) >= seconds(&pair[1]))
    );

    // The party committee owes the staffing form only.
    let party = server
        .submitter(WARD_PARTY)
        .await
        .list_obligations(proto::ListObligationsRequest {
            organ: WARD_PARTY.to_owned(),
            ..Default::default()
        })
        .await
        .expect("obligations")
        .into_inner()
        .obligations;
    assert!(!party.is_empty());
    assert!(
        party
            .iter()
            .all(|obligation| obligation.form_code == "staffing-quarterly")
    );
}

#[tokio::test]
async fn list_reports_filters_and_pages() {
    let server = TestServer::start().await;
    let mut ward = server.submitter(WARD).await;
    for (index, period) in ["2025-07", "2025-08", "2025-09"].iter().enumerate() {
        ward.submit_report(tthc_submission(WARD, period, &format!("l{index}")))
            .await
            .expect("submitted");
    }
    server
        .submitter(OTHER_WARD)
        .await
        .submit_report(tthc_submission(OTHER_WARD, "2025-09", "other"))
        .await
        .expect("submitted");

    let mut analyst = server
        .reports(&server.token(ADMIN_ORGAN, &[Role::Analyst]).await)
        .await;
    let first = analyst
        .list_reports(proto::ListReportsRequest {
            page_size: 3,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(first.reports.len(), 3);
    assert!(first.reports.iter().all(|report| report.revision.is_none()));
    let second = analyst
        .list_reports(proto::ListReportsRequest {
            page_size: 3,
            page_token: first.next_page_token.clone(),
            view: proto::ReportView::Full.into(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(second.reports.len(), 1);
    assert!(second.next_page_token.is_empty());
    assert!(second.reports[0].revision.is_some());

    let september = analyst
        .list_reports(proto::ListReportsRequest {
            period: "2025-09".to_owned(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(september.reports.len(), 2);
    let by_locality = analyst
        .list_reports(proto::ListReportsRequest {
            locality_code: "00008".to_owned(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(by_locality.reports.len(), 1);

    // A submitter sees only its own organ's reports.
    let own = ward
        .list_reports(proto::ListReportsRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert_eq!(own.reports.len(), 3);
    assert!(own.reports.iter().all(|report| report.organ == WARD));

    let status = analyst
        .list_reports(proto::ListReportsRequest {
            page_token: "not-a-token".to_owned(),
            ..Default::default()
        })
        .await
        .expect_err("bad token");
    assert_eq!(field_violations(&status)[0].0, "page_token");
}
