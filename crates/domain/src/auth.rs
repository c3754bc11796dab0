//! Bearer tokens and roles. A token is 256 random bits shown once; only its
//! SHA-256 is stored, which is enough for a secret of that entropy and keeps
//! the per-request lookup a single indexed read.

use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;

use crate::directory::Organ;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Role {
    /// Acts for its own organ only: submits and amends, reads its own reports.
    Submitter,
    /// A department reviewing and reading the reports of the forms it owns.
    Reviewer,
    /// Reads everything city-wide.
    Analyst,
    /// Manages forms, the directory and tokens; reads everything.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Submitter, Role::Reviewer, Role::Analyst, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Submitter => "SUBMITTER",
            Role::Reviewer => "REVIEWER",
            Role::Analyst => "ANALYST",
            Role::Admin => "ADMIN",
        }
    }

    /// Parses a role name, case-insensitively.
    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str().eq_ignore_ascii_case(text))
    }
}

/// Prefix of every token, so a leaked one is recognisable in logs and scanners.
const TOKEN_PREFIX: &str = "lt_";

/// Creates a new random token (`lt_` + 43 base64url characters).
pub fn generate_token() -> String {
    let mut secret = [0_u8; 32];
    rand::rng().fill_bytes(&mut secret);
    format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
    )
}

/// The stored form of a token: lower-case hex SHA-256.
pub fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A stored token, without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub id: i64,
    pub organ_id: String,
    pub roles: Vec<Role>,
    pub label: String,
    pub created_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
}

/// A token found by the hash of its secret, with the organ it acts for
/// (`None` when that organ has left the directory), read together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundToken {
    pub record: TokenRecord,
    pub organ: Option<Organ>,
}

/// Changes to tokens and organs as far as this process follows them. Every
/// change made anywhere (another server, the command line, by hand in the
/// database) moves the generation on, so what was read of a token under an
/// earlier generation may be stale and is read again.
#[derive(Debug, Default)]
pub struct PrincipalChanges {
    /// The current generation; 0 while changes are not followed.
    current: AtomicU64,
    /// The last generation handed out, so a generation is never reused.
    last: AtomicU64,
}

impl PrincipalChanges {
    /// The current generation, or `None` while changes cannot be followed
    /// (not yet, or the way they arrive was lost), when nothing read
    /// earlier may be relied on.
    pub fn generation(&self) -> Option<u64> {
        Some(self.current.load(Ordering::SeqCst)).filter(|&generation| generation != 0)
    }

    /// Following begins, or begins again after a time in which changes may
    /// have gone unseen.
    pub fn follow(&self) {
        self.current.store(self.next_generation(), Ordering::SeqCst);
    }

    /// Something changed. Changes this process makes itself are noted here
    /// too, so that it honours them at once rather than when the news comes
    /// back; while not following, nothing is kept anyway.
    pub fn changed(&self) {
        let next = self.next_generation();
        // Never from 0: that would claim following when it is not.
        let _ = self
            .current
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |current| {
                (current != 0).then_some(next)
            });
    }

    fn next_generation(&self) -> u64 {
        self.last.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Following stopped: changes may now go unseen.
    pub fn lose(&self) {
        self.current.store(0, Ordering::SeqCst);
    }
}

impl TokenRecord {
    /// Why the token cannot be used at `now`, if it cannot.
    pub fn unusable_reason(&self, now: OffsetDateTime) -> Option<&'static str> {
        if self.revoked_at.is_some() {
            Some("the token has been revoked")
        } else if self.expires_at.is_some_and(|expiry| expiry <= now) {
            Some("the token has expired")
        } else {
            None
        }
    }
}

/// A token to store: its hash and what it grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    pub token_hash: String,
    pub organ_id: String,
    pub roles: Vec<Role>,
    pub label: String,
    pub created_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
}

/// Who is calling: the authenticated token and the organ it acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub token_id: i64,
    pub organ: Organ,
    pub roles: Vec<Role>,
}

impl Principal {
    /// The principal of work done inside the process for an organ, such as
    /// loading demo data or generating a benchmark history: it holds no
    /// token, which token id 0 says.
    pub fn in_process(organ: Organ, role: Role) -> Principal {
        Principal {
            token_id: 0,
            organ,
            roles: vec![role],
        }
    }

    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Whether the caller may read everything city-wide.
    pub fn reads_everything(&self) -> bool {
        self.has(Role::Analyst) || self.has(Role::Admin)
    }

    /// Whether the caller may act as a submitter for `organ_id`.
    pub fn submits_for(&self, organ_id: &str) -> bool {
        self.has(Role::Submitter) && self.organ.id == organ_id
    }

    /// Whether the caller reviews forms owned by `owner_organ_id`.
    pub fn reviews_for(&self, owner_organ_id: &str) -> bool {
        self.has(Role::Reviewer) && self.organ.id == owner_organ_id
    }

    pub fn describe(&self) -> String {
        let roles: Vec<&str> = self.roles.iter().map(|role| role.as_str()).collect();
        format!(
            "token {} of {} ({})",
            self.token_id,
            self.organ.id,
            roles.join(", ")
        )
    }
}

/// Parses a duration such as `90d`, `12h`, `30m` or `2w`.
pub fn parse_duration(text: &str) -> Option<time::Duration> {
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit())?);
    let number: i64 = number.parse().ok()?;
    match unit {
        "m" => Some(time::Duration::minutes(number)),
        "h" => Some(time::Duration::hours(number)),
        "d" => Some(time::Duration::days(number)),
        "w" => Some(time::Duration::weeks(number)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principal_changes_are_followed_only_between_follow_and_lose() {
        let changes = PrincipalChanges::default();
        assert_eq!(changes.generation(), None, "not following at first");
        changes.changed();
        assert_eq!(changes.generation(), None, "a change does not start following");
        changes.follow();
        let first = changes.generation().expect("following");
        changes.changed();
        let second = changes.generation().expect("still following");
        assert_ne!(first, second);
        changes.lose();
        assert_eq!(changes.generation(), None);
        changes.changed();
        assert_eq!(changes.generation(), None);
        changes.follow();
        let third = changes.generation().expect("following again");
        assert!(third != first && third != second, "a generation is never reused");
    }

    #[test]
    fn tokens_are_random_and_hash_stably() {
        let first = generate_token();
        let second = generate_token();
        assert_ne!(first, second);
        assert!(first.starts_with("lt_") && first.len() == 46, "{first}");
        assert_eq!(hash_token(&first), hash_token(&first));
        assert_eq!(hash_token("abc").len(), 64);
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn roles_and_durations_parse() {
        assert_eq!(Role::parse("reviewer"), Some(Role::Reviewer));
        assert_eq!(Role::parse("boss"), None);
        assert_eq!(parse_duration("90d"), Some(time::Duration::days(90)));
        assert_eq!(parse_duration("2w"), Some(time::Duration::weeks(2)));
        assert_eq!(parse_duration("d"), None);
        assert_eq!(parse_duration("5y"), None);
    }
}
