//! End-to-end: indicator roll-ups, reporting rates and outliers through the
//! generated AnalyticsService client, over a form made for these tests and
//! a handful of reports whose figures can be checked by hand.

mod common;

use std::sync::Arc;

use common::*;
use lienthong::proto;
use lienthong::proto::analytics_service_client::AnalyticsServiceClient;
use lienthong_domain::auth::{Principal, Role};
use lienthong_domain::directory::OrganKind;
use lienthong_domain::form::{Aggregation, FormDefinition, Indicator, RatioOf, ValueType};
use lienthong_domain::period::{Period, Periodicity, WindowRule};
use lienthong_domain::report::{RawValue, ReviewDecision, ValueInput};
use lienthong_domain::service::{
    AmendReport, FormService, ReportService, SubmitReport, TokenService, system_clock,
};
use rust_decimal::Decimal;
use time::{Duration, OffsetDateTime};
use tonic::Code;

const FORM: &str = "analytics-monthly";
const DEADLINE_DAYS: u16 = 5;

fn period(text: &str) -> Period {
    text.parse().expect("a period id")
}

fn count(code: &str, aggregation: Aggregation, required: bool) -> Indicator {
    Indicator {
        code: code.to_owned(),
        name: code.replace('_', " "),
        unit: String::new(),
        value_type: ValueType::Integer,
        aggregation,
        required,
        min: Some(Decimal::ZERO),
        max: None,
        ratio_of: None,
        description: String::new(),
        topics: Vec::new(),
    }
}

/// Reported monthly by every commune-level People's Committee and Party
/// committee (252 organs in the Hanoi directory) from January 2025.
fn definition(staff_max: i64) -> FormDefinition {
    FormDefinition {
        title: "Analytics".to_owned(),
        description: String::new(),
        owner_organ: TTHC_OWNER.to_owned(),
        periodicity: Periodicity::Monthly,
        window_rule: WindowRule::Decree09,
        deadline_days_after_cutoff: DEADLINE_DAYS,
        reporting_organ_kinds: vec![OrganKind::PeoplesCommittee, OrganKind::PartyCommittee],
        first_period: Some(period("2025-01")),
        indicators: vec![
            count("received", Aggregation::Sum, true),
            count("online", Aggregation::Sum, true),
            Indicator {
                value_type: ValueType::Percent,
                max: Some(Decimal::ONE_HUNDRED),
                ratio_of: Some(RatioOf {
                    numerator: "online".to_owned(),
                    denominator: "received".to_owned(),
                }),
                ..count("online_rate", Aggregation::Ratio, false)
            },
            Indicator {
                max: Some(Decimal::from(staff_max)),
                ..count("staff", Aggregation::Last, true)
            },
            count("peak", Aggregation::Max, false),
            Indicator {
                value_type: ValueType::Decimal,
                ..count("score", Aggregation::Avg, false)
            },
            Indicator {
                value_type: ValueType::Text,
                min: None,
                ..count("note", Aggregation::Last, false)
            },
            // A percentage without its parts cannot be recomputed.
            Indicator {
                value_type: ValueType::Percent,
                ..count("satisfaction", Aggregation::Avg, false)
            },
        ],
        rules: Vec::new(),
    }
}

/// A caller with a real token, for the domain services that set fixtures up.
async fn principal(server: &TestServer, organ_id: &str, role: Role) -> Principal {
    let issued = TokenService::new(server.store.clone(), system_clock())
        .issue(organ_id, &[role], "fixture", None)
        .await
        .expect("token issues");
    Principal {
        token_id: issued.record.id,
        organ: server
            .store
            .get_organ(organ_id)
            .await
            .expect("organ read")
            .expect("organ exists"),
        roles: vec![role],
    }
}

fn clock_at(at: OffsetDateTime) -> lienthong_domain::service::Clock {
    Arc::new(move || at)
}

/// The deadline of a period of the test form.
fn deadline(period_id: &str) -> OffsetDateTime {
    period(period_id).deadline(WindowRule::Decree09, DEADLINE_DAYS)
}

/// Before the deadline, or well after it.
fn submit_time(period_id: &str, on_time: bool) -> OffsetDateTime {
    if on_time {
        deadline(period_id) - Duration::days(1)
    } else {
        deadline(period_id) + Duration::days(10)
    }
}

struct Figures {
    received: i64,
    online: i64,
    staff: i64,
    peak: Option<i64>,
    score: Option<&'static str>,
}

fn inputs(figures: &Figures) -> Vec<ValueInput> {
    let value = |code: &str, value: RawValue| ValueInput {
        indicator_code: code.to_owned(),
        value: Some(value),
    };
    let mut inputs = vec![
        value("received", RawValue::Integer(figures.received)),
        value("online", RawValue::Integer(figures.online)),
        value("staff", RawValue::Integer(figures.staff)),
    ];
    if let Some(peak) = figures.peak {
        inputs.push(value("peak", RawValue::Integer(peak)));
    }
    if let Some(score) = figures.score {
        inputs.push(value("score", RawValue::Decimal(score.to_owned())));
    }
    inputs
}

fn figures(received: i64, online: i64, staff: i64) -> Figures {
    Figures {
        received,
        online,
        staff,
        peak: None,
        score: None,
    }
}

struct Fixture {
    server: TestServer,
    admin: Principal,
    reviewer: Principal,
}

impl Fixture {
    async fn start() -> Fixture {
        let server = TestServer::start().await;
        let admin = principal(&server, ADMIN_ORGAN, Role::Admin).await;
        let reviewer = principal(&server, TTHC_OWNER, Role::Reviewer).await;
        let forms = FormService::new(server.store.clone(), system_clock());
        forms
            .create_form(&admin, FORM, definition(1_000))
            .await
            .expect("form created");
        forms.publish_form(&admin, FORM).await.expect("form published");
        Fixture {
            server,
            admin,
            reviewer,
        }
    }

    async fn submit(&self, submitter: &Principal, period_id: &str, on_time: bool, figures: &Figures) -> i64 {
        ReportService::new(
            self.server.store.clone(),
            clock_at(submit_time(period_id, on_time)),
        )
        .submit(
            submitter,
            SubmitReport {
                organ_id: submitter.organ.id.clone(),
                form_code: FORM.to_owned(),
                form_version: 0,
                period: period_id.to_owned(),
                values: inputs(figures),
                narrative: String::new(),
                request_id: format!("{}/{period_id}", submitter.organ.id),
            },
        )
        .await
        .expect("report submitted")
        .report_id
    }

    async fn amend(&self, submitter: &Principal, report_id: i64, figures: &Figures) {
        ReportService::new(self.server.store.clone(), system_clock())
            .amend(
                submitter,
                AmendReport {
                    report_id,
                    base_revision: 1,
                    form_version: 0,
                    values: inputs(figures),
                    narrative: String::new(),
                    reason: "corrected figures".to_owned(),
                    request_id: format!("amend {report_id}"),
                },
            )
            .await
            .expect("report amended");
    }

    async fn accept(&self, report_id: i64, revision: u32) {
        ReportService::new(self.server.store.clone(), system_clock())
            .review(
                &self.reviewer,
                report_id,
                revision,
                Some(ReviewDecision::Accept),
                String::new(),
                &format!("accept {report_id}"),
            )
            .await
            .expect("report accepted");
    }

    async fn client(&self, organ: &str, role: Role) -> AnalyticsServiceClient<Authorised> {
        let token = self.server.token(organ, &[role]).await;
        AnalyticsServiceClient::with_interceptor(self.server.channel().await, bearer(Some(&token)))
    }

    async fn analyst(&self) -> AnalyticsServiceClient<Authorised> {
        self.client(ADMIN_ORGAN, Role::Analyst).await
    }
}

/// The first quarter of 2025, as (organ: received, online, staff, peak, score):
///
/// | organ        | 2025-01                          | 2025-02                                  | 2025-03                       |
/// |--------------|----------------------------------|------------------------------------------|-------------------------------|
/// | WARD         | 100, 10, 20, 5, 1.5 on time, accepted | 200, 20, 21 late → amended 220, 22, 22, 7, 0.5 | 10, 1, 23, 3, 2.0 on time, accepted |
/// | OTHER_WARD   | 300, 90, 30, 9, 2.5 on time, accepted | 100, 50, 31, 2, 2.0 late                 | —                             |
/// | WARD_PARTY   | 70, 0, 5, 1, 3.5 late            | —                                        | —                             |
///
/// 252 organs owe each month, so 756 reports are expected in the quarter.
async fn first_quarter() -> Fixture {
    let fixture = Fixture::start().await;
    let ward = principal(&fixture.server, WARD, Role::Submitter).await;
    let other = principal(&fixture.server, OTHER_WARD, Role::Submitter).await;
    let party = principal(&fixture.server, WARD_PARTY, Role::Submitter).await;
    let full = |received, online, staff, peak, score| Figures {
        received,
        online,
        staff,
        peak: Some(peak),
        score: Some(score),
    };
    let report = fixture
        .submit(&ward, "2025-01", true, &full(100, 10, 20, 5, "1.5"))
        .await;
    fixture.accept(report, 1).await;
    let report = fixture
        .submit(&ward, "2025-02", false, &figures(200, 20, 21))
        .await;
    fixture.amend(&ward, report, &full(220, 22, 22, 7, "0.5")).await;
    let report = fixture
        .submit(&ward, "2025-03", true, &full(10, 1, 23, 3, "2.0"))
        .await;
    fixture.accept(report, 1).await;
    let report = fixture
        .submit(&other, "2025-01", true, &full(300, 90, 30, 9, "2.5"))
        .await;
    fixture.accept(report, 1).await;
    fixture
        .submit(&other, "2025-02", false, &full(100, 50, 31, 2, "2.0"))
        .await;
    fixture
        .submit(&party, "2025-01", false, &full(70, 0, 5, 1, "3.5"))
        .await;
    fixture
}

#[tokio::test]
async fn groups_with_periods_not_yet_open_say_how_many() {
    let fixture = Fixture::start().await;
    let mut client = fixture.analyst().await;
    let open = current_month();
    let last = open.next().next();
    let ask = |group_by: &[proto::GroupDimension]| aggregate(&open.to_string(), &last.to_string(), group_by);
    // City-wide over three months of which only the first is open: owed
    // reports are those of the open month, and the row says two are to come.
    let rows = client
        .aggregate_indicators(ask(&[]))
        .await
        .expect("aggregates")
        .into_inner()
        .rows;
    assert!(!rows.is_empty());
    for row in &rows {
        assert_eq!(row.periods_not_yet_open, 2, "{row:?}");
        assert_eq!(
            row.expected_reports, 252,
            "one open month of every reporting organ"
        );
    }
    // By month: only the open month has a row, and it is whole.
    let rows = client
        .aggregate_indicators(ask(&[proto::GroupDimension::Period]))
        .await
        .expect("aggregates")
        .into_inner()
        .rows;
    assert!(!rows.is_empty());
    assert!(
        rows.iter()
            .all(|row| row.period == open.to_string() && row.periods_not_yet_open == 0)
    );
}

fn aggregate(from: &str, to: &str, group_by: &[proto::GroupDimension]) -> proto::AggregateIndicatorsRequest {
    proto::AggregateIndicatorsRequest {
        form_code: FORM.to_owned(),
        from_period: from.to_owned(),
        to_period: to.to_owned(),
        group_by: group_by.iter().map(|dimension| (*dimension).into()).collect(),
        ..proto::AggregateIndicatorsRequest::default()
    }
}

fn row<'r>(
    rows: &'r [proto::AggregateRow],
    indicator: &str,
    period: &str,
    locality: &str,
) -> &'r proto::AggregateRow {
    rows.iter()
        .find(|row| row.indicator_code == indicator && row.period == period && row.locality_code == locality)
        .unwrap_or_else(|| panic!("no row for {indicator} {period:?} {locality:?} in {rows:#?}"))
}

/// (value, expected, contributing, missing) of a row.
fn counts(row: &proto::AggregateRow) -> (Option<f64>, i32, i32, i32) {
    (
        row.value,
        row.expected_reports,
        row.contributing_reports,
        row.missing_reports,
    )
}

#[tokio::test]
async fn each_indicator_rolls_up_by_its_own_rule_with_missing_reports_counted() {
    let fixture = first_quarter().await;
    let mut client = fixture.analyst().await;
    let mut request = aggregate("2025-01", "2025-03", &[proto::GroupDimension::Period]);
    request.rollup = proto::Periodicity::Quarterly.into();
    let response = client
        .aggregate_indicators(request)
        .await
        .expect("aggregates")
        .into_inner();
    assert_eq!(response.form_code, FORM);
    assert_eq!(response.form_version, 1);
    // Every numeric indicator that can be aggregated, in form order: not the
    // text `note`, not the percentage `satisfaction` that has no parts.
    let indicators: Vec<&str> = response
        .rows
        .iter()
        .map(|row| row.indicator_code.as_str())
        .collect();
    assert_eq!(
        indicators,
        ["received", "online", "online_rate", "staff", "peak", "score"]
    );
    let rows = &response.rows;
    // 100 + 220 (the amended revision, not 200) + 10 + 300 + 100 + 70.
    assert_eq!(
        counts(row(rows, "received", "2025-Q1", "")),
        (Some(800.0), 756, 6, 750)
    );
    assert!(
        rows.iter().all(|row| row.periods_not_yet_open == 0),
        "the quarter is over"
    );
    // 173 of 800 online: 21.625 %, not the mean of the six percentages.
    let rate = row(rows, "online_rate", "2025-Q1", "");
    assert_eq!(rate.aggregation(), proto::Aggregation::Ratio);
    assert_eq!(counts(rate), (Some(21.625), 756, 6, 750));
    assert_eq!(
        (rate.numerator_sum, rate.denominator_sum),
        (Some(173.0), Some(800.0))
    );
    // LAST: each organ's latest month, added up: 23 (WARD, March), 31
    // (OTHER_WARD, February, its March is missing) and 5 (WARD_PARTY).
    let staff = row(rows, "staff", "2025-Q1", "");
    assert_eq!(staff.aggregation(), proto::Aggregation::Last);
    assert_eq!(counts(staff), (Some(59.0), 756, 6, 750));
    assert_eq!(row(rows, "peak", "2025-Q1", "").value, Some(9.0));
    // (1.5 + 0.5 + 2.0 + 2.5 + 2.0 + 3.5) / 6.
    assert_eq!(row(rows, "score", "2025-Q1", "").value, Some(2.0));
    assert_eq!(
        row(rows, "score", "2025-Q1", "").aggregation(),
        proto::Aggregation::Avg
    );

    // Month by month, LAST is each month's own sum.
    let monthly = client
        .aggregate_indicators(aggregate("2025-01", "2025-03", &[proto::GroupDimension::Period]))
        .await
        .expect("aggregates")
        .into_inner()
        .rows;
    assert_eq!(
        counts(row(&monthly, "received", "2025-01", "")),
        (Some(470.0), 252, 3, 249)
    );
    assert_eq!(row(&monthly, "staff", "2025-02", "").value, Some(53.0));
    // March: only WARD reported; 10 % online.
    assert_eq!(
        counts(row(&monthly, "online_rate", "2025-03", "")),
        (Some(10.0), 252, 1, 251)
    );
    assert_eq!(monthly.len(), 3 * 6);
}

#[tokio::test]
async fn accepted_only_reads_accepted_reports_and_counts_the_rest_missing() {
    let fixture = first_quarter().await;
    let mut client = fixture.analyst().await;
    let mut request = aggregate("2025-01", "2025-03", &[]);
    request.indicator_codes = vec!["received".to_owned(), "staff".to_owned()];
    let latest = client
        .aggregate_indicators(request.clone())
        .await
        .expect("aggregates")
        .into_inner()
        .rows;
    assert_eq!(
        counts(row(&latest, "received", "", "")),
        (Some(800.0), 756, 6, 750)
    );

    request.selection = proto::ReportSelection::AcceptedOnly.into();
    let accepted = client
        .aggregate_indicators(request)
        .await
        .expect("aggregates")
        .into_inner()
        .rows;
    // WARD's January and March, OTHER_WARD's January.
    assert_eq!(
        counts(row(&accepted, "received", "", "")),
        (Some(410.0), 756, 3, 753)
    );
    // LAST over accepted reports: WARD's March 23 and OTHER_WARD's January 30.
    assert_eq!(row(&accepted, "staff", "", "").value, Some(53.0));
}

#[tokio::test]
async fn groups_by_locality_and_bloc_cover_every_group_owed() {
    let fixture = first_quarter().await;
    let mut client = fixture.analyst().await;
    let mut request = aggregate("2025-01", "2025-03", &[proto::GroupDimension::Locality]);
    request.indicator_codes = vec!["received".to_owned(), "staff".to_owned()];
    let rows = client
        .aggregate_indicators(request.clone())
        .await
        .expect("aggregates")
        .into_inner()
        .rows;
    // Every commune and ward is there, reported or not.
    assert_eq!(rows.len(), 126 * 2);
    // Ba Đình: WARD's three months and WARD_PARTY's January of six owed.
    assert_eq!(
        counts(row(&rows, "received", "", "00004")),
        (Some(400.0), 6, 4, 2)
    );
    assert_eq!(row(&rows, "staff", "", "00004").value, Some(28.0));
    assert_eq!(
        counts(row(&rows, "received", "", "00008")),
        (Some(400.0), 6, 2, 4)
    );
    assert_eq!(counts(row(&rows, "received", "", "00025")), (None, 6, 0, 6));
    let localities: Vec<&str> = rows
        .iter()
        .step_by(2)
        .map(|row| row.locality_code.as_str())
        .collect();
    let mut sorted = localities.clone();
    sorted.sort_unstable();
    assert_eq!(localities, sorted, "rows come in locality order");

    request.locality_codes = vec!["00008".to_owned(), "00004".to_owned()];
    request.group_by = vec![proto::GroupDimension::Bloc.into()];
    let by_bloc = client
        .aggregate_indicators(request)
        .await
        .expect("aggregates")
        .into_inner()
        .rows;
    let bloc = |bloc: proto::Bloc| {
        by_bloc
            .iter()
            .find(|row| row.indicator_code == "received" && row.bloc() == bloc)
            .map(counts)
    };
    // PARTY bloc first (bloc order), then GOVERNMENT; two wards, three months.
    assert_eq!(by_bloc[0].bloc(), proto::Bloc::Party);
    assert_eq!(bloc(proto::Bloc::Party), Some((Some(70.0), 6, 1, 5)));
    assert_eq!(bloc(proto::Bloc::Government), Some((Some(730.0), 6, 5, 1)));
    assert_eq!(by_bloc.len(), 4);
}

#[tokio::test]
async fn a_submitter_sees_only_its_own_organ() {
    let fixture = first_quarter().await;
    let mut submitter = fixture.client(WARD, Role::Submitter).await;
    let mut request = aggregate("2025-01", "2025-03", &[]);
    request.indicator_codes = vec!["received".to_owned()];
    let own = submitter
        .aggregate_indicators(request.clone())
        .await
        .expect("own figures")
        .into_inner()
        .rows;
    // Narrowed to WARD: 100 + 220 + 10 of three months owed.
    assert_eq!(counts(row(&own, "received", "", "")), (Some(330.0), 3, 3, 0));

    let mut elsewhere = request.clone();
    elsewhere.locality_codes = vec!["00008".to_owned()];
    assert_eq!(
        code_of(submitter.aggregate_indicators(elsewhere).await),
        Code::PermissionDenied
    );
    let mut other_bloc = request.clone();
    other_bloc.blocs = vec![proto::Bloc::Party.into()];
    assert_eq!(
        code_of(submitter.aggregate_indicators(other_bloc).await),
        Code::PermissionDenied
    );
    let mut own_locality = request.clone();
    own_locality.locality_codes = vec!["00004".to_owned()];
    own_locality.group_by = vec![proto::GroupDimension::Bloc.into()];
    let rows = submitter
        .aggregate_indicators(own_locality)
        .await
        .expect("own locality")
        .into_inner()
        .rows;
    assert_eq!(rows.len(), 1, "only its own bloc: {rows:?}");
    assert_eq!(rows[0].value, Some(330.0));
}

#[tokio::test]
async fn who_may_read_aggregates_city_wide() {
    let fixture = first_quarter().await;
    let mut request = aggregate("2025-01", "2025-03", &[]);
    request.indicator_codes = vec!["received".to_owned()];
    let city_total = |result: Result<tonic::Response<proto::AggregateIndicatorsResponse>, tonic::Status>| {
        result.map(|response| response.into_inner().rows[0].value)
    };
    for (organ, role) in [
        (ADMIN_ORGAN, Role::Analyst),
        (ADMIN_ORGAN, Role::Admin),
        (TTHC_OWNER, Role::Reviewer),
    ] {
        let mut client = fixture.client(organ, role).await;
        let total = city_total(client.aggregate_indicators(request.clone()).await);
        assert_eq!(total.ok(), Some(Some(800.0)), "{organ} {role:?}");
    }
    // A reviewer of another department does not read this form's figures.
    let mut other_reviewer = fixture.client(STAFFING_OWNER, Role::Reviewer).await;
    assert_eq!(
        code_of(other_reviewer.aggregate_indicators(request.clone()).await),
        Code::PermissionDenied
    );
    let mut no_token = AnalyticsServiceClient::with_interceptor(fixture.server.channel().await, bearer(None));
    assert_eq!(
        code_of(no_token.aggregate_indicators(request).await),
        Code::Unauthenticated
    );
}

#[tokio::test]
async fn bad_requests_name_every_bad_field() {
    let fixture = Fixture::start().await;
    let mut client = fixture.analyst().await;

    let mut request = aggregate("2025-05", "2025-02", &[]);
    request.indicator_codes = vec![
        "received".to_owned(),
        "nope".to_owned(),
        "note".to_owned(),
        "satisfaction".to_owned(),
    ];
    request.locality_codes = vec!["123".to_owned(), "01".to_owned()];
    let status = client.aggregate_indicators(request).await.expect_err("rejected");
    let violations = field_violations(&status);
    let fields: Vec<&str> = violations.iter().map(|(field, _)| field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "to_period",
            "locality_codes[0]",
            "locality_codes[1]",
            "indicator_codes[1]",
            "indicator_codes[2]",
            "indicator_codes[3]"
        ],
        "{violations:?}"
    );
    assert!(violations[0].1.contains("before"), "{violations:?}");
    assert!(violations[5].1.contains("percentage"), "{violations:?}");

    // Unbounded, and of the wrong periodicity.
    let status = client
        .aggregate_indicators(aggregate("", "2025-Q1", &[]))
        .await
        .expect_err("rejected");
    let fields: Vec<String> = field_violations(&status)
        .into_iter()
        .map(|(field, _)| field)
        .collect();
    assert_eq!(fields, ["from_period", "to_period"]);

    // Roll-ups: whole quarters only, and only with period grouping.
    let mut request = aggregate("2025-02", "2025-06", &[proto::GroupDimension::Period]);
    request.rollup = proto::Periodicity::Quarterly.into();
    let fields: Vec<String> =
        field_violations(&client.aggregate_indicators(request).await.expect_err("rejected"))
            .into_iter()
            .map(|(field, _)| field)
            .collect();
    assert_eq!(fields, ["from_period"]);
    let mut request = aggregate("2025-01", "2025-12", &[proto::GroupDimension::City]);
    request.rollup = proto::Periodicity::Annual.into();
    let fields: Vec<String> =
        field_violations(&client.aggregate_indicators(request).await.expect_err("rejected"))
            .into_iter()
            .map(|(field, _)| field)
            .collect();
    assert_eq!(fields, ["rollup"]);

    // Shape: an unspecified dimension and bloc.
    let mut request = aggregate("2025-01", "2025-02", &[proto::GroupDimension::Unspecified]);
    request.blocs = vec![proto::Bloc::Unspecified.into()];
    let fields: Vec<String> =
        field_violations(&client.aggregate_indicators(request).await.expect_err("rejected"))
            .into_iter()
            .map(|(field, _)| field)
            .collect();
    assert_eq!(fields, ["group_by[0]", "blocs[0]"]);

    let mut unknown = aggregate("2025-01", "2025-02", &[]);
    unknown.form_code = "no-such-form".to_owned();
    assert_eq!(
        code_of(client.aggregate_indicators(unknown).await),
        Code::NotFound
    );
    let mut unknown_version = aggregate("2025-01", "2025-02", &[]);
    unknown_version.form_version = 9;
    assert_eq!(
        code_of(client.aggregate_indicators(unknown_version).await),
        Code::NotFound
    );
}

#[tokio::test]
async fn a_result_over_the_row_limit_is_refused_and_can_be_streamed() {
    let fixture = first_quarter().await;
    let mut client = fixture.analyst().await;
    // 126 localities × 2 blocs × 12 months × 6 indicators = 18,144 rows,
    // above the default limit of 10,000.
    let big = aggregate(
        "2025-01",
        "2025-12",
        &[
            proto::GroupDimension::Period,
            proto::GroupDimension::Locality,
            proto::GroupDimension::Bloc,
        ],
    );
    let status = client
        .aggregate_indicators(big.clone())
        .await
        .expect_err("too many rows");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(
        status.message().contains("StreamAggregateIndicators"),
        "{}",
        status.message()
    );

    let mut stream = client
        .stream_aggregate_indicators(proto::StreamAggregateIndicatorsRequest {
            form_code: big.form_code,
            form_version: big.form_version,
            indicator_codes: big.indicator_codes,
            from_period: big.from_period,
            to_period: big.to_period,
            group_by: big.group_by,
            rollup: big.rollup,
            locality_codes: big.locality_codes,
            blocs: big.blocs,
            selection: big.selection,
        })
        .await
        .expect("stream opens")
        .into_inner();
    let mut rows = Vec::new();
    let mut batches = 0;
    while let Some(batch) = stream.message().await.expect("stream") {
        assert_eq!(batch.form_code, FORM);
        assert!(batch.rows.len() <= 500);
        batches += 1;
        rows.extend(batch.rows);
    }
    assert_eq!(rows.len(), 18_144);
    assert!(batches > 1);
    // In order: period, then locality, then bloc (PARTY before GOVERNMENT,
    // as in the Bloc enum).
    let keys: Vec<(&str, &str, i32)> = rows
        .iter()
        .map(|row| (row.period.as_str(), row.locality_code.as_str(), row.bloc))
        .collect();
    assert!(
        keys.windows(2).all(|pair| pair[0] <= pair[1]),
        "rows out of order"
    );
    let ward_january: Vec<&proto::AggregateRow> = rows
        .iter()
        .filter(|row| {
            row.period == "2025-01" && row.locality_code == "00004" && row.indicator_code == "received"
        })
        .collect();
    assert_eq!(ward_january.len(), 2);
    assert_eq!(ward_january[0].bloc(), proto::Bloc::Party);
    assert_eq!(counts(ward_january[0]), (Some(70.0), 1, 1, 0));
    assert_eq!(counts(ward_january[1]), (Some(100.0), 1, 1, 0));
}

fn rates_request(from: &str, to: &str) -> proto::GetReportingRatesRequest {
    proto::GetReportingRatesRequest {
        form_code: FORM.to_owned(),
        from_period: from.to_owned(),
        to_period: to.to_owned(),
        ..proto::GetReportingRatesRequest::default()
    }
}

/// (period, locality, expected, submitted, on time, late, accepted).
fn rate_counts(rate: &proto::ReportingRate) -> (&str, &str, i32, i32, i32, i32, i32) {
    (
        rate.period.as_str(),
        rate.locality_code.as_str(),
        rate.expected_reports,
        rate.submitted_reports,
        rate.on_time_reports,
        rate.late_reports,
        rate.accepted_reports,
    )
}

#[tokio::test]
async fn reporting_rates_per_locality_and_the_city_trend() {
    let fixture = first_quarter().await;
    let mut client = fixture.client(TTHC_OWNER, Role::Reviewer).await;
    let mut request = rates_request("2025-01", "2025-03");
    request.locality_codes = vec!["00004".to_owned(), "00008".to_owned()];
    request.page_size = 4;
    let first = client
        .get_reporting_rates(request.clone())
        .await
        .expect("rates")
        .into_inner();
    assert_eq!(first.form_code, FORM);
    assert_eq!(first.rates.len(), 4);
    assert!(!first.next_page_token.is_empty());
    request.page_token = first.next_page_token.clone();
    let second = client
        .get_reporting_rates(request)
        .await
        .expect("rates")
        .into_inner();
    assert!(second.next_page_token.is_empty());
    let rates: Vec<_> = first.rates.iter().chain(&second.rates).map(rate_counts).collect();
    assert_eq!(
        rates,
        [
            // WARD on time and accepted, WARD_PARTY late.
            ("2025-01", "00004", 2, 2, 1, 1, 1),
            ("2025-01", "00008", 2, 1, 1, 0, 1),
            ("2025-02", "00004", 2, 1, 0, 1, 0),
            ("2025-02", "00008", 2, 1, 0, 1, 0),
            ("2025-03", "00004", 2, 1, 1, 0, 1),
            ("2025-03", "00008", 2, 0, 0, 0, 0),
        ]
    );
    let january = &first.rates[0];
    assert_eq!(january.reporting_rate, Some(100.0));
    assert_eq!(january.on_time_rate, Some(50.0));
    assert!(january.deadline_passed);
    assert_eq!(
        january.deadline_time.as_ref().map(|deadline| deadline.seconds),
        Some(deadline("2025-01").unix_timestamp())
    );
    let trend: Vec<_> = first.city_trend.iter().map(rate_counts).collect();
    assert_eq!(
        trend,
        [
            ("2025-01", "", 4, 3, 2, 1, 2),
            ("2025-02", "", 4, 2, 0, 2, 0),
            ("2025-03", "", 4, 1, 1, 0, 1),
        ]
    );
    assert_eq!(first.city_trend, second.city_trend);

    // City-wide: 252 organs owe each month.
    let city = client
        .get_reporting_rates(rates_request("2025-01", "2025-01"))
        .await
        .expect("rates")
        .into_inner();
    assert_eq!(city.rates.len(), 126);
    assert_eq!(rate_counts(&city.city_trend[0]), ("2025-01", "", 252, 3, 2, 1, 2));
    let rate = city.city_trend[0].reporting_rate.expect("a rate");
    assert!((rate - 300.0 / 252.0).abs() < 1e-9, "{rate}");

    // Filters narrow the organs expected and the reports counted alike.
    let mut party_request = rates_request("2025-01", "2025-01");
    party_request.locality_codes = vec!["00004".to_owned()];
    party_request.blocs = vec![proto::Bloc::Party as i32];
    let party = client
        .get_reporting_rates(party_request)
        .await
        .expect("party rates")
        .into_inner();
    let party: Vec<_> = party.rates.iter().map(rate_counts).collect();
    assert_eq!(party, [("2025-01", "00004", 1, 1, 0, 1, 0)]);

    // A submitter's rates are its own organ's.
    let mut submitter = fixture.client(OTHER_WARD, Role::Submitter).await;
    let own = submitter
        .get_reporting_rates(rates_request("2025-01", "2025-03"))
        .await
        .expect("own rates")
        .into_inner();
    let own: Vec<_> = own.rates.iter().map(rate_counts).collect();
    assert_eq!(
        own,
        [
            ("2025-01", "00008", 1, 1, 1, 0, 1),
            ("2025-02", "00008", 1, 1, 0, 1, 0),
            ("2025-03", "00008", 1, 0, 0, 0, 0),
        ]
    );

    let status = client
        .get_reporting_rates(rates_request("2025-03", "2025-01"))
        .await
        .expect_err("reversed");
    assert_eq!(field_violations(&status)[0].0, "to_period");
}

#[tokio::test]
async fn the_question_after_a_new_form_version_is_answered_by_it() {
    let fixture = Fixture::start().await;
    let mut client = fixture.analyst().await;
    // Asked twice: the second answer comes from the form version and the
    // organs this server keeps in memory.
    for _ in 0..2 {
        assert_eq!(expected_and_form_version(&mut client).await, (252, 1));
    }

    // Published by another service on the same database, as by another
    // server: nothing tells this one but the versions it reads.
    let mut with_councils = definition(1_000);
    with_councils
        .reporting_organ_kinds
        .push(OrganKind::PeoplesCouncil);
    let forms = FormService::new(fixture.server.store.clone(), system_clock());
    forms
        .update_form_draft(&fixture.admin, FORM, with_councils)
        .await
        .expect("draft updated");
    forms
        .publish_form(&fixture.admin, FORM)
        .await
        .expect("version 2 published");

    assert_eq!(expected_and_form_version(&mut client).await, (378, 2));
}

/// January 2025's city-wide expected reports, from the rates, and the form
/// version the aggregates were computed with.
async fn expected_and_form_version(client: &mut AnalyticsServiceClient<Authorised>) -> (i32, u32) {
    let rates = client
        .get_reporting_rates(rates_request("2025-01", "2025-01"))
        .await
        .expect("rates")
        .into_inner();
    let aggregates = client
        .aggregate_indicators(aggregate("2025-01", "2025-01", &[]))
        .await
        .expect("aggregates")
        .into_inner();
    (rates.city_trend[0].expected_reports, aggregates.form_version)
}

/// WARD reports `received` of about 100 a month from January to July 2025,
/// then 100 in August amended to 400; WARD_PARTY reports about 50 from May
/// to July and 500 in August. WARD's March `staff` of 30 is valid under
/// version 1 (at most 1,000) and above the maximum of version 2 (25).
async fn outlier_history() -> Fixture {
    let fixture = Fixture::start().await;
    let ward = principal(&fixture.server, WARD, Role::Submitter).await;
    let party = principal(&fixture.server, WARD_PARTY, Role::Submitter).await;
    let months = [
        "2025-01", "2025-02", "2025-03", "2025-04", "2025-05", "2025-06", "2025-07",
    ];
    let received = [100, 102, 98, 101, 99, 100, 103];
    let online = [10, 11, 9, 10, 10, 11, 9];
    for (index, month) in months.iter().enumerate() {
        let staff = if *month == "2025-03" { 30 } else { 20 };
        fixture
            .submit(
                &ward,
                month,
                false,
                &figures(received[index], online[index], staff),
            )
            .await;
    }
    let august = fixture
        .submit(&ward, "2025-08", false, &figures(100, 10, 20))
        .await;
    fixture.amend(&ward, august, &figures(400, 40, 20)).await;
    for (month, received) in [
        ("2025-05", 50),
        ("2025-06", 51),
        ("2025-07", 49),
        ("2025-08", 500),
    ] {
        fixture
            .submit(&party, month, false, &figures(received, 5, 5))
            .await;
    }
    let forms = FormService::new(fixture.server.store.clone(), system_clock());
    forms
        .update_form_draft(&fixture.admin, FORM, definition(25))
        .await
        .expect("draft updated");
    forms
        .publish_form(&fixture.admin, FORM)
        .await
        .expect("version 2 published");
    fixture
}

fn outliers_request(from: &str, to: &str, indicators: &[&str]) -> proto::ListOutliersRequest {
    proto::ListOutliersRequest {
        form_code: FORM.to_owned(),
        from_period: from.to_owned(),
        to_period: to.to_owned(),
        indicator_codes: indicators.iter().map(|code| (*code).to_owned()).collect(),
        ..proto::ListOutliersRequest::default()
    }
}

/// (organ, period, indicator, value) of each outlier.
fn listed(outliers: &[proto::Outlier]) -> Vec<(&str, &str, &str, f64)> {
    outliers
        .iter()
        .map(|outlier| {
            (
                outlier.organ.as_str(),
                outlier.period.as_str(),
                outlier.indicator_code.as_str(),
                outlier.value,
            )
        })
        .collect()
}

#[tokio::test]
async fn outliers_break_bounds_or_stray_from_the_organs_history() {
    let fixture = outlier_history().await;
    let mut client = fixture.analyst().await;
    let response = client
        .list_outliers(outliers_request("2025-01", "2025-08", &["received", "staff"]))
        .await
        .expect("outliers")
        .into_inner();
    // The bound first, then the history: WARD_PARTY's 500 has only three
    // earlier values, fewer than the six needed by default.
    assert_eq!(
        listed(&response.outliers),
        [
            (WARD, "2025-03", "staff", 30.0),
            (WARD, "2025-08", "received", 400.0),
        ]
    );
    let bound = &response.outliers[0];
    assert_eq!(
        bound.reasons().collect::<Vec<_>>(),
        [proto::OutlierReason::AboveMaximum]
    );
    assert!(bound.explanation.contains("maximum 25"), "{}", bound.explanation);
    assert_eq!(bound.modified_z_score, None);
    let far = &response.outliers[1];
    assert_eq!(
        far.reasons().collect::<Vec<_>>(),
        [proto::OutlierReason::FarFromHistory]
    );
    assert_eq!(far.revision, 2, "the amended revision is the one read");
    assert!(far.report.starts_with("reports/"));
    assert_eq!(far.locality_code, "00004");
    assert_eq!(far.history_size, 7);
    assert_eq!(far.history_median, Some(100.0));
    // Median 100, MAD 1: 0.6745 × 300 / 1.
    let score = far.modified_z_score.expect("a score");
    assert!((score - 202.35).abs() < 1e-9, "{score}");

    // Against version 1's bounds the staff figure is fine.
    let mut version_one = outliers_request("2025-01", "2025-08", &["received", "staff"]);
    version_one.form_version = 1;
    let response = client
        .list_outliers(version_one)
        .await
        .expect("outliers")
        .into_inner();
    assert_eq!(listed(&response.outliers), [(WARD, "2025-08", "received", 400.0)]);

    // With three earlier values enough, WARD_PARTY's jump ranks first
    // (0.6745 × 450 / 1 ≈ 303.5 against 202.35), one per page.
    let mut short_history = outliers_request("2025-08", "2025-08", &["received"]);
    short_history.min_history = 3;
    short_history.page_size = 1;
    let first = client
        .list_outliers(short_history.clone())
        .await
        .expect("outliers")
        .into_inner();
    assert_eq!(
        listed(&first.outliers),
        [(WARD_PARTY, "2025-08", "received", 500.0)]
    );
    short_history.page_token = first.next_page_token;
    let second = client
        .list_outliers(short_history.clone())
        .await
        .expect("outliers")
        .into_inner();
    assert_eq!(listed(&second.outliers), [(WARD, "2025-08", "received", 400.0)]);
    assert!(second.next_page_token.is_empty());

    // A higher threshold keeps only the larger score.
    short_history.page_token = String::new();
    short_history.page_size = 0;
    short_history.z_score_threshold = 250.0;
    let strict = client
        .list_outliers(short_history)
        .await
        .expect("outliers")
        .into_inner();
    assert_eq!(
        listed(&strict.outliers),
        [(WARD_PARTY, "2025-08", "received", 500.0)]
    );

    // A submitter sees its own organ's outliers only.
    let mut party = fixture.client(WARD_PARTY, Role::Submitter).await;
    let mut own = outliers_request("2025-08", "2025-08", &["received"]);
    own.min_history = 3;
    let own = party.list_outliers(own).await.expect("outliers").into_inner();
    assert_eq!(
        listed(&own.outliers),
        [(WARD_PARTY, "2025-08", "received", 500.0)]
    );

    let mut bad = outliers_request("2025-08", "2025-08", &["note"]);
    bad.z_score_threshold = -1.0;
    bad.min_history = 2;
    let fields: Vec<String> = field_violations(&client.list_outliers(bad).await.expect_err("rejected"))
        .into_iter()
        .map(|(field, _)| field)
        .collect();
    assert_eq!(fields, ["indicator_codes[0]", "min_history", "z_score_threshold"]);
}

#[tokio::test]
async fn the_analytics_service_is_served_and_healthy() {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;
    let server = TestServer::start().await;
    let mut health = HealthClient::new(server.channel().await);
    let response = health
        .check(HealthCheckRequest {
            service: "lienthong.v1.AnalyticsService".to_owned(),
        })
        .await
        .expect("health answers")
        .into_inner();
    assert_eq!(response.status(), ServingStatus::Serving);
}

/// Every AnalyticsService RPC × every kind of caller. Figures of a form:
/// its owning department's reviewers, analysts and administrators city-wide,
/// a submitter its own organ's; clusters: reviewers, analysts and
/// administrators.
#[tokio::test]
async fn analytics_authorisation_matrix() {
    let fixture = first_quarter().await;
    let callers = [
        ("own submitter", WARD, Role::Submitter),
        ("other submitter", OTHER_WARD, Role::Submitter),
        ("owning reviewer", TTHC_OWNER, Role::Reviewer),
        ("other reviewer", STAFFING_OWNER, Role::Reviewer),
        ("analyst", ADMIN_ORGAN, Role::Analyst),
        ("admin", ADMIN_ORGAN, Role::Admin),
    ];
    let figures_readers = [
        "own submitter",
        "other submitter",
        "owning reviewer",
        "analyst",
        "admin",
    ];
    let cluster_readers = ["owning reviewer", "other reviewer", "analyst", "admin"];
    for (who, organ, role) in callers {
        let mut client = fixture.client(organ, role).await;
        let allowed = |readers: &[&str]| {
            if readers.contains(&who) {
                Code::Ok
            } else {
                Code::PermissionDenied
            }
        };
        let streamed = match client
            .stream_aggregate_indicators(proto::StreamAggregateIndicatorsRequest {
                form_code: FORM.to_owned(),
                from_period: "2025-01".to_owned(),
                to_period: "2025-03".to_owned(),
                ..Default::default()
            })
            .await
        {
            Ok(response) => {
                let mut stream = response.into_inner();
                match stream.message().await {
                    Ok(_) => Code::Ok,
                    Err(status) => status.code(),
                }
            }
            Err(status) => status.code(),
        };
        let matrix = [
            ("StreamAggregateIndicators", streamed, allowed(&figures_readers)),
            (
                "GetReportingRates",
                code_of(
                    client
                        .get_reporting_rates(proto::GetReportingRatesRequest {
                            form_code: FORM.to_owned(),
                            from_period: "2025-01".to_owned(),
                            to_period: "2025-03".to_owned(),
                            ..Default::default()
                        })
                        .await,
                ),
                allowed(&figures_readers),
            ),
            (
                "ListOutliers",
                code_of(
                    client
                        .list_outliers(proto::ListOutliersRequest {
                            form_code: FORM.to_owned(),
                            from_period: "2025-01".to_owned(),
                            to_period: "2025-03".to_owned(),
                            ..Default::default()
                        })
                        .await,
                ),
                allowed(&figures_readers),
            ),
            (
                "RankClusters",
                code_of(
                    client
                        .rank_clusters(proto::RankClustersRequest {
                            from_period: "2025-Q1".to_owned(),
                            to_period: "2025-Q1".to_owned(),
                            ..Default::default()
                        })
                        .await,
                ),
                allowed(&cluster_readers),
            ),
            (
                "GetAnsweredMatches",
                code_of(
                    client
                        .get_answered_matches(proto::GetAnsweredMatchesRequest {
                            from_period: "2025-Q1".to_owned(),
                            to_period: "2025-Q1".to_owned(),
                        })
                        .await,
                ),
                allowed(&cluster_readers),
            ),
        ];
        for (rpc, got, expected) in matrix {
            assert_eq!(got, expected, "{rpc} as {who}");
        }
    }
}
