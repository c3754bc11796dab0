//! `submit-recommendations`: SubmitRecommendation latency on a stored corpus.
//!
//! A corpus of synthetic recommendations (see [`crate::corpus`]) is first
//! stored through the domain service — the same use case, dedup decision
//! and write transaction as a gRPC submission, without the network — with a
//! few submissions in flight; its load rate is timed and printed. Then the
//! server runs in-process and new texts of the same corpus are submitted
//! over gRPC with the generated client: one request at a time, then several
//! in flight, one connection each. Latency is timed around each call on the
//! client side. On PostgreSQL the database is vacuumed and analysed between
//! the two, as autovacuum would after a bulk load.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use hdrhistogram::Histogram;
use lienthong::generate::acting_as;
use lienthong::proto;
use lienthong::proto::recommendation_service_client::RecommendationServiceClient;
use lienthong_domain::auth::{Principal, Role};
use lienthong_domain::service::{Services, SubmitRecommendation, system_clock};
use lienthong_domain::store::Store;
use tokio::task::JoinSet;
use tonic::transport::Channel;

use crate::cli::SubmitRecommendationsArgs;
use crate::corpus::{self, Item};
use crate::load::{self, Bearer};
use crate::report;
use crate::setup::{self, Backend, Database, RunningServer, Snapshot, interruptible};

/// The issue's goal for SubmitRecommendation on a corpus of 100 000.
const GOAL_P99: Duration = Duration::from_millis(10);
/// How often loading reports its progress and rate.
const PROGRESS_EVERY: Duration = Duration::from_secs(15);

/// Everything measured on one backend.
#[derive(Debug)]
struct BackendRun {
    backend: Backend,
    /// None when the corpus came from a snapshot.
    load: Option<Load>,
    phases: Vec<Phase>,
}

#[derive(Debug)]
struct Load {
    stored: usize,
    concurrency: u32,
    elapsed: Duration,
    latencies: Histogram<u64>,
    outcomes: BTreeMap<String, u64>,
    errors: BTreeMap<String, u64>,
    /// Submissions per second over each progress interval, in order.
    rates: Vec<f64>,
}

#[derive(Debug)]
struct Phase {
    concurrency: u32,
    elapsed: Duration,
    latencies: Histogram<u64>,
    outcomes: BTreeMap<String, u64>,
    /// Failures by gRPC code, with one message.
    errors: BTreeMap<String, (u64, String)>,
}

pub async fn run(arguments: &SubmitRecommendationsArgs) -> anyhow::Result<()> {
    let corpus_size = usize::try_from(arguments.corpus)?;
    let requests = usize::try_from(arguments.requests)?;
    let communes = corpus::hanoi_communes();
    let items: Arc<[Item]> = corpus::generate(corpus_size + 2 * requests, arguments.seed, &communes).into();
    report::print_machine(std::thread::available_parallelism().map_or(1, usize::from));
    println!(
        "corpus: {corpus_size} recommendations to store, then 2 × {requests} new ones to submit (seed {})",
        arguments.seed
    );
    let mut runs = Vec::new();
    for backend in arguments.backend.backends() {
        let run = on_fresh_database(backend, arguments, &items).await?;
        print_progress(&run);
        runs.push(run);
    }
    print_tables(&runs);
    let problems: Vec<String> = runs.iter().flat_map(problems).collect();
    if problems.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("the run is not valid:\n  {}", problems.join("\n  "))
    }
}

/// Runs on a database created for it, and removes it afterwards (unless
/// asked to keep it) whatever happened, Ctrl-C included.
async fn on_fresh_database(
    backend: Backend,
    arguments: &SubmitRecommendationsArgs,
    items: &Arc<[Item]>,
) -> anyhow::Result<BackendRun> {
    tracing::info!(%backend, "preparing the database");
    let snapshot = match &arguments.corpus_snapshot {
        Some(name) => {
            let identity = format!(
                "{}_{}_n{}",
                arguments.corpus,
                arguments.seed,
                lienthong_dedup::NORM_VERSION
            );
            Some(Snapshot::new(backend, &arguments.postgres_url, name, &identity)?)
        }
        None => None,
    };
    let mut load = None;
    if let Some(snapshot) = &snapshot
        && !snapshot.exists().await?
    {
        let filled = snapshot.fill(async |url: &str| {
            let load = load_corpus(backend, url, arguments, items).await?;
            // A snapshot missing some of the corpus would be reused as if whole.
            anyhow::ensure!(
                load.errors.is_empty(),
                "storing the corpus failed: {:?}",
                load.errors
            );
            Ok(load)
        });
        load = Some(filled.await?);
    }
    let database = match &snapshot {
        Some(snapshot) => snapshot.copy().await?,
        None => Database::create(backend, &arguments.postgres_url).await?,
    };
    let result = interruptible(async {
        if snapshot.is_none() {
            load = Some(load_corpus(backend, &database.url, arguments, items).await?);
        }
        measure(&database.url, arguments, items).await
    })
    .await;
    if arguments.keep_database {
        println!("{backend}: kept the database {}", database.keep());
    } else {
        let removed = database.remove().await;
        // The run's own error comes first.
        if result.is_ok() {
            removed?;
        }
    }
    Ok(BackendRun {
        backend,
        load,
        phases: result?,
    })
}

/// Stores the corpus into the empty database at `database_url`.
async fn load_corpus(
    backend: Backend,
    database_url: &str,
    arguments: &SubmitRecommendationsArgs,
    items: &Arc<[Item]>,
) -> anyhow::Result<Load> {
    let store = lienthong_store::connect(database_url)
        .await
        .context("opening the store")?;
    lienthong::demo::install_directory_and_forms(store.clone(), time::OffsetDateTime::now_utc())
        .await
        .context("importing the directory")?;
    let services = Arc::new(Services::new(store.clone(), system_clock()));
    let corpus_size = usize::try_from(arguments.corpus)?;
    let principals = Arc::new(principals(store.as_ref(), items).await?);
    tracing::info!(%backend, recommendations = corpus_size, in_flight = arguments.load_concurrency, "storing the corpus");
    let load = store_corpus(
        &services,
        &principals,
        items,
        corpus_size,
        arguments.load_concurrency,
    )
    .await?;
    tracing::info!(%backend, seconds = load.elapsed.as_secs_f64(), "stored");
    setup::vacuum_analyze(backend, database_url).await?;
    Ok(load)
}

/// Submits the measured texts over gRPC to a server on the database at
/// `database_url`, which holds the corpus: one at a time, then several in
/// flight.
async fn measure(
    database_url: &str,
    arguments: &SubmitRecommendationsArgs,
    items: &Arc<[Item]>,
) -> anyhow::Result<Vec<Phase>> {
    let store = lienthong_store::connect(database_url)
        .await
        .context("opening the store")?;
    let services = Services::new(store.clone(), system_clock());
    let corpus_size = usize::try_from(arguments.corpus)?;
    let requests = usize::try_from(arguments.requests)?;
    let server = RunningServer::start(store.clone(), database_url).await?;
    let measured = &items[corpus_size..];
    let tokens = Arc::new(tokens(&services, measured).await?);
    let mut phases = Vec::new();
    let mut result = Ok(());
    for (index, concurrency) in [1, arguments.concurrency].into_iter().enumerate() {
        let start = corpus_size + index * requests;
        match submit(
            server.address,
            &tokens,
            items,
            start..start + requests,
            concurrency,
        )
        .await
        {
            Ok(phase) => phases.push(phase),
            Err(error) => {
                result = Err(error);
                break;
            }
        }
    }
    server.stop().await.context("stopping the server")?;
    result?;
    Ok(phases)
}

/// A SUBMITTER principal for every organ that sends a text, as the auth
/// layer would build from its token.
async fn principals(store: &dyn Store, items: &[Item]) -> anyhow::Result<HashMap<String, Principal>> {
    let organs: HashSet<&str> = items.iter().map(|item| item.organ_id.as_str()).collect();
    let mut principals = HashMap::with_capacity(organs.len());
    for organ_id in organs {
        principals.insert(
            organ_id.to_owned(),
            acting_as(store, organ_id, Role::Submitter).await?,
        );
    }
    Ok(principals)
}

/// A SUBMITTER token for every organ that sends a measured text.
async fn tokens(services: &Services, items: &[Item]) -> anyhow::Result<HashMap<String, Bearer>> {
    let organs: HashSet<&str> = items.iter().map(|item| item.organ_id.as_str()).collect();
    let mut tokens = HashMap::with_capacity(organs.len());
    for organ_id in organs {
        let issued = services
            .tokens
            .issue(organ_id, &[Role::Submitter], "lienthong-bench", None)
            .await
            .with_context(|| format!("issuing a token for {organ_id}"))?;
        tokens.insert(organ_id.to_owned(), Bearer::new(&issued.secret)?);
    }
    Ok(tokens)
}

fn request_id(item: &Item) -> String {
    format!("bench-{}", item.id)
}

/// Stores `items[..count]` through the recommendation use case with
/// `concurrency` submissions in flight, each lane in corpus order.
async fn store_corpus(
    services: &Arc<Services>,
    principals: &Arc<HashMap<String, Principal>>,
    items: &Arc<[Item]>,
    count: usize,
    concurrency: u32,
) -> anyhow::Result<Load> {
    let lanes = usize::try_from(concurrency)?;
    let done = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut running = JoinSet::new();
    for lane in 0..lanes {
        let services = services.clone();
        let principals = principals.clone();
        let items = items.clone();
        let done = done.clone();
        running.spawn(async move {
            let mut latencies = load::latency_histogram()?;
            let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
            let mut errors: BTreeMap<String, u64> = BTreeMap::new();
            for item in items.iter().take(count).skip(lane).step_by(lanes) {
                let principal = principals
                    .get(&item.organ_id)
                    .with_context(|| format!("no principal for {}", item.organ_id))?;
                let before = Instant::now();
                let result = services
                    .recommendations
                    .submit(
                        principal,
                        SubmitRecommendation {
                            organ_id: item.organ_id.clone(),
                            text: item.text.clone(),
                            topic: item.topic.to_owned(),
                            addressee: item.addressee.to_owned(),
                            source: String::new(),
                            request_id: request_id(item),
                        },
                    )
                    .await;
                latencies.saturating_record(micros(before.elapsed()));
                match result {
                    Ok(view) => {
                        *outcomes
                            .entry(view.recommendation.outcome.as_str().to_owned())
                            .or_insert(0) += 1;
                    }
                    Err(error) => *errors.entry(error.to_string()).or_insert(0) += 1,
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok((latencies, outcomes, errors))
        });
    }

    let mut load = Load {
        stored: 0,
        concurrency,
        elapsed: Duration::ZERO,
        latencies: load::latency_histogram()?,
        outcomes: BTreeMap::new(),
        errors: BTreeMap::new(),
        rates: Vec::new(),
    };
    let mut ticker = tokio::time::interval(PROGRESS_EVERY);
    ticker.tick().await;
    let mut last = (Instant::now(), 0_usize);
    loop {
        tokio::select! {
            joined = running.join_next() => {
                let Some(joined) = joined else { break };
                let (latencies, outcomes, errors) = joined.context("a loading task panicked")??;
                load.latencies.add(&latencies).context("merging latencies")?;
                for (outcome, count) in outcomes {
                    *load.outcomes.entry(outcome).or_insert(0) += count;
                }
                for (error, count) in errors {
                    *load.errors.entry(error).or_insert(0) += count;
                }
            }
            _ = ticker.tick() => {
                let now = Instant::now();
                let stored = done.load(Ordering::Relaxed);
                let rate = (stored - last.1) as f64 / (now - last.0).as_secs_f64();
                load.rates.push(rate);
                tracing::info!(stored, of = count, per_second = rate.round(), "storing the corpus");
                last = (now, stored);
            }
        }
    }
    load.elapsed = started.elapsed();
    load.stored = usize::try_from(load.outcomes.values().sum::<u64>())?;
    Ok(load)
}

fn micros(elapsed: Duration) -> u64 {
    u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX).max(1)
}

/// Submits `items[range]` over gRPC with `concurrency` requests in flight,
/// each worker on its own connection and in corpus order.
async fn submit(
    address: SocketAddr,
    tokens: &Arc<HashMap<String, Bearer>>,
    items: &Arc<[Item]>,
    range: std::ops::Range<usize>,
    concurrency: u32,
) -> anyhow::Result<Phase> {
    let workers = usize::try_from(concurrency)?;
    let mut channels: Vec<Channel> = Vec::with_capacity(workers);
    for _ in 0..workers {
        channels.push(load::connect(address).await?);
    }
    tracing::info!(requests = range.len(), in_flight = concurrency, "submitting");
    let started = Instant::now();
    let mut running = JoinSet::new();
    for (worker, channel) in channels.into_iter().enumerate() {
        let tokens = tokens.clone();
        let items = items.clone();
        let range = range.clone();
        running.spawn(async move {
            let mut latencies = load::latency_histogram()?;
            let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
            let mut errors: BTreeMap<String, (u64, String)> = BTreeMap::new();
            for item in items[range].iter().skip(worker).step_by(workers) {
                let bearer = tokens
                    .get(&item.organ_id)
                    .with_context(|| format!("no token for {}", item.organ_id))?
                    .clone();
                let mut client = RecommendationServiceClient::with_interceptor(channel.clone(), bearer);
                let request = proto::SubmitRecommendationRequest {
                    organ: item.organ_id.clone(),
                    text: item.text.clone(),
                    topic: item.topic.to_owned(),
                    addressee: item.addressee.to_owned(),
                    source: String::new(),
                    request_id: request_id(item),
                };
                let before = Instant::now();
                let result = client.submit_recommendation(request).await;
                let elapsed = before.elapsed();
                match result {
                    Ok(response) => {
                        latencies.saturating_record(micros(elapsed));
                        let outcome = response.into_inner().outcome();
                        let name = outcome.as_str_name().trim_start_matches("DEDUP_OUTCOME_");
                        *outcomes.entry(name.to_owned()).or_insert(0) += 1;
                    }
                    Err(status) => {
                        let entry = errors
                            .entry(format!("{:?}", status.code()))
                            .or_insert_with(|| (0, status.message().to_owned()));
                        entry.0 += 1;
                    }
                }
            }
            anyhow::Ok((latencies, outcomes, errors))
        });
    }
    let mut phase = Phase {
        concurrency,
        elapsed: Duration::ZERO,
        latencies: load::latency_histogram()?,
        outcomes: BTreeMap::new(),
        errors: BTreeMap::new(),
    };
    while let Some(joined) = running.join_next().await {
        let (latencies, outcomes, errors) = joined.context("a submitting task panicked")??;
        phase.latencies.add(&latencies).context("merging latencies")?;
        for (outcome, count) in outcomes {
            *phase.outcomes.entry(outcome).or_insert(0) += count;
        }
        for (code, (count, example)) in errors {
            phase.errors.entry(code).or_insert((0, example)).0 += count;
        }
    }
    phase.elapsed = started.elapsed();
    Ok(phase)
}

fn millis(micros: u64) -> String {
    format!("{:.1}", Duration::from_micros(micros).as_secs_f64() * 1_000.0)
}

fn outcome_summary(outcomes: &BTreeMap<String, u64>) -> String {
    outcomes
        .iter()
        .map(|(outcome, count)| format!("{} {count}", outcome.to_lowercase()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn print_progress(run: &BackendRun) {
    match &run.load {
        Some(load) => print_load(run.backend, load),
        None => println!("{}: the corpus came from a snapshot", run.backend),
    }
    for phase in &run.phases {
        println!(
            "{}: {} submissions with {} in flight in {:.1} s; {}",
            run.backend,
            phase.latencies.len(),
            phase.concurrency,
            phase.elapsed.as_secs_f64(),
            outcome_summary(&phase.outcomes),
        );
    }
}

fn print_load(backend: Backend, load: &Load) {
    println!(
        "{}: stored {} in {:.1} s ({:.0}/s with {} in flight; {:.0}/s in the first {} s, {:.0}/s in the last); {}",
        backend,
        load.stored,
        load.elapsed.as_secs_f64(),
        load.stored as f64 / load.elapsed.as_secs_f64().max(f64::MIN_POSITIVE),
        load.concurrency,
        load.rates.first().copied().unwrap_or(0.0),
        PROGRESS_EVERY.as_secs(),
        load.rates.last().copied().unwrap_or(0.0),
        outcome_summary(&load.outcomes),
    );
}

fn print_tables(runs: &[BackendRun]) {
    println!("\nstoring the corpus (through the service, no gRPC):");
    let rows: Vec<Vec<String>> = runs
        .iter()
        .filter_map(|run| Some((run, run.load.as_ref()?)))
        .map(|(run, load)| {
            vec![
                run.backend.to_string(),
                load.concurrency.to_string(),
                load.stored.to_string(),
                format!("{:.1}", load.elapsed.as_secs_f64()),
                format!(
                    "{:.0}",
                    load.stored as f64 / load.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
                ),
                millis(load.latencies.value_at_quantile(0.5)),
                millis(load.latencies.value_at_quantile(0.99)),
                millis(load.latencies.max()),
            ]
        })
        .collect();
    report::print_rows(
        &[
            "backend",
            "in flight",
            "stored",
            "seconds",
            "stored/s",
            "p50 ms",
            "p99 ms",
            "max ms",
        ],
        &rows,
    );

    println!("\nSubmitRecommendation over gRPC on the stored corpus:");
    let mut rows = Vec::new();
    for run in runs {
        for phase in &run.phases {
            let latencies = &phase.latencies;
            let p99 = latencies.value_at_quantile(0.99);
            rows.push(vec![
                run.backend.to_string(),
                phase.concurrency.to_string(),
                latencies.len().to_string(),
                format!(
                    "{:.0}",
                    latencies.len() as f64 / phase.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
                ),
                millis(latencies.value_at_quantile(0.5)),
                millis(latencies.value_at_quantile(0.9)),
                millis(p99),
                millis(latencies.max()),
                phase
                    .errors
                    .values()
                    .map(|(count, _)| count)
                    .sum::<u64>()
                    .to_string(),
                if u128::from(p99) <= GOAL_P99.as_micros() {
                    "met".to_owned()
                } else {
                    "NOT met".to_owned()
                },
            ]);
        }
    }
    report::print_rows(
        &[
            "backend",
            "in flight",
            "requests",
            "requests/s",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms",
            "errors",
            "p99 ≤ 10 ms",
        ],
        &rows,
    );
}

fn problems(run: &BackendRun) -> Vec<String> {
    let mut problems = Vec::new();
    for (error, count) in run.load.iter().flat_map(|load| &load.errors) {
        problems.push(format!("{}: storing: {count} × {error}", run.backend));
    }
    for phase in &run.phases {
        for (code, (count, example)) in &phase.errors {
            problems.push(format!(
                "{}: {} in flight: {count} × {code}, e.g. {example:?}",
                run.backend, phase.concurrency
            ));
        }
    }
    problems
}
