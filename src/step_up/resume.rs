//! Bringing a browser back to its request after the pre-built UI, with no token left in
//! the address bar or the history.
//!
//! The UI sends the browser to `GET /path?token=…`. The gate validates the token, keeps the
//! challenged request as a [`RecordKind::Resume`](crate::store::RecordKind::Resume) record
//! under a fresh random id, and answers 303 to the clean `/path` with the id in a cookie:
//! a redirect leaves no history entry, so the token's URL is never one the user can go
//! back to. On the clean `GET` the gate finds the cookie: a challenged `GET` runs there; a
//! challenged form `POST` gets a page that posts the id back (only a form can make a
//! browser `POST`), and that post runs the stashed request. The cookie is cleared on the
//! way, and a page refreshed after it posts an id whose record is spent: the gate answers
//! 303 to the clean `GET`, so a refresh neither runs the handler again nor shows an error.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::header::{CONTENT_TYPE, COOKIE};
use http::{HeaderMap, HeaderValue};

use super::page::RESUME_FIELD;

/// How long the browser has to come back from the redirect (it does so at once).
pub(crate) const RESUME_TTL: Duration = Duration::from_secs(120);

/// The cookie's name on an `https` origin: `__Host-` keeps it to this host, `Secure`.
pub const RESUME_COOKIE: &str = "__Host-authsignal-resume";
/// Its name on a plain-`http` origin (development), where browsers refuse `Secure`.
const PLAIN_RESUME_COOKIE: &str = "authsignal-resume";

/// A fresh resume id: 128 random bits.
pub(crate) fn new_id() -> Option<String> {
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).ok()?;
    Some(URL_SAFE_NO_PAD.encode(id))
}

fn cookie_name(origin: &str) -> &'static str {
    if origin.starts_with("https://") {
        RESUME_COOKIE
    } else {
        PLAIN_RESUME_COOKIE
    }
}

fn attributes(origin: &str) -> &'static str {
    if origin.starts_with("https://") {
        "Path=/; Secure; HttpOnly; SameSite=Lax"
    } else {
        "Path=/; HttpOnly; SameSite=Lax"
    }
}

/// The `Set-Cookie` that carries `id` to the clean `GET`, for the route tagged `tag`.
pub(crate) fn set_cookie(origin: &str, id: &str, tag: &str) -> Option<HeaderValue> {
    let value = format!(
        "{}={id}.{tag}; {}; Max-Age={}",
        cookie_name(origin),
        attributes(origin),
        RESUME_TTL.as_secs()
    );
    HeaderValue::try_from(value).ok()
}

/// The `Set-Cookie` that removes it.
pub(crate) fn clear_cookie(origin: &str) -> HeaderValue {
    let value = format!(
        "{}=; {}; Max-Age=0",
        cookie_name(origin),
        attributes(origin)
    );
    HeaderValue::try_from(value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The resume id of the cookie for the route tagged `tag`, if the request carries one.
pub(crate) fn from_cookie(headers: &HeaderMap, tag: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|header| header.to_str().ok())
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            matches!(name, RESUME_COOKIE | PLAIN_RESUME_COOKIE).then_some(value)
        })
        .find_map(|value| {
            let (id, cookie_tag) = value.split_once('.')?;
            (cookie_tag == tag && is_id(id)).then(|| id.to_owned())
        })
}

/// The resume id a post of the resume page carries: a form body that is that one field
/// and nothing else.
pub(crate) fn from_form(headers: &HeaderMap, body: &Bytes) -> Option<String> {
    let form = headers
        .get(CONTENT_TYPE)?
        .to_str()
        .ok()?
        .trim()
        .to_ascii_lowercase()
        .starts_with("application/x-www-form-urlencoded");
    if !form {
        return None;
    }
    let mut fields = form_urlencoded::parse(body);
    match (fields.next(), fields.next()) {
        (Some((name, id)), None) if name == RESUME_FIELD && is_id(&id) => Some(id.into_owned()),
        _ => None,
    }
}

fn is_id(id: &str) -> bool {
    id.len() == 22
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cookie_is_found_only_by_its_own_route() {
        let id = new_id().unwrap();
        let set = set_cookie("https://app.example", &id, "tag1").unwrap();
        let pair = set.to_str().unwrap().split(';').next().unwrap().to_owned();
        assert!(pair.starts_with("__Host-authsignal-resume="), "{pair}");
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, format!("session=x; {pair}").parse().unwrap());
        assert_eq!(from_cookie(&headers, "tag1"), Some(id));
        assert_eq!(from_cookie(&headers, "tag2"), None);
    }

    #[test]
    fn plain_http_origins_get_a_cookie_browsers_keep() {
        let set = set_cookie("http://127.0.0.1:3000", "x", "t").unwrap();
        assert!(!set.to_str().unwrap().contains("Secure"));
        assert!(set.to_str().unwrap().starts_with("authsignal-resume="));
    }

    #[test]
    fn only_a_form_of_exactly_the_resume_field_is_a_resume() {
        let id = new_id().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            "application/x-www-form-urlencoded".parse().unwrap(),
        );
        let body = |text: String| Bytes::from(text);
        assert_eq!(
            from_form(&headers, &body(format!("{RESUME_FIELD}={id}"))),
            Some(id.clone())
        );
        assert_eq!(
            from_form(&headers, &body(format!("{RESUME_FIELD}={id}&amount=1"))),
            None
        );
        assert_eq!(from_form(&headers, &body("amount=1".into())), None);
        assert_eq!(
            from_form(&headers, &body(format!("{RESUME_FIELD}=short"))),
            None
        );
        headers.insert(CONTENT_TYPE, "application/json".parse().unwrap());
        assert_eq!(
            from_form(&headers, &body(format!("{RESUME_FIELD}={id}"))),
            None
        );
    }
}
