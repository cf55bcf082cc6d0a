//! Basic auth with the tenant secret, as the Server API takes it: the secret as the user
//! name, an empty password.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use http::HeaderMap;
use http::header::AUTHORIZATION;
use subtle::ConstantTimeEq as _;

use super::super::error::HttpError;
use super::super::state::Shared;

/// Lets a request through only with the tenant secret; else 401 `unauthorized` with the
/// live API's description.
pub(crate) async fn require_secret(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    if carries_secret(request.headers(), &shared.secret) {
        next.run(request).await
    } else {
        HttpError::unauthorized().into_response()
    }
}

/// The user name of the request's Basic credentials (the password is not looked at:
/// the Server API's is empty, and the client API's tenant auth has none).
pub(crate) fn basic_user(headers: &HeaderMap) -> Option<Vec<u8>> {
    let credentials = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .and_then(|(_, encoded)| {
            base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .ok()
        })?;
    let user = credentials
        .split(|&byte| byte == b':')
        .next()
        .unwrap_or_default();
    Some(user.to_vec())
}

fn carries_secret(headers: &HeaderMap, secret: &str) -> bool {
    let Some(user) = basic_user(headers) else {
        return false;
    };
    // `subtle` compares without stopping at the first difference, so that timing does
    // not tell how much of a guessed secret was right (only its length can show).
    bool::from(user.ct_eq(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, value.parse().unwrap());
        headers
    }

    #[test]
    fn only_the_secret_as_user_name_passes() {
        let basic = |text: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(text)
            )
        };
        assert!(carries_secret(&headers(&basic("s3cret:")), "s3cret"));
        assert!(carries_secret(&headers(&basic("s3cret")), "s3cret"));
        assert!(!carries_secret(&headers(&basic("s3cre:")), "s3cret"));
        assert!(!carries_secret(&headers(&basic(":s3cret")), "s3cret"));
        assert!(!carries_secret(&headers("Bearer s3cret"), "s3cret"));
        assert!(!carries_secret(&headers("Basic !!!"), "s3cret"));
        assert!(!carries_secret(&HeaderMap::new(), "s3cret"));
    }
}
