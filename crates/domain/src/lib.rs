//! The domain of lienthong: the directory of localities and organs, report
//! forms and Decree 09 periods, reports and their review, tokens and roles,
//! and the use cases over a [`store::Store`]. No transport or SQL here: the
//! gRPC layer and the store crate depend on this crate, never the reverse.

pub mod analytics;
pub mod auth;
pub mod directory;
pub mod dossier;
pub mod error;
pub mod form;
pub mod paging;
pub mod period;
pub mod recommendation;
pub mod report;
pub mod resolution;
pub mod service;
pub mod store;
pub mod text;

pub use error::{Error, FieldViolation, Result};
