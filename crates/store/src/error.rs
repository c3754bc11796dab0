//! Turning database failures into domain errors. Callers see a generic
//! message; the full database error goes to the log, where operators need it
//! and callers must not see it (it can name tables, values and hosts).

use lienthong_domain::Error;

/// PostgreSQL's SQLSTATE for a character its encoding cannot hold: NUL in
/// text, which SQLite stores. sqlx does not classify it.
const CHARACTER_NOT_IN_REPERTOIRE: &str = "22021";

/// Logs `error` in full and returns the generic internal error for it; for
/// a wait for a connection that timed out, resources exhausted (worth a
/// retry); for a value PostgreSQL refuses as text, an invalid argument: the domain
/// refuses control characters in free text by field, and this keeps any
/// identifier that slipped through from failing only on PostgreSQL.
pub(crate) fn database_failure(operation: &str, error: &sqlx::Error) -> Error {
    if matches!(error, sqlx::Error::PoolTimedOut) {
        tracing::warn!(operation, "no database connection came free in time");
        return Error::ResourceExhausted {
            subject: "database connections".to_owned(),
            description: format!("every connection stayed busy while {operation}; retry later"),
        };
    }
    if error
        .as_database_error()
        .and_then(|database_error| database_error.code())
        .as_deref()
        == Some(CHARACTER_NOT_IN_REPERTOIRE)
    {
        tracing::info!(operation, %error, "a request value the database cannot hold as text");
        return Error::invalid("request", "a field holds a character no text may (such as NUL)");
    }
    tracing::error!(operation, %error, "database failure");
    Error::Internal(format!("the database failed while {operation}"))
}

/// Logs stored data that does not make sense (hand-edited rows, a bug in an
/// earlier version) and returns the generic internal error for it, so a bad
/// row fails its request instead of panicking the server.
pub(crate) fn corrupt_stored_data(description: &str) -> Error {
    tracing::error!(description, "stored data cannot be read");
    Error::Internal("stored data cannot be read".to_owned())
}

/// Whether `error` is a unique or primary key violation, as the driver
/// classifies it (never by matching backend-specific codes here).
pub(crate) fn is_unique_violation(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .is_some_and(|database_error| database_error.is_unique_violation())
}

/// `.or_database_failure("reading a report")` on any sqlx result.
pub(crate) trait DatabaseResultExt<T> {
    fn or_database_failure(self, operation: &str) -> Result<T, Error>;
}

impl<T> DatabaseResultExt<T> for Result<T, sqlx::Error> {
    fn or_database_failure(self, operation: &str) -> Result<T, Error> {
        self.map_err(|error| database_failure(operation, &error))
    }
}
