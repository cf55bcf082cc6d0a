//! Extractors whose rejections are the API's 400 `invalid_request`, never axum's plain-text
//! 4xx (or a panic): bad JSON, a missing field, a bad path or query.

use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use bytes::Bytes;
use http::request::Parts;
use serde::de::DeserializeOwned;

use super::super::error::HttpError;
use authsignal::safe_text::scrub_quoted;

/// A JSON body. The `Content-Type` is not insisted on (the SDKs all send JSON), and an
/// empty body reads as `{}`.
#[derive(Debug)]
pub(crate) struct ApiJson<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = HttpError;

    async fn from_request(request: Request, state: &S) -> Result<Self, HttpError> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|_| HttpError::invalid_request("The request body could not be read."))?;
        let body: &[u8] = if bytes.trim_ascii().is_empty() {
            b"{}"
        } else {
            &bytes
        };
        serde_json::from_slice(body).map(ApiJson).map_err(|err| {
            HttpError::invalid_request(match err.classify() {
                serde_json::error::Category::Data => {
                    format!(
                        "The request body is invalid: {}.",
                        without_values(&err.to_string())
                    )
                }
                _ => "The request body is not valid JSON.".to_owned(),
            })
        })
    }
}

/// Path parameters.
#[derive(Debug)]
pub(crate) struct ApiPath<T>(pub(crate) T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, HttpError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| ApiPath(value))
            .map_err(|_| HttpError::invalid_request("The request path is invalid."))
    }
}

/// Query parameters.
#[derive(Debug)]
pub(crate) struct ApiQuery<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, HttpError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| ApiQuery(value))
            .map_err(|_| HttpError::invalid_request("The query string is invalid."))
    }
}

/// A decoder message without the values it quotes (which may be tokens) and without
/// serde_json's position suffix, which helps nobody reading an API error.
fn without_values(message: &str) -> String {
    let kept = scrub_quoted(message);
    match kept.find(" at line ") {
        Some(at) => kept[..at].to_owned(),
        None => kept,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoder_messages_lose_values_and_positions() {
        assert_eq!(
            without_values(r#"invalid type: string "eyJ.secret", expected u32 at line 1 column 9"#),
            r#"invalid type: string "…", expected u32"#
        );
        assert_eq!(
            without_values("missing field `token`"),
            "missing field `token`"
        );
    }
}
