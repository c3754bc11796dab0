//! Command-line interface. Administrative commands work on the database
//! directly (server running or not); client commands talk to a server.
#![allow(
    clippy::print_stderr,
    reason = "a command-line interface reports errors on stderr"
)]

/// Prints a line of a command's result. Unlike `println!` it does not panic
/// when the reader has gone away (`lienthong token list | head`): the error
/// travels up and ends the command quietly.
macro_rules! say {
    ($($argument:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($argument)*)?;
    }};
}

mod admin;
mod analytics;
mod client;
mod dossier;
mod recommendations;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use lienthong::config::{ConfigFile, DEFAULT_DATABASE_URL, ServerConfig, ServerOverrides};

#[derive(Debug, Parser)]
#[command(
    name = "lienthong",
    version,
    about = "gRPC reporting backbone for two-tier local government"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gRPC server.
    Serve(ServeArgs),
    /// Load the Hanoi directory, the demo forms and sample reports.
    Demo(DatabaseArgs),
    /// Issue, list and revoke bearer tokens.
    #[command(subcommand)]
    Token(admin::TokenCommand),
    /// Load or update the directory of localities and organs.
    #[command(subcommand)]
    Directory(admin::DirectoryCommand),
    /// Submit, amend, review, get and list reports on a server.
    #[command(subcommand)]
    Report(client::ReportCommand),
    /// List the reports an organ owes.
    Obligations(client::ObligationsArgs),
    /// Show who has reported a form for a period.
    Completeness(client::CompletenessArgs),
    /// Cluster recommendations offline, re-index them, import them through a server.
    #[command(subcommand)]
    Recommendations(recommendations::RecommendationsCommand),
    /// Build the recommendations dossier for the central government.
    #[command(subcommand)]
    Dossier(dossier::DossierCommand),
    /// Export indicator roll-ups as CSV; reporting rates, ranked
    /// recommendation clusters and answered matches.
    #[command(subcommand)]
    Analytics(analytics::AnalyticsCommand),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:50051].
    #[arg(long, env = "LIENTHONG_LISTEN")]
    listen: Option<SocketAddr>,
    /// `sqlite://path` or `postgres://…` [default: sqlite://lienthong-data/lienthong.db].
    #[arg(long, env = "LIENTHONG_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// TOML configuration file; flags and environment variables override it.
    #[arg(long, env = "LIENTHONG_CONFIG")]
    config: Option<PathBuf>,
    /// Load demo data before serving.
    #[arg(long)]
    demo: bool,
}

#[derive(Debug, Args)]
pub struct DatabaseArgs {
    /// `sqlite://path` or `postgres://…`.
    #[arg(long, env = "LIENTHONG_DATABASE_URL", hide_env_values = true, default_value = DEFAULT_DATABASE_URL)]
    pub database_url: String,
}

impl Cli {
    /// Quiet for one-shot commands, informative for the server.
    pub fn default_log_filter(&self) -> &'static str {
        match self.command {
            Command::Serve(_) => "info,sqlx=warn,h2=warn,tower=warn",
            _ => "warn",
        }
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(arguments) => serve(arguments).await,
        Command::Demo(database) => admin::demo(&database).await,
        Command::Token(command) => admin::token(command).await,
        Command::Directory(command) => admin::directory(command).await,
        Command::Report(command) => client::report(command).await,
        Command::Obligations(arguments) => client::obligations(arguments).await,
        Command::Completeness(arguments) => client::completeness(arguments).await,
        Command::Recommendations(command) => recommendations::run(command).await,
        Command::Dossier(command) => dossier::run(command).await,
        Command::Analytics(command) => analytics::run(command).await,
    }
}

async fn serve(arguments: ServeArgs) -> anyhow::Result<()> {
    let file = match &arguments.config {
        Some(path) => ConfigFile::load(path)?,
        None => ConfigFile::default(),
    };
    let config = ServerConfig::resolve(
        ServerOverrides {
            listen: arguments.listen,
            database_url: arguments.database_url,
        },
        file,
    )?;
    tracing::info!(?config, "starting");
    let store = lienthong_store::connect_with(
        &config.database_url,
        lienthong_store::StoreOptions {
            max_connections: config.database_max_connections,
        },
    )
    .await?;
    if arguments.demo {
        let summary = lienthong::demo::load(store.clone(), time::OffsetDateTime::now_utc()).await?;
        tracing::info!(?summary, "demo data loaded");
    }
    let services = lienthong_domain::service::Services::with_engine(
        store,
        lienthong_domain::service::system_clock(),
        std::sync::Arc::new(lienthong_dedup::Engine::new(config.dedup.clone())),
    );
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    lienthong::server::serve(&config, services, listener, lienthong::server::shutdown_signal()).await
}

/// Prints an error for a person: the gRPC code, message and field violations
/// when a server refused, the cause chain otherwise.
pub fn report_error(error: &anyhow::Error) {
    if error
        .downcast_ref::<std::io::Error>()
        .is_some_and(|io_error| io_error.kind() == std::io::ErrorKind::BrokenPipe)
    {
        return;
    }
    if let Some(status) = error.downcast_ref::<tonic::Status>() {
        use tonic_types::StatusExt as _;
        eprintln!("error: {:?}: {}", status.code(), status.message());
        if let Some(bad_request) = status.get_details_bad_request() {
            for violation in bad_request.field_violations {
                eprintln!("  {}: {}", violation.field, violation.description);
            }
        }
        return;
    }
    eprintln!("error: {error}");
    for cause in error.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
}
