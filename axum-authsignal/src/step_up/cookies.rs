//! Reading the cookies a request carries, with the `cookie` crate: the one parse of the
//! `Cookie` header that the resume and sign-in cookies share.

use cookie::Cookie;
use http::HeaderMap;
use http::header::COOKIE;

/// Every cookie the request carries, in the order sent (a browser sends those of longer
/// paths first). A pair that is not a cookie is skipped.
pub(crate) fn sent(headers: &HeaderMap) -> impl Iterator<Item = Cookie<'_>> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|header| header.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cookie_of_every_header_in_order() {
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, "a=1; b=2".parse().unwrap());
        headers.append(COOKIE, "a=3;=bad; c=4".parse().unwrap());
        let sent: Vec<(String, String)> = sent(&headers)
            .map(|cookie| (cookie.name().to_owned(), cookie.value().to_owned()))
            .collect();
        let pairs = [("a", "1"), ("b", "2"), ("a", "3"), ("c", "4")];
        assert_eq!(
            sent,
            pairs.map(|(name, value)| (name.to_owned(), value.to_owned()))
        );
    }
}
