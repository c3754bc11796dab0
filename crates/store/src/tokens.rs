//! Bearer tokens: stored by hash, listed for administrators, revoked in place
//! (never deleted, since revisions name the token that recorded them).

use lienthong_domain::auth::{FoundToken, NewToken, Role, TokenRecord};
use lienthong_domain::error::ResourceKind;
use lienthong_domain::{Error, Result};
use time::OffsetDateTime;

use crate::conversion::{
    from_optional_storage_micros, from_storage_micros, from_storage_name, to_optional_storage_micros,
    to_storage_micros,
};
use crate::directory::OrganRow;
use crate::error::{DatabaseResultExt as _, database_failure, is_unique_violation};
use crate::sql_store::SqlStore;

/// The columns of [`TokenRow`], for every statement that reads a token.
macro_rules! token_columns {
    () => {
        "id, organ_id, roles, label, created_at, expires_at, revoked_at"
    };
}

/// Separates role names in the `roles` column.
const ROLE_SEPARATOR: char = ',';

#[derive(sqlx::FromRow)]
struct TokenRow {
    id: i64,
    organ_id: String,
    roles: String,
    label: String,
    created_at: i64,
    expires_at: Option<i64>,
    revoked_at: Option<i64>,
}

impl TokenRow {
    fn into_token_record(self) -> Result<TokenRecord> {
        let roles = self
            .roles
            .split(ROLE_SEPARATOR)
            .filter(|name| !name.is_empty())
            .map(|name| from_storage_name(name, Role::parse, "role"))
            .collect::<Result<Vec<Role>>>()?;
        Ok(TokenRecord {
            id: self.id,
            organ_id: self.organ_id,
            roles,
            label: self.label,
            created_at: from_storage_micros(self.created_at)?,
            expires_at: from_optional_storage_micros(self.expires_at)?,
            revoked_at: from_optional_storage_micros(self.revoked_at)?,
        })
    }
}

/// A token joined with its organ's columns, which are NULL when the organ
/// is gone.
#[derive(sqlx::FromRow)]
struct FoundTokenRow {
    #[sqlx(flatten)]
    token: TokenRow,
    organ_name: Option<String>,
    organ_kind: Option<String>,
    organ_bloc: Option<String>,
    organ_locality_code: Option<String>,
}

fn roles_to_storage(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|role| role.as_str())
        .collect::<Vec<_>>()
        .join(&ROLE_SEPARATOR.to_string())
}

impl SqlStore {
    /// Returns the token as stored (timestamps at storage precision), so it
    /// equals what later reads return.
    pub(crate) async fn insert_token_row(&self, token: &NewToken) -> Result<TokenRecord> {
        let inserted = sqlx::query_as::<_, TokenRow>(concat!(
            "INSERT INTO tokens (token_hash, organ_id, roles, label, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING ",
            token_columns!()
        ))
        .bind(&token.token_hash)
        .bind(&token.organ_id)
        .bind(roles_to_storage(&token.roles))
        .bind(&token.label)
        .bind(to_storage_micros(token.created_at)?)
        .bind(to_optional_storage_micros(token.expires_at)?)
        .fetch_one(self.writes())
        .await;
        match inserted {
            Ok(row) => row.into_token_record(),
            Err(error) if is_unique_violation(&error) => Err(Error::AlreadyExists {
                kind: ResourceKind::Token,
                name: "token".to_owned(),
                reason: "a token with the same secret is already stored; generate another".to_owned(),
            }),
            Err(error) => Err(database_failure("storing a token", &error)),
        }
    }

    pub(crate) async fn token_by_hash(&self, token_hash: &str) -> Result<Option<FoundToken>> {
        let Some(row) = sqlx::query_as::<_, FoundTokenRow>(
            "SELECT t.id, t.organ_id, t.roles, t.label, t.created_at, t.expires_at, t.revoked_at, \
               o.name AS organ_name, o.kind AS organ_kind, o.bloc AS organ_bloc, \
               o.locality_code AS organ_locality_code \
             FROM tokens t LEFT JOIN organs o ON o.id = t.organ_id WHERE t.token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await
        .or_database_failure("looking up a token")?
        else {
            return Ok(None);
        };
        let organ = match (
            row.organ_name,
            row.organ_kind,
            row.organ_bloc,
            row.organ_locality_code,
        ) {
            (Some(name), Some(kind), Some(bloc), Some(locality_code)) => Some(
                OrganRow {
                    id: row.token.organ_id.clone(),
                    name,
                    kind,
                    bloc,
                    locality_code,
                }
                .into_organ()?,
            ),
            _ => None,
        };
        Ok(Some(FoundToken {
            record: row.token.into_token_record()?,
            organ,
        }))
    }

    pub(crate) async fn all_tokens(&self) -> Result<Vec<TokenRecord>> {
        sqlx::query_as::<_, TokenRow>(concat!("SELECT ", token_columns!(), " FROM tokens ORDER BY id"))
            .fetch_all(&self.pool)
            .await
            .or_database_failure("listing tokens")?
            .into_iter()
            .map(TokenRow::into_token_record)
            .collect()
    }

    pub(crate) async fn revoke_token_row(&self, id: i64, at: OffsetDateTime) -> Result<bool> {
        let revoked = sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(to_storage_micros(at)?)
            .bind(id)
            .execute(self.writes())
            .await
            .or_database_failure("revoking a token")?;
        self.note_principal_change();
        Ok(revoked.rows_affected() == 1)
    }
}
