//! Bringing a browser back to its request after the pre-built UI, with no token left in
//! the address bar or the history.
//!
//! The UI sends the browser to `GET /path?token=…`. The gate validates the token, keeps the
//! challenged request as a [`RecordKind::Resume`](crate::store::RecordKind::Resume) record
//! of the caller under a fresh random id, and answers 303 to the clean `/path` with the id
//! in a cookie: a redirect leaves no history entry, so the token's URL is never one the
//! user can go back to. On the clean `GET` the gate finds the cookie: a challenged `GET`
//! runs there; a challenged form `POST` gets a page that posts the id back (only a form
//! can make a browser `POST`), and that post, which must carry the cookie of the same id,
//! runs the stashed request. The cookie is cleared once the resume runs or is refused,
//! and a page refreshed after that posts an id whose record is spent: the gate answers 303
//! to the clean `GET`, so a refresh neither runs the handler again nor shows an error.
//!
//! The cookie is the browser's, and ends with the browser's session: an app's sign-out
//! answer carries [`ClearResumeCookies`], and a request the gate finds no user on clears
//! it too. A resume id alone, without its cookie (a page kept open across a sign-out, or
//! posted from another browser), runs nothing.
//!
//! Only the cookie's name for the origin's scheme is read (`__Host-authsignal-resume` on
//! `https`, `authsignal-resume` on plain `http`), and every cookie of that name is tried:
//! a cookie planted under the name by a sibling subdomain or a plain-http answer, sent
//! first for its longer `Path`, hides nothing. Records are filed under the caller, so a
//! planted id finds nothing of the victim's.

use std::convert::Infallible;
use std::time::Duration;

use axum::response::{IntoResponse, IntoResponseParts, Response, ResponseParts};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use cookie::{Cookie, SameSite};
use http::header::{CONTENT_TYPE, SET_COOKIE};
use http::{HeaderMap, HeaderValue};
use sha2::{Digest, Sha256};

use super::cookies;
use super::page::RESUME_FIELD;

/// How long the browser has to come back from the redirect (it does so at once) and, for
/// a challenged form, to post the resume page.
pub(crate) const RESUME_TTL: Duration = Duration::from_secs(120);

/// The cookie's name on an `https` origin: `__Host-` keeps it to this host, `Secure`.
pub const RESUME_COOKIE: &str = "__Host-authsignal-resume";
/// Its name on a plain-`http` origin (development), where browsers refuse `Secure`.
const PLAIN_RESUME_COOKIE: &str = "authsignal-resume";

/// A short tag naming a route's action and path, so that a gate acts only on the resume
/// cookies of its own challenges.
pub(crate) fn tag(action: &str, path_and_query: &str) -> String {
    let digest = Sha256::new()
        .chain_update(action)
        .chain_update([0])
        .chain_update(path_and_query)
        .finalize();
    URL_SAFE_NO_PAD.encode(&digest[..9])
}

/// A fresh resume id: 128 random bits.
pub(crate) fn new_id() -> Option<String> {
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).ok()?;
    Some(URL_SAFE_NO_PAD.encode(id))
}

pub(crate) fn is_https(origin: &str) -> bool {
    origin.starts_with("https://")
}

/// The one name the gate reads on `origin`. On `https` only the `__Host-` name: a plain
/// `authsignal-resume` there can come from a sibling subdomain or a plain-http answer,
/// never from this gate.
fn cookie_name(origin: &str) -> &'static str {
    if is_https(origin) {
        RESUME_COOKIE
    } else {
        PLAIN_RESUME_COOKIE
    }
}

/// A cookie of the gate's named `name` for `origin` (the resume cookie, or a held
/// review's): host-wide, script-proof, `Secure` wherever browsers keep it (`__Host-`
/// always needs it).
pub(crate) fn gate_cookie(origin: &str, name: String, value: String) -> Cookie<'static> {
    let secure = is_https(origin) || name.starts_with("__Host-");
    Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .build()
}

fn resume_cookie(origin: &str, name: &'static str, value: String) -> Cookie<'static> {
    gate_cookie(origin, name.to_owned(), value)
}

pub(crate) fn header(cookie: &Cookie<'_>) -> Option<HeaderValue> {
    HeaderValue::try_from(cookie.to_string()).ok()
}

/// The `Set-Cookie` that carries `id` to the clean `GET`, for the route tagged `tag`.
pub(crate) fn set_cookie(origin: &str, id: &str, tag: &str) -> Option<HeaderValue> {
    let mut cookie = resume_cookie(origin, cookie_name(origin), format!("{id}.{tag}"));
    cookie.set_max_age(cookie::time::Duration::seconds(
        i64::try_from(RESUME_TTL.as_secs()).unwrap_or(i64::MAX),
    ));
    header(&cookie)
}

/// The `Set-Cookie`s that remove the resume cookie under both its names: whichever name
/// the browser holds (the origin's scheme changed, or a cookie of the other name was
/// planted at `Path=/`), none outlives the resume.
pub(crate) fn clear_cookies(origin: &str) -> ClearResumeCookies {
    let clear = |name| {
        let mut cookie = resume_cookie(origin, name, String::new());
        cookie.make_removal();
        header(&cookie)
    };
    ClearResumeCookies {
        headers: [RESUME_COOKIE, PLAIN_RESUME_COOKIE]
            .into_iter()
            .filter_map(clear)
            .collect(),
    }
}

/// `Set-Cookie`s that remove the gate's resume cookie, under both its names: put it in an
/// app's sign-out answer, so that a challenge completed before signing out cannot be
/// resumed after (made by
/// [`StepUpConfig::clear_resume_cookies`](super::StepUpConfig::clear_resume_cookies)).
///
/// ```
/// use axum::response::{IntoResponse, Redirect, Response};
/// use axum_authsignal::StepUpConfig;
///
/// fn sign_out(step_up: &StepUpConfig) -> Response {
///     // ... end the session ...
///     (step_up.clear_resume_cookies(), Redirect::to("/")).into_response()
/// }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct ClearResumeCookies {
    headers: Vec<HeaderValue>,
}

impl IntoResponseParts for ClearResumeCookies {
    type Error = Infallible;

    fn into_response_parts(self, mut parts: ResponseParts) -> Result<ResponseParts, Infallible> {
        self.append_to(parts.headers_mut());
        Ok(parts)
    }
}

impl IntoResponse for ClearResumeCookies {
    fn into_response(self) -> Response {
        (self, ()).into_response()
    }
}

impl ClearResumeCookies {
    /// Appends the `Set-Cookie`s to `headers`.
    pub(crate) fn append_to(self, headers: &mut HeaderMap) {
        for value in self.headers {
            headers.append(SET_COOKIE, value);
        }
    }
}

/// Every resume cookie a request carries under the name for `origin`, in the order sent.
fn cookie_values<'h>(headers: &'h HeaderMap, origin: &str) -> impl Iterator<Item = &'h str> {
    let name = cookie_name(origin);
    cookies::sent(headers)
        .filter(move |cookie| cookie.name() == name)
        .filter_map(|cookie| cookie.value_raw())
}

/// Whether the request carries a resume cookie under either name.
pub(crate) fn any_cookie(headers: &HeaderMap) -> bool {
    cookies::sent(headers)
        .any(|cookie| matches!(cookie.name(), RESUME_COOKIE | PLAIN_RESUME_COOKIE))
}

/// The resume ids of every resume cookie for the route tagged `tag` (asked for only when
/// there is a cookie to check), in the order sent. Each is tried: a cookie planted at a
/// longer `Path` comes first in the `Cookie` header and must not hide the gate's own.
pub(crate) fn from_cookies(
    headers: &HeaderMap,
    origin: &str,
    tag: impl FnOnce() -> String,
) -> Vec<String> {
    let values: Vec<&str> = cookie_values(headers, origin).collect();
    if values.is_empty() {
        return Vec::new();
    }
    let tag = tag();
    values
        .into_iter()
        .filter_map(|value| {
            let (id, cookie_tag) = value.split_once('.')?;
            (cookie_tag == tag && is_id(id)).then(|| id.to_owned())
        })
        .collect()
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
    use http::header::COOKIE;

    use super::*;

    fn cookie_header(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, value.parse().unwrap());
        headers
    }

    fn pair(set_cookie: &HeaderValue) -> String {
        set_cookie
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn a_cookie_is_found_only_by_its_own_route() {
        let id = new_id().unwrap();
        let set = set_cookie("https://app.example", &id, "tag1").unwrap();
        let pair = pair(&set);
        assert!(pair.starts_with("__Host-authsignal-resume="), "{pair}");
        let headers = cookie_header(&format!("session=x; {pair}"));
        assert_eq!(
            from_cookies(&headers, "https://app.example", || "tag1".into()),
            [id.as_str()]
        );
        assert!(from_cookies(&headers, "https://app.example", || "tag2".into()).is_empty());
    }

    #[test]
    fn only_the_name_for_the_origins_scheme_is_read() {
        let id = new_id().unwrap();
        let both = cookie_header(&format!(
            "authsignal-resume={id}.t; __Host-authsignal-resume={id}.t"
        ));
        let plain_only = cookie_header(&format!("authsignal-resume={id}.t"));
        assert_eq!(
            from_cookies(&both, "https://app.example", || "t".into()),
            [id.as_str()]
        );
        assert!(from_cookies(&plain_only, "https://app.example", || "t".into()).is_empty());
        let host_only = cookie_header(&format!("__Host-authsignal-resume={id}.t"));
        assert!(from_cookies(&host_only, "http://127.0.0.1:3000", || "t".into()).is_empty());
        assert_eq!(
            from_cookies(&plain_only, "http://127.0.0.1:3000", || "t".into()),
            [id]
        );
    }

    #[test]
    fn every_cookie_of_the_name_is_tried_in_the_order_sent() {
        let planted = new_id().unwrap();
        let real = new_id().unwrap();
        // A cookie set at a longer path comes first; another tag, or no id, is skipped.
        let mut headers = cookie_header(&format!(
            "authsignal-resume={planted}.t; authsignal-resume=junk.t; \
             authsignal-resume={real}.other; x=1"
        ));
        headers.append(
            COOKIE,
            format!("authsignal-resume={real}.t").parse().unwrap(),
        );
        assert_eq!(
            from_cookies(&headers, "http://127.0.0.1:3000", || "t".into()),
            [planted, real]
        );
    }

    #[test]
    fn plain_http_origins_get_a_cookie_browsers_keep() {
        let set = set_cookie("http://127.0.0.1:3000", "x", "t").unwrap();
        let set = set.to_str().unwrap();
        assert!(!set.contains("Secure"), "{set}");
        assert!(set.starts_with("authsignal-resume=x.t;"), "{set}");
        for attribute in ["Path=/", "HttpOnly", "SameSite=Lax", "Max-Age=120"] {
            assert!(set.contains(attribute), "{set} lacks {attribute}");
        }
    }

    #[test]
    fn both_names_are_cleared_with_the_attributes_browsers_need() {
        for origin in ["https://app.example", "http://127.0.0.1:3000", ""] {
            let mut headers = HeaderMap::new();
            clear_cookies(origin).append_to(&mut headers);
            let cleared: Vec<&str> = headers
                .get_all(SET_COOKIE)
                .iter()
                .map(|value| value.to_str().unwrap())
                .collect();
            assert_eq!(cleared.len(), 2, "{cleared:?}");
            let host = cleared
                .iter()
                .find(|value| value.starts_with("__Host-authsignal-resume=;"))
                .expect("the __Host- name cleared");
            let plain = cleared
                .iter()
                .find(|value| value.starts_with("authsignal-resume=;"))
                .expect("the plain name cleared");
            // A browser drops a `__Host-` cookie without `Secure` and `Path=/`.
            for attribute in ["Secure", "Path=/", "Max-Age=0"] {
                assert!(host.contains(attribute), "{host} lacks {attribute}");
            }
            assert!(
                plain.contains("Path=/") && plain.contains("Max-Age=0"),
                "{plain}"
            );
            assert_eq!(
                plain.contains("Secure"),
                origin.starts_with("https://"),
                "{plain}"
            );
        }
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
