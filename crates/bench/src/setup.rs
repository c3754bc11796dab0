//! Everything a run needs before its first request, and the cleanup after
//! it: a throw-away database on the chosen backend, the Hanoi directory, the
//! form `bench-20`, a SUBMITTER token per reporting organ, and the server
//! itself on a loopback port, in this process and on this runtime.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr as _;
use std::sync::Arc;

use anyhow::Context as _;
use lienthong::config::{ConfigFile, ServerConfig, ServerOverrides};
use lienthong::demo::ADMIN_ORGAN;
use lienthong::generate::acting_as;
use lienthong_domain::auth::Role;
use lienthong_domain::period::{Period, Periodicity, WindowRule, vietnam_date};
use lienthong_domain::service::{Services, system_clock};
use lienthong_domain::store::{ReportFilter, Store};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions as _, Connection as _, Executor as _, PgConnection};
use tempfile::TempDir;
use time::OffsetDateTime;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::workload;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        })
    }
}

/// The file of a run's SQLite database, in a directory of its own.
const SQLITE_FILE: &str = "bench.db";

/// A database that exists for one run only.
#[derive(Debug)]
pub struct Database {
    /// The URL the store and server use.
    pub url: String,
    place: Place,
}

#[derive(Debug)]
enum Place {
    /// Deleted with the directory.
    Sqlite(TempDir),
    /// Dropped through the administrative connection in [`Database::remove`].
    Postgres { admin_url: String, name: String },
}

impl Database {
    /// A new, empty database: an SQLite file in a temporary directory, or a
    /// PostgreSQL database created through `postgres_admin_url`.
    pub async fn create(backend: Backend, postgres_admin_url: &str) -> anyhow::Result<Database> {
        match backend {
            Backend::Sqlite => {
                let directory = tempfile::tempdir().context("creating a temporary directory")?;
                let url = format!("sqlite://{}", directory.path().join(SQLITE_FILE).display());
                Ok(Database {
                    url,
                    place: Place::Sqlite(directory),
                })
            }
            Backend::Postgres => Database::create_postgres(postgres_admin_url, "").await,
        }
    }

    /// A PostgreSQL database of a name no other run uses, created with
    /// `options` (e.g. `TEMPLATE x`).
    async fn create_postgres(postgres_admin_url: &str, options: &str) -> anyhow::Result<Database> {
        static CREATED: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let seconds = OffsetDateTime::now_utc().unix_timestamp();
        let sequence = CREATED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("lienthong_bench_{}_{seconds}_{sequence}", std::process::id());
        admin_execute(postgres_admin_url, &format!("CREATE DATABASE {name} {options}"))
            .await
            .with_context(|| format!("creating the PostgreSQL database {name}"))?;
        Ok(Database {
            url: with_database_name(postgres_admin_url, &name),
            place: Place::Postgres {
                admin_url: postgres_admin_url.to_owned(),
                name,
            },
        })
    }

    /// Deletes the database. `WITH (FORCE)` ends connections a pool may
    /// still be closing, so the drop neither waits for nor fails on them.
    pub async fn remove(self) -> anyhow::Result<()> {
        match self.place {
            Place::Sqlite(directory) => directory.close().context("removing the SQLite directory"),
            Place::Postgres { admin_url, name } => admin_execute(
                &admin_url,
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            )
            .await
            .with_context(|| format!("dropping the PostgreSQL database {name}")),
        }
    }
}

impl Database {
    /// Leaves the database in place and says where it is.
    pub fn keep(self) -> String {
        match self.place {
            Place::Sqlite(directory) => {
                let kept = directory.keep();
                format!("{} (remove {} when done)", self.url, kept.display())
            }
            Place::Postgres { name, .. } => format!(
                "{} (DROP DATABASE {name} when done)",
                lienthong::config::redact_password(&self.url)
            ),
        }
    }
}

/// A loaded corpus kept between runs, so that a run measures without
/// loading it again: on SQLite the file `NAME.db` in the working directory,
/// on PostgreSQL the database `NAME` beside the run's, where `NAME` is the
/// name given followed by what the corpus depends on (its size, seed and the
/// normalisation version), so a snapshot of other texts is never reused.
/// Runs measure on a copy, so the snapshot stays as it was loaded.
#[derive(Debug)]
pub struct Snapshot {
    backend: Backend,
    postgres_admin_url: String,
    name: String,
}

impl Snapshot {
    /// `identity` names what the snapshot holds, e.g. `100000_1_n3`.
    pub fn new(
        backend: Backend,
        postgres_admin_url: &str,
        name: &str,
        identity: &str,
    ) -> anyhow::Result<Snapshot> {
        // The name becomes a file name and a PostgreSQL identifier (at most
        // 63 bytes with the identity and a temporary suffix).
        let valid = name.len() <= 32
            && name.starts_with(|first: char| first.is_ascii_lowercase())
            && name
                .bytes()
                .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_');
        anyhow::ensure!(
            valid,
            "snapshot name {name:?}: up to 32 lower-case letters, digits and underscores, starting with a letter"
        );
        Ok(Snapshot {
            backend,
            postgres_admin_url: postgres_admin_url.to_owned(),
            name: format!("{name}_{identity}"),
        })
    }

    fn sqlite_file(&self) -> std::path::PathBuf {
        std::path::PathBuf::from(format!("{}.db", self.name))
    }

    pub async fn exists(&self) -> anyhow::Result<bool> {
        match self.backend {
            Backend::Sqlite => Ok(self.sqlite_file().exists()),
            Backend::Postgres => {
                let mut connection = admin_connection(&self.postgres_admin_url).await?;
                let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
                    .bind(&self.name)
                    .fetch_optional(&mut connection)
                    .await
                    .context("looking for the snapshot database")?;
                connection.close().await?;
                Ok(found.is_some())
            }
        }
    }

    /// Creates the snapshot with what `load` stores into the database at the
    /// URL it is given. The snapshot appears only once `load` has succeeded:
    /// it is loaded under another name and renamed.
    pub async fn fill<T>(&self, load: impl AsyncFnOnce(&str) -> anyhow::Result<T>) -> anyhow::Result<T> {
        let database = Database::create(self.backend, &self.postgres_admin_url).await?;
        let loaded = interruptible(load(&database.url)).await;
        if loaded.is_err() {
            // The load's error is the one to report.
            let _ = database.remove().await;
            return loaded;
        }
        let published = match &database.place {
            Place::Sqlite(_) => {
                let partial = self.sqlite_file().with_extension("db.partial");
                let written = vacuum_into(&database.url, &partial).await;
                let renamed = written.and_then(|()| {
                    std::fs::rename(&partial, self.sqlite_file()).context("publishing the snapshot")
                });
                if renamed.is_err() {
                    let _ = std::fs::remove_file(&partial);
                }
                renamed
            }
            Place::Postgres { admin_url, name } => {
                // A database with sessions can be neither renamed nor copied:
                // end the pool's.
                admin_execute(
                    admin_url,
                    &format!(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                         WHERE datname = '{name}' AND pid <> pg_backend_pid()"
                    ),
                )
                .await
                .and(
                    admin_execute(
                        admin_url,
                        &format!("ALTER DATABASE \"{name}\" RENAME TO \"{}\"", self.name),
                    )
                    .await,
                )
            }
        };
        match published {
            Ok(()) if self.backend == Backend::Postgres => {}
            Ok(()) => database.remove().await?,
            Err(error) => {
                let _ = database.remove().await;
                return Err(error.context(format!("publishing the snapshot {}", self.name)));
            }
        }
        loaded
    }

    /// A new database for one run, holding a copy of the snapshot.
    pub async fn copy(&self) -> anyhow::Result<Database> {
        match self.backend {
            Backend::Sqlite => {
                let database = Database::create(Backend::Sqlite, &self.postgres_admin_url).await?;
                if let Place::Sqlite(directory) = &database.place {
                    std::fs::copy(self.sqlite_file(), directory.path().join(SQLITE_FILE))
                        .context("copying the snapshot")?;
                }
                Ok(database)
            }
            Backend::Postgres => {
                Database::create_postgres(&self.postgres_admin_url, &format!("TEMPLATE \"{}\"", self.name))
                    .await
            }
        }
    }
}

/// `work`, unless Ctrl-C comes first.
pub async fn interruptible<T>(work: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::select! {
        result = work => result,
        () = lienthong::server::shutdown_signal() => Err(anyhow::anyhow!("interrupted")),
    }
}

/// Writes a consistent copy of the live SQLite database at `url`, its
/// write-ahead log included, to `file`.
async fn vacuum_into(url: &str, file: &std::path::Path) -> anyhow::Result<()> {
    let target = file.to_str().context("the snapshot path is not UTF-8")?;
    let mut connection = sqlx::SqliteConnection::connect(url).await?;
    connection
        .execute(sqlx::AssertSqlSafe(format!(
            "VACUUM INTO '{}'",
            target.replace('\'', "''")
        )))
        .await
        .with_context(|| format!("writing the snapshot {}", file.display()))?;
    connection.close().await?;
    Ok(())
}

/// On PostgreSQL, `VACUUM ANALYZE` the database at `url`: what autovacuum
/// would have done after a bulk load, so measurements that follow see fresh
/// planner statistics even where autovacuum is off. Nothing on SQLite.
pub async fn vacuum_analyze(backend: Backend, url: &str) -> anyhow::Result<()> {
    match backend {
        Backend::Sqlite => Ok(()),
        Backend::Postgres => admin_execute(url, "VACUUM ANALYZE")
            .await
            .context("running VACUUM ANALYZE"),
    }
}

async fn admin_execute(admin_url: &str, statement: &str) -> anyhow::Result<()> {
    let mut connection = admin_connection(admin_url).await?;
    // Database names are made here from lower-case letters, digits and
    // underscores only, so the statement is safe to build as text (CREATE
    // DATABASE takes no parameters).
    connection
        .execute(sqlx::AssertSqlSafe(statement.to_owned()))
        .await?;
    connection.close().await?;
    Ok(())
}

/// A connection for administrative statements, which sqlx does not log.
async fn admin_connection(admin_url: &str) -> anyhow::Result<PgConnection> {
    let redacted = lienthong::config::redact_password(admin_url);
    // DROP DATABASE … WITH (FORCE) takes seconds while it ends the pool's
    // connections; sqlx would warn about a slow statement each time.
    let options = PgConnectOptions::from_str(admin_url)
        .with_context(|| format!("{redacted} is not a PostgreSQL URL"))?
        .disable_statement_logging();
    PgConnection::connect_with(&options)
        .await
        .with_context(|| format!("connecting to {redacted}"))
}

/// `url` naming database `name` instead of its own, credentials, host and
/// query kept.
fn with_database_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |index| index + 3);
    let server = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{name}?{query}"),
        None => format!("{server}/{name}"),
    }
}

/// An organ that submits, with the bearer token it submits with.
#[derive(Debug, Clone)]
pub struct Submitter {
    pub organ_id: String,
    pub token: String,
}

/// A database ready to receive `bench-20` reports.
#[derive(Debug)]
pub struct Fixture {
    pub store: Arc<dyn Store>,
    /// Every organ owing `bench-20`, in id order.
    pub submitters: Vec<Submitter>,
    /// The ids of every period of `bench-20` that has started, oldest first.
    pub periods: Vec<String>,
}

impl Fixture {
    /// Migrates the database at `url`, imports the directory and demo forms,
    /// creates and publishes `bench-20` and issues the tokens.
    pub async fn prepare(url: &str) -> anyhow::Result<Fixture> {
        let store = lienthong_store::connect(url).await.context("opening the store")?;
        let now = OffsetDateTime::now_utc();
        lienthong::demo::install_directory_and_forms(store.clone(), now)
            .await
            .context("importing the directory")?;
        let services = Services::new(store.clone(), system_clock());
        let admin = acting_as(store.as_ref(), ADMIN_ORGAN, Role::Admin).await?;
        let form = workload::form();
        services
            .forms
            .create_form(&admin, workload::FORM_CODE, form.clone())
            .await
            .context("creating the form")?;
        services
            .forms
            .publish_form(&admin, workload::FORM_CODE)
            .await
            .context("publishing the form")?;

        let organs = store.reporting_organs(&form.reporting_organ_kinds).await?;
        let mut submitters = Vec::with_capacity(organs.len());
        for organ in organs {
            let issued = services
                .tokens
                .issue(&organ.id, &[Role::Submitter], "lienthong-bench", None)
                .await
                .with_context(|| format!("issuing a token for {}", organ.id))?;
            submitters.push(Submitter {
                organ_id: organ.id,
                token: issued.secret,
            });
        }
        Ok(Fixture {
            store,
            submitters,
            periods: started_periods(vietnam_date(now)),
        })
    }

    /// How many `bench-20` reports the store holds, counted page by page.
    pub async fn stored_reports(&self) -> anyhow::Result<u64> {
        const PAGE: u32 = 5_000;
        let filter = ReportFilter {
            form_code: Some(workload::FORM_CODE.to_owned()),
            ..ReportFilter::default()
        };
        let mut count = 0_u64;
        let mut after = None;
        loop {
            let page = self.store.list_reports(&filter, after, PAGE).await?;
            count += u64::try_from(page.len())?;
            match page.last() {
                Some(last) if u32::try_from(page.len())? == PAGE => after = Some(last.id),
                _ => return Ok(count),
            }
        }
    }
}

/// Monthly periods from the form's first to the one open on `today`: all may
/// be submitted for (late, which is what a backlog upload looks like).
fn started_periods(today: time::Date) -> Vec<String> {
    Period::containing(Periodicity::Monthly, WindowRule::Decree09, today)
        .map(|current| {
            workload::FIRST_PERIOD
                .through(current)
                .map(|period| period.to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// The server under test, serving on a loopback port.
#[derive(Debug)]
pub struct RunningServer {
    pub address: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl RunningServer {
    /// Starts the server as `lienthong serve` would, over `store`.
    pub async fn start(store: Arc<dyn Store>, database_url: &str) -> anyhow::Result<RunningServer> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding a loopback port")?;
        let address = listener.local_addr()?;
        let config = ServerConfig::resolve(
            ServerOverrides {
                listen: Some(address),
                database_url: Some(database_url.to_owned()),
            },
            ConfigFile::default(),
        )?;
        let services = Services::new(store, system_clock());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            lienthong::server::serve(&config, services, listener, async {
                let _ = stopped.await;
            })
            .await
        });
        Ok(RunningServer { address, stop, task })
    }

    /// Shuts the server down gracefully and waits for it.
    pub async fn stop(self) -> anyhow::Result<()> {
        // An error means the server already ended; the task says why.
        let _ = self.stop.send(());
        self.task.await.context("the server task panicked")?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_name_is_replaced_and_the_rest_kept() {
        assert_eq!(
            with_database_name("postgres://postgres@127.0.0.1:5432/postgres", "b_1"),
            "postgres://postgres@127.0.0.1:5432/b_1"
        );
        assert_eq!(
            with_database_name("postgresql://u:p@db/x?sslmode=disable", "b_1"),
            "postgresql://u:p@db/b_1?sslmode=disable"
        );
        assert_eq!(with_database_name("postgres://db", "b_1"), "postgres://db/b_1");
        assert_eq!(
            with_database_name("postgres://db?sslmode=disable", "b_1"),
            "postgres://db/b_1?sslmode=disable"
        );
    }

    #[test]
    fn periods_run_monthly_from_2000_to_today() {
        let periods = started_periods(time::macros::date!(2025 - 09 - 20));
        assert_eq!(periods.first().map(String::as_str), Some("2000-01"));
        assert!(periods.len() >= 12 * 25, "{}", periods.len());
        assert!(periods.windows(2).all(|pair| pair[0] < pair[1]));
    }
}
