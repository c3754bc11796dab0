//! Fresh databases for tests, on the backend the environment selects, so
//! the same tests run on each: SQLite in a temporary directory by default;
//! PostgreSQL when `LIENTHONG_TEST_BACKEND=postgres`, in a new schema of the
//! database `LIENTHONG_TEST_POSTGRES_URL` names (one schema per test, so
//! tests run in parallel and start empty). Enabled by the `testing` feature.

use std::sync::Arc;

use lienthong_domain::store::Store;
use sqlx::{Connection as _, Executor as _, PgConnection};
use tempfile::TempDir;

/// `sqlite` (the default) or `postgres`.
pub const BACKEND_VARIABLE: &str = "LIENTHONG_TEST_BACKEND";
/// The PostgreSQL database test schemas are created in.
pub const POSTGRES_URL_VARIABLE: &str = "LIENTHONG_TEST_POSTGRES_URL";

/// A database of its own for one test, removed when dropped.
#[derive(Debug)]
pub struct TestDatabase {
    /// The URL to give `lienthong_store::connect`.
    pub url: String,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    /// Deleted with the directory.
    SqliteDirectory(#[expect(dead_code, reason = "held for its Drop")] TempDir),
    /// Dropped by [`TestDatabase`]'s `Drop`.
    PostgresSchema { database_url: String, schema: String },
}

impl TestDatabase {
    /// An empty database on the selected backend. Panics when the
    /// environment asks for PostgreSQL without saying where it is, so a
    /// misconfigured run fails instead of silently testing nothing.
    pub async fn fresh() -> TestDatabase {
        match std::env::var(BACKEND_VARIABLE).as_deref() {
            Err(std::env::VarError::NotPresent) | Ok("" | "sqlite") => TestDatabase::fresh_sqlite(),
            Ok("postgres") => TestDatabase::fresh_postgres().await,
            Ok(other) => panic!("{BACKEND_VARIABLE}={other:?}: use sqlite or postgres"),
            Err(error) => panic!("{BACKEND_VARIABLE} is unreadable: {error}"),
        }
    }

    /// The store on this database, migrated.
    pub async fn connect(&self) -> Arc<dyn Store> {
        crate::connect(&self.url)
            .await
            .unwrap_or_else(|error| panic!("cannot open the test store at {}: {error}", self.url))
    }

    fn fresh_sqlite() -> TestDatabase {
        let directory = tempfile::tempdir().expect("a temporary directory for the test database");
        let url = format!("sqlite://{}", directory.path().join("lienthong.db").display());
        TestDatabase {
            url,
            cleanup: Cleanup::SqliteDirectory(directory),
        }
    }

    async fn fresh_postgres() -> TestDatabase {
        let database_url = std::env::var(POSTGRES_URL_VARIABLE).unwrap_or_else(|_| {
            panic!(
                "{BACKEND_VARIABLE}=postgres needs {POSTGRES_URL_VARIABLE}, \
                 e.g. postgres://postgres@127.0.0.1:5432/lienthong_dev"
            )
        });
        let schema = format!("t_{:016x}", rand::random::<u64>());
        let mut connection = PgConnection::connect(&database_url)
            .await
            .unwrap_or_else(|error| panic!("cannot connect to {POSTGRES_URL_VARIABLE}: {error}"));
        connection
            .execute(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .await
            .unwrap_or_else(|error| panic!("cannot create test schema {schema}: {error}"));
        let separator = if database_url.contains('?') { '&' } else { '?' };
        // `options` is passed to the server at connection start (URL-encoded
        // `-c search_path=<schema>`): every pooled connection uses the schema.
        let url = format!("{database_url}{separator}options=-c%20search_path%3D{schema}");
        TestDatabase {
            url,
            cleanup: Cleanup::PostgresSchema { database_url, schema },
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Cleanup::PostgresSchema { database_url, schema } = &self.cleanup else {
            return;
        };
        // Drop cannot await, and may run inside a runtime that must not be
        // blocked from within; a thread with its own runtime does the work.
        let database_url = database_url.clone();
        let schema = schema.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|error| error.to_string())?;
            runtime.block_on(async {
                let mut connection = PgConnection::connect(&database_url)
                    .await
                    .map_err(|error| error.to_string())?;
                // A lingering connection of the test must not hang the run.
                connection
                    .execute("SET lock_timeout = '10s'")
                    .await
                    .map_err(|error| error.to_string())?;
                connection
                    .execute(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                    .await
                    .map_err(|error| error.to_string())?;
                Ok::<(), String>(())
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "a test schema was left behind"),
            Err(_) => tracing::warn!("dropping a test schema panicked"),
        }
    }
}
