//! The tokens the emulator issues, shaped as Authsignal issues them.
//!
//! A **challenge token** (from `track`, from a completed challenge, from `claimChallenge`)
//! is an HS256 JWT signed with the tenant secret:
//!
//! ```json
//! {"sub": "<userId>", "iat": 1700000000, "exp": 1700000600, "jti": "<uuid>",
//!  "type": "challenge", "scope": "read:authenticators",
//!  "other": {"userId": "<userId>", "actionCode": "<action>", "idempotencyKey": "<key>"}}
//! ```
//!
//! `exp` is [`TOKEN_LIFETIME`] (10 minutes) after `iat`, by the emulator's clock; `scope`
//! is what the track asked for, else [`DEFAULT_SCOPE`] (`read:authenticators`), the
//! default Authsignal documents. The token names an action, not a
//! state: `/validate` answers the state the action has *now*, so the token from `track` and
//! the one returned after the challenge both validate once the challenge has succeeded.
//!
//! A **session access token** is an RS256 JWT signed with the
//! [session key](super::session_key), its `kid` in the header, as Authsignal signs them:
//!
//! ```json
//! {"sub": "<userId>", "aud": "<clientId>", "iat": 1700000000, "exp": 1700003600,
//!  "jti": "<uuid>", "type": "access", "sid": "<session id>"}
//! ```
//!
//! It lives [`SESSION_LIFETIME`]. Refresh tokens are opaque.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::clock::Timestamp;
use super::jwt::{self, JwtError, Key};
use super::session_key::SessionKeySlot;

/// How long a challenge token is good for: Authsignal's tokens last about 10 minutes.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(10 * 60);

/// The scope of a token whose track named none, as Authsignal documents it: read the
/// user's authenticators, add none.
pub const DEFAULT_SCOPE: &str = "read:authenticators";

/// The scope that lets a token's user add an authenticator without first passing a
/// challenge with one they have.
pub(crate) const ADD_AUTHENTICATORS: &str = "add:authenticators";

/// How long a session access token is good for.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(60 * 60);

const CHALLENGE: &str = "challenge";
const ACCESS: &str = "access";

/// The action a challenge token is about, in the `other` object older Authsignal tokens carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ActionRef {
    pub(crate) user_id: String,
    pub(crate) action_code: String,
    pub(crate) idempotency_key: String,
}

/// The claims of a challenge token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ChallengeClaims {
    pub(crate) sub: String,
    pub(crate) iat: u64,
    pub(crate) exp: u64,
    pub(crate) jti: String,
    #[serde(rename = "type")]
    pub(crate) kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) scope: Option<String>,
    pub(crate) other: ActionRef,
}

impl ChallengeClaims {
    /// Whether the token grants `scope` (scopes are space-separated).
    pub(crate) fn has_scope(&self, scope: &str) -> bool {
        self.scope
            .as_deref()
            .is_some_and(|scopes| scopes.split_whitespace().any(|s| s == scope))
    }
}

/// The claims of a session access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct AccessClaims {
    pub(crate) sub: String,
    /// The app client the session was created for.
    pub(crate) aud: String,
    pub(crate) iat: u64,
    pub(crate) exp: u64,
    pub(crate) jti: String,
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) sid: String,
}

/// Why a token is not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenError {
    /// Not a token signed by this emulator, or not of the expected kind.
    Invalid,
    /// Signed by this emulator, but past its `exp`.
    Expired,
}

impl From<JwtError> for TokenError {
    fn from(_: JwtError) -> Self {
        Self::Invalid
    }
}

/// Why a session access token is not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AccessError {
    /// As for any token.
    Token(TokenError),
    /// Good, but its `aud` is none of the app clients asked for.
    OtherClient,
}

impl From<JwtError> for AccessError {
    fn from(err: JwtError) -> Self {
        match err {
            JwtError::WrongAudience => Self::OtherClient,
            other => Self::Token(other.into()),
        }
    }
}

/// Which app clients a session token may belong to.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Clients<'a> {
    /// Any: the caller named none.
    Any,
    /// One of these, as the token's `aud`.
    OneOf(&'a [String]),
}

/// Signs and reads tokens with the tenant's keys at one instant.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tokens<'a> {
    pub(crate) secret: &'a str,
    pub(crate) session_key: &'a SessionKeySlot,
    pub(crate) now: Timestamp,
}

impl Tokens<'_> {
    fn challenge_key(&self) -> Key<'_> {
        Key::Secret(self.secret.as_bytes())
    }

    fn expired(&self, exp: u64) -> bool {
        self.now.unix_seconds() >= exp
    }

    /// A challenge token for `action`, granting `scope` (else [`DEFAULT_SCOPE`]).
    pub(crate) fn challenge(&self, action: &ActionRef, scope: Option<&str>) -> String {
        let iat = self.now.unix_seconds();
        let claims = ChallengeClaims {
            sub: action.user_id.clone(),
            iat,
            exp: iat + TOKEN_LIFETIME.as_secs(),
            jti: uuid::Uuid::new_v4().to_string(),
            kind: CHALLENGE.into(),
            scope: Some(scope.unwrap_or(DEFAULT_SCOPE).to_owned()),
            other: action.clone(),
        };
        jwt::sign(&claims, self.challenge_key())
    }

    /// Reads a challenge token: signed here, of the challenge kind, not expired.
    pub(crate) fn read_challenge(&self, token: &str) -> Result<ChallengeClaims, TokenError> {
        let claims: ChallengeClaims = jwt::verify(token, self.challenge_key(), None)?;
        if claims.kind != CHALLENGE || claims.sub != claims.other.user_id {
            return Err(TokenError::Invalid);
        }
        if self.expired(claims.exp) {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }

    /// A session access token; returns the token and its `exp`.
    pub(crate) fn access(&self, user_id: &str, session_id: &str, client_id: &str) -> (String, u64) {
        let iat = self.now.unix_seconds();
        let claims = AccessClaims {
            sub: user_id.to_owned(),
            aud: client_id.to_owned(),
            iat,
            exp: iat + SESSION_LIFETIME.as_secs(),
            jti: uuid::Uuid::new_v4().to_string(),
            kind: ACCESS.into(),
            sid: session_id.to_owned(),
        };
        let key = Key::Session(self.session_key.get());
        (jwt::sign(&claims, key), claims.exp)
    }

    /// Reads a session access token of one of `clients`. `allow_expired` lets revocation
    /// accept a token whose time is up (ending a session must always be possible).
    pub(crate) fn read_access(
        &self,
        token: &str,
        clients: Clients<'_>,
        allow_expired: bool,
    ) -> Result<AccessClaims, AccessError> {
        let audience = match clients {
            Clients::Any => None,
            Clients::OneOf(ids) => Some(ids),
        };
        // No key yet: no session token was ever signed, so this one is not good.
        let invalid = AccessError::Token(TokenError::Invalid);
        let key = Key::Session(self.session_key.existing().ok_or(invalid)?);
        let claims: AccessClaims = jwt::verify(token, key, audience)?;
        if claims.kind != ACCESS {
            return Err(invalid);
        }
        if !allow_expired && self.expired(claims.exp) {
            return Err(AccessError::Token(TokenError::Expired));
        }
        Ok(claims)
    }

    /// The claims of a good (signed here, unexpired) token of either kind.
    pub(crate) fn read_any(&self, token: &str) -> Option<serde_json::Value> {
        let payload: serde_json::Value = jwt::verify(token, self.challenge_key(), None)
            .ok()
            .or_else(|| {
                let session = Key::Session(self.session_key.existing()?);
                jwt::verify(token, session, None).ok()
            })?;
        let exp = payload.get("exp").and_then(serde_json::Value::as_u64)?;
        (!self.expired(exp)).then_some(payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action() -> ActionRef {
        ActionRef {
            user_id: "u1".into(),
            action_code: "withdraw".into(),
            idempotency_key: "k1".into(),
        }
    }

    #[test]
    fn challenge_tokens_expire_after_ten_minutes() {
        let key = SessionKeySlot::default();
        let at = Timestamp::parse_rfc3339("2024-01-01T00:00:00Z").unwrap();
        let issued = Tokens {
            secret: "s",
            session_key: &key,
            now: at,
        };
        let token = issued.challenge(&action(), Some("add:authenticators"));
        let claims = issued.read_challenge(&token).unwrap();
        assert_eq!(claims.other, action());
        assert_eq!(claims.exp - claims.iat, 600);
        assert!(claims.has_scope("add:authenticators"));
        let later = Tokens {
            secret: "s",
            session_key: &key,
            now: at.plus(Duration::from_secs(599)),
        };
        assert!(later.read_challenge(&token).is_ok());
        let expired = Tokens {
            secret: "s",
            session_key: &key,
            now: at.plus(TOKEN_LIFETIME),
        };
        assert_eq!(
            expired.read_challenge(&token).unwrap_err(),
            TokenError::Expired
        );
    }

    #[test]
    fn kinds_do_not_mix() {
        let key = SessionKeySlot::default();
        let tokens = Tokens {
            secret: "s",
            session_key: &key,
            now: Timestamp::parse_rfc3339("2024-01-01").unwrap(),
        };
        let (access, _) = tokens.access("u1", "sid", "web");
        assert_eq!(
            tokens.read_challenge(&access).unwrap_err(),
            TokenError::Invalid
        );
        let challenge = tokens.challenge(&action(), None);
        assert_eq!(
            tokens
                .read_access(&challenge, Clients::Any, false)
                .unwrap_err(),
            AccessError::Token(TokenError::Invalid)
        );
    }

    #[test]
    fn a_token_without_a_scope_asked_for_reads_authenticators_only() {
        let key = SessionKeySlot::default();
        let tokens = Tokens {
            secret: "s",
            session_key: &key,
            now: Timestamp::parse_rfc3339("2024-01-01").unwrap(),
        };
        let claims = tokens
            .read_challenge(&tokens.challenge(&action(), None))
            .unwrap();
        assert_eq!(claims.scope.as_deref(), Some(DEFAULT_SCOPE));
        assert!(claims.has_scope("read:authenticators"));
        assert!(!claims.has_scope("add:authenticators"));
    }
}
