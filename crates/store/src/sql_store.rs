//! [`SqlStore`], the one implementation of the domain's `Store`. The trait
//! methods delegate to the entity modules (`directory`, `tokens`, `forms`,
//! `reports`, `idempotency`), which hold the SQL.

use async_trait::async_trait;
use lienthong_domain::Result;
use lienthong_domain::auth::{FoundToken, NewToken, PrincipalChanges, TokenRecord};
use lienthong_domain::directory::{Directory, Locality, Organ, OrganKind};
use lienthong_domain::form::{Form, FormDefinition, FormVersion};
use lienthong_domain::report::{Report, ReportRevision, ReportStatus};
use lienthong_domain::store::{
    IdempotencyKey, ImportSummary, LocalityFilter, NewReport, NewReview, OrganFilter, ReportFilter, Store,
    StoredRequest,
};
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use sqlx::{Any, AnyConnection, AnyPool, AssertSqlSafe, Transaction};
use time::OffsetDateTime;
use tokio::sync::Notify;

use crate::checkpoint::Checkpointer;
use crate::connection::Backend;
use crate::error::DatabaseResultExt as _;
use crate::principal_changes::PrincipalFeed;

/// A store over a connection pool of either backend.
#[derive(Debug)]
pub(crate) struct SqlStore {
    /// Reads, and on PostgreSQL writes too.
    pub(crate) pool: AnyPool,
    pub(crate) backend: Backend,
    /// SQLite's one writing connection, in a pool of its own that hands it
    /// to write transactions in arrival order. SQLite writes one at a time
    /// anyway, and its busy handler lets a waiting writer sleep up to
    /// 100 ms between tries and serves waiters in no order, so under load
    /// a write could wait hundreds of milliseconds behind later ones. The
    /// only connection that changes the database also keeps its page
    /// cache: SQLite drops a connection's whole cache when it finds the
    /// database changed by another.
    writer: Option<AnyPool>,
    /// SQLite's background checkpoint, which write transactions signal
    /// when they commit; it stops with the store.
    checkpointer: Option<Checkpointer>,
    /// PostgreSQL's feed of changes to tokens and organs; it stops with the
    /// store.
    principal_feed: Option<PrincipalFeed>,
}

/// A write transaction; derefs to its connection.
#[derive(Debug)]
pub(crate) struct WriteTransaction {
    transaction: Transaction<'static, Any>,
    /// Told once the transaction commits (SQLite's checkpointer).
    committed: Option<Arc<Notify>>,
}

impl Deref for WriteTransaction {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        &self.transaction
    }
}

impl DerefMut for WriteTransaction {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.transaction
    }
}

impl SqlStore {
    pub(crate) fn new(
        pool: AnyPool,
        writer: Option<AnyPool>,
        backend: Backend,
        checkpointer: Option<Checkpointer>,
    ) -> SqlStore {
        SqlStore {
            pool,
            writer,
            backend,
            checkpointer,
            principal_feed: None,
        }
    }

    /// Follows changes to tokens and organs through `feed` when asked to.
    pub(crate) fn with_principal_feed(self, feed: PrincipalFeed) -> SqlStore {
        SqlStore {
            principal_feed: Some(feed),
            ..self
        }
    }

    /// Tells the feed of changes to tokens and organs of one this store has
    /// just committed.
    pub(crate) fn note_principal_change(&self) {
        if let Some(feed) = &self.principal_feed {
            feed.note_change();
        }
    }

    /// Where statements that change the database go, transactions or not.
    pub(crate) fn writes(&self) -> &AnyPool {
        self.writer.as_ref().unwrap_or(&self.pool)
    }

    pub(crate) async fn begin_write(&self) -> Result<WriteTransaction> {
        self.begin_write_locked(None).await
    }

    /// A write transaction that on PostgreSQL first takes the advisory
    /// transaction lock `lock_key`, sent with its `BEGIN` in one round trip.
    /// SQLite's `BEGIN IMMEDIATE` serialises writes already.
    pub(crate) async fn begin_write_locked(&self, lock_key: Option<i64>) -> Result<WriteTransaction> {
        let transaction = match (self.backend, lock_key) {
            (Backend::Sqlite, _) => self.writes().begin_with("BEGIN IMMEDIATE").await,
            (Backend::Postgres, None) => self.pool.begin().await,
            // A simple query, which may hold two statements; the key is a
            // number, written as one.
            (Backend::Postgres, Some(key)) => {
                self.pool
                    .begin_with(AssertSqlSafe(format!(
                        "BEGIN; SELECT pg_advisory_xact_lock({key})"
                    )))
                    .await
            }
        }
        .or_database_failure("starting a transaction")?;
        Ok(WriteTransaction {
            transaction,
            committed: self.checkpointer.as_ref().map(Checkpointer::commit_signal),
        })
    }
}

pub(crate) async fn commit(transaction: WriteTransaction) -> Result<()> {
    transaction
        .transaction
        .commit()
        .await
        .or_database_failure("committing a transaction")?;
    if let Some(committed) = &transaction.committed {
        committed.notify_one();
    }
    Ok(())
}

pub(crate) async fn roll_back(transaction: WriteTransaction) -> Result<()> {
    transaction
        .transaction
        .rollback()
        .await
        .or_database_failure("rolling back a transaction")
}

#[async_trait]
impl Store for SqlStore {
    async fn import_directory(&self, directory: &Directory) -> Result<ImportSummary> {
        self.import_directory_rows(directory).await
    }

    async fn get_locality(&self, code: &str) -> Result<Option<Locality>> {
        self.locality_by_code(code).await
    }

    async fn list_localities(
        &self,
        filter: &LocalityFilter,
        after_code: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Locality>> {
        self.localities_page(filter, after_code, limit).await
    }

    async fn get_organ(&self, id: &str) -> Result<Option<Organ>> {
        self.organ_by_id(id).await
    }

    async fn list_organs(
        &self,
        filter: &OrganFilter,
        after_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Organ>> {
        self.organs_page(filter, after_id, limit).await
    }

    async fn reporting_organs(&self, kinds: &[OrganKind]) -> Result<Vec<Organ>> {
        self.commune_level_organs_of_kinds(kinds).await
    }

    async fn insert_token(&self, token: &NewToken) -> Result<TokenRecord> {
        self.insert_token_row(token).await
    }

    async fn find_token(&self, token_hash: &str) -> Result<Option<FoundToken>> {
        self.token_by_hash(token_hash).await
    }

    async fn list_tokens(&self) -> Result<Vec<TokenRecord>> {
        self.all_tokens().await
    }

    async fn revoke_token(&self, id: i64, at: OffsetDateTime) -> Result<bool> {
        self.revoke_token_row(id, at).await
    }

    fn principal_changes(&self) -> Option<Arc<PrincipalChanges>> {
        self.principal_feed.as_ref()?.changes()
    }

    async fn create_form(&self, form: &Form) -> Result<()> {
        self.insert_form_row(form).await
    }

    async fn update_form_draft(
        &self,
        code: &str,
        draft: &FormDefinition,
        at: OffsetDateTime,
    ) -> Result<Form> {
        self.replace_form_draft(code, draft, at).await
    }

    async fn publish_form(&self, code: &str, at: OffsetDateTime) -> Result<FormVersion> {
        self.publish_form_draft(code, at).await
    }

    async fn get_form(&self, code: &str) -> Result<Option<Form>> {
        self.form_by_code(code).await
    }

    async fn list_forms(&self, after_code: Option<&str>, limit: u32) -> Result<Vec<Form>> {
        self.forms_page(after_code, limit).await
    }

    async fn get_form_version(&self, code: &str, version: u32) -> Result<Option<FormVersion>> {
        self.form_version_by_number(code, version).await
    }

    async fn latest_form_versions(&self) -> Result<Vec<FormVersion>> {
        self.latest_versions_of_published_forms().await
    }

    async fn find_request(&self, scope: &str, request_id: &str) -> Result<Option<StoredRequest>> {
        self.stored_request(scope, request_id).await
    }

    async fn insert_report(&self, report: &NewReport, key: &IdempotencyKey) -> Result<i64> {
        self.insert_report_with_first_revision(report, key).await
    }

    async fn append_revision(
        &self,
        revision: &ReportRevision,
        expected_status: ReportStatus,
        key: &IdempotencyKey,
    ) -> Result<()> {
        self.append_revision_if_unchanged(revision, expected_status, key)
            .await
    }

    async fn record_review(&self, review: &NewReview, key: &IdempotencyKey) -> Result<()> {
        self.record_review_if_unchanged(review, key).await
    }

    async fn get_report(&self, id: i64) -> Result<Option<Report>> {
        self.report_by_id(id).await
    }

    async fn get_revision(&self, report_id: i64, revision: u32) -> Result<Option<ReportRevision>> {
        self.revision_with_values(report_id, revision).await
    }

    async fn list_reports(
        &self,
        filter: &ReportFilter,
        after_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Report>> {
        self.reports_page(filter, after_id, limit).await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::connection::{Backend, StoreOptions, open};

    /// The writing connection's pool serves waiters in arrival order (sqlx's
    /// pools are fair by default).
    #[tokio::test]
    async fn sqlite_writers_take_turns_in_arrival_order() {
        let folder = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", folder.path().join("turns.db").display());
        let store = std::sync::Arc::new(open(&url, StoreOptions::default()).await.expect("opened"));
        let first = store.begin_write().await.expect("first writer");

        let (order_sender, mut order) = tokio::sync::mpsc::unbounded_channel();
        let mut waiting = Vec::new();
        for writer in 1..=3 {
            let store = store.clone();
            let order_sender = order_sender.clone();
            waiting.push(tokio::spawn(async move {
                let transaction = store.begin_write().await.expect("a later writer");
                order_sender.send(writer).expect("order recorded");
                super::commit(transaction).await.expect("committed");
            }));
            // Each is waiting before the next arrives.
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
        assert!(
            order.try_recv().is_err(),
            "nobody writes while the first holds its turn"
        );
        super::commit(first).await.expect("first committed");
        for writer in waiting {
            writer.await.expect("writer finished");
        }
        let served: Vec<i32> = std::iter::from_fn(|| order.try_recv().ok()).collect();
        assert_eq!(served, [1, 2, 3]);
    }

    /// The lock sent with `BEGIN` is held until the transaction ends. Only
    /// PostgreSQL has such locks; on SQLite there is nothing to check.
    #[tokio::test]
    async fn a_locked_write_holds_its_lock_until_it_ends() {
        const KEY: i64 = 4_242;
        let database = crate::testing::TestDatabase::fresh().await;
        let store = open(&database.url, StoreOptions::default())
            .await
            .expect("opened");
        if store.backend != Backend::Postgres {
            return;
        }
        let taken_elsewhere = || async {
            sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_xact_lock($1)")
                .bind(KEY)
                .fetch_one(&store.pool)
                .await
                .expect("tried")
        };
        let transaction = store.begin_write_locked(Some(KEY)).await.expect("begun");
        assert!(!taken_elsewhere().await, "held by the transaction");
        super::commit(transaction).await.expect("committed");
        assert!(taken_elsewhere().await, "released at commit");
    }
}
