//! Storage for lienthong: one [`Store`](lienthong_domain::store::Store)
//! implementation over sqlx's Any driver, running on SQLite (one machine) or
//! PostgreSQL (several servers sharing a database) with the same SQL text
//! wherever the two agree. [`connect`] picks the backend from the URL scheme
//! and applies the migrations of `migrations/<backend>/` before returning.

mod analytics;
mod checkpoint;
mod connection;
mod conversion;
mod directory;
mod error;
mod forms;
mod idempotency;
mod numbered_query;
mod principal_changes;
mod recommendations;
mod reports;
mod resolutions;
mod sql_store;
#[cfg(feature = "testing")]
pub mod testing;
mod tokens;

pub use connection::{StoreOptions, connect, connect_with};
