//! Building request URLs whose path segments cannot be rewritten by their values.
//!
//! A user id such as `a/b`, `../x` or `q?x=1` interpolated raw would change which resource
//! the request names. Every segment is percent-encoded here as exactly one segment:
//! everything but the unreserved characters of RFC 3986 is escaped (`123:test` becomes
//! `123%3Atest`). The segments `.` and `..` and the empty segment cannot be sent at all,
//! since URL parsers resolve or collapse them even when escaped; they are refused.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::error::Error;

/// Everything but `A-Z a-z 0-9 - . _ ~`.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A request URL under the base URL, built from literal and encoded segments.
pub(crate) struct UrlBuilder {
    url: String,
    operation: &'static str,
}

impl UrlBuilder {
    pub(crate) fn new(base_url: &str, operation: &'static str) -> Self {
        Self {
            url: base_url.to_owned(),
            operation,
        }
    }

    /// Appends a fixed segment of the API's own path (`users`, `actions`, ...).
    pub(crate) fn literal(mut self, segment: &'static str) -> Self {
        self.url.push('/');
        self.url.push_str(segment);
        self
    }

    /// Appends a caller-supplied value as exactly one segment.
    pub(crate) fn value(mut self, name: &'static str, value: &str) -> Result<Self, Error> {
        if matches!(value, "" | "." | "..") {
            return Err(Error::InvalidArgument {
                operation: self.operation,
                reason: match name {
                    "userId" => "a userId cannot be empty, \".\" or \"..\"",
                    "action" => "an action cannot be empty, \".\" or \"..\"",
                    "idempotencyKey" => "an idempotencyKey cannot be empty, \".\" or \"..\"",
                    "deviceId" => "a deviceId cannot be empty, \".\" or \"..\"",
                    _ => "a path value cannot be empty, \".\" or \"..\"",
                },
            });
        }
        self.url.push('/');
        self.url.extend(utf8_percent_encode(value, SEGMENT));
        Ok(self)
    }

    /// Finishes the URL with the given query pairs (none: no `?` at all).
    pub(crate) fn query<'a>(
        self,
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<reqwest::Url, Error> {
        let mut url = self.finish()?;
        let mut pairs = pairs.into_iter().peekable();
        if pairs.peek().is_some() {
            url.query_pairs_mut().extend_pairs(pairs);
        }
        Ok(url)
    }

    /// Finishes the URL.
    pub(crate) fn finish(self) -> Result<reqwest::Url, Error> {
        // The base URL was checked when the client was built and every segment is
        // escaped, so this cannot fail; it is still handled rather than unwrapped.
        reqwest::Url::parse(&self.url).map_err(|_| Error::InvalidArgument {
            operation: self.operation,
            reason: "the request URL could not be formed",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user_path(user_id: &str) -> String {
        UrlBuilder::new("https://api.example/v1", "getUser")
            .literal("users")
            .value("userId", user_id)
            .unwrap()
            .finish()
            .unwrap()
            .path()
            .to_owned()
    }

    #[test]
    fn each_value_is_one_segment() {
        for (user_id, path) in [
            ("123:test", "/v1/users/123%3Atest"),
            ("a/b", "/v1/users/a%2Fb"),
            ("../x", "/v1/users/..%2Fx"),
            ("q?x=1", "/v1/users/q%3Fx%3D1"),
            ("h#f", "/v1/users/h%23f"),
            ("%2F", "/v1/users/%252F"),
            ("é ü", "/v1/users/%C3%A9%20%C3%BC"),
            ("plain-id_1.2~", "/v1/users/plain-id_1.2~"),
        ] {
            assert_eq!(user_path(user_id), path, "{user_id}");
        }
    }

    #[test]
    fn dot_segments_and_empty_values_are_refused() {
        for bad in ["", ".", ".."] {
            let result = UrlBuilder::new("https://api.example/v1", "getUser")
                .literal("users")
                .value("userId", bad);
            assert!(
                matches!(result, Err(Error::InvalidArgument { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn no_query_means_no_question_mark() {
        let url = UrlBuilder::new("https://api.example/v1", "queryUsers")
            .literal("users")
            .query([])
            .unwrap();
        assert_eq!(url.as_str(), "https://api.example/v1/users");
        let url = UrlBuilder::new("https://api.example/v1", "queryUsers")
            .literal("users")
            .query([("email", "test@example.com")])
            .unwrap();
        assert_eq!(
            url.as_str(),
            "https://api.example/v1/users?email=test%40example.com"
        );
    }
}
