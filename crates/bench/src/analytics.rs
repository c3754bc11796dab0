//! `analytics`: how long analytics questions take on five years of reports,
//! through the service and as the hand-written SQL a DBA would write.
//!
//! A history is generated into a throw-away database (see
//! [`crate::generate`]; on PostgreSQL the database is then vacuumed and
//! analysed, as autovacuum would after a bulk load), or an existing one is
//! reused with `--database-url`. The server runs in-process, and each
//! question is asked three ways, in turn within every repetition:
//!
//! - over gRPC to the server, with the generated client and an ANALYST
//!   token, timed from the call to the last row decoded;
//! - to the domain's `AnalyticsService` in this process, without gRPC, to
//!   tell the network and protobuf part from the rest;
//! - as one hand-written SQL statement on the same database through sqlx's
//!   own driver (not the `Any` driver the store uses), all rows fetched and
//!   decoded: the floor.
//!
//! The questions, on `bench-32` (504 organs, 32 indicators): the city-wide
//! roll-up of the latest month, all indicators; the five-year monthly series
//! of every commune and ward for one indicator, and for all 32 (streamed:
//! 241 920 rows are more than `analytics_max_rows`); the reporting rates of
//! the latest month. Before timing, the service's answer and the SQL's are
//! compared figure by figure; a difference fails the run.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr as _;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use hdrhistogram::Histogram;
use lienthong::generate::{Filled, GeneratedForm, WIDE_FORM};
use lienthong::proto;
use lienthong::proto::analytics_service_client::AnalyticsServiceClient;
use lienthong_domain::auth::{Principal, Role};
use lienthong_domain::directory::{LocalityKind, OrganKind};
use lienthong_domain::paging::PageRequest;
use lienthong_domain::period::Period;
use lienthong_domain::service::{
    AggregateQuery, GroupDimension, RATE_PAGES, RatesQuery, Services, system_clock,
};
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{PgPool, SqlitePool};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::cli::AnalyticsArgs;
use crate::generate;
use crate::load::{self, Bearer};
use crate::report;
use crate::setup::{self, Backend, Database, RunningServer};

/// The organ the ANALYST token is issued to.
const ANALYST_ORGAN: &str = "01-city-office";
/// The indicator of the one-indicator series.
const SERIES_INDICATOR: &str = "dossiers_received";
/// The issue's goals.
const ROLLUP_GOAL: Duration = Duration::from_millis(20);
const SERIES_GOAL: Duration = Duration::from_millis(200);
const FLOOR_RATIO_GOAL: f64 = 1.5;

/// A question asked three ways.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Question {
    /// AggregateIndicators, CITY, the latest month, every indicator.
    CityRollup,
    /// AggregateIndicators, LOCALITY and PERIOD, five years, one indicator.
    SeriesOne,
    /// StreamAggregateIndicators, LOCALITY and PERIOD, five years, every indicator.
    SeriesAll,
    /// GetReportingRates, the latest month.
    Rates,
}

impl Question {
    const ALL: [Question; 4] = [
        Question::CityRollup,
        Question::SeriesOne,
        Question::SeriesAll,
        Question::Rates,
    ];

    /// The issue's latency goal for the p50 over gRPC, if it sets one.
    fn goal(self) -> Option<Duration> {
        match self {
            Question::CityRollup => Some(ROLLUP_GOAL),
            Question::SeriesOne | Question::SeriesAll => Some(SERIES_GOAL),
            Question::Rates => None,
        }
    }
}

impl fmt::Display for Question {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Question::CityRollup => "(a) city roll-up, 1 month, 32 indicators",
            Question::SeriesOne => "(b) 5-year series by commune × month, 1 indicator",
            Question::SeriesAll => "(b) 5-year series by commune × month, 32 indicators (stream)",
            Question::Rates => "(c) reporting rates, 1 month",
        })
    }
}

/// What the data holds, read back from the database.
#[derive(Debug, Clone)]
struct Dataset {
    first_month: Period,
    last_month: Period,
    /// Reports of the generated forms.
    reports: u64,
    /// Their latest revisions' values.
    values: u64,
    /// Their values of every revision.
    value_rows: u64,
}

/// The three timings of one question.
#[derive(Debug)]
struct Measured {
    question: Question,
    rows: usize,
    grpc: Histogram<u64>,
    in_process: Histogram<u64>,
    sql: Histogram<u64>,
}

impl Measured {
    fn ratio(&self) -> f64 {
        self.grpc.value_at_quantile(0.5) as f64 / self.sql.value_at_quantile(0.5).max(1) as f64
    }
}

#[derive(Debug)]
struct BackendRun {
    backend: Backend,
    filled: Option<Filled>,
    dataset: Dataset,
    measured: Vec<Measured>,
    problems: Vec<String>,
}

pub async fn run(arguments: &AnalyticsArgs) -> anyhow::Result<()> {
    report::print_machine(std::thread::available_parallelism().map_or(1, usize::from));
    let mut runs = Vec::new();
    match &arguments.database_url {
        Some(url) => {
            let backend = if url.starts_with("sqlite:") {
                Backend::Sqlite
            } else {
                Backend::Postgres
            };
            let run = measure(backend, url, None, arguments).await?;
            print_progress(&run);
            runs.push(run);
        }
        None => {
            for backend in arguments.backend.backends() {
                let run = on_fresh_database(backend, arguments).await?;
                print_progress(&run);
                runs.push(run);
            }
        }
    }
    print_table(&runs, arguments);
    let problems: Vec<String> = runs.iter().flat_map(|run| run.problems.clone()).collect();
    if problems.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("the run is not valid:\n  {}", problems.join("\n  "))
    }
}

/// Generates into a database created for the run and measures on it; the
/// database is removed afterwards (unless kept), whatever happened.
async fn on_fresh_database(backend: Backend, arguments: &AnalyticsArgs) -> anyhow::Result<BackendRun> {
    tracing::info!(%backend, "preparing the database");
    let database = Database::create(backend, &arguments.postgres_url).await?;
    let result = tokio::select! {
        result = generate_and_measure(backend, &database.url, arguments) => result,
        () = lienthong::server::shutdown_signal() => Err(anyhow::anyhow!("interrupted")),
    };
    if arguments.keep_database {
        println!("{backend}: kept the database {}", database.keep());
        return result;
    }
    let removed = database.remove().await;
    let run = result?;
    removed?;
    Ok(run)
}

async fn generate_and_measure(
    backend: Backend,
    url: &str,
    arguments: &AnalyticsArgs,
) -> anyhow::Result<BackendRun> {
    let store = lienthong_store::connect(url).await.context("opening the store")?;
    let filled =
        lienthong::generate::fill(store, &arguments.data.options(), time::OffsetDateTime::now_utc()).await?;
    generate::print(&filled, &format!("{backend} generate"));
    setup::vacuum_analyze(backend, url).await?;
    measure(backend, url, Some(filled), arguments).await
}

async fn measure(
    backend: Backend,
    url: &str,
    filled: Option<Filled>,
    arguments: &AnalyticsArgs,
) -> anyhow::Result<BackendRun> {
    let floor = Floor::connect(backend, url).await?;
    let dataset = floor.dataset().await?;
    let mut problems = Vec::new();
    if let Some(filled) = &filled {
        let written = (filled.report_count(), filled.values, filled.value_rows);
        let stored = (dataset.reports, dataset.values, dataset.value_rows);
        if written != stored {
            problems.push(format!(
                "{backend}: generation wrote (reports, values, value rows) {written:?} but the database holds {stored:?}"
            ));
        }
    }

    let store = lienthong_store::connect(url).await.context("opening the store")?;
    let services = Services::new(store.clone(), system_clock());
    let analyst = store
        .get_organ(ANALYST_ORGAN)
        .await?
        .with_context(|| format!("{ANALYST_ORGAN} is missing from the directory"))?;
    let issued = services
        .tokens
        .issue(
            ANALYST_ORGAN,
            &[Role::Analyst],
            "lienthong-bench analytics",
            Some(time::Duration::hours(12)),
        )
        .await
        .context("issuing an ANALYST token")?;
    let principal = Principal {
        token_id: issued.record.id,
        organ: analyst,
        roles: vec![Role::Analyst],
    };
    let server = RunningServer::start(store.clone(), url).await?;
    let asker = Asker {
        client: client(server.address, &issued.secret).await?,
        services,
        principal,
        floor,
        dataset: dataset.clone(),
    };
    let result = asker.measure_all(backend, arguments).await;
    server.stop().await.context("stopping the server")?;
    let (measured, mut disagreements) = result?;
    problems.append(&mut disagreements);
    Ok(BackendRun {
        backend,
        filled,
        dataset,
        measured,
        problems,
    })
}

type Client = AnalyticsServiceClient<InterceptedService<Channel, Bearer>>;

async fn client(address: SocketAddr, token: &str) -> anyhow::Result<Client> {
    let channel = load::connect(address).await?;
    // The all-indicator series arrives in batches of 500 rows; the unary
    // answers stay well under the server's 4 MiB.
    Ok(AnalyticsServiceClient::with_interceptor(
        channel,
        Bearer::new(token)?,
    ))
}

/// Figures keyed by group (and indicator), to compare the two answers.
type Answer = BTreeMap<String, Vec<f64>>;

/// An answer and how long it took; the answer only when asked for.
struct Timed {
    elapsed: Duration,
    rows: usize,
    answer: Option<Answer>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Grpc,
    InProcess,
    Sql,
}

struct Asker {
    client: Client,
    services: Services,
    principal: Principal,
    floor: Floor,
    dataset: Dataset,
}

impl Asker {
    async fn measure_all(
        &self,
        backend: Backend,
        arguments: &AnalyticsArgs,
    ) -> anyhow::Result<(Vec<Measured>, Vec<String>)> {
        let mut measured = Vec::new();
        let mut problems = Vec::new();
        for question in Question::ALL {
            tracing::info!(%backend, %question, "checking and timing");
            let grpc = self.ask(question, Side::Grpc, true).await?;
            let in_process = self.ask(question, Side::InProcess, true).await?;
            let sql = self.ask(question, Side::Sql, true).await?;
            for (label, answer) in [("gRPC", &grpc), ("in-process", &in_process)] {
                if let Some(difference) = difference(
                    answer.answer.as_ref().unwrap_or(&Answer::new()),
                    sql.answer.as_ref().unwrap_or(&Answer::new()),
                ) {
                    problems.push(format!(
                        "{backend}: {question}: the service ({label}) and SQL disagree: {difference}"
                    ));
                }
            }
            let sides = [Side::Grpc, Side::InProcess, Side::Sql];
            for _ in 0..arguments.warmup {
                for side in sides {
                    self.ask(question, side, false).await?;
                }
            }
            let mut histograms = [
                load::latency_histogram()?,
                load::latency_histogram()?,
                load::latency_histogram()?,
            ];
            for repetition in 0..arguments.repetitions as usize {
                // Each side goes first in turn, so background load and
                // caches favour none.
                for offset in 0..sides.len() {
                    let index = (repetition + offset) % sides.len();
                    let timed = self.ask(question, sides[index], false).await?;
                    histograms[index].saturating_record(micros(timed.elapsed));
                }
            }
            let [grpc_histogram, in_process_histogram, sql_histogram] = histograms;
            measured.push(Measured {
                question,
                rows: grpc.rows,
                grpc: grpc_histogram,
                in_process: in_process_histogram,
                sql: sql_histogram,
            });
        }
        Ok((measured, problems))
    }

    async fn ask(&self, question: Question, side: Side, keep: bool) -> anyhow::Result<Timed> {
        match side {
            Side::Grpc => self.over_grpc(question, keep).await,
            Side::InProcess => self.in_process(question, keep).await,
            Side::Sql => self.floor.ask(question, &self.dataset, keep).await,
        }
        .with_context(|| format!("asking {question}"))
    }

    fn range(&self, question: Question) -> (String, String) {
        let last = self.dataset.last_month.to_string();
        match question {
            Question::CityRollup | Question::Rates => (last.clone(), last),
            Question::SeriesOne | Question::SeriesAll => (self.dataset.first_month.to_string(), last),
        }
    }

    fn indicators(question: Question) -> Vec<String> {
        match question {
            Question::SeriesOne => vec![SERIES_INDICATOR.to_owned()],
            _ => Vec::new(),
        }
    }

    async fn over_grpc(&self, question: Question, keep: bool) -> anyhow::Result<Timed> {
        let mut client = self.client.clone();
        let (from_period, to_period) = self.range(question);
        let group_by = match question {
            Question::CityRollup => vec![proto::GroupDimension::City as i32],
            _ => vec![
                proto::GroupDimension::Locality as i32,
                proto::GroupDimension::Period as i32,
            ],
        };
        let started = Instant::now();
        match question {
            Question::CityRollup | Question::SeriesOne => {
                let rows = client
                    .aggregate_indicators(proto::AggregateIndicatorsRequest {
                        form_code: WIDE_FORM.to_owned(),
                        indicator_codes: Self::indicators(question),
                        from_period,
                        to_period,
                        group_by,
                        ..Default::default()
                    })
                    .await?
                    .into_inner()
                    .rows;
                let elapsed = started.elapsed();
                Ok(Timed {
                    elapsed,
                    rows: rows.len(),
                    answer: keep.then(|| proto_rows_answer(&rows)),
                })
            }
            Question::SeriesAll => {
                let mut stream = client
                    .stream_aggregate_indicators(proto::StreamAggregateIndicatorsRequest {
                        form_code: WIDE_FORM.to_owned(),
                        from_period,
                        to_period,
                        group_by,
                        ..Default::default()
                    })
                    .await?
                    .into_inner();
                let mut rows = Vec::new();
                while let Some(batch) = stream.message().await? {
                    rows.extend(batch.rows);
                }
                let elapsed = started.elapsed();
                Ok(Timed {
                    elapsed,
                    rows: rows.len(),
                    answer: keep.then(|| proto_rows_answer(&rows)),
                })
            }
            Question::Rates => {
                let rates = client
                    .get_reporting_rates(proto::GetReportingRatesRequest {
                        form_code: WIDE_FORM.to_owned(),
                        from_period,
                        to_period,
                        page_size: 1_000,
                        ..Default::default()
                    })
                    .await?
                    .into_inner()
                    .rates;
                let elapsed = started.elapsed();
                Ok(Timed {
                    elapsed,
                    rows: rates.len(),
                    answer: keep.then(|| {
                        rates
                            .iter()
                            .map(|rate| {
                                (
                                    rate.locality_code.clone(),
                                    vec![
                                        f64::from(rate.expected_reports),
                                        f64::from(rate.submitted_reports),
                                        f64::from(rate.on_time_reports),
                                        f64::from(rate.accepted_reports),
                                    ],
                                )
                            })
                            .collect()
                    }),
                })
            }
        }
    }

    async fn in_process(&self, question: Question, keep: bool) -> anyhow::Result<Timed> {
        let (from_period, to_period) = self.range(question);
        let analytics = &self.services.analytics;
        let started = Instant::now();
        if question == Question::Rates {
            let page = PageRequest::parse(1_000, "", RATE_PAGES)?;
            let rates = analytics
                .reporting_rates(
                    &self.principal,
                    &RatesQuery {
                        form_code: WIDE_FORM.to_owned(),
                        from_period,
                        to_period,
                        ..RatesQuery::default()
                    },
                    &page,
                )
                .await?
                .rates
                .items;
            let elapsed = started.elapsed();
            return Ok(Timed {
                elapsed,
                rows: rates.len(),
                answer: keep.then(|| {
                    rates
                        .iter()
                        .map(|rate| {
                            (
                                rate.locality_code.clone().unwrap_or_default(),
                                vec![
                                    f64::from(rate.expected),
                                    f64::from(rate.submitted),
                                    f64::from(rate.on_time),
                                    f64::from(rate.accepted),
                                ],
                            )
                        })
                        .collect()
                }),
            });
        }
        let group_by = match question {
            Question::CityRollup => vec![GroupDimension::City],
            _ => vec![GroupDimension::Locality, GroupDimension::Period],
        };
        let rows = analytics
            .aggregate(
                &self.principal,
                &AggregateQuery {
                    form_code: WIDE_FORM.to_owned(),
                    indicator_codes: Self::indicators(question),
                    from_period,
                    to_period,
                    group_by,
                    ..AggregateQuery::default()
                },
                None,
            )
            .await?
            .rows;
        let elapsed = started.elapsed();
        Ok(Timed {
            elapsed,
            rows: rows.len(),
            answer: keep.then(|| {
                rows.iter()
                    .filter(|row| row.contributing > 0)
                    .map(|row| {
                        let key = [
                            row.key.locality_code.clone().unwrap_or_default(),
                            row.key
                                .period
                                .map(|period| period.to_string())
                                .unwrap_or_default(),
                            row.indicator_code.clone(),
                        ]
                        .join(" ");
                        (
                            key,
                            vec![f64::from(row.contributing), row.value.unwrap_or(f64::NAN)],
                        )
                    })
                    .collect()
            }),
        })
    }
}

/// The rows that have contributions, keyed as the SQL's.
fn proto_rows_answer(rows: &[proto::AggregateRow]) -> Answer {
    rows.iter()
        .filter(|row| row.contributing_reports > 0)
        .map(|row| {
            let key = [
                row.locality_code.as_str(),
                row.period.as_str(),
                row.indicator_code.as_str(),
            ]
            .join(" ");
            (
                key,
                vec![f64::from(row.contributing_reports), row.value.unwrap_or(f64::NAN)],
            )
        })
        .collect()
}

/// The first difference between two answers, if any. Sums may be added in
/// another order, so figures agree within a relative 1e-9.
fn difference(service: &Answer, sql: &Answer) -> Option<String> {
    if service.len() != sql.len() {
        return Some(format!(
            "{} groups with figures from the service, {} from SQL",
            service.len(),
            sql.len()
        ));
    }
    for ((service_key, service_figures), (sql_key, sql_figures)) in service.iter().zip(sql) {
        if service_key != sql_key {
            return Some(format!("group {service_key:?} against {sql_key:?}"));
        }
        let agree = service_figures.len() == sql_figures.len()
            && service_figures
                .iter()
                .zip(sql_figures)
                .all(|(left, right)| (left - right).abs() <= 1e-9 * left.abs().max(right.abs()).max(1.0));
        if !agree {
            return Some(format!(
                "{service_key:?}: {service_figures:?} against {sql_figures:?}"
            ));
        }
    }
    None
}

fn micros(elapsed: Duration) -> u64 {
    u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX).max(1)
}

/// The database through sqlx's own driver, for the hand-written SQL.
enum Floor {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same sqlx query builder on whichever pool the floor has.
macro_rules! on_pool {
    ($floor:expr, $method:ident, $query:expr) => {
        match $floor {
            Floor::Sqlite(pool) => $query.$method(pool).await,
            Floor::Postgres(pool) => $query.$method(pool).await,
        }
    };
}

/// The city-wide total of each indicator in one period: the values of each
/// report's latest revision, added up.
const CITY_ROLLUP_SQL: &str = "SELECT v.indicator_code, COUNT(v.numeric_value), SUM(v.numeric_value) \
     FROM reports r JOIN report_values v ON v.report_id = r.id AND v.revision = r.latest_revision \
     WHERE r.form_code = $1 AND r.period = $2 \
     GROUP BY v.indicator_code";

/// One indicator per commune or ward and month over a range of months.
const SERIES_ONE_SQL: &str = "SELECT r.locality_code, r.period, COUNT(v.numeric_value), SUM(v.numeric_value) \
     FROM reports r JOIN report_values v ON v.report_id = r.id AND v.revision = r.latest_revision \
     AND v.indicator_code = $4 \
     WHERE r.form_code = $1 AND r.period BETWEEN $2 AND $3 \
     GROUP BY r.locality_code, r.period";

/// Every indicator per commune or ward and month over a range of months.
const SERIES_ALL_SQL: &str = "SELECT r.locality_code, r.period, v.indicator_code, COUNT(v.numeric_value), \
     SUM(v.numeric_value) \
     FROM reports r JOIN report_values v ON v.report_id = r.id AND v.revision = r.latest_revision \
     WHERE r.form_code = $1 AND r.period BETWEEN $2 AND $3 \
     GROUP BY r.locality_code, r.period, v.indicator_code";

/// Per commune or ward: organs that owe the form, and of their reports for
/// the period those submitted, on time and accepted. The organ kinds and
/// locality kinds are written in.
fn rates_sql() -> String {
    let quoted = |names: Vec<&str>| {
        names
            .into_iter()
            .map(|name| format!("'{name}'"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let organ_kinds = quoted(
        OrganKind::COMMUNE_ORGANS
            .iter()
            .map(|kind| kind.as_str())
            .collect(),
    );
    let locality_kinds = quoted(
        LocalityKind::ALL
            .into_iter()
            .filter(|kind| kind.is_commune_level())
            .map(LocalityKind::as_str)
            .collect(),
    );
    format!(
        "SELECT o.locality_code, COUNT(*), COUNT(r.id), COUNT(CASE WHEN r.late = 0 THEN 1 END), \
         COUNT(CASE WHEN r.status = 'ACCEPTED' THEN 1 END) \
         FROM organs o JOIN localities l ON l.code = o.locality_code AND l.kind IN ({locality_kinds}) \
         LEFT JOIN reports r ON r.organ_id = o.id AND r.form_code = $1 AND r.period = $2 \
         WHERE o.kind IN ({organ_kinds}) \
         GROUP BY o.locality_code"
    )
}

impl Floor {
    async fn connect(backend: Backend, url: &str) -> anyhow::Result<Floor> {
        let redacted = lienthong::config::redact_password(url);
        Ok(match backend {
            Backend::Sqlite => Floor::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(2)
                    .connect_with(SqliteConnectOptions::from_str(url)?)
                    .await
                    .with_context(|| format!("connecting to {redacted}"))?,
            ),
            Backend::Postgres => Floor::Postgres(
                PgPoolOptions::new()
                    .max_connections(2)
                    .connect(url)
                    .await
                    .with_context(|| format!("connecting to {redacted}"))?,
            ),
        })
    }

    /// The months of `bench-32` and the size of the generated reports.
    async fn dataset(&self) -> anyhow::Result<Dataset> {
        let (first, last): (Option<String>, Option<String>) = on_pool!(
            self,
            fetch_one,
            sqlx::query_as("SELECT MIN(period), MAX(period) FROM reports WHERE form_code = $1")
                .bind(WIDE_FORM)
        )?;
        let (Some(first), Some(last)) = (first, last) else {
            anyhow::bail!(
                "the database holds no {WIDE_FORM} reports; fill it with `lienthong-bench generate`"
            );
        };
        let forms = GeneratedForm::ALL
            .iter()
            .map(|form| format!("'{}'", form.code()))
            .collect::<Vec<_>>()
            .join(", ");
        let count = |sql: String| async move {
            let (count,): (i64,) = on_pool!(self, fetch_one, sqlx::query_as(sqlx::AssertSqlSafe(sql)))?;
            anyhow::Ok(u64::try_from(count)?)
        };
        Ok(Dataset {
            first_month: first.parse()?,
            last_month: last.parse()?,
            reports: count(format!(
                "SELECT COUNT(*) FROM reports WHERE form_code IN ({forms})"
            ))
            .await?,
            values: count(format!(
                "SELECT COUNT(*) FROM reports r JOIN report_values v ON v.report_id = r.id \
                 AND v.revision = r.latest_revision WHERE r.form_code IN ({forms})"
            ))
            .await?,
            value_rows: count(format!(
                "SELECT COUNT(*) FROM reports r JOIN report_values v ON v.report_id = r.id \
                 WHERE r.form_code IN ({forms})"
            ))
            .await?,
        })
    }

    async fn ask(&self, question: Question, dataset: &Dataset, keep: bool) -> anyhow::Result<Timed> {
        let first = dataset.first_month.to_string();
        let last = dataset.last_month.to_string();
        let started = Instant::now();
        let figures = |count: i64, sum: Option<f64>| vec![count as f64, sum.unwrap_or(f64::NAN)];
        match question {
            Question::CityRollup => {
                let rows: Vec<(String, i64, Option<f64>)> = on_pool!(
                    self,
                    fetch_all,
                    sqlx::query_as(CITY_ROLLUP_SQL).bind(WIDE_FORM).bind(&last)
                )?;
                let elapsed = started.elapsed();
                Ok(Timed {
                    elapsed,
                    rows: rows.len(),
                    answer: keep.then(|| {
                        rows.into_iter()
                            .map(|(indicator, count, sum)| (format!("  {indicator}"), figures(count, sum)))
                            .collect()
                    }),
                })
            }
            Question::SeriesOne => {
                let rows: Vec<(String, String, i64, Option<f64>)> = on_pool!(
                    self,
                    fetch_all,
                    sqlx::query_as(SERIES_ONE_SQL)
                        .bind(WIDE_FORM)
                        .bind(&first)
                        .bind(&last)
                        .bind(SERIES_INDICATOR)
                )?;
                let elapsed = started.elapsed();
                Ok(Timed {
                    elapsed,
                    rows: rows.len(),
                    answer: keep.then(|| {
                        rows.into_iter()
                            .map(|(locality, period, count, sum)| {
                                (
                                    format!("{locality} {period} {SERIES_INDICATOR}"),
                                    figures(count, sum),
                                )
                            })
                            .collect()
                    }),
                })
            }
            Question::SeriesAll => {
                let rows: Vec<(String, String, String, i64, Option<f64>)> = on_pool!(
                    self,
                    fetch_all,
                    sqlx::query_as(SERIES_ALL_SQL)
                        .bind(WIDE_FORM)
                        .bind(&first)
                        .bind(&last)
                )?;
                let elapsed = started.elapsed();
                Ok(Timed {
                    elapsed,
                    rows: rows.len(),
                    answer: keep.then(|| {
                        rows.into_iter()
                            .map(|(locality, period, indicator, count, sum)| {
                                (format!("{locality} {period} {indicator}"), figures(count, sum))
                            })
                            .collect()
                    }),
                })
            }
            Question::Rates => {
                let rows: Vec<(String, i64, i64, i64, i64)> = on_pool!(
                    self,
                    fetch_all,
                    sqlx::query_as(sqlx::AssertSqlSafe(rates_sql()))
                        .bind(WIDE_FORM)
                        .bind(&last)
                )?;
                let elapsed = started.elapsed();
                Ok(Timed {
                    elapsed,
                    rows: rows.len(),
                    answer: keep.then(|| {
                        rows.into_iter()
                            .map(|(locality, expected, submitted, on_time, accepted)| {
                                (
                                    locality,
                                    [expected, submitted, on_time, accepted]
                                        .map(|count| count as f64)
                                        .to_vec(),
                                )
                            })
                            .collect()
                    }),
                })
            }
        }
    }
}

fn print_progress(run: &BackendRun) {
    let dataset = &run.dataset;
    println!(
        "{}: measured on {} to {}: {} reports, {} values in their latest revisions ({} rows of report_values)",
        run.backend,
        dataset.first_month,
        dataset.last_month,
        dataset.reports,
        dataset.values,
        dataset.value_rows
    );
}

fn millis(micros: u64) -> String {
    let millis = Duration::from_micros(micros).as_secs_f64() * 1_000.0;
    if millis < 10.0 {
        format!("{millis:.2}")
    } else {
        format!("{millis:.1}")
    }
}

fn print_table(runs: &[BackendRun], arguments: &AnalyticsArgs) {
    println!("\ngenerating the history (through ReportService: submissions, amendments and reviews):");
    let rows: Vec<Vec<String>> = runs
        .iter()
        .filter_map(|run| run.filled.as_ref().map(|filled| (run.backend, filled)))
        .map(|(backend, filled)| {
            let seconds = filled.elapsed.as_secs_f64().max(f64::MIN_POSITIVE);
            vec![
                backend.to_string(),
                filled.concurrency.to_string(),
                filled.report_count().to_string(),
                filled.values.to_string(),
                filled.writes.to_string(),
                format!("{seconds:.1}"),
                format!("{:.0}", filled.report_count() as f64 / seconds),
                format!("{:.0}", filled.value_rows as f64 / seconds),
            ]
        })
        .collect();
    if rows.is_empty() {
        println!("(none: measured on an existing database)");
    } else {
        report::print_rows(
            &[
                "backend",
                "in flight",
                "reports",
                "values",
                "writes",
                "seconds",
                "reports/s",
                "values/s",
            ],
            &rows,
        );
    }

    println!(
        "\nanalytics on {WIDE_FORM}, {} timed runs per side after {} untimed (ms; gRPC: the server in-process over \
         loopback; in-process: AnalyticsService without gRPC; SQL: one hand-written statement):",
        arguments.repetitions, arguments.warmup
    );
    let mut rows = Vec::new();
    for run in runs {
        for measured in &run.measured {
            let grpc_p50 = measured.grpc.value_at_quantile(0.5);
            let ratio = measured.ratio();
            let mut goals = Vec::new();
            if let Some(goal) = measured.question.goal() {
                goals.push(format!(
                    "p50 ≤ {} ms {}",
                    goal.as_millis(),
                    if u128::from(grpc_p50) <= goal.as_micros() {
                        "met"
                    } else {
                        "NOT met"
                    }
                ));
            }
            goals.push(format!(
                "≤ {FLOOR_RATIO_GOAL}× SQL {}",
                if ratio <= FLOOR_RATIO_GOAL {
                    "met"
                } else {
                    "NOT met"
                }
            ));
            rows.push(vec![
                run.backend.to_string(),
                measured.question.to_string(),
                measured.rows.to_string(),
                millis(grpc_p50),
                millis(measured.grpc.value_at_quantile(0.99)),
                millis(measured.grpc.max()),
                millis(measured.in_process.value_at_quantile(0.5)),
                millis(measured.sql.value_at_quantile(0.5)),
                millis(measured.sql.value_at_quantile(0.99)),
                millis(measured.sql.max()),
                format!("{ratio:.1}"),
                goals.join("; "),
            ]);
        }
    }
    report::print_rows(
        &[
            "backend",
            "question",
            "rows",
            "gRPC p50",
            "p99",
            "max",
            "in-process p50",
            "SQL p50",
            "p99",
            "max",
            "gRPC/SQL",
            "goals",
        ],
        &rows,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_agree_within_rounding_and_not_beyond() {
        let answer = |value: f64| Answer::from([("00004 2025-09 x".to_owned(), vec![3.0, value])]);
        assert_eq!(difference(&answer(1e12), &answer(1e12 + 1e-3)), None);
        assert!(difference(&answer(10.0), &answer(11.0)).is_some());
        assert!(difference(&answer(1.0), &Answer::new()).is_some());
    }

    #[test]
    fn the_rates_statement_names_the_commune_organs_and_localities() {
        let sql = rates_sql();
        for kind in OrganKind::COMMUNE_ORGANS {
            assert!(sql.contains(&format!("'{}'", kind.as_str())), "{sql}");
        }
        assert!(
            !sql.contains(&format!("'{}'", LocalityKind::City.as_str())),
            "{sql}"
        );
    }
}
