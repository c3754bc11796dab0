//! SQLite's write-ahead log is copied back into the database file by a
//! background task rather than by the commit that happens to cross
//! SQLite's threshold. That commit would otherwise wait for about a thousand
//! pages to be copied and the database file synced, several times its own
//! cost, once every dozen writes or so: the slowest writes would be all
//! checkpoint.
//!
//! The task checkpoints soon after a write commits. The sync of the
//! database file that ends a checkpoint delays any commit syncing the log
//! meanwhile, by as long as there is to flush: a checkpoint of a commit or
//! two's pages, done while the next request is still being decided, is over
//! before that request commits, where one of many commits' pages on a timer
//! stalled whichever commit met it. A pass starts at least [`MIN_GAP`]
//! after the last one ended, so that under many writers a pass takes the
//! pages of several commits at once. Measured (`lienthong-bench`, two cores, alternating runs): with
//! 100 000 recommendations stored, SubmitRecommendation one at a time had
//! p99 16 ms on a 100 ms timer, 8–9.6 ms this way; SubmitReport throughput with
//! 32 in flight stayed within 3 % (a pass after every commit cost 20 %).

use std::sync::Arc;
use std::time::Duration;

use lienthong_domain::Error;
use sqlx::{AnyConnection, Connection as _, Executor as _};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::error::DatabaseResultExt as _;

/// The longest wait between two checkpoints, for writes that do not say
/// they committed. A pass with nothing to copy reads only the log's header.
pub(crate) const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(100);
/// The shortest time from the end of one pass to the start of the next, so
/// that even slow passes leave commits room between their syncs.
const MIN_GAP: Duration = Duration::from_millis(5);

/// The background checkpoint of one SQLite database; stops when dropped.
#[derive(Debug)]
pub(crate) struct Checkpointer {
    task: JoinHandle<()>,
    committed: Arc<Notify>,
}

impl Checkpointer {
    /// Starts checkpointing the database at `url` on a connection of its
    /// own, so it never waits for the pool: after each signalled commit, and
    /// at least every `interval`.
    pub(crate) async fn start(url: &str, interval: Duration) -> Result<Checkpointer, Error> {
        let connection = AnyConnection::connect(url)
            .await
            .or_database_failure("opening the checkpoint connection")?;
        let committed = Arc::new(Notify::new());
        Ok(Checkpointer {
            task: tokio::spawn(checkpoint_after_commits(connection, committed.clone(), interval)),
            committed,
        })
    }

    /// What a committing write signals: the log has pages to copy.
    pub(crate) fn commit_signal(&self) -> Arc<Notify> {
        self.committed.clone()
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn checkpoint_after_commits(mut connection: AnyConnection, committed: Arc<Notify>, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut failing = false;
    let mut last_pass_ended = tokio::time::Instant::now();
    loop {
        // A commit during the last pass or the gap after it left a permit:
        // the next pass follows the gap.
        tokio::select! {
            () = committed.notified() => {}
            _ = ticks.tick() => {}
        }
        tokio::time::sleep_until(last_pass_ended + MIN_GAP).await;
        // PASSIVE copies what no reader still needs and never waits for a
        // lock, so writers and readers go on meanwhile.
        let pass = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").await;
        last_pass_ended = tokio::time::Instant::now();
        match pass {
            Ok(_) if failing => {
                tracing::info!("background checkpoints work again");
                failing = false;
            }
            Ok(_) => {}
            // The next pass tries again; meanwhile commits checkpoint by
            // themselves once the log is long (`wal_autocheckpoint`).
            Err(error) if !failing => {
                tracing::warn!(%error, "background checkpoint failed; commits checkpoint by themselves until it works again");
                failing = true;
            }
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use sqlx::any::AnyPoolOptions;

    use super::*;
    use crate::connection::Backend;
    use crate::sql_store::{SqlStore, commit};

    #[tokio::test]
    async fn a_commit_is_checkpointed_without_waiting_for_the_timer() {
        sqlx::any::install_default_drivers();
        let directory = tempfile::tempdir().expect("temporary directory");
        let path = directory.path().join("lienthong.db");
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let pool = AnyPoolOptions::new().connect(&url).await.expect("pool");
        pool.execute("PRAGMA journal_mode = WAL").await.expect("WAL");
        // The timer's first pass runs at once; the next one would come far
        // too late for this test.
        let checkpointer = Checkpointer::start(&url, Duration::from_secs(3600))
            .await
            .expect("checkpointer");
        let store = SqlStore::new(pool, None, Backend::Sqlite, Some(checkpointer));
        let in_database_file = |marker: &str| {
            let bytes = std::fs::read(&path).expect("database file");
            bytes
                .windows(marker.len())
                .any(|window| window == marker.as_bytes())
        };
        for (index, marker) in ["first-commit-copied", "second-commit-copied"]
            .into_iter()
            .enumerate()
        {
            let mut transaction = store.begin_write().await.expect("begin");
            if index == 0 {
                transaction
                    .execute("CREATE TABLE written (value TEXT)")
                    .await
                    .expect("create");
            }
            transaction
                .execute(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO written VALUES ('{marker}')"
                )))
                .await
                .expect("write");
            commit(transaction).await.expect("commit");
            // Generous, for slow test machines; the pass follows the commit.
            // (The first marker may also be copied by the timer's first
            // pass; the second can only be copied after its own signal.)
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            while !in_database_file(marker) {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the commit of {marker} was not checkpointed"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            // Past any pass the first commit's signal still owed.
            tokio::time::sleep(MIN_GAP * 10).await;
        }
    }
}
