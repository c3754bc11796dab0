//! The `lienthong` command: runs the server, administers the database
//! (tokens, directory, demo data) and acts as a client for ward systems
//! without a gRPC stack.

mod cli;

use std::io::IsTerminal as _;
use std::process::ExitCode;

use clap::Parser as _;
use tracing_subscriber::EnvFilter;

/// Per-thread heaps instead of glibc's arenas. Batch dedup analyses texts
/// on one thread and keeps them on another, and glibc grew the analysing
/// thread's arena a page at a time: on two cores, clustering the bench's
/// 100 000 texts took 6.1–6.5 s with mimalloc against 7.6–8.0 s without.
/// The bench uses the same allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let arguments = cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new(arguments.default_log_filter())),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(arguments)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            cli::report_error(&error);
            ExitCode::FAILURE
        }
    }
}
