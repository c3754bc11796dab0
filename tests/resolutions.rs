//! End-to-end: the resolution register through the generated gRPC client —
//! filing, validation, duplicate symbols, idempotent retries, the review
//! transitions, superseding, filters and Vietnamese text search, and the
//! authorisation matrix of the resolution RPCs.

mod common;

use common::*;
use lienthong::proto;
use lienthong::proto::resolution_service_client::ResolutionServiceClient;
use lienthong_domain::auth::Role;
use tonic::Code;

const COUNCIL: &str = "00004-peoples-council";
const OTHER_COUNCIL: &str = "00008-peoples-council";
const CITY_COUNCIL: &str = "01-peoples-council";
const JUSTICE: &str = "01-justice";

/// A resolution client for a token of `organ` with `role`.
async fn resolutions(server: &TestServer, organ: &str, role: Role) -> ResolutionServiceClient<Authorised> {
    let token = server.token(organ, &[role]).await;
    ResolutionServiceClient::with_interceptor(server.channel().await, bearer(Some(&token)))
}

/// A valid filing: the ward council's 2026 budget, adopted in December 2025.
fn filing(organ: &str, symbol: &str, request_id: &str) -> proto::FileResolutionRequest {
    proto::FileResolutionRequest {
        organ: organ.to_owned(),
        symbol: symbol.to_owned(),
        title: "Nghị quyết về dự toán thu, chi ngân sách phường năm 2026".to_owned(),
        adoption_date: "2025-12-10".to_owned(),
        effective_date: "2026-01-01".to_owned(),
        topic: "budget".to_owned(),
        summary: "Thông qua dự toán thu ngân sách 45 tỷ đồng, chi thường xuyên và chi đầu tư phát triển."
            .to_owned(),
        full_text: "Điều 1. Thông qua dự toán thu, chi ngân sách năm 2026.\n\
                    Điều 2. Giao Ủy ban nhân dân phường tổ chức thực hiện."
            .to_owned(),
        budget_vnd: Some(45_000_000_000),
        supersedes: String::new(),
        request_id: request_id.to_owned(),
    }
}

fn review(
    resolution: &str,
    verdict: proto::ResolutionVerdict,
    comment: &str,
    key: &str,
) -> proto::ReviewResolutionRequest {
    proto::ReviewResolutionRequest {
        resolution: resolution.to_owned(),
        verdict: verdict.into(),
        comment: comment.to_owned(),
        request_id: key.to_owned(),
    }
}

async fn file(
    client: &mut ResolutionServiceClient<Authorised>,
    request: proto::FileResolutionRequest,
) -> proto::Resolution {
    client
        .file_resolution(request)
        .await
        .expect("filed")
        .into_inner()
        .resolution
        .expect("resolution")
}

async fn get(client: &mut ResolutionServiceClient<Authorised>, name: &str) -> proto::Resolution {
    client
        .get_resolution(proto::GetResolutionRequest {
            name: name.to_owned(),
        })
        .await
        .expect("get")
        .into_inner()
        .resolution
        .expect("resolution")
}

/// The names a list call returns.
async fn listed(
    client: &mut ResolutionServiceClient<Authorised>,
    request: proto::ListResolutionsRequest,
) -> Vec<String> {
    client
        .list_resolutions(request)
        .await
        .expect("list")
        .into_inner()
        .resolutions
        .into_iter()
        .map(|resolution| resolution.name)
        .collect()
}

fn has_violation(violations: &[(String, String)], field: &str, needle: &str) -> bool {
    violations
        .iter()
        .any(|(got, description)| got == field && description.contains(needle))
}

#[tokio::test]
async fn a_filed_resolution_is_pending_review_and_readable_in_full() {
    let server = TestServer::start().await;
    let mut council = resolutions(&server, COUNCIL, Role::Submitter).await;
    let filed = file(&mut council, filing(COUNCIL, "05/NQ-HĐND", "file-1")).await;
    assert!(filed.name.starts_with("resolutions/"), "{}", filed.name);
    assert_eq!(filed.organ, COUNCIL);
    assert_eq!(filed.locality_code, "00004");
    assert_eq!(filed.symbol, "05/NQ-HĐND");
    assert_eq!(
        (filed.adoption_date.as_str(), filed.effective_date.as_str()),
        ("2025-12-10", "2026-01-01")
    );
    assert_eq!(filed.topic, "budget");
    assert_eq!(filed.budget_vnd, Some(45_000_000_000));
    assert_eq!(filed.status(), proto::ResolutionStatus::PendingReview);
    assert!(filed.full_text.starts_with("Điều 1."), "{}", filed.full_text);
    assert!(filed.reviews.is_empty());
    assert!(filed.supersedes.is_empty() && filed.superseded_by.is_empty());
    assert!(filed.file_time.is_some());
    assert_eq!(filed.file_time, filed.update_time);

    // Anyone authenticated reads it, with its full text.
    let mut other_ward = resolutions(&server, OTHER_WARD, Role::Submitter).await;
    assert_eq!(get(&mut other_ward, &filed.name).await, filed);

    // A Party committee files in the Party style; a budget is optional.
    let mut party = resolutions(&server, WARD_PARTY, Role::Submitter).await;
    let mut party_filing = filing(WARD_PARTY, "05-NQ/ĐU", "party-1");
    party_filing.topic = "staffing".to_owned();
    party_filing.budget_vnd = None;
    let party_resolution = file(&mut party, party_filing).await;
    assert_eq!(party_resolution.symbol, "05-NQ/ĐU");
    assert_eq!(party_resolution.budget_vnd, None);

    let status = council
        .get_resolution(proto::GetResolutionRequest {
            name: "resolutions/9999".to_owned(),
        })
        .await
        .expect_err("no such resolution");
    assert_eq!(status.code(), Code::NotFound);
    let status = council
        .get_resolution(proto::GetResolutionRequest {
            name: "reports/1".to_owned(),
        })
        .await
        .expect_err("not a resolution name");
    assert_eq!(field_violations(&status)[0].0, "name");

    let unauthenticated = ResolutionServiceClient::with_interceptor(server.channel().await, bearer(None))
        .get_resolution(proto::GetResolutionRequest { name: filed.name })
        .await
        .expect_err("no token");
    assert_eq!(unauthenticated.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn every_bad_field_is_reported_at_once_and_nothing_is_stored() {
    let server = TestServer::start().await;
    let mut council = resolutions(&server, COUNCIL, Role::Submitter).await;
    let bad = proto::FileResolutionRequest {
        symbol: "12 NQ HĐND".to_owned(),
        title: "   ".to_owned(),
        adoption_date: "2025-12-10".to_owned(),
        effective_date: "2025-12-01".to_owned(),
        topic: "Ngân sách".to_owned(),
        summary: "x".repeat(4_001),
        full_text: String::new(),
        budget_vnd: Some(-1),
        ..filing(COUNCIL, "", "bad-1")
    };
    let status = council.file_resolution(bad).await.expect_err("rejected");
    let violations = field_violations(&status);
    assert!(has_violation(&violations, "symbol", "spaces"), "{violations:?}");
    assert!(has_violation(&violations, "title", "required"), "{violations:?}");
    assert!(
        has_violation(&violations, "effective_date", "before the adoption date"),
        "{violations:?}"
    );
    assert!(
        has_violation(&violations, "topic", "not a topic code"),
        "{violations:?}"
    );
    assert!(
        has_violation(&violations, "summary", "at most 4000"),
        "{violations:?}"
    );
    assert!(
        has_violation(&violations, "full_text", "required"),
        "{violations:?}"
    );
    assert!(
        has_violation(&violations, "budget_vnd", "negative"),
        "{violations:?}"
    );
    assert_eq!(violations.len(), 7, "{violations:?}");

    // Dates: malformed, in the future, and a normative symbol of another year.
    let mut dates = filing(COUNCIL, "3/2024/NQ-HĐND", "bad-2");
    dates.adoption_date = "2099-01-01".to_owned();
    dates.effective_date = "01/01/2099".to_owned();
    let violations = field_violations(&council.file_resolution(dates).await.expect_err("rejected"));
    assert!(
        has_violation(&violations, "adoption_date", "after today"),
        "{violations:?}"
    );
    assert!(
        has_violation(&violations, "effective_date", "YYYY-MM-DD"),
        "{violations:?}"
    );
    assert!(
        has_violation(&violations, "symbol", "year 2024"),
        "{violations:?}"
    );
    assert_eq!(violations.len(), 3, "{violations:?}");
    let mut missing_dates = filing(COUNCIL, "12/NQ-HĐND", "bad-3");
    missing_dates.adoption_date = String::new();
    missing_dates.effective_date = "2025-02-30".to_owned();
    let violations = field_violations(
        &council
            .file_resolution(missing_dates)
            .await
            .expect_err("rejected"),
    );
    assert!(
        has_violation(&violations, "adoption_date", "required"),
        "{violations:?}"
    );
    assert!(
        has_violation(&violations, "effective_date", "no such day"),
        "{violations:?}"
    );

    // Symbols of every wrong shape.
    for (index, symbol) in ["", "12", "12/QĐ-UBND", "0/NQ-HĐND", "12/nq-hđnd", "12/NQ-"]
        .into_iter()
        .enumerate()
    {
        let status = council
            .file_resolution(filing(COUNCIL, symbol, &format!("symbol-{index}")))
            .await
            .expect_err("bad symbol");
        assert!(
            has_violation(&field_violations(&status), "symbol", ""),
            "{symbol:?}: {status:?}"
        );
    }

    // An organ that does not adopt resolutions, with a malformed field as well.
    let mut committee = resolutions(&server, WARD, Role::Submitter).await;
    let mut by_committee = filing(WARD, "12/QĐ-UBND", "committee");
    by_committee.title = String::new();
    let violations = field_violations(
        &committee
            .file_resolution(by_committee)
            .await
            .expect_err("rejected"),
    );
    assert!(
        has_violation(&violations, "organ", "PEOPLES_COMMITTEE"),
        "{violations:?}"
    );
    assert!(has_violation(&violations, "symbol", ""), "{violations:?}");
    assert!(has_violation(&violations, "title", "required"), "{violations:?}");

    // Shape errors of the request itself.
    let mut bad_name = filing(COUNCIL, "12/NQ-HĐND", "bad-name");
    bad_name.supersedes = "reports/1".to_owned();
    let status = council.file_resolution(bad_name).await.expect_err("rejected");
    assert_eq!(field_violations(&status)[0].0, "supersedes");
    let status = council
        .file_resolution(filing(COUNCIL, "12/NQ-HĐND", ""))
        .await
        .expect_err("no request id");
    assert_eq!(field_violations(&status)[0].0, "request_id");

    // Nothing was stored by any of the rejected calls.
    let mut analyst = resolutions(&server, ADMIN_ORGAN, Role::Analyst).await;
    assert!(
        listed(&mut analyst, proto::ListResolutionsRequest::default())
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn a_symbol_is_unique_per_organ_and_adoption_year() {
    let server = TestServer::start().await;
    let mut council = resolutions(&server, COUNCIL, Role::Submitter).await;
    let first = file(&mut council, filing(COUNCIL, "05/NQ-HĐND", "first")).await;

    for (index, same) in ["05/NQ-HĐND", "5/NQ-HĐND", "5-NQ/HĐND"].into_iter().enumerate() {
        let mut again = filing(COUNCIL, same, &format!("again-{index}"));
        again.adoption_date = "2025-12-20".to_owned();
        again.effective_date = "2025-12-20".to_owned();
        let status = council.file_resolution(again).await.expect_err("duplicate");
        assert_eq!(status.code(), Code::AlreadyExists, "{same}: {status:?}");
        assert!(status.message().contains(&first.name), "{}", status.message());
    }

    // Another year, the normative series, or another organ: no conflict.
    let mut next_year = filing(COUNCIL, "05/NQ-HĐND", "next-year");
    next_year.adoption_date = "2026-01-15".to_owned();
    next_year.effective_date = "2026-02-01".to_owned();
    file(&mut council, next_year).await;
    let mut normative = filing(COUNCIL, "05/2025/NQ-HĐND", "normative");
    normative.title = "Nghị quyết quy định mức chi hỗ trợ".to_owned();
    file(&mut council, normative).await;
    let mut other = resolutions(&server, OTHER_COUNCIL, Role::Submitter).await;
    file(&mut other, filing(OTHER_COUNCIL, "05/NQ-HĐND", "other-organ")).await;
}

#[tokio::test]
async fn retries_with_the_same_request_id_return_the_original_resolution() {
    let server = TestServer::start().await;
    let mut council = resolutions(&server, COUNCIL, Role::Submitter).await;
    let first = file(&mut council, filing(COUNCIL, "05/NQ-HĐND", "retry-key")).await;
    let again = file(&mut council, filing(COUNCIL, "05/NQ-HĐND", "retry-key")).await;
    assert_eq!(first, again);

    let mut different = filing(COUNCIL, "06/NQ-HĐND", "retry-key");
    different.summary = "Nội dung khác".to_owned();
    let status = council.file_resolution(different).await.expect_err("key reused");
    assert_eq!(status.code(), Code::AlreadyExists);
    assert!(status.message().contains("retry-key"), "{}", status.message());

    // Concurrent retries of one filing create one resolution.
    let attempts = (0..8).map(|_| {
        let mut client = council.clone();
        tokio::spawn(async move {
            client
                .file_resolution(filing(COUNCIL, "07/NQ-HĐND", "concurrent"))
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
                .resolution
                .expect("resolution")
                .name,
        );
    }
    names.dedup();
    assert_eq!(names.len(), 1, "{names:?}");
    let mut analyst = resolutions(&server, ADMIN_ORGAN, Role::Analyst).await;
    assert_eq!(
        listed(&mut analyst, proto::ListResolutionsRequest::default())
            .await
            .len(),
        2
    );
}

#[tokio::test]
async fn reviews_follow_the_allowed_transitions_and_keep_every_decision() {
    use proto::ResolutionStatus as Status;
    use proto::ResolutionVerdict::{Annulled, Lawful, NeedsAmendment, Unspecified};
    let server = TestServer::start().await;
    let mut council = resolutions(&server, COUNCIL, Role::Submitter).await;
    let mut justice = resolutions(&server, JUSTICE, Role::Reviewer).await;
    let name = file(&mut council, filing(COUNCIL, "05/NQ-HĐND", "file"))
        .await
        .name;

    // A verdict is required, and a comment for NEEDS_AMENDMENT and ANNULLED.
    let status = justice
        .review_resolution(review(&name, Unspecified, "", "r0"))
        .await
        .expect_err("no verdict");
    assert_eq!(field_violations(&status)[0].0, "verdict");
    let status = justice
        .review_resolution(review(&name, NeedsAmendment, " ", "r1"))
        .await
        .expect_err("no comment");
    assert_eq!(field_violations(&status)[0].0, "comment");
    let status = justice
        .review_resolution(review(&name, Lawful, &"x".repeat(4_001), "r1b"))
        .await
        .expect_err("comment too long");
    assert_eq!(field_violations(&status)[0].0, "comment");
    let status = justice
        .review_resolution(review("resolutions/x", Lawful, "", "r1c"))
        .await
        .expect_err("bad name");
    assert_eq!(field_violations(&status)[0].0, "resolution");
    let status = justice
        .review_resolution(proto::ReviewResolutionRequest {
            verdict: 42,
            ..review(&name, Lawful, "", "r1d")
        })
        .await
        .expect_err("unknown verdict");
    assert_eq!(field_violations(&status)[0].0, "verdict");

    let amend = review(
        &name,
        NeedsAmendment,
        "Mức chi vượt khung quy định tại Nghị định.",
        "r2",
    );
    let needs_amendment = justice
        .review_resolution(amend.clone())
        .await
        .expect("needs amendment")
        .into_inner()
        .resolution
        .expect("resolution");
    assert_eq!(needs_amendment.status(), Status::NeedsAmendment);
    assert!(
        needs_amendment.full_text.is_empty(),
        "the review answer leaves the text out"
    );
    // The same request again replays; its key with other content is refused.
    let replayed = justice
        .review_resolution(amend)
        .await
        .expect("replayed")
        .into_inner()
        .resolution
        .expect("resolution");
    assert_eq!(replayed, needs_amendment);
    let status = justice
        .review_resolution(review(&name, Lawful, "", "r2"))
        .await
        .expect_err("key reused");
    assert_eq!(status.code(), Code::AlreadyExists);

    // NEEDS_AMENDMENT cannot be repeated; LAWFUL follows.
    let status = justice
        .review_resolution(review(&name, NeedsAmendment, "again", "r3"))
        .await
        .expect_err("not allowed");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(
        status.message().contains("LAWFUL or ANNULLED"),
        "{}",
        status.message()
    );
    justice
        .review_resolution(review(&name, Lawful, "", "r4"))
        .await
        .expect("lawful");
    // LAWFUL may only be annulled, and annulling needs a reason.
    for (verdict, key) in [(Lawful, "r5"), (NeedsAmendment, "r6")] {
        let status = justice
            .review_resolution(review(&name, verdict, "lý do", key))
            .await
            .expect_err("not allowed");
        assert_eq!(status.code(), Code::FailedPrecondition, "{verdict:?}");
    }
    let status = justice
        .review_resolution(review(&name, Annulled, "", "r7"))
        .await
        .expect_err("no comment");
    assert_eq!(field_violations(&status)[0].0, "comment");
    justice
        .review_resolution(review(&name, Annulled, "Trái thẩm quyền ban hành.", "r8"))
        .await
        .expect("annulled");
    // ANNULLED is final.
    for (verdict, key) in [(Lawful, "r9"), (NeedsAmendment, "r10"), (Annulled, "r11")] {
        let status = justice
            .review_resolution(review(&name, verdict, "lý do", key))
            .await
            .expect_err("final");
        assert_eq!(status.code(), Code::FailedPrecondition, "{verdict:?}");
        assert!(status.message().contains("final"), "{}", status.message());
    }

    let resolution = get(&mut council, &name).await;
    assert_eq!(resolution.status(), Status::Annulled);
    let decisions: Vec<(u32, proto::ResolutionVerdict, &str)> = resolution
        .reviews
        .iter()
        .map(|decision| (decision.sequence, decision.verdict(), decision.comment.as_str()))
        .collect();
    assert_eq!(
        decisions,
        [
            (1, NeedsAmendment, "Mức chi vượt khung quy định tại Nghị định."),
            (2, Lawful, ""),
            (3, Annulled, "Trái thẩm quyền ban hành.")
        ]
    );
    assert!(
        resolution
            .reviews
            .iter()
            .all(|decision| decision.reviewer_organ == JUSTICE)
    );
    let seconds =
        |decision: &proto::ResolutionReview| decision.review_time.map(|time| (time.seconds, time.nanos));
    assert!(
        resolution
            .reviews
            .windows(2)
            .all(|pair| seconds(&pair[0]) <= seconds(&pair[1]))
    );
    assert_eq!(resolution.update_time, resolution.reviews[2].review_time);

    // From PENDING_REVIEW straight to LAWFUL or to ANNULLED.
    for (index, (verdict, comment, expected)) in [
        (Lawful, "", Status::Lawful),
        (Annulled, "Trái luật.", Status::Annulled),
    ]
    .into_iter()
    .enumerate()
    {
        let other = file(
            &mut council,
            filing(COUNCIL, &format!("{}/NQ-HĐND", 10 + index), &format!("f{index}")),
        )
        .await;
        let reviewed = justice
            .review_resolution(review(&other.name, verdict, comment, &format!("direct-{index}")))
            .await
            .expect("reviewed")
            .into_inner()
            .resolution
            .expect("resolution");
        assert_eq!(reviewed.status(), expected);
    }
}

#[tokio::test]
async fn a_resolution_supersedes_an_earlier_one_of_its_own_organ_once() {
    let server = TestServer::start().await;
    let mut council = resolutions(&server, COUNCIL, Role::Submitter).await;
    let old = file(&mut council, filing(COUNCIL, "05/NQ-HĐND", "old"))
        .await
        .name;

    let mut replacing = filing(COUNCIL, "09/NQ-HĐND", "new");
    replacing.adoption_date = "2025-12-28".to_owned();
    replacing.supersedes = old.clone();
    let new = file(&mut council, replacing).await;
    assert_eq!(new.supersedes, old);
    let old_read = get(&mut council, &old).await;
    assert_eq!(old_read.superseded_by, new.name);
    assert_eq!(old_read.update_time, new.file_time);

    // Once only.
    let mut again = filing(COUNCIL, "10/NQ-HĐND", "again");
    again.supersedes = old.clone();
    let status = council
        .file_resolution(again)
        .await
        .expect_err("already superseded");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(status.message().contains(&new.name), "{}", status.message());

    // Not one of another organ, nor a later one, nor a missing one.
    let mut other = resolutions(&server, OTHER_COUNCIL, Role::Submitter).await;
    let mut foreign = filing(OTHER_COUNCIL, "05/NQ-HĐND", "foreign");
    foreign.supersedes = new.name.clone();
    let violations = field_violations(&other.file_resolution(foreign).await.expect_err("other organ"));
    assert!(
        has_violation(&violations, "supersedes", COUNCIL),
        "{violations:?}"
    );
    let mut earlier = filing(COUNCIL, "11/NQ-HĐND", "earlier");
    earlier.adoption_date = "2025-12-01".to_owned();
    earlier.effective_date = "2025-12-01".to_owned();
    earlier.supersedes = new.name.clone();
    let violations = field_violations(&council.file_resolution(earlier).await.expect_err("later one"));
    assert!(
        has_violation(&violations, "supersedes", "after this one"),
        "{violations:?}"
    );
    let mut missing = filing(COUNCIL, "12/NQ-HĐND", "missing");
    missing.supersedes = "resolutions/9999".to_owned();
    let status = council.file_resolution(missing).await.expect_err("missing");
    assert_eq!(status.code(), Code::NotFound);
}

#[tokio::test]
async fn lists_filter_search_vietnamese_text_and_page() {
    let server = TestServer::start().await;
    let mut council = resolutions(&server, COUNCIL, Role::Submitter).await;
    let mut other = resolutions(&server, OTHER_COUNCIL, Role::Submitter).await;
    let mut party = resolutions(&server, WARD_PARTY, Role::Submitter).await;
    let mut city = resolutions(&server, CITY_COUNCIL, Role::Submitter).await;
    let with = |mut request: proto::FileResolutionRequest,
                title: &str,
                summary: &str,
                topic: &str,
                adopted: &str| {
        request.title = title.to_owned();
        request.summary = summary.to_owned();
        request.topic = topic.to_owned();
        request.adoption_date = adopted.to_owned();
        request.effective_date = adopted.to_owned();
        request
    };
    let budget = file(
        &mut council,
        with(
            filing(COUNCIL, "01/NQ-HĐND", "l1"),
            "Nghị quyết về dự toán ngân sách phường năm 2026",
            "Tổng thu ngân sách 45 tỷ đồng.",
            "budget",
            "2025-07-10",
        ),
    )
    .await
    .name;
    let investment = file(
        &mut other,
        with(
            filing(OTHER_COUNCIL, "02/NQ-HĐND", "l2"),
            "NGHỊ QUYẾT VỀ ĐẦU TƯ CÔNG TRUNG HẠN",
            "Danh mục dự án mở rộng đường giao thông.",
            "public-investment",
            "2025-08-20",
        ),
    )
    .await
    .name;
    let staffing = file(
        &mut party,
        with(
            filing(WARD_PARTY, "03-NQ/ĐU", "l3"),
            "Nghị quyết về công tác cán bộ",
            "Kiện toàn bộ máy, bố trí biên chế cho các ban xây dựng Đảng.",
            "staffing",
            "2025-09-05",
        ),
    )
    .await
    .name;
    let quarry = file(
        &mut city,
        with(
            filing(CITY_COUNCIL, "04/NQ-HĐND", "l4"),
            "Nghị quyết về quản lý khai thác mỏ",
            "Quy hoạch khu vực mỏ khoáng sản.",
            "land",
            "2025-10-01",
        ),
    )
    .await
    .name;
    let mut justice = resolutions(&server, JUSTICE, Role::Reviewer).await;
    justice
        .review_resolution(review(
            &investment,
            proto::ResolutionVerdict::Lawful,
            "",
            "lawful",
        ))
        .await
        .expect("lawful");

    // Any role lists everything; a request without filters lists in filing order.
    let mut reader = resolutions(&server, TTHC_OWNER, Role::Reviewer).await;
    let all = || proto::ListResolutionsRequest::default();
    assert_eq!(
        listed(&mut reader, all()).await,
        [
            budget.clone(),
            investment.clone(),
            staffing.clone(),
            quarry.clone()
        ]
    );

    let cases: Vec<(&str, proto::ListResolutionsRequest, Vec<&String>)> = vec![
        (
            "organ",
            proto::ListResolutionsRequest {
                organ: OTHER_COUNCIL.to_owned(),
                ..all()
            },
            vec![&investment],
        ),
        (
            "locality",
            proto::ListResolutionsRequest {
                locality_code: "00004".to_owned(),
                ..all()
            },
            vec![&budget, &staffing],
        ),
        (
            "topic",
            proto::ListResolutionsRequest {
                topic: "land".to_owned(),
                ..all()
            },
            vec![&quarry],
        ),
        (
            "status",
            proto::ListResolutionsRequest {
                status: proto::ResolutionStatus::Lawful.into(),
                ..all()
            },
            vec![&investment],
        ),
        (
            "pending",
            proto::ListResolutionsRequest {
                status: proto::ResolutionStatus::PendingReview.into(),
                ..all()
            },
            vec![&budget, &staffing, &quarry],
        ),
        (
            "adoption range, both ends inclusive",
            proto::ListResolutionsRequest {
                adopted_from: "2025-08-20".to_owned(),
                adopted_to: "2025-09-05".to_owned(),
                ..all()
            },
            vec![&investment, &staffing],
        ),
        (
            "adopted since",
            proto::ListResolutionsRequest {
                adopted_from: "2025-09-06".to_owned(),
                ..all()
            },
            vec![&quarry],
        ),
        // Text search, with diacritics: exact marks, any case.
        (
            "query with marks",
            proto::ListResolutionsRequest {
                query: "ngân sách".to_owned(),
                ..all()
            },
            vec![&budget],
        ),
        (
            "query upper case",
            proto::ListResolutionsRequest {
                query: "NGÂN SÁCH".to_owned(),
                ..all()
            },
            vec![&budget],
        ),
        (
            "query of an upper-case title",
            proto::ListResolutionsRequest {
                query: "đầu tư".to_owned(),
                ..all()
            },
            vec![&investment],
        ),
        // Without diacritics: whatever marks the text has.
        (
            "query without marks",
            proto::ListResolutionsRequest {
                query: "ngan sach".to_owned(),
                ..all()
            },
            vec![&budget],
        ),
        (
            "đ typed as d",
            proto::ListResolutionsRequest {
                query: "dau tu".to_owned(),
                ..all()
            },
            vec![&investment],
        ),
        (
            "marks matter: mở",
            proto::ListResolutionsRequest {
                query: "mở".to_owned(),
                ..all()
            },
            vec![&investment],
        ),
        (
            "marks matter: mỏ",
            proto::ListResolutionsRequest {
                query: "mỏ".to_owned(),
                ..all()
            },
            vec![&quarry],
        ),
        (
            "no marks: both",
            proto::ListResolutionsRequest {
                query: "mo".to_owned(),
                ..all()
            },
            vec![&investment, &quarry],
        ),
        (
            "every word, title or summary, any order",
            proto::ListResolutionsRequest {
                query: "biên chế cán bộ".to_owned(),
                ..all()
            },
            vec![&staffing],
        ),
        (
            "a word missing",
            proto::ListResolutionsRequest {
                query: "biên chế ngân sách".to_owned(),
                ..all()
            },
            vec![],
        ),
        (
            "search and filters",
            proto::ListResolutionsRequest {
                query: "nghi quyet".to_owned(),
                locality_code: "00004".to_owned(),
                ..all()
            },
            vec![&budget, &staffing],
        ),
    ];
    for (case, request, expected) in cases {
        let expected: Vec<String> = expected.into_iter().cloned().collect();
        assert_eq!(listed(&mut reader, request).await, expected, "{case}");
    }

    // Pages: BASIC leaves the full text out, FULL brings it.
    let first = reader
        .list_resolutions(proto::ListResolutionsRequest {
            page_size: 3,
            ..all()
        })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(first.resolutions.len(), 3);
    assert!(
        first
            .resolutions
            .iter()
            .all(|resolution| resolution.full_text.is_empty())
    );
    let second = reader
        .list_resolutions(proto::ListResolutionsRequest {
            page_size: 3,
            page_token: first.next_page_token.clone(),
            view: proto::ResolutionView::Full.into(),
            ..all()
        })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(second.resolutions.len(), 1);
    assert_eq!(second.resolutions[0].name, quarry);
    assert!(second.resolutions[0].full_text.starts_with("Điều 1."));
    assert!(second.next_page_token.is_empty());

    // Bad filters, all at once.
    let status = reader
        .list_resolutions(proto::ListResolutionsRequest {
            adopted_from: "2025-10-01".to_owned(),
            adopted_to: "2025-09-01".to_owned(),
            topic: "Đất đai".to_owned(),
            query: "từ ".repeat(9),
            ..all()
        })
        .await
        .expect_err("bad filters");
    let violations = field_violations(&status);
    let fields: Vec<&str> = violations.iter().map(|(field, _)| field.as_str()).collect();
    assert_eq!(fields, ["adopted_to", "topic", "query"], "{violations:?}");
    for (field, request) in [
        (
            "adopted_from",
            proto::ListResolutionsRequest {
                adopted_from: "2025-9-1".to_owned(),
                ..all()
            },
        ),
        (
            "page_token",
            proto::ListResolutionsRequest {
                page_token: "not-a-token".to_owned(),
                ..all()
            },
        ),
        ("status", proto::ListResolutionsRequest { status: 42, ..all() }),
        ("view", proto::ListResolutionsRequest { view: 42, ..all() }),
    ] {
        let status = reader.list_resolutions(request).await.expect_err("rejected");
        assert_eq!(field_violations(&status)[0].0, field);
    }
}

/// The callers of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    /// A submitter of the issuing council.
    OwnSubmitter,
    /// A submitter of another ward's council.
    OtherCouncilSubmitter,
    /// A submitter of the issuing ward's People's Committee.
    SameWardCommitteeSubmitter,
    /// A reviewer of the Department of Justice.
    JusticeReviewer,
    /// A reviewer of another department.
    OtherReviewer,
    /// A submitter of the Department of Justice, not a reviewer.
    JusticeSubmitter,
    Analyst,
    Admin,
}

const CALLERS: [Caller; 8] = [
    Caller::OwnSubmitter,
    Caller::OtherCouncilSubmitter,
    Caller::SameWardCommitteeSubmitter,
    Caller::JusticeReviewer,
    Caller::OtherReviewer,
    Caller::JusticeSubmitter,
    Caller::Analyst,
    Caller::Admin,
];

impl Caller {
    fn organ_and_role(self) -> (&'static str, Role) {
        match self {
            Caller::OwnSubmitter => (COUNCIL, Role::Submitter),
            Caller::OtherCouncilSubmitter => (OTHER_COUNCIL, Role::Submitter),
            Caller::SameWardCommitteeSubmitter => (WARD, Role::Submitter),
            Caller::JusticeReviewer => (JUSTICE, Role::Reviewer),
            Caller::OtherReviewer => (TTHC_OWNER, Role::Reviewer),
            Caller::JusticeSubmitter => (JUSTICE, Role::Submitter),
            Caller::Analyst => (ADMIN_ORGAN, Role::Analyst),
            Caller::Admin => (ADMIN_ORGAN, Role::Admin),
        }
    }
}

#[tokio::test]
async fn authorisation_matrix() {
    use Caller::*;
    let server = TestServer::start().await;
    let mut council = resolutions(&server, COUNCIL, Role::Submitter).await;
    let base = file(&mut council, filing(COUNCIL, "01/NQ-HĐND", "matrix-base"))
        .await
        .name;
    let mut city = resolutions(&server, CITY_COUNCIL, Role::Submitter).await;
    let city_resolution = file(&mut city, filing(CITY_COUNCIL, "01/NQ-HĐND", "matrix-city"))
        .await
        .name;
    // Annulled first, so that a permitted review is refused by the
    // transition check whatever order the callers come in, while a
    // forbidden one is refused before it.
    let mut justice = resolutions(&server, JUSTICE, Role::Reviewer).await;
    for name in [&base, &city_resolution] {
        justice
            .review_resolution(review(
                name,
                proto::ResolutionVerdict::Annulled,
                "Trái thẩm quyền.",
                &format!("annul-{name}"),
            ))
            .await
            .expect("annulled");
    }

    for (index, caller) in CALLERS.into_iter().enumerate() {
        let (organ, role) = caller.organ_and_role();
        let mut client = resolutions(&server, organ, role).await;

        // Filing for the council: its own submitter only.
        let filed = client
            .file_resolution(filing(
                COUNCIL,
                &format!("{}/NQ-HĐND", 10 + index),
                &format!("matrix-{caller:?}"),
            ))
            .await;
        let expected = if caller == OwnSubmitter {
            Code::Ok
        } else {
            Code::PermissionDenied
        };
        assert_eq!(code_of(filed), expected, "FileResolution as {caller:?}");

        // Reading and listing: everyone.
        for name in [&base, &city_resolution] {
            let read = client
                .get_resolution(proto::GetResolutionRequest { name: name.clone() })
                .await;
            assert_eq!(code_of(read), Code::Ok, "GetResolution {name} as {caller:?}");
        }
        let names = listed(
            &mut client,
            proto::ListResolutionsRequest {
                organ: COUNCIL.to_owned(),
                ..Default::default()
            },
        )
        .await;
        assert!(names.contains(&base), "ListResolutions as {caller:?}: {names:?}");

        // Reviewing a ward's and the city's resolutions: the Department of
        // Justice's reviewers only.
        for name in [&base, &city_resolution] {
            let reviewed = client
                .review_resolution(review(
                    name,
                    proto::ResolutionVerdict::Lawful,
                    "",
                    &format!("matrix-review-{caller:?}"),
                ))
                .await;
            let expected = if caller == JusticeReviewer {
                Code::FailedPrecondition
            } else {
                Code::PermissionDenied
            };
            assert_eq!(
                code_of(reviewed),
                expected,
                "ReviewResolution {name} as {caller:?}"
            );
        }
    }
}
