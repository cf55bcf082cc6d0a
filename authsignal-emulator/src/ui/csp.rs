//! The Content Security Policy of every page: no script but the page's own, which carries
//! a nonce drawn fresh for each response.
//!
//! `script-src 'nonce-…'` without `'strict-dynamic'` (the pages load no script of their
//! own that would need to add more), `'unsafe-inline'` or `'unsafe-eval'`: a script the
//! page did not write, injected inline or added by a script, does not run. `base-uri
//! 'none'`, so that an injected `<base>` cannot move where anything points. Everything else
//! stays as it was with no script: nothing loads (`default-src 'none'`) but the page's
//! inline style. `frame-ancestors` is `'none'` but for a page the Web SDK's popup mode
//! opens for an action with a trusted origin (see [`super::launch`]), where it names that
//! origin alone. `connect-src 'self'` only on a page whose script calls the client API.
//!
//! No `X-Frame-Options`: it cannot name one origin (`ALLOW-FROM` is obsolete), and every
//! current browser follows `frame-ancestors` over it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::super::random;

/// A per-response nonce: 128 bits from the OS, as base64url (the `base64-value` of CSP).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Nonce(String);

impl Nonce {
    /// A fresh nonce.
    pub(crate) fn new() -> Self {
        Self(URL_SAFE_NO_PAD.encode(random::bytes::<16>()))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Nonce {
    // Not secret after the response, but of no use in a log either.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Nonce(..)")
    }
}

/// The `Content-Security-Policy` of a page with `nonce`, framed by `frame_ancestor` only
/// (an origin, already checked to be one), or by nothing; `connect_self` when its script
/// calls the emulator's own API.
pub(crate) fn policy(nonce: &Nonce, frame_ancestor: Option<&str>, connect_self: bool) -> String {
    let connect = if connect_self {
        "; connect-src 'self'"
    } else {
        ""
    };
    format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; \
         base-uri 'none'{connect}; frame-ancestors {ancestors}",
        nonce = nonce.as_str(),
        ancestors = frame_ancestor.unwrap_or("'none'"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_fresh_base64url_of_128_bits() {
        let one = Nonce::new();
        assert_eq!(one.as_str().len(), 22);
        assert!(
            one.as_str()
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_ne!(one, Nonce::new());
        assert_eq!(format!("{one:?}"), "Nonce(..)");
    }

    #[test]
    fn the_policy_allows_the_nonce_and_the_trusted_ancestor_only() {
        let nonce = Nonce::new();
        let framed = policy(&nonce, Some("https://app.example"), false);
        assert!(framed.contains(&format!("script-src 'nonce-{}';", nonce.as_str())));
        assert!(framed.ends_with("frame-ancestors https://app.example"));
        assert!(!framed.contains("unsafe-eval") && !framed.contains("connect-src"));
        let alone = policy(&nonce, None, true);
        assert!(alone.ends_with("; connect-src 'self'; frame-ancestors 'none'"));
        assert!(!alone.contains("script-src 'unsafe-inline'"));
    }
}
