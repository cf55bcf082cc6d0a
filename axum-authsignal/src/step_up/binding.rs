//! What a returned token is bound to: the challenged request's method, path and query
//! (the query as sent, byte for byte, less the `token` parameter), media type, content
//! encoding and body. A retry that differs in any of them is refused, so that the handler
//! reads exactly what Authsignal's rules judged.

use http::HeaderMap;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE};
use http::request::Parts;
use sha2::{Digest, Sha256};

use super::token;
use crate::store::{PendingChallenge, StashedRequest};

/// The bound parts of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequestBinding {
    pub(crate) method: http::Method,
    pub(crate) path_and_query: String,
    pub(crate) media_type: Option<String>,
    pub(crate) content_encoding: Option<String>,
    pub(crate) body_sha256: [u8; 32],
}

impl RequestBinding {
    pub(crate) fn of(parts: &Parts, body: &[u8]) -> Self {
        Self {
            method: parts.method.clone(),
            path_and_query: token::path_and_query_without_token(&parts.uri),
            media_type: media_type(&parts.headers),
            content_encoding: content_encoding(&parts.headers),
            body_sha256: Sha256::digest(body).into(),
        }
    }

    /// Whether `record` was made for this very request.
    pub(crate) fn matches(&self, record: &PendingChallenge) -> bool {
        self.method == record.method()
            && self.path_and_query == record.path_and_query()
            && self.media_type.as_deref() == record.media_type()
            && self.content_encoding.as_deref() == record.content_encoding()
            && self.body_sha256 == *record.body_sha256()
    }

    /// The record of a challenge issued for this request.
    pub(crate) fn into_record(
        self,
        user_id: &str,
        action: &str,
        stashed: Option<StashedRequest>,
    ) -> PendingChallenge {
        let record = PendingChallenge::challenge(user_id, action, self.method, self.path_and_query)
            .with_body(self.media_type, self.content_encoding, self.body_sha256);
        match stashed {
            Some(stashed) => record.with_stash(stashed),
            None => record,
        }
    }
}

/// Every `Content-Type` of the request as its media type (`type/subtype`, lower case,
/// parameters dropped), joined by commas; `None` without one. Two requests whose bodies a
/// server reads the same way compare equal; `application/json` and
/// `application/x-www-form-urlencoded` never do.
pub(crate) fn media_type(headers: &HeaderMap) -> Option<String> {
    joined(headers, CONTENT_TYPE, |value| {
        let essence = value.split(';').next().unwrap_or("");
        Some(essence.trim().to_ascii_lowercase())
    })
}

/// Every content coding of the request, lower case, in order, `identity` left out; `None`
/// when the body is sent as is.
pub(crate) fn content_encoding(headers: &HeaderMap) -> Option<String> {
    joined(headers, CONTENT_ENCODING, |value| {
        let codings: Vec<String> = value
            .split(',')
            .map(|coding| coding.trim().to_ascii_lowercase())
            .filter(|coding| !coding.is_empty() && coding != "identity")
            .collect();
        (!codings.is_empty()).then(|| codings.join(","))
    })
}

fn joined(
    headers: &HeaderMap,
    name: http::HeaderName,
    normalise: impl Fn(&str) -> Option<String>,
) -> Option<String> {
    let parts: Vec<String> = headers
        .get_all(name)
        .iter()
        // A value that is not text is kept as its bytes, lossily: it still binds.
        .filter_map(|value| normalise(&String::from_utf8_lossy(value.as_bytes())))
        .collect();
    (!parts.is_empty()).then(|| parts.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        map
    }

    #[test]
    fn media_types_are_normalised() {
        let of = |value: &str| media_type(&headers(&[("content-type", value)]));
        assert_eq!(of("application/json"), Some("application/json".into()));
        assert_eq!(
            of(" Application/JSON ; charset=utf-8"),
            Some("application/json".into())
        );
        assert_ne!(
            of("application/json"),
            of("application/x-www-form-urlencoded")
        );
        assert_eq!(media_type(&HeaderMap::new()), None);
        assert_eq!(
            media_type(&headers(&[
                ("content-type", "text/plain"),
                ("content-type", "application/json")
            ])),
            Some("text/plain,application/json".into())
        );
    }

    #[test]
    fn encodings_are_normalised_and_identity_is_none() {
        let of = |value: &str| content_encoding(&headers(&[("content-encoding", value)]));
        assert_eq!(of("identity"), None);
        assert_eq!(of("GZIP"), Some("gzip".into()));
        assert_eq!(of("gzip, br"), Some("gzip,br".into()));
        assert_eq!(content_encoding(&HeaderMap::new()), None);
    }
}
