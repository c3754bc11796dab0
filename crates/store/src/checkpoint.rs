//! SQLite's write-ahead log is copied back into the database file by a
//! background task rather than by the commit that happens to cross
//! SQLite's threshold. That commit would otherwise wait for about a thousand
//! pages to be copied and the database file synced, several times its own
//! cost, once every dozen writes or so: the slowest writes would be all
//! checkpoint.

use std::time::Duration;

use lienthong_domain::Error;
use sqlx::{AnyConnection, Connection as _, Executor as _};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::error::DatabaseResultExt as _;

/// Between two background checkpoints. A pass with nothing to copy reads
/// only the log's header.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(100);

/// The background checkpoint of one SQLite database; stops when dropped.
#[derive(Debug)]
pub(crate) struct Checkpointer {
    task: JoinHandle<()>,
}

impl Checkpointer {
    /// Starts checkpointing the database at `url` on a connection of its
    /// own, so it never waits for the pool.
    pub(crate) async fn start(url: &str) -> Result<Checkpointer, Error> {
        let connection = AnyConnection::connect(url)
            .await
            .or_database_failure("opening the checkpoint connection")?;
        Ok(Checkpointer {
            task: tokio::spawn(checkpoint_periodically(connection)),
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn checkpoint_periodically(mut connection: AnyConnection) {
    let mut ticks = tokio::time::interval(CHECKPOINT_INTERVAL);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        ticks.tick().await;
        // PASSIVE copies what no reader still needs and never waits for a
        // lock, so writers and readers go on meanwhile.
        match connection.execute("PRAGMA wal_checkpoint(PASSIVE)").await {
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
