//! Opening a store: the backend follows the URL scheme (`sqlite:` or
//! `postgres:`/`postgresql:`), SQLite files and their directories are created
//! when missing, every SQLite connection gets the settings durability and
//! concurrency rely on, and the backend's migrations run before first use.

use std::str::FromStr as _;
use std::sync::Arc;
use std::time::Duration;

use lienthong_domain::Error;
use lienthong_domain::store::Store;
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions as _, Connection as _, Executor as _};

use crate::checkpoint::{CHECKPOINT_INTERVAL, Checkpointer};
use crate::error::DatabaseResultExt as _;
use crate::principal_changes::PrincipalFeed;
use crate::sql_store::SqlStore;

/// The database behind the Any driver, for the few places the two differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn of_url(url: &str) -> Result<Backend, Error> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(Error::invalid(
                "database_url",
                "use a sqlite://PATH or postgres://HOST/DATABASE URL",
            ))
        }
    }

    /// A subquery of the elements, as text in the column `element`, of the
    /// JSON array bound at `placeholder`: a list of any length is then one
    /// parameter, so the statement's text, and its prepared form, stay the
    /// same.
    pub(crate) fn json_array_elements(self, placeholder: &str) -> String {
        match self {
            Backend::Sqlite => format!("SELECT value AS element FROM json_each({placeholder})"),
            Backend::Postgres => {
                format!("SELECT jsonb_array_elements_text(CAST({placeholder} AS jsonb)) AS element")
            }
        }
    }

    fn migrator(self) -> &'static Migrator {
        static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../../migrations/sqlite");
        static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../../migrations/postgres");
        match self {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        }
    }
}

/// How to open a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// Most connections the pool opens at once.
    pub max_connections: u32,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions { max_connections: 8 }
    }
}

/// Opens the store at `url` with default options and brings its schema up to date.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>, Error> {
    connect_with(url, StoreOptions::default()).await
}

/// Opens the store at `url` and brings its schema up to date.
pub async fn connect_with(url: &str, options: StoreOptions) -> Result<Arc<dyn Store>, Error> {
    Ok(Arc::new(open(url, options).await?))
}

/// Per-connection SQLite settings. `busy_timeout` comes first so the others
/// already wait for a lock instead of failing. `synchronous = FULL`: an
/// acknowledged write survives a power cut, not only a crash. Checkpoints
/// are the [`Checkpointer`]'s: a commit does one only when the log holds
/// 10 000 pages (40 MB, ten times SQLite's default), which happens only if
/// the background task falls far behind or stops.
const SQLITE_CONNECTION_SETTINGS: &str = "PRAGMA busy_timeout = 5000; PRAGMA synchronous = FULL; \
     PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = 10000;";

/// The writing connection's own settings: `temp_store = MEMORY` keeps a
/// statement's undo journal in memory; on disk, a multi-row write of more
/// than 16 pages created, wrote and deleted a file every time.
const SQLITE_WRITER_SETTINGS: &str = "PRAGMA temp_store = MEMORY;";

/// The reading connections' own settings: they refuse to write, so a write
/// sent to the wrong pool fails at once rather than contending with the
/// writing connection.
const SQLITE_READER_SETTINGS: &str = "PRAGMA query_only = ON;";

/// The longest a write waits for SQLite's writing connection. Requests are
/// bounded by their own timeout, which drops the wait; this bounds the
/// rest (imports and other long work from the command line).
const SQLITE_WRITER_WAIT: Duration = Duration::from_secs(600);

/// A connection idle for longer than this is checked before it is handed
/// out; one used moments ago was checked when it came back.
const IDLE_BEFORE_CHECK: Duration = Duration::from_secs(30);

pub(crate) async fn open(url: &str, options: StoreOptions) -> Result<SqlStore, Error> {
    sqlx::any::install_default_drivers();
    let backend = Backend::of_url(url)?;
    let (pool, writer, checkpointer) = match backend {
        Backend::Sqlite => {
            let url = sqlite_url_creating_file(url)?;
            // SQLite's default page cache: one of 64 MiB made commits slower,
            // as SQLite walks the whole cache at the end of any transaction
            // that rebalanced a B-tree page, which most submissions do. Never
            // closed for age or idleness, so its cache stays warm.
            let writer = sqlite_pool(1, SQLITE_WRITER_SETTINGS)
                .acquire_timeout(SQLITE_WRITER_WAIT)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect(&url)
                .await
                .or_database_failure("opening the writing connection")?;
            // Readers then never block the writer; the mode is stored in the
            // database file, so setting it once at start is enough.
            writer
                .execute("PRAGMA journal_mode = WAL")
                .await
                .or_database_failure("switching SQLite to write-ahead logging")?;
            let pool = sqlite_pool(options.max_connections, SQLITE_READER_SETTINGS)
                .connect(&url)
                .await
                .or_database_failure("opening connections")?;
            (
                pool,
                Some(writer),
                Some(Checkpointer::start(&url, CHECKPOINT_INTERVAL).await?),
            )
        }
        Backend::Postgres => (
            pool_options(options.max_connections)
                .connect(url)
                .await
                .or_database_failure("opening connections")?,
            None,
            None,
        ),
    };
    let store = SqlStore::new(pool, writer, backend, checkpointer);
    migrate(backend, store.writes()).await?;
    crate::resolutions::rebuild_search_columns(store.writes()).await?;
    Ok(match backend {
        Backend::Sqlite => store,
        Backend::Postgres => store.with_principal_feed(PrincipalFeed::new(url)),
    })
}

/// Pool settings both backends share. sqlx checks a connection when it
/// comes back to the pool and, by default, again before handing it out: a
/// round trip per request that only a connection idle for a while needs.
fn pool_options(max_connections: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max_connections)
        .test_before_acquire(false)
        .before_acquire(|connection, metadata| {
            Box::pin(async move {
                if metadata.idle_for > IDLE_BEFORE_CHECK {
                    connection.ping().await?;
                }
                Ok(true)
            })
        })
}

/// Options of a pool of SQLite connections, each with the settings
/// durability and concurrency rely on, then `own_settings`.
fn sqlite_pool(max_connections: u32, own_settings: &'static str) -> AnyPoolOptions {
    pool_options(max_connections).after_connect(move |connection, _metadata| {
        Box::pin(async move {
            connection.execute(SQLITE_CONNECTION_SETTINGS).await?;
            connection.execute(own_settings).await?;
            Ok(())
        })
    })
}

/// The URL with `mode=rwc` (create the file if missing) after creating the
/// file's directory, which SQLite will not do.
fn sqlite_url_creating_file(url: &str) -> Result<String, Error> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|error| Error::invalid("database_url", format!("not a SQLite URL: {error}")))?
        .create_if_missing(true);
    if let Some(directory) = options.get_filename().parent()
        && !directory.as_os_str().is_empty()
    {
        std::fs::create_dir_all(directory).map_err(|error| {
            tracing::error!(directory = %directory.display(), %error, "cannot create the database directory");
            Error::Internal("the database directory cannot be created".to_owned())
        })?;
    }
    Ok(options.to_url_lossy().to_string())
}

/// Applies the backend's migrations. sqlx's Any connection implements
/// `Migrate` by delegating to the backend's own migrator (an advisory lock on
/// PostgreSQL, so servers starting together migrate once).
async fn migrate(backend: Backend, pool: &AnyPool) -> Result<(), Error> {
    backend.migrator().run(pool).await.map_err(|error| {
        tracing::error!(%error, "database migration failed");
        Error::Internal("the database schema cannot be brought up to date".to_owned())
    })
}

#[cfg(test)]
mod tests {
    use sqlx::Row as _;

    use super::*;

    #[test]
    fn backend_follows_the_url_scheme() {
        assert_eq!(
            Backend::of_url("sqlite://data/lienthong.db").ok(),
            Some(Backend::Sqlite)
        );
        assert_eq!(Backend::of_url("sqlite:lienthong.db").ok(), Some(Backend::Sqlite));
        assert_eq!(
            Backend::of_url("postgres://db/lienthong").ok(),
            Some(Backend::Postgres)
        );
        assert_eq!(
            Backend::of_url("postgresql://db/lienthong").ok(),
            Some(Backend::Postgres)
        );
        assert!(Backend::of_url("mysql://db/lienthong").is_err());
    }

    async fn pragma(connection: &mut sqlx::AnyConnection, name: &str) -> String {
        let row = connection
            .fetch_one(sqlx::AssertSqlSafe(format!("PRAGMA {name}")))
            .await
            .expect("pragma readable");
        row.try_get::<String, _>(0)
            .or_else(|_| row.try_get::<i64, _>(0).map(|number| number.to_string()))
            .expect("pragma value is text or a number")
    }

    async fn open_sqlite(path: &std::path::Path) -> SqlStore {
        open(&format!("sqlite://{}", path.display()), StoreOptions::default())
            .await
            .expect("store opens")
    }

    #[tokio::test]
    async fn sqlite_file_is_created_and_every_connection_has_the_durability_settings() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let path = directory.path().join("nested/deeper/lienthong.db");
        let store = open_sqlite(&path).await;
        assert!(path.exists());

        // Two connections held at once, so the second is a fresh one.
        let mut first = store.pool.acquire().await.expect("connection");
        let mut second = store.pool.acquire().await.expect("connection");
        let mut writer = store.writes().acquire().await.expect("the writing connection");
        for connection in [&mut first, &mut second, &mut writer] {
            assert_eq!(pragma(connection, "journal_mode").await, "wal");
            assert_eq!(pragma(connection, "synchronous").await, "2", "FULL");
            assert_eq!(pragma(connection, "foreign_keys").await, "1");
            assert_eq!(pragma(connection, "busy_timeout").await, "5000");
            assert_eq!(pragma(connection, "wal_autocheckpoint").await, "10000");
        }
        assert_eq!(pragma(&mut writer, "temp_store").await, "2", "MEMORY");
        assert_eq!(pragma(&mut writer, "query_only").await, "0");
        for reader in [&mut first, &mut second] {
            assert_eq!(pragma(reader, "query_only").await, "1");
            reader
                .execute("CREATE TABLE refused (value TEXT)")
                .await
                .expect_err("a reading connection refuses to write");
        }
    }

    #[tokio::test]
    async fn sqlite_log_is_checkpointed_in_the_background() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let path = directory.path().join("lienthong.db");
        let store = open_sqlite(&path).await;
        // A commit writes to the log only; the checkpoint copies it into the
        // database file, and no commit here is near doing that itself.
        let marker = "written-before-the-checkpoint";
        store
            .writes()
            .execute(sqlx::AssertSqlSafe(format!(
                "CREATE TABLE written (value TEXT); INSERT INTO written VALUES ('{marker}')"
            )))
            .await
            .expect("write");
        let in_database_file = || {
            let bytes = std::fs::read(&path).expect("database file");
            bytes
                .windows(marker.len())
                .any(|window| window == marker.as_bytes())
        };
        // Generous: a pass runs every 100 ms, but test machines can be slow.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !in_database_file() {
            assert!(
                std::time::Instant::now() < deadline,
                "no background checkpoint copied the write into the database file"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
