//! Finding the challenge token on a request, and refusing what cannot be a token before
//! anything is sent to Authsignal.

use http::HeaderName;
use http::request::Parts;

/// The longest token accepted. Authsignal's JWTs are well under 2 KiB.
pub(crate) const MAX_TOKEN_LEN: usize = 4096;

/// Where the token came from, which decides how the request is checked.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum FoundToken {
    /// An API client's retry (`X-Authsignal-Token` or the configured header).
    Header(String),
    /// A browser back from the pre-built UI (`?token=` on a GET).
    Query(String),
}

impl FoundToken {
    pub(crate) fn into_string(self) -> String {
        match self {
            FoundToken::Header(token) | FoundToken::Query(token) => token,
        }
    }
}

impl std::fmt::Debug for FoundToken {
    // Tokens stay out of logs, even in a failed assertion's output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (place, token) = match self {
            FoundToken::Header(token) => ("Header", token),
            FoundToken::Query(token) => ("Query", token),
        };
        write!(f, "{place}([redacted; {} bytes])", token.len())
    }
}

/// A token was given but cannot be one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Malformed;

/// The token of this request, if any.
pub(crate) fn find(parts: &Parts, header: &HeaderName) -> Result<Option<FoundToken>, Malformed> {
    let mut values = parts.headers.get_all(header).iter();
    let from_header = match (values.next(), values.next()) {
        (None, _) => None,
        (Some(value), None) => Some(value.to_str().map_err(|_| Malformed)?.to_owned()),
        (Some(_), Some(_)) => return Err(Malformed),
    };
    let from_query = query_token(parts.uri.query())?;
    match (from_header, from_query) {
        (Some(_), Some(_)) => Err(Malformed),
        (Some(token), None) => check(token).map(|t| Some(FoundToken::Header(t))),
        // Only a navigation back from the UI carries the token in the URL: a prefetching
        // HEAD must not spend it, and nothing else is ever sent there.
        (None, Some(token)) if parts.method == http::Method::GET => {
            check(token).map(|t| Some(FoundToken::Query(t)))
        }
        (None, Some(_)) => Err(Malformed),
        (None, None) => Ok(None),
    }
}

/// The `token` query parameter; given twice it is malformed.
fn query_token(query: Option<&str>) -> Result<Option<String>, Malformed> {
    let mut found = None;
    for piece in query.unwrap_or("").split('&') {
        if let Some(value) = token_value(piece) {
            if found.is_some() {
                return Err(Malformed);
            }
            found = Some(value);
        }
    }
    Ok(found)
}

/// The value of one `&`-separated piece of a query if the piece is a `token` parameter:
/// its name, decoded as a form decodes it (`%74oken` is `token`, `tok+en` is not), is
/// `token`. The one test of what is the token, for finding it and for removing it.
fn token_value(piece: &str) -> Option<String> {
    let (name, value) = form_urlencoded::parse(piece.as_bytes()).next()?;
    (name == "token").then(|| value.into_owned())
}

/// A JWT is base64url segments joined by dots: anything else is refused here.
fn check(token: String) -> Result<String, Malformed> {
    let well_formed = !token.is_empty()
        && token.len() <= MAX_TOKEN_LEN
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if well_formed {
        Ok(token)
    } else {
        Err(Malformed)
    }
}

/// Whether the URL carries a `token` parameter, well-formed or not.
pub(crate) fn in_query(uri: &http::Uri) -> bool {
    uri.query()
        .is_some_and(|query| query.split('&').any(|piece| token_value(piece).is_some()))
}

/// The URI with every `token` parameter removed.
pub(crate) fn without_token(uri: &http::Uri) -> http::Uri {
    if !in_query(uri) {
        return uri.clone();
    }
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = path_and_query_without_token(uri).parse().ok();
    http::Uri::from_parts(parts).unwrap_or_else(|_| uri.clone())
}

/// The path and query with every `token` parameter removed: what the challenged request
/// looked like before the UI sent the browser back, and what a returned request is
/// compared with.
///
/// The query is kept as sent, byte for byte: only the `&`-separated pieces that are a
/// `token` parameter go. Nothing is decoded and written again, so two queries a handler
/// could read apart (`%FF` and `%FE`, `%20` and `+`, `a` and `a=`, `a=1` and `a=1&`)
/// never compare equal. A query left empty is no query: `/w?token=t` was `/w`.
pub(crate) fn path_and_query_without_token(uri: &http::Uri) -> String {
    let path = uri.path();
    let Some(query) = uri.query() else {
        return path.to_owned();
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|piece| token_value(piece).is_none())
        .collect();
    let query = kept.join("&");
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(method: &str, uri: &str, header: Option<&str>) -> Parts {
        let mut builder = http::Request::builder().method(method).uri(uri);
        if let Some(value) = header {
            builder = builder.header("x-authsignal-token", value);
        }
        builder.body(()).unwrap().into_parts().0
    }

    fn find_in(
        method: &str,
        uri: &str,
        header: Option<&str>,
    ) -> Result<Option<FoundToken>, Malformed> {
        find(
            &parts(method, uri, header),
            &HeaderName::from_static("x-authsignal-token"),
        )
    }

    #[test]
    fn tokens_are_found_where_they_belong() {
        assert_eq!(find_in("POST", "/w", None), Ok(None));
        assert_eq!(
            find_in("POST", "/w", Some("a.b.c")),
            Ok(Some(FoundToken::Header("a.b.c".into())))
        );
        assert_eq!(
            find_in("GET", "/w?x=1&token=a.b.c", None),
            Ok(Some(FoundToken::Query("a.b.c".into())))
        );
    }

    #[test]
    fn malformed_tokens_are_refused() {
        let long = "a".repeat(MAX_TOKEN_LEN + 1);
        for (method, uri, header) in [
            ("POST", "/w", Some("")),
            ("POST", "/w", Some(long.as_str())),
            ("POST", "/w", Some("a b")),
            ("GET", "/w?token=", None),
            ("GET", "/w?token=a%0D%0Ab", None),
            ("GET", "/w?token=a%00b", None),
            ("GET", "/w?token=a&token=b", None),
            ("PUT", "/w?token=a.b.c", None),
            ("POST", "/w?token=a.b.c", None),
            ("HEAD", "/w?token=a.b.c", None),
            ("GET", "/w?token=a.b.c", Some("a.b.c")),
        ] {
            assert_eq!(
                find_in(method, uri, header),
                Err(Malformed),
                "{method} {uri} {header:?}"
            );
        }
        let mut twice = parts("POST", "/w", Some("a"));
        twice
            .headers
            .append("x-authsignal-token", "b".parse().unwrap());
        assert_eq!(
            find(&twice, &HeaderName::from_static("x-authsignal-token")),
            Err(Malformed)
        );
    }

    fn uri(_method: &str, uri: &str, _header: Option<&str>) -> http::Uri {
        uri.parse().unwrap()
    }

    #[test]
    fn tokens_of_exactly_the_longest_length_are_accepted_and_one_more_byte_is_not() {
        let longest = "a".repeat(MAX_TOKEN_LEN);
        assert_eq!(
            find_in("POST", "/w", Some(&longest)),
            Ok(Some(FoundToken::Header(longest.clone())))
        );
        let query = format!("/w?token={longest}");
        assert_eq!(
            find_in("GET", &query, None),
            Ok(Some(FoundToken::Query(longest.clone())))
        );
        let over = format!("{longest}a");
        assert_eq!(find_in("POST", "/w", Some(&over)), Err(Malformed));
        assert_eq!(
            find_in("GET", &format!("/w?token={over}"), None),
            Err(Malformed)
        );
    }

    #[test]
    fn the_token_is_stripped_from_the_uri() {
        let uri: http::Uri = "http://app.example/w?a=1&token=t".parse().unwrap();
        assert_eq!(without_token(&uri), "http://app.example/w?a=1");
        assert!(in_query(&uri));
        assert!(!in_query(&without_token(&uri)));
        let bare: http::Uri = "/w?token=t".parse().unwrap();
        assert_eq!(without_token(&bare), "/w");
    }

    #[test]
    fn the_token_is_stripped_from_the_path() {
        assert_eq!(
            path_and_query_without_token(&uri("GET", "/w?token=t", None)),
            "/w"
        );
        assert_eq!(
            path_and_query_without_token(&uri("GET", "/w?a=1&token=t&b=2", None)),
            "/w?a=1&b=2"
        );
        assert_eq!(path_and_query_without_token(&uri("GET", "/w", None)), "/w");
        assert_eq!(path_and_query_without_token(&uri("GET", "/w?", None)), "/w");
    }

    #[test]
    fn the_query_is_kept_byte_for_byte_less_the_token() {
        let without = |target: &str| path_and_query_without_token(&uri("GET", target, None));
        // Each pair is read apart by some handler: none may compare equal.
        for (one, other) in [
            ("/w?x=%FF", "/w?x=%FE"),
            ("/w?x=a%20b", "/w?x=a+b"),
            ("/w?a", "/w?a="),
            ("/w?a=1", "/w?a=1&"),
            ("/w?a=1&b=2", "/w?b=2&a=1"),
            ("/w?x=%41", "/w?x=A"),
            ("/w?x=%2f", "/w?x=%2F"),
            ("/w?a=1;b=2", "/w?a=1&b=2"),
        ] {
            assert_ne!(without(one), without(other), "{one} and {other}");
            assert_eq!(without(one), one, "{one} is kept as sent");
            assert_eq!(without(other), other, "{other} is kept as sent");
        }
        // The UI adds `&token=…` to the URL it was given; removing it gives that URL back.
        for (back, challenged) in [
            ("/w?x=%FF&token=t", "/w?x=%FF"),
            ("/w?a=1&&token=t", "/w?a=1&"),
            ("/w?a&token=t", "/w?a"),
            ("/w?token=t&x=a+b", "/w?x=a+b"),
            ("/w?token=t", "/w"),
        ] {
            assert_eq!(without(back), challenged, "{back}");
        }
    }

    #[test]
    fn what_is_removed_as_the_token_is_what_is_read_as_the_token() {
        // A name that decodes to `token` is the token, for finding it and for removing it;
        // one that does not is neither.
        for target in [
            "/w?a=1&token=x.y",
            "/w?a=1&%74oken=x.y",
            "/w?a=1&t%6Fken=x.y",
            "/w?%74%6F%6B%65%6E=x.y&a=1",
        ] {
            assert_eq!(
                find_in("GET", target, None),
                Ok(Some(FoundToken::Query("x.y".into()))),
                "{target}"
            );
            assert!(in_query(&uri("GET", target, None)), "{target}");
            assert_eq!(
                path_and_query_without_token(&uri("GET", target, None)),
                "/w?a=1",
                "{target}"
            );
        }
        for target in ["/w?tok+en=x&a=1", "/w?token%00=x&a=1", "/w?xtoken=x&a=1"] {
            assert_eq!(find_in("GET", target, None), Ok(None), "{target}");
            assert!(!in_query(&uri("GET", target, None)), "{target}");
            assert_eq!(
                path_and_query_without_token(&uri("GET", target, None)),
                target,
                "{target}"
            );
        }
        assert_eq!(
            find_in("GET", "/w?token=a.b&%74oken=a.b", None),
            Err(Malformed)
        );
    }
}
