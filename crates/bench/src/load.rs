//! Load generation. Each worker is one client system sending one report at a
//! time, the next as soon as the previous is answered (closed loop), so
//! `concurrency` is the number of requests in flight. Workers own disjoint
//! organs and walk the periods oldest first, so every (organ, form, period)
//! is submitted exactly once; a duplicate would be ALREADY_EXISTS and would
//! measure the error path. Latency is timed around each call on the client
//! side: encoding, HTTP/2, authentication, validation and the database write.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use hdrhistogram::Histogram;
use lienthong::proto::report_service_client::ReportServiceClient;
use tokio::task::JoinSet;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

use crate::setup::Submitter;
use crate::workload;

/// Latencies are kept in microseconds up to a minute, well past the
/// server's 30 s request timeout, at three significant digits.
const LATENCY_LIMIT_MICROS: u64 = 60_000_000;

#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Workers, each with one request in flight.
    pub concurrency: u32,
    /// HTTP/2 connections the workers are spread over, in turn.
    pub connections: u32,
    pub warmup: Duration,
    pub duration: Duration,
}

/// What a run did.
#[derive(Debug)]
pub struct Outcome {
    /// Latency in microseconds of each success sent after warm-up.
    pub latencies: Histogram<u64>,
    /// From the end of warm-up to the last answer of the last worker.
    pub elapsed: Duration,
    /// Successes including warm-up: what the database should now hold.
    pub successes: u64,
    /// Failures (warm-up included) by gRPC code, with one message each.
    pub errors: BTreeMap<String, ErrorTally>,
    /// Workers that submitted for every period of their organs before the
    /// end, so the load dropped before the measurement did.
    pub exhausted_workers: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorTally {
    pub count: u64,
    pub example: String,
}

impl Outcome {
    /// Successes in the measured window.
    pub fn measured(&self) -> u64 {
        self.latencies.len()
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().map(|tally| tally.count).sum()
    }

    pub fn reports_per_second(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            // Exact below 2^53 reports, far beyond any run.
            self.measured() as f64 / seconds
        } else {
            0.0
        }
    }
}

/// Runs `plan` against the server at `address`, for the `submitters`' organs
/// over `periods`, and returns once every worker has had its last answer.
pub async fn drive(
    address: SocketAddr,
    submitters: &[Submitter],
    periods: &[String],
    plan: Plan,
) -> anyhow::Result<Outcome> {
    let concurrency = usize::try_from(plan.concurrency)?;
    anyhow::ensure!(
        concurrency <= submitters.len(),
        "--concurrency {concurrency} exceeds the {} reporting organs; each worker needs an organ of its own",
        submitters.len()
    );
    // Connections and clients are made before the clock starts, so the run
    // measures steady-state submissions, not connection set-up.
    let mut channels = Vec::new();
    for _ in 0..plan.connections.min(plan.concurrency) {
        channels.push(connect(address).await?);
    }
    let periods: Arc<[String]> = periods.into();
    let mut workers = Vec::with_capacity(concurrency);
    for (index, channel) in (0..concurrency).zip(channels.iter().cycle()) {
        let clients = submitters
            .iter()
            .skip(index)
            .step_by(concurrency)
            .map(|submitter| OrganClient::new(submitter, channel.clone()))
            .collect::<anyhow::Result<Vec<_>>>()?;
        workers.push(Worker {
            seed_base: u64::try_from(index)? << 32,
            clients,
            periods: periods.clone(),
            tally: Tally::new()?,
        });
    }

    let start = Instant::now();
    let window = Window {
        measure_from: start + plan.warmup,
        stop_at: start + plan.warmup + plan.duration,
    };
    let mut running = JoinSet::new();
    for worker in workers {
        running.spawn(worker.run(window));
    }
    let mut outcome = Outcome {
        latencies: latency_histogram()?,
        elapsed: Duration::ZERO,
        successes: 0,
        errors: BTreeMap::new(),
        exhausted_workers: 0,
    };
    let mut last_answer = window.measure_from;
    while let Some(joined) = running.join_next().await {
        let tally = joined.context("a load worker panicked")?;
        outcome
            .latencies
            .add(&tally.latencies)
            .context("merging latencies")?;
        outcome.successes += tally.successes;
        for (code, error) in tally.errors {
            let merged = outcome.errors.entry(code).or_insert(ErrorTally {
                count: 0,
                example: error.example.clone(),
            });
            merged.count += error.count;
        }
        outcome.exhausted_workers += u32::from(tally.exhausted);
        last_answer = last_answer.max(tally.last_answer);
    }
    outcome.elapsed = last_answer.saturating_duration_since(window.measure_from);
    Ok(outcome)
}

pub(crate) async fn connect(address: SocketAddr) -> anyhow::Result<Channel> {
    Endpoint::from_shared(format!("http://{address}"))?
        .connect()
        .await
        .with_context(|| format!("connecting to the server at {address}"))
}

pub(crate) fn latency_histogram() -> anyhow::Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, LATENCY_LIMIT_MICROS, 3).context("creating a latency histogram")
}

/// Adds `authorization: Bearer <token>` to every request, as a commune's
/// system would.
#[derive(Debug, Clone)]
pub(crate) struct Bearer(MetadataValue<Ascii>);

impl Bearer {
    pub(crate) fn new(token: &str) -> anyhow::Result<Bearer> {
        Ok(Bearer(
            format!("Bearer {token}")
                .parse()
                .context("a token is not valid header text")?,
        ))
    }
}

impl Interceptor for Bearer {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        request.metadata_mut().insert("authorization", self.0.clone());
        Ok(request)
    }
}

#[derive(Debug)]
struct OrganClient {
    organ_id: String,
    reports: ReportServiceClient<InterceptedService<Channel, Bearer>>,
}

impl OrganClient {
    fn new(submitter: &Submitter, channel: Channel) -> anyhow::Result<OrganClient> {
        let bearer = Bearer::new(&submitter.token)?;
        Ok(OrganClient {
            organ_id: submitter.organ_id.clone(),
            reports: ReportServiceClient::with_interceptor(channel, bearer),
        })
    }
}

/// When load starts to count and when it stops.
#[derive(Debug, Clone, Copy)]
struct Window {
    measure_from: Instant,
    stop_at: Instant,
}

#[derive(Debug)]
struct Worker {
    /// Makes each worker's figures differ from the others'.
    seed_base: u64,
    clients: Vec<OrganClient>,
    periods: Arc<[String]>,
    tally: Tally,
}

impl Worker {
    /// Submits period by period, each of the worker's organs in turn, until
    /// the window closes or the periods run out.
    async fn run(mut self, window: Window) -> Tally {
        let mut seed = self.seed_base;
        for period in self.periods.iter() {
            for client in &mut self.clients {
                let started = Instant::now();
                if started >= window.stop_at {
                    return self.tally;
                }
                seed += 1;
                let request_id = format!("bench-{}-{period}", client.organ_id);
                let request = workload::submission(&client.organ_id, period, seed, request_id);
                let result = client.reports.submit_report(request).await;
                self.tally
                    .record(result.map(drop), started, Instant::now(), window);
            }
        }
        self.tally.exhausted = Instant::now() < window.stop_at;
        self.tally
    }
}

/// One worker's counts, merged into the [`Outcome`] at the end so workers
/// share nothing while running.
#[derive(Debug)]
struct Tally {
    latencies: Histogram<u64>,
    successes: u64,
    errors: BTreeMap<String, ErrorTally>,
    exhausted: bool,
    last_answer: Instant,
}

impl Tally {
    fn new() -> anyhow::Result<Tally> {
        Ok(Tally {
            latencies: latency_histogram()?,
            successes: 0,
            errors: BTreeMap::new(),
            exhausted: false,
            last_answer: Instant::now(),
        })
    }

    fn record(
        &mut self,
        result: Result<(), tonic::Status>,
        started: Instant,
        answered: Instant,
        window: Window,
    ) {
        self.last_answer = answered;
        match result {
            Ok(()) => {
                self.successes += 1;
                if started >= window.measure_from {
                    let micros = u64::try_from((answered - started).as_micros()).unwrap_or(u64::MAX);
                    self.latencies.saturating_record(micros.max(1));
                }
            }
            Err(status) => {
                let tally = self
                    .errors
                    .entry(format!("{:?}", status.code()))
                    .or_insert_with(|| ErrorTally {
                        count: 0,
                        example: status.message().to_owned(),
                    });
                tally.count += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(now: Instant) -> Window {
        Window {
            measure_from: now + Duration::from_secs(1),
            stop_at: now + Duration::from_secs(2),
        }
    }

    #[test]
    fn warm_up_successes_are_stored_but_not_timed_and_every_error_counts() {
        let now = Instant::now();
        let window = window(now);
        let mut tally = Tally::new().expect("histogram");
        tally.record(Ok(()), now, now + Duration::from_millis(5), window);
        let later = window.measure_from + Duration::from_millis(1);
        tally.record(Ok(()), later, later + Duration::from_millis(7), window);
        tally.record(Err(tonic::Status::already_exists("dup")), now, now, window);
        tally.record(
            Err(tonic::Status::already_exists("dup again")),
            later,
            later,
            window,
        );
        assert_eq!(tally.successes, 2);
        assert_eq!(tally.latencies.len(), 1);
        assert_eq!(tally.latencies.max() / 1_000, 7);
        assert_eq!(
            tally.errors.get("AlreadyExists"),
            Some(&ErrorTally {
                count: 2,
                example: "dup".to_owned()
            })
        );
    }
}
