//! Following changes to tokens and organs on PostgreSQL, so that a server
//! can keep the tokens it has read until they change instead of reading one
//! on every request. Triggers on both tables notify a channel on every
//! change, whoever makes it (another server, the command line, an
//! administrator by hand); a connection of its own listens. While it is not
//! listening, nothing is kept ([`PrincipalChanges::generation`] is `None`).
//!
//! SQLite follows nothing: its server is the only one and reads a token in
//! process, at a cost that keeping it would not repay.

use std::str::FromStr as _;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use lienthong_domain::auth::PrincipalChanges;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use tokio::task::JoinHandle;

/// The channel the triggers of migration 0012 notify.
const CHANNEL: &str = "lienthong_principal_changes";
/// How the listening connection shows in `pg_stat_activity`.
const APPLICATION_NAME: &str = "lienthong principal changes";

/// The first wait before listening again after a failure; it doubles up to
/// [`LONGEST_RETRY`].
const FIRST_RETRY: Duration = Duration::from_millis(100);
const LONGEST_RETRY: Duration = Duration::from_secs(10);

/// Follows the changes of one PostgreSQL database once asked to; stops when
/// dropped.
#[derive(Debug)]
pub(crate) struct PrincipalFeed {
    url: String,
    following: OnceLock<Following>,
}

#[derive(Debug)]
struct Following {
    changes: Arc<PrincipalChanges>,
    task: JoinHandle<()>,
}

impl Drop for Following {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl PrincipalFeed {
    pub(crate) fn new(url: &str) -> PrincipalFeed {
        PrincipalFeed {
            url: url.to_owned(),
            following: OnceLock::new(),
        }
    }

    /// Starts listening on the first call made inside a Tokio runtime;
    /// `None` outside one, where nothing could listen.
    pub(crate) fn changes(&self) -> Option<Arc<PrincipalChanges>> {
        let following = match self.following.get() {
            Some(following) => following,
            None => {
                let runtime = tokio::runtime::Handle::try_current().ok()?;
                self.following.get_or_init(|| {
                    let changes = Arc::new(PrincipalChanges::default());
                    let task = runtime.spawn(follow(self.url.clone(), changes.clone()));
                    Following { changes, task }
                })
            }
        };
        Some(following.changes.clone())
    }

    /// Notes a change this process made, so that it is honoured here at once
    /// rather than when the notification comes back; nothing when not
    /// following.
    pub(crate) fn note_change(&self) {
        if let Some(following) = self.following.get() {
            following.changes.changed();
        }
    }
}

/// Marks changes unfollowed however [`follow`] ends, aborted with its store
/// or by a panic, so nothing is kept on the strength of a listener gone.
struct LoseOnDrop(Arc<PrincipalChanges>);

impl Drop for LoseOnDrop {
    fn drop(&mut self) {
        self.0.lose();
    }
}

async fn follow(url: String, changes: Arc<PrincipalChanges>) {
    let _lose_on_drop = LoseOnDrop(changes.clone());
    let mut retry = FIRST_RETRY;
    loop {
        match listen(&url).await {
            Ok((mut listener, schema)) => {
                // Changes made before the LISTEN went unseen.
                changes.follow();
                tracing::debug!("following changes to tokens and organs");
                let followed_since = tokio::time::Instant::now();
                let why = loop {
                    match listener.try_recv().await {
                        Ok(Some(notification)) if notification.payload() == schema => changes.changed(),
                        Ok(Some(_)) => {}
                        Ok(None) => break "the connection was lost".to_owned(),
                        Err(error) => break error.to_string(),
                    }
                };
                changes.lose();
                // A connection that lasted starts the backoff afresh; one
                // lost at once keeps backing off.
                if followed_since.elapsed() >= LONGEST_RETRY {
                    retry = FIRST_RETRY;
                }
                tracing::warn!(%why, "stopped following changes to tokens and organs; every request reads its token until it follows them again");
            }
            Err(error) => {
                tracing::warn!(%error, "cannot follow changes to tokens and organs; every request reads its token meanwhile");
            }
        }
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(LONGEST_RETRY);
    }
}

/// A connection listening on [`CHANNEL`], with the schema whose changes
/// concern this store: that of its `tokens` table, which is what the
/// triggers send.
async fn listen(url: &str) -> Result<(PgListener, String), sqlx::Error> {
    let options = PgConnectOptions::from_str(url)?.application_name(APPLICATION_NAME);
    // As `PgListener::connect` does: one connection, kept for good.
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .max_lifetime(None)
        .idle_timeout(None)
        .connect_with(options)
        .await?;
    let mut listener = PgListener::connect_with(&pool).await?;
    // A lost connection must end `try_recv` at once, so that nothing is kept
    // while notifications may be missed; the loop in `follow` reconnects.
    listener.eager_reconnect(false);
    let schema: String = sqlx::query_scalar(
        "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.oid = 'tokens'::regclass",
    )
    .fetch_one(&mut listener)
    .await?;
    listener.listen(CHANNEL).await?;
    Ok((listener, schema))
}
