//! Command-line arguments of `lienthong-bench`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use lienthong_domain::period::Period;

use crate::setup::Backend;

#[derive(Debug, Parser)]
#[command(
    name = "lienthong-bench",
    version,
    about = "Load benchmarks of a lienthong server started in-process"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Drive SubmitReport with 20-indicator reports from every commune organ
    /// and print reports/s and latency percentiles per database backend.
    SubmitReports(SubmitReportsArgs),
    /// Cluster a synthetic corpus of recommendations with planted duplicates
    /// in memory with the dedup engine, and the same texts with datasketch's
    /// MinHash LSH in Python; print texts/s of both and the planted pairs
    /// recovered.
    ClusterBatch(ClusterBatchArgs),
    /// Store a corpus of recommendations through the service, then drive
    /// SubmitRecommendation over gRPC, one request at a time and with
    /// several in flight, and print latency percentiles per backend.
    SubmitRecommendations(SubmitRecommendationsArgs),
    /// Fill a database with years of reports of every commune organ on the
    /// demo forms and a 32-indicator form, through the report use cases.
    Generate(GenerateArgs),
    /// Generate that history, then time analytics questions through the
    /// service over gRPC and as hand-written SQL on the same database.
    Analytics(AnalyticsArgs),
}

#[derive(Debug, Args)]
pub struct SubmitReportsArgs {
    /// Requests in flight at once. Each worker sends its next report as soon
    /// as the previous one is answered, for its own share of the 504 commune
    /// organs, so at most 504.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..))]
    pub concurrency: u32,
    /// HTTP/2 connections the workers share, in turn [default: one per worker,
    /// as when every commune's system connects on its own].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub connections: Option<u32>,
    /// How long to measure on each backend, e.g. `20s` or `2m`.
    #[arg(long, default_value = "20s", value_parser = parse_positive_duration)]
    pub duration: Duration,
    /// Load before measuring starts (not counted), e.g. `2s`; `0s` for none.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Which database to run on; `both` runs SQLite, then PostgreSQL.
    #[arg(long, value_enum, default_value_t = BackendChoice::Both)]
    pub backend: BackendChoice,
    /// PostgreSQL URL of an existing database, used only to create a fresh
    /// database for the run and to drop it afterwards.
    #[arg(
        long,
        env = "LIENTHONG_BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres",
        hide_env_values = true
    )]
    pub postgres_url: String,
}

#[derive(Debug, Args)]
pub struct ClusterBatchArgs {
    /// Recommendations in the corpus.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub count: u32,
    /// Seed of the corpus generator; the same seed gives the same texts.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Skip the Python comparison.
    #[arg(long)]
    pub no_python: bool,
    /// Times to run the engine and datasketch, one after the other. The
    /// ratio reported is the median of the rounds' ratios: on a machine
    /// whose speed drifts, each round compares the two at nearly the same
    /// moment. With `--no-python` the engine alone runs this many times.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub rounds: u32,
    /// Virtual environment with datasketch, created when missing
    /// [default: target/bench-venv in the workspace].
    #[arg(long)]
    pub python_venv: Option<PathBuf>,
    /// Permutations of datasketch's MinHash.
    #[arg(long, default_value_t = 128)]
    pub num_perm: u32,
    /// Jaccard threshold of datasketch's MinHashLSH.
    #[arg(long, default_value_t = 0.5)]
    pub threshold: f64,
    /// Also write the corpus as labelled JSONL (`id`, `text`, `cluster`,
    /// `kinds`), the format of `lienthong-dedup`'s `evaluate` example.
    #[arg(long)]
    pub write_corpus: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SubmitRecommendationsArgs {
    /// Recommendations stored before measuring, through the service with
    /// the same dedup decision as a submission.
    #[arg(long, default_value_t = 100_000)]
    pub corpus: u32,
    /// Submissions measured in each of the two phases (one in flight, then
    /// `--concurrency` in flight), each a new text.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub requests: u32,
    /// Requests in flight in the second measured phase, one connection each.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..))]
    pub concurrency: u32,
    /// Submissions in flight while loading the corpus.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..))]
    pub load_concurrency: u32,
    /// Seed of the corpus generator.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Which database to run on; `both` runs SQLite, then PostgreSQL.
    #[arg(long, value_enum, default_value_t = BackendChoice::Both)]
    pub backend: BackendChoice,
    /// PostgreSQL URL of an existing database, used only to create a fresh
    /// database for the run and to drop it afterwards.
    #[arg(
        long,
        env = "LIENTHONG_BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres",
        hide_env_values = true
    )]
    pub postgres_url: String,
    /// Keep the databases afterwards and print where they are, to look into
    /// query plans; they are yours to remove.
    #[arg(long)]
    pub keep_database: bool,
    /// Keep the loaded corpus as a snapshot and measure on a copy of it; a
    /// later run with the same name, `--corpus` and `--seed` (and
    /// normalisation version) skips loading. SQLite: the file
    /// NAME_<corpus>_<seed>_n<version>.db in the working directory;
    /// PostgreSQL: the database of that name. They are yours to remove.
    #[arg(long, value_name = "NAME")]
    pub corpus_snapshot: Option<String>,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// The database to fill, e.g. `sqlite://analytics.db` (created when
    /// missing) or `postgres://user@host/database` (which must exist);
    /// migrated first.
    #[arg(long)]
    pub database_url: String,
    #[command(flatten)]
    pub data: DataArgs,
}

/// What to generate.
#[derive(Debug, Args)]
pub struct DataArgs {
    /// Years of reports.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=50))]
    pub years: u32,
    /// The last month, e.g. `2026-11` [default: the latest month whose
    /// deadline has passed].
    #[arg(long, value_parser = parse_month)]
    pub through: Option<Period>,
    /// Seed of the figures, gaps and delays; the same seed, last month and
    /// day give the same reports.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Reports written at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..))]
    pub write_concurrency: u32,
}

#[derive(Debug, Args)]
pub struct AnalyticsArgs {
    /// Measure on this database, filled by `generate` beforehand, instead of
    /// generating into a throw-away one; `--backend` then follows the URL
    /// and the generation options are unused.
    #[arg(long)]
    pub database_url: Option<String>,
    #[command(flatten)]
    pub data: DataArgs,
    /// Timed runs of each question, on each side.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..))]
    pub repetitions: u32,
    /// Untimed runs of each question first, on each side.
    #[arg(long, default_value_t = 3)]
    pub warmup: u32,
    /// Which database to run on; `both` runs SQLite, then PostgreSQL.
    #[arg(long, value_enum, default_value_t = BackendChoice::Both)]
    pub backend: BackendChoice,
    /// PostgreSQL URL of an existing database, used only to create a fresh
    /// database for the run and to drop it afterwards.
    #[arg(
        long,
        env = "LIENTHONG_BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres",
        hide_env_values = true
    )]
    pub postgres_url: String,
    /// Keep the generated databases afterwards and print where they are;
    /// they are yours to remove.
    #[arg(long)]
    pub keep_database: bool,
}

impl SubmitReportsArgs {
    /// The connection count, never more than there are workers to use them.
    pub fn connections(&self) -> u32 {
        self.connections.unwrap_or(self.concurrency).min(self.concurrency)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendChoice {
    Sqlite,
    Postgres,
    Both,
}

impl BackendChoice {
    pub fn backends(self) -> Vec<Backend> {
        match self {
            BackendChoice::Sqlite => vec![Backend::Sqlite],
            BackendChoice::Postgres => vec![Backend::Postgres],
            BackendChoice::Both => vec![Backend::Sqlite, Backend::Postgres],
        }
    }
}

/// Whole seconds or minutes: `20s`, `2m`, `0s`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let invalid = || format!("{text:?} is not a duration such as 20s or 2m");
    let (number, seconds_per_unit) = if let Some(number) = text.strip_suffix('s') {
        (number, 1)
    } else if let Some(number) = text.strip_suffix('m') {
        (number, 60)
    } else {
        return Err(invalid());
    };
    let number: u64 = number.parse().map_err(|_| invalid())?;
    number
        .checked_mul(seconds_per_unit)
        .map(Duration::from_secs)
        .ok_or_else(invalid)
}

/// A month id such as `2026-11`.
fn parse_month(text: &str) -> Result<Period, String> {
    match text.parse::<Period>() {
        Ok(period @ Period::Month { .. }) => Ok(period),
        Ok(period) => Err(format!("{period} is not a month such as 2026-11")),
        Err(error) => Err(error.to_string()),
    }
}

fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    match parse_duration(text)? {
        Duration::ZERO => Err("the duration must be more than zero".to_owned()),
        duration => Ok(duration),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_seconds_or_minutes() {
        assert_eq!(parse_duration("20s"), Ok(Duration::from_secs(20)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        for bad in ["20", "s", "1h", "-1s", "1.5s", " 2s", "99999999999999999999m"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert!(parse_positive_duration("0m").is_err());
    }

    #[test]
    fn defaults_match_the_documented_command() {
        let cli = Cli::parse_from(["lienthong-bench", "submit-reports"]);
        let Command::SubmitReports(args) = cli.command else {
            panic!("not submit-reports");
        };
        assert_eq!(args.concurrency, 32);
        assert_eq!(args.connections(), 32);
        assert_eq!(args.duration, Duration::from_secs(20));
        assert_eq!(args.warmup, Duration::from_secs(2));
        assert_eq!(args.backend, BackendChoice::Both);
        let cli = Cli::parse_from([
            "lienthong-bench",
            "submit-reports",
            "--concurrency",
            "4",
            "--connections",
            "9",
        ]);
        let Command::SubmitReports(args) = cli.command else {
            panic!("not submit-reports");
        };
        assert_eq!(args.connections(), 4);
    }

    #[test]
    fn the_dedup_benchmarks_default_to_a_corpus_of_100_000() {
        let cli = Cli::parse_from(["lienthong-bench", "cluster-batch"]);
        let Command::ClusterBatch(args) = cli.command else {
            panic!("not cluster-batch");
        };
        assert_eq!((args.count, args.num_perm, args.no_python), (100_000, 128, false));
        let cli = Cli::parse_from([
            "lienthong-bench",
            "submit-recommendations",
            "--corpus",
            "0",
            "--backend",
            "sqlite",
        ]);
        let Command::SubmitRecommendations(args) = cli.command else {
            panic!("not submit-recommendations");
        };
        assert_eq!((args.corpus, args.requests, args.concurrency), (0, 1_000, 8));
        assert_eq!(args.backend.backends(), vec![Backend::Sqlite]);
    }

    #[test]
    fn generate_and_analytics_default_to_five_years_to_the_last_closed_month() {
        let cli = Cli::parse_from(["lienthong-bench", "generate", "--database-url", "sqlite://a.db"]);
        let Command::Generate(args) = cli.command else {
            panic!("not generate");
        };
        assert_eq!(
            (args.data.years, args.data.seed, args.data.write_concurrency),
            (5, 1, 4)
        );
        assert_eq!(args.data.through, None);
        let cli = Cli::parse_from(["lienthong-bench", "analytics", "--through", "2026-11"]);
        let Command::Analytics(args) = cli.command else {
            panic!("not analytics");
        };
        assert_eq!(
            args.data.through,
            Some(Period::Month {
                year: 2026,
                month: 11
            })
        );
        assert_eq!(
            (args.repetitions, args.warmup, args.backend),
            (30, 3, BackendChoice::Both)
        );
        assert_eq!(args.database_url, None);
        assert!(Cli::try_parse_from(["lienthong-bench", "analytics", "--through", "2026-Q3"]).is_err());
        assert!(Cli::try_parse_from(["lienthong-bench", "generate"]).is_err());
    }
}
