//! Idempotency keys: which request produced which resource. A write records
//! its key first in its transaction, so of two concurrent requests with the
//! same key the second fails on the key (and is replayed by the domain)
//! rather than on whatever the write itself would have conflicted with.
//! Recording a recommendation is the exception: its decisions are taken one
//! at a time under a lock, so nothing else can conflict first, and its key
//! goes in last, naming the new resource, which saves two round trips on
//! the busiest write. A retry then does the decision's work before it fails
//! on the key and is rolled back.

use lienthong_domain::error::ResourceKind;
use lienthong_domain::store::{IdempotencyKey, StoredRequest};
use lienthong_domain::{Error, Result};

use crate::error::{DatabaseResultExt as _, database_failure, is_unique_violation};
use crate::sql_store::{SqlStore, WriteTransaction};

/// The resource a key names until the new resource's id is known; never
/// visible outside the transaction that replaces it.
pub(crate) const RESOURCE_NOT_YET_KNOWN: &str = "";

#[derive(sqlx::FromRow)]
struct StoredRequestRow {
    fingerprint: String,
    resource: String,
}

/// Records `key` as producing `resource`; `AlreadyExists` of kind
/// `IdempotencyKey` when a concurrent request recorded it first.
pub(crate) async fn record_idempotency_key(
    transaction: &mut WriteTransaction,
    key: &IdempotencyKey,
    resource: &str,
    created_at_micros: i64,
) -> Result<()> {
    let recorded = sqlx::query(
        "INSERT INTO idempotency_keys (scope, request_id, fingerprint, resource, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&key.scope)
    .bind(&key.request_id)
    .bind(&key.fingerprint)
    .bind(resource)
    .bind(created_at_micros)
    .execute(&mut **transaction)
    .await;
    match recorded {
        Ok(_) => Ok(()),
        Err(error) if is_unique_violation(&error) => Err(Error::AlreadyExists {
            kind: ResourceKind::IdempotencyKey,
            name: key.request_id.clone(),
            reason: "a concurrent request with this request_id was recorded first".to_owned(),
        }),
        Err(error) => Err(database_failure("recording an idempotency key", &error)),
    }
}

/// Names the resource of a key recorded before the resource's id was known.
pub(crate) async fn set_idempotency_resource(
    transaction: &mut WriteTransaction,
    key: &IdempotencyKey,
    resource: &str,
) -> Result<()> {
    sqlx::query("UPDATE idempotency_keys SET resource = $1 WHERE scope = $2 AND request_id = $3")
        .bind(resource)
        .bind(&key.scope)
        .bind(&key.request_id)
        .execute(&mut **transaction)
        .await
        .or_database_failure("naming the resource of an idempotency key")?;
    Ok(())
}

impl SqlStore {
    pub(crate) async fn stored_request(
        &self,
        scope: &str,
        request_id: &str,
    ) -> Result<Option<StoredRequest>> {
        let stored = sqlx::query_as::<_, StoredRequestRow>(
            "SELECT fingerprint, resource FROM idempotency_keys WHERE scope = $1 AND request_id = $2",
        )
        .bind(scope)
        .bind(request_id)
        .fetch_optional(&self.pool)
        .await
        .or_database_failure("looking up an idempotency key")?;
        Ok(stored.map(|row| StoredRequest {
            fingerprint: row.fingerprint,
            resource: row.resource,
        }))
    }
}
