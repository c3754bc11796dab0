//! [`SqlStore`], the one implementation of the domain's `Store`. The trait
//! methods delegate to the entity modules (`directory`, `tokens`, `forms`,
//! `reports`, `idempotency`), which hold the SQL.

use async_trait::async_trait;
use lienthong_domain::Result;
use lienthong_domain::auth::{NewToken, TokenRecord};
use lienthong_domain::directory::{Directory, Locality, Organ, OrganKind};
use lienthong_domain::form::{Form, FormDefinition, FormVersion};
use lienthong_domain::report::{Report, ReportRevision, ReportStatus};
use lienthong_domain::store::{
    IdempotencyKey, ImportSummary, LocalityFilter, NewReport, NewReview, OrganFilter, ReportFilter, Store,
    StoredRequest,
};
use sqlx::AnyPool;
use sqlx::{Any, Transaction};
use time::OffsetDateTime;

use crate::connection::Backend;
use crate::error::DatabaseResultExt as _;

/// A store over one connection pool of either backend.
#[derive(Debug)]
pub(crate) struct SqlStore {
    pub(crate) pool: AnyPool,
    pub(crate) backend: Backend,
}

pub(crate) type WriteTransaction = Transaction<'static, Any>;

impl SqlStore {
    /// Starts a transaction that will write. On SQLite it takes the write
    /// lock at once (`BEGIN IMMEDIATE`): a deferred transaction that reads
    /// and then writes fails with SQLITE_BUSY when another writer got in
    /// between, instead of waiting. PostgreSQL needs no such thing; the
    /// compare-and-set updates and unique constraints keep writes correct.
    pub(crate) async fn begin_write(&self) -> Result<WriteTransaction> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
        .or_database_failure("starting a transaction")
    }
}

pub(crate) async fn commit(transaction: WriteTransaction) -> Result<()> {
    transaction
        .commit()
        .await
        .or_database_failure("committing a transaction")
}

/// Rolls back explicitly, so the SQLite write lock is released before the
/// caller looks at why the write failed.
pub(crate) async fn roll_back(transaction: WriteTransaction) -> Result<()> {
    transaction
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

    async fn find_token(&self, token_hash: &str) -> Result<Option<TokenRecord>> {
        self.token_by_hash(token_hash).await
    }

    async fn list_tokens(&self) -> Result<Vec<TokenRecord>> {
        self.all_tokens().await
    }

    async fn revoke_token(&self, id: i64, at: OffsetDateTime) -> Result<bool> {
        self.revoke_token_row(id, at).await
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
