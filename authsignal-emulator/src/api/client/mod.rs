//! The client API a custom UI calls (through the Web SDK, `@authsignal/browser`) with a
//! challenge token as its Bearer token, never the tenant secret: authenticator app
//! ([`totp`]), email and SMS one-time codes ([`otp`]), passkeys ([`passkey`]) and
//! security keys ([`security_key`]), and the user's list ([`authenticators`]). What each route answers, and where
//! that comes from, is in the [emulator's docs](crate#the-client-api-web-sdk).

pub(crate) mod authenticators;
pub(crate) mod otp;
pub(crate) mod passkey;
pub(crate) mod security_key;
pub(crate) mod totp;

use http::header::AUTHORIZATION;
use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};

use super::super::error::HttpError;
use super::super::state::{Shared, Store};
use super::super::tokens::{ChallengeClaims, TokenError, Tokens};
use super::auth;
use authsignal::types::{UserAuthenticator, VerificationFailureReason};

/// The scope an enrolled user's token needs to add an authenticator.
const ADD_AUTHENTICATORS: &str = "add:authenticators";

/// The scopes of the token a successful verification answers: Authsignal documents it as
/// "a new short-term token with scopes to manage authenticators (e.g. add secondary
/// authenticators, remove authenticators, ...)", so that a user who has just proved an
/// existing factor may add another one within the token's lifetime.
const MANAGE_AUTHENTICATORS: [&str; 4] = [
    "read:authenticators",
    ADD_AUTHENTICATORS,
    "update:authenticators",
    "remove:authenticators",
];

/// The body of every `POST /client/verify/...`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VerifyRequest {
    verification_code: String,
}

/// The answer of every `POST /client/verify/...`: `accessToken` only when verified,
/// `userAuthenticator` only when the code completed an enrollment.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VerifyResponse {
    is_verified: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    access_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_reason: Option<VerificationFailureReason>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_authenticator: Option<UserAuthenticator>,
}

impl VerifyResponse {
    /// Verified: a new token for the same action, which may manage authenticators.
    fn verified(
        tokens: Tokens<'_>,
        claims: &ChallengeClaims,
        enrolled: Option<UserAuthenticator>,
    ) -> Self {
        Self {
            is_verified: true,
            access_token: Some(tokens.challenge(&claims.other, Some(&managing_scope(claims)))),
            failure_reason: None,
            user_authenticator: enrolled,
        }
    }

    fn failed(reason: VerificationFailureReason) -> Self {
        Self {
            is_verified: false,
            access_token: None,
            failure_reason: Some(reason),
            user_authenticator: None,
        }
    }
}

/// The answer of every `POST /client/user-authenticators/...` but the authenticator app's.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EnrollResponse {
    user_authenticator_id: String,
    user_id: String,
}

/// The token's own scopes and the ones to manage authenticators, space-separated.
fn managing_scope(claims: &ChallengeClaims) -> String {
    with_managing_scopes(claims.scope.as_deref())
}

/// `scope` (space-separated) and the scopes to manage authenticators.
fn with_managing_scopes(scope: Option<&str>) -> String {
    let mut scopes: Vec<&str> = scope.unwrap_or_default().split_whitespace().collect();
    for scope in MANAGE_AUTHENTICATORS {
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    scopes.join(" ")
}

/// The claims of the request's Bearer challenge token; 401 without a good one. An
/// expired token is `expired_token`, the code the Web SDK calls its `onTokenExpired` on.
fn bearer(shared: &Shared, headers: &HeaderMap) -> Result<ChallengeClaims, HttpError> {
    let token = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or_else(|| {
            HttpError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "A Bearer token is required.",
            )
        })?;
    shared
        .tokens()
        .read_challenge(token)
        .map_err(|error| match error {
            TokenError::Expired => HttpError::new(
                StatusCode::UNAUTHORIZED,
                "expired_token",
                "The token has expired.",
            ),
            TokenError::Invalid => HttpError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "The token is invalid.",
            ),
        })
}

/// What a route that takes either credential was called with.
pub(crate) enum Caller {
    /// A challenge token, as `Authorization: Bearer`.
    Token(ChallengeClaims),
    /// The tenant id as a Basic user name (the Web SDK's calls without a token).
    Tenant,
}

/// The request's Bearer token, else the tenant's Basic credentials; 401 without either.
fn caller(shared: &Shared, headers: &HeaderMap) -> Result<Caller, HttpError> {
    let is_basic = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"));
    if is_basic {
        tenant(shared, headers)?;
        return Ok(Caller::Tenant);
    }
    bearer(shared, headers).map(Caller::Token)
}

/// The Web SDK's tenant auth: `Basic base64(encodeURIComponent(tenantId))`, no password.
/// The tenant id is public (it is in every page), so it only names the tenant.
fn tenant(shared: &Shared, headers: &HeaderMap) -> Result<(), HttpError> {
    let named = auth::basic_user(headers).and_then(|user| {
        percent_encoding::percent_decode(&user)
            .decode_utf8()
            .ok()
            .map(|id| id.into_owned())
    });
    if named.as_deref() == Some(shared.tenant_id.as_str()) {
        return Ok(());
    }
    Err(HttpError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "The tenant id is not this tenant's.",
    ))
}

/// Adding an authenticator: a user's first needs any token of theirs, another one a
/// token with `add:authenticators` (from `track`, or from a verification just made).
fn may_add_authenticator(store: &Store, claims: &ChallengeClaims) -> Result<(), HttpError> {
    if store.is_enrolled(&claims.sub) && !claims.has_scope(ADD_AUTHENTICATORS) {
        return Err(HttpError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "The user is already enrolled: adding an authenticator needs a token with the add:authenticators scope.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::ActionRef;

    fn claims(scope: Option<&str>) -> ChallengeClaims {
        ChallengeClaims {
            sub: "u1".into(),
            iat: 0,
            exp: 600,
            jti: "j".into(),
            kind: "challenge".into(),
            scope: scope.map(str::to_owned),
            other: ActionRef {
                user_id: "u1".into(),
                action_code: "a".into(),
                idempotency_key: "k".into(),
            },
        }
    }

    #[test]
    fn a_verified_token_keeps_its_scopes_and_may_manage_authenticators() {
        assert_eq!(
            managing_scope(&claims(None)),
            "read:authenticators add:authenticators update:authenticators remove:authenticators"
        );
        assert_eq!(
            managing_scope(&claims(Some("custom:scope add:authenticators"))),
            "custom:scope add:authenticators read:authenticators update:authenticators remove:authenticators"
        );
    }
}
