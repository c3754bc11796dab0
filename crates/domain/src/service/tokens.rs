//! Issuing, listing and revoking bearer tokens, and turning a presented token
//! into a [`Principal`].

use std::sync::Arc;

use super::Clock;
use crate::auth::{FoundToken, NewToken, Principal, Role, TokenRecord, generate_token, hash_token};
use crate::error::{Error, ResourceKind, Result};
use crate::store::Store;

#[derive(Clone)]
pub struct TokenService {
    store: Arc<dyn Store>,
    clock: Clock,
}

impl std::fmt::Debug for TokenService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenService")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

/// A newly issued token: the secret, shown once, and what was stored.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub secret: String,
    pub record: TokenRecord,
}

impl TokenService {
    pub fn new(store: Arc<dyn Store>, clock: Clock) -> Self {
        Self { store, clock }
    }

    /// Issues a token for `organ_id`; an administrator's act, done on the
    /// database directly from the command line.
    pub async fn issue(
        &self,
        organ_id: &str,
        roles: &[Role],
        label: &str,
        valid_for: Option<time::Duration>,
    ) -> Result<IssuedToken> {
        if roles.is_empty() {
            return Err(Error::invalid("role", "grant at least one role"));
        }
        if valid_for.is_some_and(|duration| duration <= time::Duration::ZERO) {
            return Err(Error::invalid("expires", "the validity must be positive"));
        }
        if self.store.get_organ(organ_id).await?.is_none() {
            return Err(Error::not_found(ResourceKind::Organ, organ_id));
        }
        let mut unique_roles: Vec<Role> = Vec::new();
        for role in roles {
            if !unique_roles.contains(role) {
                unique_roles.push(*role);
            }
        }
        let now = (self.clock)();
        let secret = generate_token();
        let record = self
            .store
            .insert_token(&NewToken {
                token_hash: hash_token(&secret),
                organ_id: organ_id.to_owned(),
                roles: unique_roles,
                label: label.to_owned(),
                created_at: now,
                expires_at: valid_for.map(|duration| now + duration),
            })
            .await?;
        tracing::info!(token_id = record.id, organ = organ_id, "token issued");
        Ok(IssuedToken { secret, record })
    }

    pub async fn list(&self) -> Result<Vec<TokenRecord>> {
        self.store.list_tokens().await
    }

    pub async fn revoke(&self, token_id: i64) -> Result<()> {
        if self.store.revoke_token(token_id, (self.clock)()).await? {
            tracing::info!(token_id, "token revoked");
            Ok(())
        } else {
            Err(Error::not_found(
                ResourceKind::Token,
                format!("{token_id} (or it was already revoked)"),
            ))
        }
    }

    /// The principal a presented token stands for. Every failure is
    /// `Unauthenticated`, and says why without echoing the secret.
    pub async fn authenticate(&self, secret: &str) -> Result<Principal> {
        let FoundToken { record, organ } = self
            .store
            .find_token(&hash_token(secret))
            .await?
            .ok_or_else(|| Error::Unauthenticated("unknown token".to_owned()))?;
        if let Some(reason) = record.unusable_reason((self.clock)()) {
            return Err(Error::Unauthenticated(reason.to_owned()));
        }
        let organ =
            organ.ok_or_else(|| Error::Unauthenticated("the token's organ no longer exists".to_owned()))?;
        Ok(Principal {
            token_id: record.id,
            organ,
            roles: record.roles,
        })
    }
}
