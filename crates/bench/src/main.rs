//! `lienthong-bench`: load benchmarks of a lienthong server. The server runs
//! in this process over a throw-away database, as `lienthong serve` would,
//! and is driven over real gRPC on a loopback port by generated clients.
//!
//! `cargo run --release -p lienthong-bench -- submit-reports --concurrency 32 --duration 20s`
//! measures SubmitReport with 20-indicator reports on SQLite, then on
//! PostgreSQL, and prints reports/s and latency percentiles side by side.
//! Any failed request fails the run, and so does a count of stored reports
//! that differs from the acknowledged ones.
//!
//! `cargo run --release -p lienthong-bench -- cluster-batch --count 100000`
//! clusters a synthetic corpus of recommendations with planted duplicates
//! with the dedup engine, and the same texts with datasketch's MinHash LSH
//! in Python (installed into `target/bench-venv` when missing), and prints
//! texts/s of both and the planted pairs each recovered.
//!
//! `cargo run --release -p lienthong-bench -- submit-recommendations --corpus 100000`
//! stores that many recommendations, then measures SubmitRecommendation
//! latency over gRPC on SQLite and PostgreSQL.
//!
//! `cargo run --release -p lienthong-bench -- generate --years 5 --database-url sqlite://analytics.db`
//! fills a database with five years of reports of every commune organ
//! through the report use cases; `… -- analytics` does the same into a
//! throw-away database and times analytics questions through the service
//! and as hand-written SQL, side by side.
#![allow(clippy::print_stdout, reason = "printing results is what a benchmark is for")]

/// The allocator of the `lienthong` binary, so the engine is measured as it
/// ships (see its `src/main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod analytics;
mod cli;
mod cluster_batch;
mod corpus;
mod generate;
mod load;
mod report;
mod setup;
mod submit_recommendations;
mod workload;

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser as _;
use tracing_subscriber::EnvFilter;

use crate::cli::{Cli, Command, SubmitReportsArgs};
use crate::load::Plan;
use crate::report::Row;
use crate::setup::{Backend, Database, Fixture, RunningServer};

/// The bench's own progress at info; the server's per-report info lines
/// would flood the terminal and cost time on the path being measured, and
/// so would sqlx's warning for every statement over a second, which the
/// benchmarks time themselves.
const DEFAULT_LOG_FILTER: &str = "warn,lienthong_bench=info,lienthong::generate=info,sqlx::query=error";

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER)),
        )
        .with_writer(std::io::stderr)
        .init();
    // Multi-threaded like the server's own runtime; server and load share it.
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::SubmitReports(arguments) => submit_reports(&arguments).await,
            // CPU-bound and single-threaded, like the Python side it is
            // compared with; the runtime is idle meanwhile.
            Command::ClusterBatch(arguments) => cluster_batch::run(&arguments),
            Command::SubmitRecommendations(arguments) => submit_recommendations::run(&arguments).await,
            Command::Generate(arguments) => generate::run(&arguments).await,
            Command::Analytics(arguments) => analytics::run(&arguments).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn submit_reports(arguments: &SubmitReportsArgs) -> anyhow::Result<()> {
    let plan = Plan {
        concurrency: arguments.concurrency,
        connections: arguments.connections(),
        warmup: arguments.warmup,
        duration: arguments.duration,
    };
    report::print_machine(std::thread::available_parallelism().map_or(1, usize::from));
    let mut rows = Vec::new();
    for backend in arguments.backend.backends() {
        let row = on_fresh_database(backend, &arguments.postgres_url, plan).await?;
        report::print_progress(&row);
        rows.push(row);
    }
    report::print_table(&rows);
    let problems: Vec<String> = rows.iter().flat_map(Row::problems).collect();
    if problems.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("the run is not valid:\n  {}", problems.join("\n  "))
    }
}

/// Runs `plan` on a database created for it, and removes the database
/// afterwards whatever happened, Ctrl-C included.
async fn on_fresh_database(backend: Backend, postgres_admin_url: &str, plan: Plan) -> anyhow::Result<Row> {
    tracing::info!(%backend, "preparing the database");
    let database = Database::create(backend, postgres_admin_url).await?;
    let result = tokio::select! {
        result = run(backend, &database.url, plan) => result,
        () = lienthong::server::shutdown_signal() => Err(anyhow::anyhow!("interrupted")),
    };
    let removed = database.remove().await;
    let row = result?;
    removed?;
    Ok(row)
}

async fn run(backend: Backend, database_url: &str, plan: Plan) -> anyhow::Result<Row> {
    let fixture = Fixture::prepare(database_url).await?;
    let server = RunningServer::start(fixture.store.clone(), database_url).await?;
    tracing::info!(
        %backend,
        organs = fixture.submitters.len(),
        periods = fixture.periods.len(),
        warmup = ?plan.warmup,
        duration = ?plan.duration,
        "submitting"
    );
    let outcome = load::drive(server.address, &fixture.submitters, &fixture.periods, plan).await;
    server.stop().await.context("stopping the server")?;
    let outcome = outcome?;
    let stored = fixture
        .stored_reports()
        .await
        .context("counting stored reports")?;
    Ok(Row {
        backend,
        plan,
        outcome,
        stored,
    })
}
