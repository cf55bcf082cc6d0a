//! Telling a browser navigation from an API client, to choose the challenge answer.
//!
//! A browser navigation can follow a redirect to the pre-built UI; anything else (a `fetch`,
//! htmx, curl, a mobile app) needs a 401 it can act on. The signals, strongest first:
//! `HX-Request` (htmx swaps responses, it does not navigate), `X-Requested-With`,
//! `Sec-Fetch-Mode` (set by every current browser), then `Accept`: a navigation prefers
//! `text/html` to JSON. When in doubt the answer is "API": a 401 with a token is usable by
//! anyone, a redirect only by a browser.

use http::HeaderMap;
use http::header::ACCEPT;

/// Who is asking: decides between a redirect and a 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ClientKind {
    /// Decide from the request headers (the default).
    #[default]
    Auto,
    /// Always a browser: redirect to the pre-built UI.
    Browser,
    /// Always an API client: 401 with a challenge token.
    Api,
}

/// The request headers the answer depends on, for `Vary`.
pub(crate) const VARY: &str = "Accept, Sec-Fetch-Mode, X-Requested-With, HX-Request";

impl ClientKind {
    /// Whether this request should be answered as a browser navigation.
    pub(crate) fn is_browser(self, headers: &HeaderMap) -> bool {
        match self {
            ClientKind::Browser => true,
            ClientKind::Api => false,
            ClientKind::Auto => looks_like_navigation(headers),
        }
    }
}

fn looks_like_navigation(headers: &HeaderMap) -> bool {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    if header("hx-request").is_some() || header("x-requested-with").is_some() {
        return false;
    }
    if let Some(mode) = header("sec-fetch-mode") {
        return mode.trim().eq_ignore_ascii_case("navigate");
    }
    let accept = headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    let html = quality(&accept, "text", "html");
    html > 0.0 && html > quality(&accept, "application", "json")
}

/// The q-value `accept` gives `kind/sub`, by the most specific matching range (RFC 9110
/// 12.5.1); 0 when nothing matches.
fn quality(accept: &str, kind: &str, sub: &str) -> f32 {
    let mut best: Option<(u8, f32)> = None;
    for range in accept.split(',') {
        let mut params = range.split(';');
        let Some((range_kind, range_sub)) = params.next().and_then(|m| m.trim().split_once('/'))
        else {
            continue;
        };
        let specificity = match (range_kind.trim(), range_sub.trim()) {
            (k, s) if k.eq_ignore_ascii_case(kind) && s.eq_ignore_ascii_case(sub) => 3,
            (k, "*") if k.eq_ignore_ascii_case(kind) => 2,
            ("*", "*") => 1,
            _ => continue,
        };
        let q = params
            .filter_map(|p| p.trim().strip_prefix("q=").or(p.trim().strip_prefix("Q=")))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0)
            .clamp(0.0, 1.0);
        if best.is_none_or(|(s, _)| specificity > s) {
            best = Some((specificity, q));
        }
    }
    best.map_or(0.0, |(_, q)| q)
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

    const CHROME_NAVIGATION: &str =
        "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";

    #[test]
    fn content_negotiation_table() {
        // (request headers, answered as a browser?, case name)
        type Case<'a> = (&'a [(&'a str, &'a str)], bool, &'a str);
        let cases: &[Case] = &[
            (&[], false, "no headers: an API client"),
            (&[("accept", "*/*")], false, "curl"),
            (&[("accept", "application/json")], false, "JSON client"),
            (&[("accept", CHROME_NAVIGATION)], true, "browser Accept"),
            (&[("accept", "text/html")], true, "html only"),
            (
                &[("accept", "text/html;q=0.5, application/json")],
                false,
                "prefers JSON",
            ),
            (
                &[("accept", "application/json;q=0.4, text/html;q=0.9")],
                true,
                "prefers HTML by q",
            ),
            (&[("accept", "text/html;q=0")], false, "html refused"),
            (
                &[("accept", "text/*;q=0.9, application/json;q=0.8")],
                true,
                "text/* wins",
            ),
            (
                &[
                    ("accept", "text/html, */*;q=0.1"),
                    ("accept", "application/json"),
                ],
                false,
                "split header: JSON 1.0 ties html",
            ),
            (
                &[
                    ("accept", CHROME_NAVIGATION),
                    ("sec-fetch-mode", "navigate"),
                ],
                true,
                "navigation",
            ),
            (
                &[("accept", CHROME_NAVIGATION), ("sec-fetch-mode", "cors")],
                false,
                "fetch() from a page",
            ),
            (
                &[("accept", "*/*"), ("sec-fetch-mode", "navigate")],
                true,
                "navigation without html Accept",
            ),
            (
                &[
                    ("accept", CHROME_NAVIGATION),
                    ("x-requested-with", "XMLHttpRequest"),
                ],
                false,
                "XHR",
            ),
            (
                &[
                    ("accept", CHROME_NAVIGATION),
                    ("hx-request", "true"),
                    ("sec-fetch-mode", "cors"),
                ],
                false,
                "htmx",
            ),
            (
                &[("accept", CHROME_NAVIGATION), ("hx-request", "true")],
                false,
                "htmx without fetch metadata",
            ),
        ];
        for (pairs, browser, name) in cases {
            assert_eq!(
                ClientKind::Auto.is_browser(&headers(pairs)),
                *browser,
                "{name}"
            );
        }
    }

    #[test]
    fn overrides_win() {
        let api = headers(&[("accept", "application/json")]);
        let nav = headers(&[
            ("accept", CHROME_NAVIGATION),
            ("sec-fetch-mode", "navigate"),
        ]);
        assert!(ClientKind::Browser.is_browser(&api));
        assert!(!ClientKind::Api.is_browser(&nav));
    }
}
