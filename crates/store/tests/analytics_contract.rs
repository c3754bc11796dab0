//! The contract of the domain's `AnalyticsStore`, run against `SqlStore` on
//! the backend the environment selects (SQLite by default, PostgreSQL with
//! `LIENTHONG_TEST_BACKEND=postgres`). The fixture is small enough to check
//! by hand: every expected number below is worked out in a comment.

use std::sync::Arc;

use lienthong_domain::analytics::{
    GroupKey, Grouping, LatestSum, RatioSummary, ReportCounts, ReportScope, ReportSelection, ValueSummary,
};
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

fn city() -> GroupKey {
    GroupKey {
        period: None,
        locality_code: None,
        bloc: None,
    }
}

/// The summary of `code` under `key`, as (count, sum, min, max).
fn summary_of(summaries: &[ValueSummary], key: &GroupKey, code: &str) -> Option<(u64, f64, f64, f64)> {
    summaries
        .iter()
        .find(|summary| summary.key == *key && summary.indicator_code == code)
        .map(|summary| {
            (
                summary.partial.count,
                summary.partial.sum,
                summary.partial.min,
                summary.partial.max,
            )
        })
}

#[tokio::test]
async fn values_are_counted_summed_and_bounded_over_latest_revisions() {
    let fixture = fixture().await;
    let summaries = fixture
        .store
        .summarise_values(
            &first_quarter(),
            Grouping::default(),
            &codes(&["received", "score", "online"]),
        )
        .await
        .expect("summaries");
    assert_eq!(summaries.len(), 3, "{summaries:?}");
    // 100 + 300 + 50 + 220 (revision 2, not 200) + 100 + 10; the council's
    // 9,999 and April's 7,777 are out of scope.
    assert_eq!(
        summary_of(&summaries, &city(), "received"),
        Some((6, 780.0, 10.0, 300.0))
    );
    // 1.5 + 2.5 + 3.5 + 0.5 + 1.0 + 2.0; C left `online` out.
    assert_eq!(
        summary_of(&summaries, &city(), "score"),
        Some((6, 11.0, 0.5, 3.5))
    );
    assert_eq!(
        summary_of(&summaries, &city(), "online"),
        Some((5, 173.0, 1.0, 90.0))
    );

    // More indicators are read in one pass per report; only those asked
    // for come back.
    let many = fixture
        .store
        .summarise_values(
            &first_quarter(),
            Grouping::default(),
            &codes(&["received", "online", "staff", "peak"]),
        )
        .await
        .expect("summaries");
    let mut indicators: Vec<&str> = many
        .iter()
        .map(|summary| summary.indicator_code.as_str())
        .collect();
    indicators.sort_unstable();
    assert_eq!(indicators, ["online", "peak", "received", "staff"]);
    assert_eq!(
        summary_of(&many, &city(), "received"),
        Some((6, 780.0, 10.0, 300.0))
    );
    // 5 + 7 + 3 + 9 + 2 + 1.
    assert_eq!(summary_of(&many, &city(), "peak"), Some((6, 27.0, 1.0, 9.0)));
}

#[tokio::test]
async fn values_group_by_locality_bloc_and_period() {
    let fixture = fixture().await;
    let by_locality_and_period = fixture
        .store
        .summarise_values(
            &first_quarter(),
            Grouping {
                locality: true,
                bloc: false,
                period: true,
            },
            &codes(&["received"]),
        )
        .await
        .expect("summaries");
    let key = |period_id: &str, locality: &str| GroupKey {
        period: Some(period(period_id)),
        locality_code: Some(locality.to_owned()),
        bloc: None,
    };
    // Ba Đình in January: A's 100 and C's 50.
    assert_eq!(
        summary_of(&by_locality_and_period, &key("2025-01", "00004"), "received"),
        Some((2, 150.0, 50.0, 100.0))
    );
    assert_eq!(
        summary_of(&by_locality_and_period, &key("2025-02", "00008"), "received"),
        Some((1, 100.0, 100.0, 100.0))
    );
    // Five (locality, period) pairs have reports: Ba Đình ×3, Ngọc Hà ×2.
    assert_eq!(by_locality_and_period.len(), 5, "{by_locality_and_period:?}");

    let by_bloc = fixture
        .store
        .summarise_values(
            &first_quarter(),
            Grouping {
                bloc: true,
                ..Grouping::default()
            },
            &codes(&["received"]),
        )
        .await
        .expect("summaries");
    let bloc = |bloc: Bloc| GroupKey {
        bloc: Some(bloc),
        ..city()
    };
    assert_eq!(
        summary_of(&by_bloc, &bloc(Bloc::Party), "received"),
        Some((1, 50.0, 50.0, 50.0))
    );
    assert_eq!(
        summary_of(&by_bloc, &bloc(Bloc::Government), "received"),
        Some((5, 730.0, 10.0, 300.0))
    );
    assert_eq!(by_bloc.len(), 2);
}

#[tokio::test]
async fn filters_and_accepted_only_narrow_the_reports() {
    let fixture = fixture().await;
    let received = |scope: ReportScope| {
        let store = fixture.store.clone();
        async move {
            let summaries = store
                .summarise_values(&scope, Grouping::default(), &codes(&["received"]))
                .await
                .expect("summaries");
            summary_of(&summaries, &city(), "received").map(|(count, sum, _, _)| (count, sum))
        }
    };
    // B's February 100 and A's March 10.
    assert_eq!(
        received(ReportScope {
            selection: ReportSelection::AcceptedOnly,
            ..first_quarter()
        })
        .await,
        Some((2, 110.0))
    );
    assert_eq!(
        received(ReportScope {
            locality_codes: vec!["00008".to_owned()],
            ..first_quarter()
        })
        .await,
        Some((2, 400.0))
    );
    assert_eq!(
        received(ReportScope {
            blocs: vec![Bloc::Party],
            ..first_quarter()
        })
        .await,
        Some((1, 50.0))
    );
    assert_eq!(
        received(ReportScope {
            organ_id: Some(A.to_owned()),
            ..first_quarter()
        })
        .await,
        Some((3, 330.0))
    );
    // Only People's Committees: C's 50 drops out.
    assert_eq!(
        received(ReportScope {
            organ_kinds: vec![OrganKind::PeoplesCommittee],
            ..first_quarter()
        })
        .await,
        Some((5, 730.0))
    );
    assert_eq!(
        received(ReportScope {
            periods: vec![period("2025-05")],
            ..first_quarter()
        })
        .await,
        None
    );
    // An empty scope reads nothing, without asking the database `IN ()`.
    assert_eq!(
        received(ReportScope {
            periods: Vec::new(),
            ..first_quarter()
        })
        .await,
        None
    );
}

fn latest_of(sums: &[LatestSum], key: &GroupKey) -> Option<(u64, f64)> {
    sums.iter()
        .find(|sum| sum.key == *key && sum.indicator_code == "staff")
        .map(|sum| (sum.organs, sum.sum))
}

#[tokio::test]
async fn latest_values_take_each_organs_last_period_in_its_bucket() {
    let fixture = fixture().await;
    let staff = codes(&["staff"]);
    let months: Vec<(Period, Period)> = first_quarter()
        .periods
        .into_iter()
        .map(|month| (month, month))
        .collect();
    let quarter: Vec<(Period, Period)> = first_quarter()
        .periods
        .into_iter()
        .map(|month| (month, period("2025-Q1")))
        .collect();

    // Whole range: A's March 23, B's February 31 and C's January 5.
    let whole = fixture
        .store
        .summarise_latest_values(&first_quarter(), Grouping::default(), &months, &staff)
        .await
        .expect("latest");
    assert_eq!(latest_of(&whole, &city()), Some((3, 59.0)));

    // Rolled up into the quarter: the same.
    let by_period = Grouping {
        period: true,
        ..Grouping::default()
    };
    let rolled = fixture
        .store
        .summarise_latest_values(&first_quarter(), by_period, &quarter, &staff)
        .await
        .expect("latest");
    let in_period = |period_id: &str| GroupKey {
        period: Some(period(period_id)),
        ..city()
    };
    assert_eq!(latest_of(&rolled, &in_period("2025-Q1")), Some((3, 59.0)));
    assert_eq!(rolled.len(), 1);

    // Per month: 20 + 30 + 5; 22 (A's revision 2) + 31; 23.
    let monthly = fixture
        .store
        .summarise_latest_values(&first_quarter(), by_period, &months, &staff)
        .await
        .expect("latest");
    assert_eq!(latest_of(&monthly, &in_period("2025-01")), Some((3, 55.0)));
    assert_eq!(latest_of(&monthly, &in_period("2025-02")), Some((2, 53.0)));
    assert_eq!(latest_of(&monthly, &in_period("2025-03")), Some((1, 23.0)));

    // Per locality over the quarter: Ba Đình 23 + 5, Ngọc Hà 31.
    let by_locality = fixture
        .store
        .summarise_latest_values(
            &first_quarter(),
            Grouping {
                locality: true,
                period: true,
                ..Grouping::default()
            },
            &quarter,
            &staff,
        )
        .await
        .expect("latest");
    let locality = |code: &str| GroupKey {
        period: Some(period("2025-Q1")),
        locality_code: Some(code.to_owned()),
        bloc: None,
    };
    assert_eq!(latest_of(&by_locality, &locality("00004")), Some((2, 28.0)));
    assert_eq!(latest_of(&by_locality, &locality("00008")), Some((1, 31.0)));

    // Accepted only: A's March 23 and B's February 31.
    let accepted = fixture
        .store
        .summarise_latest_values(
            &ReportScope {
                selection: ReportSelection::AcceptedOnly,
                ..first_quarter()
            },
            Grouping::default(),
            &months,
            &staff,
        )
        .await
        .expect("latest");
    assert_eq!(latest_of(&accepted, &city()), Some((2, 54.0)));
}

#[tokio::test]
async fn ratio_parts_come_from_reports_carrying_both() {
    let fixture = fixture().await;
    let ratios: Vec<RatioSummary> = fixture
        .store
        .summarise_ratios(&first_quarter(), Grouping::default(), &[online_of_received()])
        .await
        .expect("ratios");
    assert_eq!(ratios.len(), 1, "{ratios:?}");
    let ratio = &ratios[0];
    assert_eq!(ratio.numerator_code, "online");
    assert_eq!(ratio.denominator_code, "received");
    // C reported no `online`, so its 50 received stay out of the denominator:
    // 10 + 90 + 22 + 50 + 1 over 100 + 300 + 220 + 100 + 10.
    assert_eq!(ratio.parts.reports, 5);
    assert_eq!(ratio.parts.numerator, 173.0);
    assert_eq!(ratio.parts.denominator, 730.0);

    let monthly = fixture
        .store
        .summarise_ratios(
            &first_quarter(),
            Grouping {
                period: true,
                ..Grouping::default()
            },
            &[online_of_received()],
        )
        .await
        .expect("ratios");
    let february = monthly
        .iter()
        .find(|ratio| ratio.key.period == Some(period("2025-02")))
        .expect("February");
    assert_eq!(
        (
            february.parts.reports,
            february.parts.numerator,
            february.parts.denominator
        ),
        (2, 72.0, 320.0)
    );
}

#[tokio::test]
async fn reports_are_counted_per_locality_and_period() {
    let fixture = fixture().await;
    let mut counts: Vec<ReportCounts> = fixture
        .store
        .count_reports(&first_quarter())
        .await
        .expect("counts");
    counts
        .sort_by(|left, right| (left.period, &left.locality_code).cmp(&(right.period, &right.locality_code)));
    let rows: Vec<(String, &str, u64, u64, u64)> = counts
        .iter()
        .map(|count| {
            (
                count.period.to_string(),
                count.locality_code.as_str(),
                count.submitted,
                count.on_time,
                count.accepted,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            // A (late) and C; the council's report is not counted.
            ("2025-01".to_owned(), "00004", 2, 1, 0),
            ("2025-01".to_owned(), "00008", 1, 1, 0),
            ("2025-02".to_owned(), "00004", 1, 1, 0),
            ("2025-02".to_owned(), "00008", 1, 1, 1),
            ("2025-03".to_owned(), "00004", 1, 1, 1),
        ]
    );
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
