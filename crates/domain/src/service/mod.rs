//! Use cases: what callers may do, checked and carried out over a [`Store`].
//! Each method takes the calling [`Principal`](crate::auth::Principal) and enforces who may do what
//! before touching the store.

mod analytics;
mod directory;
mod dossier;
mod forms;
mod recommendations;
mod reports;
mod resolutions;
mod tokens;

use std::sync::Arc;

use lienthong_dedup::Engine;
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;

pub use analytics::{
    AggregatePlan, AggregateQuery, AggregateRow, Aggregates, AnalyticsService, DEFAULT_Z_SCORE_THRESHOLD,
    GroupDimension, MAX_RANGE_PERIODS, MAX_ROWS_SETTING, OUTLIER_PAGES, Outlier, OutlierReason,
    OutliersQuery, RATE_PAGES, RatesQuery, ReportingRate, ReportingRates,
};
pub use directory::DirectoryService;
pub use dossier::{
    AnsweredMatches, BlocMatches, DEFAULT_RANKED_CLUSTERS, DossierQuery, DossierService, MAX_DOSSIER_MATTERS,
    MAX_RANKED_CLUSTERS, PeriodMatches, RankClustersQuery,
};
pub use forms::FormService;
pub use recommendations::{
    ClusterDetail, ImportedAnswer, RecommendationService, RecommendationView, SimilarRecommendation,
    SubmitRecommendation, cluster_name, recommendation_name,
};
pub use reports::{
    AmendReport, Completeness, Obligation, ObligationStatus, ObligationsQuery, ReportService, ReportView,
    SubmitReport, SubmittedRevision, parse_revision_name, report_name, revision_name,
};
pub use resolutions::{FileResolution, ResolutionSearch, ResolutionService, ResolutionView};
pub use tokens::{IssuedToken, TokenService};

use crate::error::{Error, Result};
use crate::store::{IdempotencyKey, Store, StoredRequest};
use crate::text::free_text_problem;

/// Where "now" comes from; tests pin it. Instants carry at most microsecond
/// precision, the precision the store keeps, so what a write returns equals
/// what a later read (or an idempotent replay) returns.
pub type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(|| {
        let now = OffsetDateTime::now_utc();
        now.replace_microsecond(now.microsecond()).unwrap_or(now)
    })
}

/// All use cases over one store.
#[derive(Clone, Debug)]
pub struct Services {
    pub analytics: AnalyticsService,
    pub directory: DirectoryService,
    pub dossier: DossierService,
    pub forms: FormService,
    pub reports: ReportService,
    pub recommendations: RecommendationService,
    pub resolutions: ResolutionService,
    pub tokens: TokenService,
}

impl Services {
    /// Use cases with the dedup engine's default thresholds.
    pub fn new(store: Arc<dyn Store>, clock: Clock) -> Services {
        Services::with_engine(store, clock, Arc::new(Engine::default()))
    }

    /// Use cases with a configured dedup engine.
    pub fn with_engine(store: Arc<dyn Store>, clock: Clock, engine: Arc<Engine>) -> Services {
        Services {
            analytics: AnalyticsService::new(store.clone(), clock.clone()),
            directory: DirectoryService::new(store.clone()),
            dossier: DossierService::new(store.clone(), AnalyticsService::new(store.clone(), clock.clone())),
            forms: FormService::new(store.clone(), clock.clone()),
            reports: ReportService::new(store.clone(), clock.clone()),
            recommendations: RecommendationService::new(store.clone(), engine, clock.clone()),
            resolutions: ResolutionService::new(store.clone(), clock.clone()),
            tokens: TokenService::new(store, clock),
        }
    }
}

const MAX_REQUEST_ID_CHARS: usize = 128;

/// Builds the idempotency key of a write: the key is scoped to the acting
/// organ and the operation, and fingerprints the request content.
fn idempotency_key(
    organ_id: &str,
    operation: &str,
    request_id: &str,
    content: &impl Serialize,
) -> Result<IdempotencyKey> {
    if request_id.is_empty() || free_text_problem(request_id, MAX_REQUEST_ID_CHARS).is_some() {
        return Err(Error::invalid(
            "request_id",
            format!("an idempotency key of 1 to {MAX_REQUEST_ID_CHARS} characters is required"),
        ));
    }
    let canonical = serde_json::to_vec(content).map_err(Error::internal)?;
    let fingerprint = Sha256::digest(&canonical)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    Ok(IdempotencyKey {
        scope: format!("{organ_id}:{operation}"),
        request_id: request_id.to_owned(),
        fingerprint,
    })
}

/// Looks up an earlier request with the same key: its resource when the
/// content matches, `AlreadyExists` when the key was used for something else.
async fn earlier_request(store: &dyn Store, key: &IdempotencyKey) -> Result<Option<String>> {
    match store.find_request(&key.scope, &key.request_id).await? {
        None => Ok(None),
        Some(StoredRequest {
            fingerprint,
            resource,
        }) if fingerprint == key.fingerprint => Ok(Some(resource)),
        Some(StoredRequest { resource, .. }) => Err(Error::AlreadyExists {
            kind: crate::error::ResourceKind::IdempotencyKey,
            name: key.request_id.clone(),
            reason: format!(
                "it was used for a different request (which produced {resource}); use a new request_id"
            ),
        }),
    }
}

/// Whether a store error says the idempotency key was recorded by a
/// concurrent request, which the caller then replays.
fn is_key_race(error: &Error) -> bool {
    matches!(
        error,
        Error::AlreadyExists {
            kind: crate::error::ResourceKind::IdempotencyKey,
            ..
        }
    )
}
