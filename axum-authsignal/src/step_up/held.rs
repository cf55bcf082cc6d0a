//! What ties a held review to its request and its client: the id its record is kept
//! under, the id an API client comes back with, and the cookie a browser comes back with.
//!
//! A held request's record ([`RecordKind::Review`](crate::store::RecordKind::Review)) is
//! kept under the action's idempotency key and a digest of the request's bound parts
//! (method, path and raw query, media type, content encoding, body hash). An API client
//! comes back with the idempotency key in [`REVIEW_HEADER`](super::REVIEW_HEADER) and the
//! same request: the gate computes the digest of the request it holds, so a different
//! request finds no record (a 403) and leaves the held one as it is. Nothing is compared
//! and put back, so there is no moment when the held record is out of the store.
//!
//! A browser cannot send the request again by itself, so its waiting page comes back with
//! a cookie holding the record's id, one cookie per route (its name ends with the route's
//! tag), `HttpOnly`, for as long as the hold. Records are filed under the user, so a
//! cookie planted by someone else finds nothing of the victim's.

use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};
use sha2::{Digest, Sha256};

use super::cookies;
use super::resume::{self, gate_cookie};
use crate::store::PendingChallenge;

/// The review cookie's name on an `https` origin, before the route's tag.
const REVIEW_COOKIE: &str = "__Host-authsignal-review-";
/// Its name on a plain-`http` origin (development), where browsers refuse `Secure`.
const PLAIN_REVIEW_COOKIE: &str = "authsignal-review-";

/// The longest idempotency key the gate takes back: its own are UUIDs (36 characters).
const MAX_KEY_LEN: usize = 64;

/// The id a held request's record is kept under: the action's idempotency key, then the
/// SHA-256 of the request's bound parts (as the record holds them), in hex.
pub(crate) fn record_id(idempotency_key: &str, record: &PendingChallenge) -> String {
    let mut sha = Sha256::new();
    let mut part = |bytes: &[u8]| {
        // Each part prefixed by its length: no two requests' parts run together alike.
        sha.update((bytes.len() as u64).to_le_bytes());
        sha.update(bytes);
    };
    part(record.method().as_str().as_bytes());
    part(record.path_and_query().as_bytes());
    part(record.media_type().unwrap_or("\0none").as_bytes());
    part(record.content_encoding().unwrap_or("\0none").as_bytes());
    part(record.body_sha256());
    let digest = sha.finalize();
    let mut id = String::with_capacity(idempotency_key.len() + 1 + 64);
    id.push_str(idempotency_key);
    id.push('.');
    for byte in digest {
        id.push_str(&format!("{byte:02x}"));
    }
    id
}

/// The idempotency key a record id starts with.
pub(crate) fn idempotency_key_of(record_id: &str) -> &str {
    record_id.split_once('.').map_or(record_id, |(key, _)| key)
}

/// Whether `key` can be an idempotency key the gate handed out: letters, digits, `-` and
/// `_`, and not too long. Nothing else is sent to Authsignal.
fn is_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_KEY_LEN
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
}

/// Whether `id` is a record id as [`record_id`] spells them.
fn is_record_id(id: &str) -> bool {
    id.split_once('.').is_some_and(|(key, digest)| {
        is_key(key)
            && digest.len() == 64
            && digest
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// The idempotency key an API client came back with in `header`: `Ok(None)` without
/// one, `Err(())` for one that cannot be a key (a 400, nothing asked of Authsignal).
pub(crate) fn from_header(headers: &HeaderMap, header: &HeaderName) -> Result<Option<String>, ()> {
    let mut values = headers.get_all(header).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return if headers.contains_key(header) {
            Err(())
        } else {
            Ok(None)
        };
    };
    match value.to_str() {
        Ok(key) if is_key(key.trim()) => Ok(Some(key.trim().to_owned())),
        _ => Err(()),
    }
}

/// The review cookie's name on `origin` for the route tagged `tag`.
fn cookie_name(origin: &str, tag: &str) -> String {
    let prefix = if resume::is_https(origin) {
        REVIEW_COOKIE
    } else {
        PLAIN_REVIEW_COOKIE
    };
    format!("{prefix}{tag}")
}

/// The `Set-Cookie` that brings the waiting page back with the held record's id, for the
/// route tagged `tag`, for as long as the hold.
pub(crate) fn set_cookie(origin: &str, tag: &str, id: &str, hold: Duration) -> Option<HeaderValue> {
    let mut cookie = gate_cookie(origin, cookie_name(origin, tag), id.to_owned());
    cookie.set_max_age(cookie::time::Duration::seconds(
        i64::try_from(hold.as_secs()).unwrap_or(i64::MAX),
    ));
    resume::header(&cookie)
}

/// The `Set-Cookie` that removes the review cookie of the route tagged `tag`: the review
/// is over (approved and handed to the resume, or refused).
pub(crate) fn clear_cookie(origin: &str, tag: &str) -> Option<HeaderValue> {
    let mut cookie = gate_cookie(origin, cookie_name(origin, tag), String::new());
    cookie.make_removal();
    resume::header(&cookie)
}

/// The held records' ids of every review cookie for the route tagged `tag`, in the order
/// sent (a planted one sent first hides nothing: each is tried).
pub(crate) fn from_cookies(headers: &HeaderMap, origin: &str, tag: &str) -> Vec<String> {
    let name = cookie_name(origin, tag);
    cookies::sent(headers)
        .filter(|cookie| cookie.name() == name)
        .filter_map(|cookie| cookie.value_raw().map(str::to_owned))
        .filter(|id| is_record_id(id))
        .collect()
}

/// Whether the request carries a review cookie of any route.
pub(crate) fn any_cookie(headers: &HeaderMap) -> bool {
    cookies::sent(headers).any(|cookie| {
        cookie.name().starts_with(REVIEW_COOKIE) || cookie.name().starts_with(PLAIN_REVIEW_COOKIE)
    })
}

#[cfg(test)]
mod tests {
    use http::Method;
    use http::header::COOKIE;

    use super::*;

    fn record(body: [u8; 32], query: &str) -> PendingChallenge {
        PendingChallenge::challenge("alice", "payment", Method::POST, format!("/pay{query}"))
            .with_body(Some("application/json".into()), None, body)
    }

    #[test]
    fn every_bound_part_changes_the_id() {
        let key = "0b6c6d3e-5d0a-4c4e-9a59-6f1b2f7c8d90";
        let base = record_id(key, &record([1; 32], ""));
        assert!(is_record_id(&base), "{base}");
        assert_eq!(idempotency_key_of(&base), key);
        let others = [
            record([2; 32], ""),
            record([1; 32], "?x=1"),
            PendingChallenge::challenge("alice", "payment", Method::PUT, "/pay").with_body(
                Some("application/json".into()),
                None,
                [1; 32],
            ),
            record([1; 32], "").with_body(Some("text/plain".into()), None, [1; 32]),
            record([1; 32], "").with_body(
                Some("application/json".into()),
                Some("gzip".into()),
                [1; 32],
            ),
            record([1; 32], "").with_body(None, None, [1; 32]),
        ];
        for other in others {
            assert_ne!(record_id(key, &other), base, "{other:?}");
        }
        // The user and action are in the key and the record, not the digest.
        assert_eq!(record_id(key, &record([1; 32], "")), base);
    }

    #[test]
    fn only_keys_the_gate_hands_out_come_back_from_the_header() {
        let header = HeaderName::from_static("x-authsignal-review");
        let with = |values: &[&str]| {
            let mut headers = HeaderMap::new();
            for value in values {
                headers.append(&header, value.parse().unwrap());
            }
            from_header(&headers, &header)
        };
        assert_eq!(with(&[]), Ok(None));
        assert_eq!(with(&["k-1_A"]), Ok(Some("k-1_A".into())));
        for bad in ["", "a/b", "a b", "../x", &"k".repeat(65)] {
            assert_eq!(with(&[bad]), Err(()), "{bad:?}");
        }
        assert_eq!(with(&["a", "b"]), Err(()));
    }

    #[test]
    fn cookies_are_per_route_and_carry_record_ids_only() {
        let origin = "https://app.example";
        let id = record_id("key", &record([1; 32], ""));
        let set = set_cookie(origin, "tag1", &id, Duration::from_secs(60)).unwrap();
        let set = set.to_str().unwrap();
        assert!(set.starts_with("__Host-authsignal-review-tag1="), "{set}");
        assert!(set.contains("HttpOnly") && set.contains("Secure"), "{set}");
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            format!("__Host-authsignal-review-tag1=bad; __Host-authsignal-review-tag2={id}; __Host-authsignal-review-tag1={id}")
                .parse()
                .unwrap(),
        );
        assert_eq!(from_cookies(&headers, origin, "tag1"), vec![id.clone()]);
        assert!(any_cookie(&headers));
        assert!(from_cookies(&headers, "http://app.example", "tag1").is_empty());
    }
}
