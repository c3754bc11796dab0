//! Conversions between domain values and the column types that pass through
//! sqlx's Any driver on both backends: timestamps as BIGINT unix microseconds
//! UTC, flags as 0/1, counters as BIGINT, enums as their names, definitions as
//! JSON text. Reading never panics: a value that does not convert is reported
//! as corrupt stored data.

use lienthong_domain::Error;
use lienthong_domain::form::FormDefinition;
use time::OffsetDateTime;

use crate::error::corrupt_stored_data;

const NANOSECONDS_PER_MICROSECOND: i128 = 1_000;

/// Microseconds since the epoch; sub-microsecond precision is dropped.
pub(crate) fn to_storage_micros(instant: OffsetDateTime) -> Result<i64, Error> {
    i64::try_from(
        instant
            .unix_timestamp_nanos()
            .div_euclid(NANOSECONDS_PER_MICROSECOND),
    )
    .map_err(|_| Error::Internal(format!("timestamp {instant} cannot be stored")))
}

pub(crate) fn to_optional_storage_micros(instant: Option<OffsetDateTime>) -> Result<Option<i64>, Error> {
    instant.map(to_storage_micros).transpose()
}

/// The instant, in UTC.
pub(crate) fn from_storage_micros(micros: i64) -> Result<OffsetDateTime, Error> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * NANOSECONDS_PER_MICROSECOND)
        .map_err(|_| corrupt_stored_data(&format!("timestamp {micros} is out of range")))
}

pub(crate) fn from_optional_storage_micros(micros: Option<i64>) -> Result<Option<OffsetDateTime>, Error> {
    micros.map(from_storage_micros).transpose()
}

pub(crate) fn to_storage_flag(flag: bool) -> i64 {
    i64::from(flag)
}

pub(crate) fn from_storage_flag(stored: i64) -> Result<bool, Error> {
    match stored {
        0 => Ok(false),
        1 => Ok(true),
        other => Err(corrupt_stored_data(&format!("flag {other} is neither 0 nor 1"))),
    }
}

/// A stored version or revision number.
pub(crate) fn from_storage_number(stored: i64, what: &str) -> Result<u32, Error> {
    u32::try_from(stored).map_err(|_| corrupt_stored_data(&format!("{what} {stored} is out of range")))
}

/// A stored enum name, parsed by the domain's own `parse`.
pub(crate) fn from_storage_name<T>(
    stored: &str,
    parse: impl Fn(&str) -> Option<T>,
    what: &str,
) -> Result<T, Error> {
    parse(stored).ok_or_else(|| corrupt_stored_data(&format!("{stored:?} is not a {what}")))
}

pub(crate) fn to_storage_json(definition: &FormDefinition) -> Result<String, Error> {
    serde_json::to_string(definition)
        .map_err(|error| Error::Internal(format!("a form definition cannot be serialised: {error}")))
}

pub(crate) fn from_storage_json(stored: &str) -> Result<FormDefinition, Error> {
    serde_json::from_str(stored)
        .map_err(|error| corrupt_stored_data(&format!("a stored form definition is invalid: {error}")))
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn timestamps_keep_microseconds_and_come_back_in_utc() {
        let instant = datetime!(2025-08-05 23:59:59.123456789 +07:00);
        let stored = to_storage_micros(instant).expect("storable");
        let read = from_storage_micros(stored).expect("readable");
        assert_eq!(read, datetime!(2025-08-05 16:59:59.123456 UTC));
        assert_eq!(read.offset(), time::UtcOffset::UTC);
        let before_epoch = datetime!(1900-01-01 00:00:00.000001 UTC);
        let stored = to_storage_micros(before_epoch).expect("storable");
        assert_eq!(from_storage_micros(stored).expect("readable"), before_epoch);
    }

    #[test]
    fn bad_stored_values_are_errors_not_panics() {
        assert!(from_storage_flag(2).is_err());
        assert!(from_storage_number(-1, "revision").is_err());
        assert!(from_storage_micros(i64::MAX).is_err());
        assert!(from_storage_json("{}").is_err());
    }
}
