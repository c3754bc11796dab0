//! End-to-end: authentication of every call and the authorisation matrix
//! (each RPC × each role × own or other organ).

mod common;

use common::*;
use lienthong::proto;
use lienthong_domain::auth::Role;
use lienthong_domain::service::TokenService;
use tonic::Code;

#[tokio::test]
async fn missing_unknown_expired_and_revoked_tokens_are_unauthenticated() {
    let server = TestServer::start().await;
    let request = || proto::ListLocalitiesRequest::default();

    let status = server
        .directory(None)
        .await
        .list_localities(request())
        .await
        .expect_err("no token");
    assert_eq!(status.code(), Code::Unauthenticated);
    let status = server
        .directory(Some("lt_not-a-real-token"))
        .await
        .list_localities(request())
        .await
        .expect_err("unknown");
    assert_eq!(status.code(), Code::Unauthenticated);

    // Expired: issued by a clock two hours behind with one hour of validity.
    let past = time::OffsetDateTime::now_utc() - time::Duration::hours(2);
    let expired = TokenService::new(server.store.clone(), std::sync::Arc::new(move || past))
        .issue(
            WARD,
            &[Role::Submitter],
            "expired",
            Some(time::Duration::hours(1)),
        )
        .await
        .expect("issued");
    let status = server
        .directory(Some(&expired.secret))
        .await
        .list_localities(request())
        .await
        .expect_err("expired");
    assert_eq!(status.code(), Code::Unauthenticated);
    assert!(status.message().contains("expired"), "{}", status.message());

    let tokens = TokenService::new(server.store.clone(), lienthong_domain::service::system_clock());
    let issued = tokens
        .issue(WARD, &[Role::Submitter], "soon revoked", None)
        .await
        .expect("issued");
    let mut client = server.directory(Some(&issued.secret)).await;
    client
        .list_localities(request())
        .await
        .expect("works before revocation");
    tokens.revoke(issued.record.id).await.expect("revoked");
    let status = client.list_localities(request()).await.expect_err("revoked");
    assert_eq!(status.code(), Code::Unauthenticated);
    assert!(status.message().contains("revoked"), "{}", status.message());

    // A malformed header is refused the same way.
    let status = server
        .directory(None)
        .await
        .list_localities({
            let mut request = tonic::Request::new(request());
            request
                .metadata_mut()
                .insert("authorization", "Basic abc".parse().expect("ascii"));
            request
        })
        .await
        .expect_err("basic auth");
    assert_eq!(status.code(), Code::Unauthenticated);
}

/// The callers of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    OwnSubmitter,
    OtherSubmitter,
    OwningReviewer,
    OtherReviewer,
    Analyst,
    Admin,
}

const CALLERS: [Caller; 6] = [
    Caller::OwnSubmitter,
    Caller::OtherSubmitter,
    Caller::OwningReviewer,
    Caller::OtherReviewer,
    Caller::Analyst,
    Caller::Admin,
];

impl Caller {
    fn organ_and_role(self) -> (&'static str, Role) {
        match self {
            Caller::OwnSubmitter => (WARD, Role::Submitter),
            Caller::OtherSubmitter => (OTHER_WARD, Role::Submitter),
            Caller::OwningReviewer => (TTHC_OWNER, Role::Reviewer),
            Caller::OtherReviewer => (STAFFING_OWNER, Role::Reviewer),
            Caller::Analyst => (ADMIN_ORGAN, Role::Analyst),
            Caller::Admin => (ADMIN_ORGAN, Role::Admin),
        }
    }
}

#[tokio::test]
async fn authorisation_matrix() {
    use Caller::*;
    const DENIED: Code = Code::PermissionDenied;
    let server = TestServer::start().await;
    let mut tokens = Vec::new();
    for caller in CALLERS {
        let (organ, role) = caller.organ_and_role();
        tokens.push((caller, server.token(organ, &[role]).await));
    }
    let token = |caller: Caller| {
        tokens
            .iter()
            .find(|(who, _)| *who == caller)
            .map(|(_, token)| token.clone())
            .expect("token")
    };
    let report = server
        .reports(&token(OwnSubmitter))
        .await
        .submit_report(tthc_submission(WARD, "2025-08", "matrix-base"))
        .await
        .expect("base report")
        .into_inner()
        .report;

    for caller in CALLERS {
        let mut reports = server.reports(&token(caller)).await;
        let mut forms = server.forms(&token(caller)).await;
        let mut directory = server.directory(Some(&token(caller))).await;
        let expect = |allowed: &[Caller]| {
            if allowed.contains(&caller) {
                Code::Ok
            } else {
                DENIED
            }
        };

        // Directory and form reads are open to every role.
        assert_eq!(
            code_of(
                directory
                    .get_organ(proto::GetOrganRequest {
                        name: format!("organs/{WARD}")
                    })
                    .await
            ),
            Code::Ok
        );
        assert_eq!(
            code_of(
                forms
                    .get_form(proto::GetFormRequest {
                        name: "forms/tthc-monthly".to_owned()
                    })
                    .await
            ),
            Code::Ok
        );

        let submitted = reports
            .submit_report(tthc_submission(WARD, "2025-09", &format!("matrix-{caller:?}")))
            .await;
        assert_eq!(
            code_of(submitted),
            expect(&[OwnSubmitter]),
            "SubmitReport as {caller:?}"
        );

        let get = reports
            .get_report(proto::GetReportRequest { name: report.clone() })
            .await;
        assert_eq!(
            code_of(get),
            expect(&[OwnSubmitter, OwningReviewer, Analyst, Admin]),
            "GetReport as {caller:?}"
        );

        let listed = reports
            .list_reports(proto::ListReportsRequest {
                organ: WARD.to_owned(),
                period: "2025-08".to_owned(),
                ..Default::default()
            })
            .await;
        match listed {
            Ok(response) => {
                let visible = response.into_inner().reports.len();
                let expected = if caller == OtherReviewer { 0 } else { 1 };
                assert_ne!(caller, OtherSubmitter, "ListReports as {caller:?}");
                assert_eq!(visible, expected, "ListReports as {caller:?}");
            }
            Err(status) => {
                assert_eq!(
                    (caller, status.code()),
                    (OtherSubmitter, DENIED),
                    "ListReports as {caller:?}"
                );
            }
        }

        let obligations = reports
            .list_obligations(proto::ListObligationsRequest {
                organ: WARD.to_owned(),
                ..Default::default()
            })
            .await;
        assert_eq!(
            code_of(obligations),
            expect(&[OwnSubmitter, OwningReviewer, OtherReviewer, Analyst, Admin]),
            "ListObligations as {caller:?}"
        );

        let completeness = reports
            .get_completeness(proto::GetCompletenessRequest {
                form_code: "tthc-monthly".to_owned(),
                period: "2025-08".to_owned(),
            })
            .await;
        assert_eq!(
            code_of(completeness),
            expect(&[OwningReviewer, Analyst, Admin]),
            "GetCompleteness as {caller:?}"
        );

        let review = reports
            .review_report(proto::ReviewReportRequest {
                report: report.clone(),
                revision: 99,
                decision: proto::ReviewDecision::Accept.into(),
                comment: String::new(),
                request_id: format!("matrix-review-{caller:?}"),
            })
            .await;
        // The allowed reviewer reaches the revision check; everyone else is stopped first.
        let expected = if caller == OwningReviewer {
            Code::FailedPrecondition
        } else {
            DENIED
        };
        assert_eq!(code_of(review), expected, "ReviewReport as {caller:?}");

        let amend = reports
            .amend_report(proto::AmendReportRequest {
                report: report.clone(),
                base_revision: 99,
                values: tthc_values(),
                reason: "matrix".to_owned(),
                request_id: format!("matrix-amend-{caller:?}"),
                ..Default::default()
            })
            .await;
        let expected = if caller == OwnSubmitter {
            Code::FailedPrecondition
        } else {
            DENIED
        };
        assert_eq!(code_of(amend), expected, "AmendReport as {caller:?}");

        let publish = forms
            .publish_form(proto::PublishFormRequest {
                name: "forms/tthc-monthly".to_owned(),
            })
            .await;
        assert_eq!(code_of(publish), expect(&[Admin]), "PublishForm as {caller:?}");
    }
}
