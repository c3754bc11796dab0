//! The storage port. The domain decides; the store persists and answers
//! queries. Writes that must not interleave (revisions, reviews) are
//! compare-and-set on what the domain read, so two servers sharing one
//! database cannot both win.

use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::analytics::AnalyticsStore;
use crate::auth::{FoundToken, NewToken, PrincipalChanges, TokenRecord};
use crate::directory::{Bloc, Directory, Locality, LocalityKind, Organ, OrganKind};
use crate::error::Result;
use crate::form::{Form, FormDefinition, FormVersion};
use crate::period::Period;
use crate::recommendation::RecommendationStore;
use crate::report::{Report, ReportRevision, ReportStatus, Review};
use crate::resolution::ResolutionStore;

/// A write's idempotency key: who (`scope`), which key, and a fingerprint of
/// the request content so a reused key with other content is caught.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    pub scope: String,
    pub request_id: String,
    pub fingerprint: String,
}

/// What an earlier request with the same key did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRequest {
    pub fingerprint: String,
    /// Resource name the request produced, e.g. `reports/7/revisions/2`.
    pub resource: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalityFilter {
    pub kind: Option<LocalityKind>,
    pub parent_code: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrganFilter {
    pub locality_code: Option<String>,
    pub bloc: Option<Bloc>,
    pub kind: Option<OrganKind>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportFilter {
    pub form_code: Option<String>,
    pub period: Option<Period>,
    pub organ_id: Option<String>,
    pub locality_code: Option<String>,
    pub status: Option<ReportStatus>,
    /// Only reports of forms owned by this department (a reviewer's view).
    pub form_owner: Option<String>,
}

/// Counts of what an import changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub localities_added: u32,
    pub localities_updated: u32,
    pub organs_added: u32,
    pub organs_updated: u32,
}

/// A report to create with its first revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReport {
    pub organ_id: String,
    pub locality_code: String,
    pub form_code: String,
    pub period: Period,
    pub deadline: OffsetDateTime,
    pub first_revision: ReportRevision,
}

/// A review to record, if the report is still as the reviewer saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReview {
    pub report_id: i64,
    pub expected_revision: u32,
    pub expected_status: ReportStatus,
    pub new_status: ReportStatus,
    pub review: Review,
}

#[async_trait]
pub trait Store:
    AnalyticsStore + RecommendationStore + ResolutionStore + Send + Sync + std::fmt::Debug + 'static
{
    /// Inserts or updates every locality and organ of `directory` in one
    /// transaction; running it twice changes nothing the second time.
    async fn import_directory(&self, directory: &Directory) -> Result<ImportSummary>;
    async fn get_locality(&self, code: &str) -> Result<Option<Locality>>;
    /// Localities in code order after `after_code`, at most `limit`.
    async fn list_localities(
        &self,
        filter: &LocalityFilter,
        after_code: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Locality>>;
    async fn get_organ(&self, id: &str) -> Result<Option<Organ>>;
    /// Organs in id order after `after_id`, at most `limit`.
    async fn list_organs(
        &self,
        filter: &OrganFilter,
        after_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Organ>>;
    /// Organs of the given kinds in commune-level localities, in id order:
    /// those that owe a form.
    async fn reporting_organs(&self, kinds: &[OrganKind]) -> Result<Vec<Organ>>;

    async fn insert_token(&self, token: &NewToken) -> Result<TokenRecord>;
    /// The token and its organ in one read, as every request needs them.
    async fn find_token(&self, token_hash: &str) -> Result<Option<FoundToken>>;
    async fn list_tokens(&self) -> Result<Vec<TokenRecord>>;
    /// Revokes a token; false if there is no such token or it was revoked already.
    async fn revoke_token(&self, id: i64, at: OffsetDateTime) -> Result<bool>;
    /// Starts following changes to tokens and organs made anywhere, on the
    /// first call, so that what was read of them can be kept until it
    /// changes; `None` where the backend cannot follow them, when every
    /// request reads its token.
    fn principal_changes(&self) -> Option<Arc<PrincipalChanges>> {
        None
    }

    /// Creates a form; `AlreadyExists` if the code is taken.
    async fn create_form(&self, form: &Form) -> Result<()>;
    /// Replaces a form's draft; `NotFound` if there is no such form.
    async fn update_form_draft(&self, code: &str, draft: &FormDefinition, at: OffsetDateTime)
    -> Result<Form>;
    /// Freezes the current draft as the next version, atomically.
    async fn publish_form(&self, code: &str, at: OffsetDateTime) -> Result<FormVersion>;
    async fn get_form(&self, code: &str) -> Result<Option<Form>>;
    async fn list_forms(&self, after_code: Option<&str>, limit: u32) -> Result<Vec<Form>>;
    async fn get_form_version(&self, code: &str, version: u32) -> Result<Option<FormVersion>>;
    /// The latest version of every published form, in code order.
    async fn latest_form_versions(&self) -> Result<Vec<FormVersion>>;

    async fn find_request(&self, scope: &str, request_id: &str) -> Result<Option<StoredRequest>>;
    /// Creates a report and its first revision and records the key, in one
    /// transaction. `AlreadyExists` of kind `Report` when the organ already
    /// reported for the form and period; of kind `IdempotencyKey` when the
    /// key was recorded meanwhile.
    async fn insert_report(&self, report: &NewReport, key: &IdempotencyKey) -> Result<i64>;
    /// Adds `revision` if the report's latest revision is `revision - 1` and
    /// its status is `expected_status`; sets the status to SUBMITTED.
    /// `FailedPrecondition` if the report changed meanwhile.
    async fn append_revision(
        &self,
        revision: &ReportRevision,
        expected_status: ReportStatus,
        key: &IdempotencyKey,
    ) -> Result<()>;
    /// Records a review if the report is still as expected.
    async fn record_review(&self, review: &NewReview, key: &IdempotencyKey) -> Result<()>;
    async fn get_report(&self, id: i64) -> Result<Option<Report>>;
    async fn get_revision(&self, report_id: i64, revision: u32) -> Result<Option<ReportRevision>>;
    /// Reports in id order after `after_id`, at most `limit`.
    async fn list_reports(
        &self,
        filter: &ReportFilter,
        after_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Report>>;
}
