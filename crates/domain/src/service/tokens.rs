//! Issuing, listing and revoking bearer tokens, and turning a presented token
//! into a [`Principal`].

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::Clock;
use crate::auth::{
    FoundToken, NewToken, Principal, PrincipalChanges, Role, TokenRecord, generate_token, hash_token,
};
use crate::error::{Error, ResourceKind, Result};
use crate::store::Store;

#[derive(Clone)]
pub struct TokenService {
    store: Arc<dyn Store>,
    clock: Clock,
    found: Arc<FoundTokens>,
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
        Self {
            store,
            clock,
            found: Arc::default(),
        }
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
            .find(&hash_token(secret))
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

    /// The token as last read, while no change to tokens or organs has been
    /// seen since; read from the store otherwise. Expiry is judged by the
    /// caller on every use, so a kept token still expires on time.
    async fn find(&self, token_hash: &str) -> Result<Option<FoundToken>> {
        let changes = self.store.principal_changes();
        self.found
            .find(changes.as_deref(), token_hash, self.store.find_token(token_hash))
            .await
    }
}

/// Most tokens kept at once: far more than the organs that call.
const MAX_FOUND_TOKENS: usize = 10_000;

/// How long a token is kept at most, even when no change arrives: a bound
/// on how long a change could go unseen if the way changes arrive broke
/// without saying so.
const MAX_FOUND_TOKEN_AGE: Duration = Duration::from_secs(60);

/// Tokens as last read, by hash, each with the generation of
/// [`PrincipalChanges`] it was read under.
#[derive(Default)]
struct FoundTokens {
    by_hash: Mutex<HashMap<String, KeptToken>>,
}

struct KeptToken {
    generation: u64,
    read_at: Instant,
    found: Arc<FoundToken>,
}

impl FoundTokens {
    /// The token kept under the current generation of `changes`, or what
    /// `read` returns, kept when changes are followed.
    async fn find(
        &self,
        changes: Option<&PrincipalChanges>,
        token_hash: &str,
        read: impl Future<Output = Result<Option<FoundToken>>>,
    ) -> Result<Option<FoundToken>> {
        // Taken before the read, so a change that lands during the read
        // leaves what it returns behind a newer generation.
        let generation = changes.and_then(PrincipalChanges::generation);
        if let Some(generation) = generation
            && let Some(found) = self.get(token_hash, generation)
        {
            return Ok(Some(FoundToken::clone(&found)));
        }
        let found = read.await?;
        if let (Some(generation), Some(found)) = (generation, &found) {
            self.keep(token_hash, generation, found.clone());
        }
        Ok(found)
    }

    fn get(&self, token_hash: &str, generation: u64) -> Option<Arc<FoundToken>> {
        let by_hash = self
            .by_hash
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        by_hash
            .get(token_hash)
            .filter(|kept| kept.generation == generation && kept.read_at.elapsed() < MAX_FOUND_TOKEN_AGE)
            .map(|kept| kept.found.clone())
    }

    fn keep(&self, token_hash: &str, generation: u64, found: FoundToken) {
        let kept = KeptToken {
            generation,
            read_at: Instant::now(),
            found: Arc::new(found),
        };
        let mut by_hash = self
            .by_hash
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if by_hash.len() >= MAX_FOUND_TOKENS {
            by_hash.retain(|_, kept| {
                kept.generation == generation && kept.read_at.elapsed() < MAX_FOUND_TOKEN_AGE
            });
            if by_hash.len() >= MAX_FOUND_TOKENS {
                by_hash.clear();
            }
        }
        by_hash.insert(token_hash.to_owned(), kept);
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::directory::{Bloc, Organ, OrganKind};

    fn token(id: i64) -> FoundToken {
        FoundToken {
            record: TokenRecord {
                id,
                organ_id: "00004-peoples-committee".to_owned(),
                roles: vec![Role::Submitter],
                label: format!("token {id}"),
                created_at: datetime!(2025-08-01 0:00 UTC),
                expires_at: None,
                revoked_at: None,
            },
            organ: Some(Organ {
                id: "00004-peoples-committee".to_owned(),
                name: "Ủy ban nhân dân Phường Ba Đình".to_owned(),
                kind: OrganKind::PeoplesCommittee,
                bloc: Bloc::Government,
                locality_code: "00004".to_owned(),
            }),
        }
    }

    fn read(found: FoundToken) -> impl Future<Output = Result<Option<FoundToken>>> {
        std::future::ready(Ok(Some(found)))
    }

    #[tokio::test]
    async fn a_token_is_kept_only_while_no_change_is_seen() {
        let kept = FoundTokens::default();
        let changes = PrincipalChanges::default();
        let not_read = || async { panic!("kept, so not read") };

        // Not following: read every time, nothing kept.
        let found = kept.find(Some(&changes), "hash-1", read(token(1))).await;
        assert_eq!(found.expect("read"), Some(token(1)));
        assert!(kept.by_hash.lock().expect("not poisoned").is_empty());

        changes.follow();
        kept.find(Some(&changes), "hash-1", read(token(1)))
            .await
            .expect("read");
        let again = kept.find(Some(&changes), "hash-1", not_read()).await;
        assert_eq!(again.expect("kept"), Some(token(1)));

        // After a change it is read again: here the token was revoked.
        changes.changed();
        let mut revoked = token(1);
        revoked.record.revoked_at = Some(datetime!(2025-08-02 0:00 UTC));
        let found = kept.find(Some(&changes), "hash-1", read(revoked.clone())).await;
        assert_eq!(found.expect("read"), Some(revoked.clone()));
        let again = kept.find(Some(&changes), "hash-1", not_read()).await;
        assert_eq!(again.expect("kept"), Some(revoked));
    }

    #[tokio::test]
    async fn a_change_during_the_read_is_not_hidden_by_what_the_read_returns() {
        let kept = FoundTokens::default();
        let changes = PrincipalChanges::default();
        changes.follow();
        let read_across_a_change = async {
            let before = token(1);
            changes.changed();
            Ok(Some(before))
        };
        kept.find(Some(&changes), "hash-1", read_across_a_change)
            .await
            .expect("read");
        let mut revoked = token(1);
        revoked.record.revoked_at = Some(datetime!(2025-08-02 0:00 UTC));
        let found = kept.find(Some(&changes), "hash-1", read(revoked.clone())).await;
        assert_eq!(found.expect("read again"), Some(revoked));
    }

    #[test]
    fn kept_tokens_stay_bounded() {
        let kept = FoundTokens::default();
        for index in 0..MAX_FOUND_TOKENS {
            kept.keep(&format!("old-{index}"), 1, token(1));
        }
        kept.keep("new", 2, token(2));
        let by_hash = kept.by_hash.lock().expect("not poisoned");
        assert_eq!(by_hash.len(), 1, "only what the current generation read is left");
        assert!(by_hash.contains_key("new"));
    }
}
