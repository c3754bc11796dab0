//! The contract of the domain's `AnalyticsStore`, run against `SqlStore` on
//! the backend the environment selects (SQLite by default, PostgreSQL with
//! `LIENTHONG_TEST_BACKEND=postgres`). The fixture is small enough to check
//! by hand: every expected number below is worked out in a comment.

use std::sync::Arc;

use lienthong_domain::analytics::{ReportFigures, ReportScope, ReportSelection};
use lienthong_domain::auth::{NewToken, Role};
use lienthong_domain::directory::{Bloc, OrganKind, parse_directory};
use lienthong_domain::form::{Aggregation, Form, FormDefinition, Indicator, RatioOf, ValueType};
use lienthong_domain::period::{Period, Periodicity, WindowRule};
use lienthong_domain::report::{IndicatorValue, ReportRevision, ReportStatus, Review, Value};
use lienthong_domain::store::{IdempotencyKey, NewReport, NewReview, Store};
use lienthong_store::testing::TestDatabase;
use rust_decimal::Decimal;
use time::OffsetDateTime;
use time::macros::datetime;

const DIRECTORY_TSV: &str = "code\tfull_name\tprovince_code\n\
    00004\tPhường Ba Đình\t01\n\
    00008\tPhường Ngọc Hà\t01\n\
    09999\tXã Thử Nghiệm\t01\n";

const FORM: &str = "tthc-monthly";
/// Ba Đình's People's Committee (GOVERNMENT).
const A: &str = "00004-peoples-committee";
/// Ngọc Hà's People's Committee (GOVERNMENT).
const B: &str = "00008-peoples-committee";
/// Ba Đình's Party committee (PARTY).
const C: &str = "00004-party-committee";
/// Ba Đình's People's Council: its kind does not owe the form.
const COUNCIL: &str = "00004-peoples-council";

fn period(text: &str) -> Period {
    text.parse().expect("a period id")
}

fn instant(minutes: i64) -> OffsetDateTime {
    datetime!(2025-04-01 09:00:00 UTC) + time::Duration::minutes(minutes)
}

fn indicator(code: &str, value_type: ValueType, aggregation: Aggregation) -> Indicator {
    Indicator {
        code: code.to_owned(),
        name: code.replace('_', " "),
        unit: String::new(),
        value_type,
        aggregation,
        required: false,
        min: None,
        max: None,
        ratio_of: None,
        description: String::new(),
        topics: Vec::new(),
    }
}

fn definition() -> FormDefinition {
    FormDefinition {
        title: "TTHC".to_owned(),
        description: String::new(),
        owner_organ: "01-public-service-centre".to_owned(),
        periodicity: Periodicity::Monthly,
        window_rule: WindowRule::Decree09,
        deadline_days_after_cutoff: 5,
        reporting_organ_kinds: vec![OrganKind::PeoplesCommittee, OrganKind::PartyCommittee],
        first_period: Some(period("2025-01")),
        indicators: vec![
            indicator("received", ValueType::Integer, Aggregation::Sum),
            indicator("online", ValueType::Integer, Aggregation::Sum),
            Indicator {
                ratio_of: Some(online_of_received()),
                ..indicator("online_rate", ValueType::Percent, Aggregation::Ratio)
            },
            indicator("staff", ValueType::Integer, Aggregation::Last),
            indicator("peak", ValueType::Integer, Aggregation::Max),
            indicator("score", ValueType::Decimal, Aggregation::Avg),
        ],
        rules: Vec::new(),
    }
}

fn online_of_received() -> RatioOf {
    RatioOf {
        numerator: "online".to_owned(),
        denominator: "received".to_owned(),
    }
}

/// received, online (if any), staff, peak, score.
fn values(received: i64, online: Option<i64>, staff: i64, peak: i64, score: &str) -> Vec<IndicatorValue> {
    let value = |code: &str, value: Value| IndicatorValue {
        indicator_code: code.to_owned(),
        value,
    };
    let mut values = vec![value("received", Value::Integer(received))];
    if let Some(online) = online {
        values.push(value("online", Value::Integer(online)));
    }
    values.push(value("staff", Value::Integer(staff)));
    values.push(value("peak", Value::Integer(peak)));
    values.push(value(
        "score",
        Value::Decimal(score.parse::<Decimal>().expect("a decimal")),
    ));
    values
}

fn key(request_id: &str) -> IdempotencyKey {
    IdempotencyKey {
        scope: "analytics-contract".to_owned(),
        request_id: request_id.to_owned(),
        fingerprint: request_id.to_owned(),
    }
}

struct Fixture {
    // Declared before the database: the store's pool goes first.
    store: Arc<dyn Store>,
    token_id: i64,
    _database: TestDatabase,
}

impl Fixture {
    async fn submit(&self, organ_id: &str, period_id: &str, late: bool, values: Vec<IndicatorValue>) -> i64 {
        let locality_code = organ_id.split('-').next().expect("a locality prefix");
        self.store
            .insert_report(
                &NewReport {
                    organ_id: organ_id.to_owned(),
                    locality_code: locality_code.to_owned(),
                    form_code: FORM.to_owned(),
                    period: period(period_id),
                    deadline: instant(0),
                    first_revision: ReportRevision {
                        report_id: 0,
                        revision: 1,
                        form_version: 1,
                        values,
                        narrative: String::new(),
                        amendment_reason: String::new(),
                        submitted_at: instant(1),
                        late,
                        submitted_by_token: self.token_id,
                    },
                },
                &key(&format!("{organ_id}/{period_id}")),
            )
            .await
            .expect("report inserted")
    }

    async fn amend(&self, report_id: i64, values: Vec<IndicatorValue>) {
        self.store
            .append_revision(
                &ReportRevision {
                    report_id,
                    revision: 2,
                    form_version: 1,
                    values,
                    narrative: String::new(),
                    amendment_reason: "corrected".to_owned(),
                    submitted_at: instant(2),
                    late: false,
                    submitted_by_token: self.token_id,
                },
                ReportStatus::Submitted,
                &key(&format!("amend {report_id}")),
            )
            .await
            .expect("amended");
    }

    async fn accept(&self, report_id: i64, revision: u32) {
        self.store
            .record_review(
                &NewReview {
                    report_id,
                    expected_revision: revision,
                    expected_status: ReportStatus::Submitted,
                    new_status: ReportStatus::Accepted,
                    review: Review {
                        reviewer_organ: "01-public-service-centre".to_owned(),
                        comment: String::new(),
                        reviewed_at: instant(3),
                    },
                },
                &key(&format!("accept {report_id}")),
            )
            .await
            .expect("accepted");
    }
}

/// The reports, as (organ, period: received, online, staff, peak, score):
///
/// | organ | 2025-01             | 2025-02                               | 2025-03                 |
/// |-------|---------------------|---------------------------------------|-------------------------|
/// | A     | 100, 10, 20, 5, 1.5 (late) | 200, 20, 21, 6, 9 → amended 220, 22, 22, 7, 0.5 | 10, 1, 23, 3, 2.0 accepted |
/// | B     | 300, 90, 30, 9, 2.5 | 100, 50, 31, 2, 1.0 accepted          | —                       |
/// | C     | 50, —, 5, 1, 3.5    | —                                     | —                       |
///
/// Outside every scope below: the People's Council of Ba Đình (its kind
/// does not owe the form) and A's report for 2025-04.
async fn fixture() -> Fixture {
    let database = TestDatabase::fresh().await;
    let store = database.connect().await;
    store
        .import_directory(&parse_directory(DIRECTORY_TSV).expect("directory"))
        .await
        .expect("import");
    let token = store
        .insert_token(&NewToken {
            token_hash: "analytics".to_owned(),
            organ_id: A.to_owned(),
            roles: vec![Role::Submitter],
            label: "analytics".to_owned(),
            created_at: instant(0),
            expires_at: None,
        })
        .await
        .expect("token");
    store
        .create_form(&Form {
            code: FORM.to_owned(),
            draft: definition(),
            latest_version: 0,
            created_at: instant(0),
            updated_at: instant(0),
        })
        .await
        .expect("form");
    store.publish_form(FORM, instant(0)).await.expect("publish");
    let fixture = Fixture {
        store,
        token_id: token.id,
        _database: database,
    };
    fixture
        .submit(A, "2025-01", true, values(100, Some(10), 20, 5, "1.5"))
        .await;
    fixture
        .submit(B, "2025-01", false, values(300, Some(90), 30, 9, "2.5"))
        .await;
    fixture
        .submit(C, "2025-01", false, values(50, None, 5, 1, "3.5"))
        .await;
    let amended = fixture
        .submit(A, "2025-02", false, values(200, Some(20), 21, 6, "9"))
        .await;
    fixture.amend(amended, values(220, Some(22), 22, 7, "0.5")).await;
    let accepted = fixture
        .submit(B, "2025-02", false, values(100, Some(50), 31, 2, "1.0"))
        .await;
    fixture.accept(accepted, 1).await;
    let accepted = fixture
        .submit(A, "2025-03", false, values(10, Some(1), 23, 3, "2.0"))
        .await;
    fixture.accept(accepted, 1).await;
    fixture
        .submit(COUNCIL, "2025-01", false, values(9_999, Some(1), 1, 1, "1"))
        .await;
    fixture
        .submit(A, "2025-04", false, values(7_777, Some(1), 1, 1, "1"))
        .await;
    fixture
}

fn first_quarter() -> ReportScope {
    ReportScope {
        form_code: FORM.to_owned(),
        periods: vec![period("2025-01"), period("2025-02"), period("2025-03")],
        organ_kinds: vec![OrganKind::PeoplesCommittee, OrganKind::PartyCommittee],
        locality_codes: Vec::new(),
        blocs: Vec::new(),
        organ_id: None,
        selection: ReportSelection::LatestRevision,
    }
}

fn codes(codes: &[&str]) -> Vec<String> {
    codes.iter().map(|code| (*code).to_owned()).collect()
}

/// The figures as (organ, period, values), sorted: the store promises no order.
fn sorted(figures: Vec<ReportFigures>) -> Vec<(String, String, Vec<Option<f64>>)> {
    let mut rows: Vec<_> = figures
        .into_iter()
        .map(|report| (report.organ_id, report.period.to_string(), report.values))
        .collect();
    rows.sort_by(|left, right| (&left.1, &left.0).cmp(&(&right.1, &right.0)));
    rows
}

#[tokio::test]
async fn figures_are_those_of_each_reports_latest_revision() {
    let fixture = fixture().await;
    let figures = fixture
        .store
        .report_figures(&first_quarter(), &codes(&["received", "score", "online"]))
        .await
        .expect("figures");
    let row = |organ: &str, period_id: &str, values: [Option<f64>; 3]| {
        (organ.to_owned(), period_id.to_owned(), values.to_vec())
    };
    // A's February is revision 2 (220, not 200); C left `online` out; the
    // council's 9,999 and April's 7,777 are out of scope.
    assert_eq!(
        sorted(figures),
        [
            row(C, "2025-01", [Some(50.0), Some(3.5), None]),
            row(A, "2025-01", [Some(100.0), Some(1.5), Some(10.0)]),
            row(B, "2025-01", [Some(300.0), Some(2.5), Some(90.0)]),
            row(A, "2025-02", [Some(220.0), Some(0.5), Some(22.0)]),
            row(B, "2025-02", [Some(100.0), Some(1.0), Some(50.0)]),
            row(A, "2025-03", [Some(10.0), Some(2.0), Some(1.0)]),
        ]
    );

    // Any subset, in the order asked; a code no report carries is None.
    let figures = fixture
        .store
        .report_figures(
            &ReportScope {
                periods: vec![period("2025-02")],
                ..first_quarter()
            },
            &codes(&["peak", "nothing", "staff"]),
        )
        .await
        .expect("figures");
    assert_eq!(
        sorted(figures),
        [
            (
                A.to_owned(),
                "2025-02".to_owned(),
                vec![Some(7.0), None, Some(22.0)]
            ),
            (
                B.to_owned(),
                "2025-02".to_owned(),
                vec![Some(2.0), None, Some(31.0)]
            ),
        ]
    );
}

#[tokio::test]
async fn filters_and_accepted_only_narrow_the_reports() {
    let fixture = fixture().await;
    let received = |scope: ReportScope| {
        let store = fixture.store.clone();
        async move {
            let figures = store
                .report_figures(&scope, &codes(&["received"]))
                .await
                .expect("figures");
            let values: Vec<f64> = figures.iter().filter_map(|report| report.values[0]).collect();
            (values.len(), values.iter().sum::<f64>())
        }
    };
    // B's February 100 and A's March 10.
    assert_eq!(
        received(ReportScope {
            selection: ReportSelection::AcceptedOnly,
            ..first_quarter()
        })
        .await,
        (2, 110.0)
    );
    assert_eq!(
        received(ReportScope {
            locality_codes: vec!["00008".to_owned()],
            ..first_quarter()
        })
        .await,
        (2, 400.0)
    );
    assert_eq!(
        received(ReportScope {
            blocs: vec![Bloc::Party],
            ..first_quarter()
        })
        .await,
        (1, 50.0)
    );
    assert_eq!(
        received(ReportScope {
            organ_id: Some(A.to_owned()),
            ..first_quarter()
        })
        .await,
        (3, 330.0)
    );
    // Only People's Committees: C's 50 drops out.
    assert_eq!(
        received(ReportScope {
            organ_kinds: vec![OrganKind::PeoplesCommittee],
            ..first_quarter()
        })
        .await,
        (5, 730.0)
    );
    assert_eq!(
        received(ReportScope {
            periods: vec![period("2025-05")],
            ..first_quarter()
        })
        .await,
        (0, 0.0)
    );
    // An empty scope reads nothing, without asking the database `IN ()`.
    assert_eq!(
        received(ReportScope {
            periods: Vec::new(),
            ..first_quarter()
        })
        .await,
        (0, 0.0)
    );
}

/// Changes the directory (a commune's name), which moves its version on.
async fn rename_a_commune(fixture: &Fixture) {
    let renamed = DIRECTORY_TSV.replace("Xã Thử Nghiệm", "Xã Thử Nghiệm Mới");
    fixture
        .store
        .import_directory(&parse_directory(&renamed).expect("directory"))
        .await
        .expect("import");
}

#[tokio::test]
async fn versions_of_the_form_and_the_directory_are_read_together() {
    let fixture = fixture().await;
    let before = fixture.store.catalogue_versions(FORM).await.expect("versions");
    assert_eq!(before.latest_form_version, Some(1));
    let unknown = fixture
        .store
        .catalogue_versions("no-such-form")
        .await
        .expect("versions");
    assert_eq!(unknown.latest_form_version, None);
    assert_eq!(unknown.directory_version, before.directory_version);

    // Any change to the directory moves its version on.
    rename_a_commune(&fixture).await;
    let after = fixture.store.catalogue_versions(FORM).await.expect("versions");
    assert!(
        after.directory_version > before.directory_version,
        "{before:?} {after:?}"
    );
}

/// The receipts of a scope as (organ, period, on time, accepted), sorted:
/// the store promises no order.
async fn receipts(fixture: &Fixture, scope: &ReportScope) -> Vec<(String, String, bool, bool)> {
    let mut rows: Vec<_> = fixture
        .store
        .report_receipts(scope)
        .await
        .expect("receipts")
        .receipts
        .into_iter()
        .map(|receipt| {
            (
                receipt.organ_id,
                receipt.period.to_string(),
                receipt.on_time,
                receipt.accepted,
            )
        })
        .collect();
    rows.sort();
    rows
}

#[tokio::test]
async fn receipts_are_every_report_of_the_form_and_periods() {
    let fixture = fixture().await;
    let receipt = |organ: &str, period: &str, on_time, accepted| {
        (organ.to_owned(), period.to_owned(), on_time, accepted)
    };
    // The council's report too: organ kinds are the caller's to filter.
    // A's April report is out of the periods.
    let mut all = vec![
        receipt(A, "2025-01", false, false),
        receipt(A, "2025-02", true, false),
        receipt(A, "2025-03", true, true),
        receipt(B, "2025-01", true, false),
        receipt(B, "2025-02", true, true),
        receipt(C, "2025-01", true, false),
        receipt(COUNCIL, "2025-01", true, false),
    ];
    all.sort();
    assert_eq!(receipts(&fixture, &first_quarter()).await, all);

    let own = ReportScope {
        organ_id: Some(A.to_owned()),
        ..first_quarter()
    };
    let of_a: Vec<_> = all.iter().filter(|row| row.0 == A).cloned().collect();
    assert_eq!(receipts(&fixture, &own).await, of_a);

    let accepted = ReportScope {
        selection: ReportSelection::AcceptedOnly,
        ..first_quarter()
    };
    let accepted_only: Vec<_> = all.iter().filter(|row| row.3).cloned().collect();
    assert_eq!(receipts(&fixture, &accepted).await, accepted_only);

    let no_periods = ReportScope {
        periods: Vec::new(),
        ..first_quarter()
    };
    assert_eq!(receipts(&fixture, &no_periods).await, []);

    // The catalogue versions come with the receipts, read in the same
    // statement, whether any report matched or none did.
    let versions = fixture.store.catalogue_versions(FORM).await.expect("versions");
    for scope in [first_quarter(), no_periods] {
        let read = fixture.store.report_receipts(&scope).await.expect("receipts");
        assert_eq!(read.versions, versions);
    }
    let none_match = ReportScope {
        organ_id: Some("no-such-organ".to_owned()),
        ..first_quarter()
    };
    let read = fixture
        .store
        .report_receipts(&none_match)
        .await
        .expect("receipts");
    assert!(read.receipts.is_empty());
    assert_eq!(read.versions, versions);
    rename_a_commune(&fixture).await;
    let read = fixture
        .store
        .report_receipts(&first_quarter())
        .await
        .expect("receipts");
    assert!(read.versions.directory_version > versions.directory_version);
}

#[tokio::test]
async fn reported_values_come_in_organ_indicator_and_period_order() {
    let fixture = fixture().await;
    let values = fixture
        .store
        .reported_values(
            &ReportScope {
                locality_codes: vec!["00004".to_owned()],
                ..first_quarter()
            },
            &codes(&["received", "staff"]),
        )
        .await
        .expect("values");
    let rows: Vec<(&str, &str, String, f64, u32)> = values
        .iter()
        .map(|value| {
            (
                value.organ_id.as_str(),
                value.indicator_code.as_str(),
                value.period.to_string(),
                value.value,
                value.revision,
            )
        })
        .collect();
    // "00004-party-committee" sorts before "00004-peoples-committee".
    assert_eq!(
        rows,
        [
            (C, "received", "2025-01".to_owned(), 50.0, 1),
            (C, "staff", "2025-01".to_owned(), 5.0, 1),
            (A, "received", "2025-01".to_owned(), 100.0, 1),
            (A, "received", "2025-02".to_owned(), 220.0, 2),
            (A, "received", "2025-03".to_owned(), 10.0, 1),
            (A, "staff", "2025-01".to_owned(), 20.0, 1),
            (A, "staff", "2025-02".to_owned(), 22.0, 2),
            (A, "staff", "2025-03".to_owned(), 23.0, 1),
        ]
    );
    assert!(values.iter().all(|value| value.locality_code == "00004"));
}
