//! The gRPC face of lienthong: one type per service of the contract, each RPC
//! a few lines of convert → call the domain → convert back. `Status` values
//! are made only here (see [`status::to_status`]).

mod analytics;
pub mod auth;
pub mod codec;
pub mod convert;
mod directory;
mod dossier;
mod forms;
mod recommendations;
mod reports;
mod resolutions;
pub mod status;

pub use analytics::AnalyticsApi;
pub use directory::DirectoryApi;
pub use dossier::DossierApi;
pub use forms::FormApi;
pub use recommendations::RecommendationApi;
pub use reports::ReportApi;
pub use resolutions::ResolutionApi;

use lienthong_domain::auth::Principal;
use tonic::{Request, Status};

/// The authenticated caller, put in the request by [`auth::AuthLayer`].
fn caller<T>(request: &Request<T>) -> Result<Principal, Status> {
    request
        .extensions()
        .get::<Principal>()
        .cloned()
        .ok_or_else(|| Status::unauthenticated("no authenticated caller"))
}
