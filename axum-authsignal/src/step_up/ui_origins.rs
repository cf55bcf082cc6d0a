//! Where the gate lets Authsignal's answer send a browser: the pre-built UI's origins.
//!
//! `track` answers the URL of the pre-built UI, and the gate sends browsers there (a 303,
//! or `HX-Redirect`). A URL that is not the pre-built UI's would make the gate an open
//! redirect for whoever could shape that answer (a proxy, a misconfigured base URL, a
//! stand-in service), so the URL's origin must be one of these:
//!
//! - with an Authsignal API URL (a region's, or any `https://*.authsignal.com`):
//!   `https://mfa.authsignal.com`, the pre-built UI's domain when a tenant has no custom
//!   domain (documented: "If you don't have a domain setup, the domain will be
//!   mfa.authsignal.com");
//! - with another API URL (the emulator, a proxy): that URL's own origin, which serves
//!   the UI too, when it is `https`, or `http` on a loopback address;
//! - and the origins the app adds ([`ui_origin`](super::StepUpConfigBuilder::ui_origin)):
//!   its custom domains, `https` only, or `http` on loopback for development.

use std::net::IpAddr;

use reqwest::Url;

/// The pre-built UI's domain for a tenant without a custom domain.
pub(crate) const AUTHSIGNAL_UI_ORIGIN: &str = "https://mfa.authsignal.com";

/// One origin: scheme, host and port, as the `url` crate normalises them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    scheme: String,
    host: String,
    port: Option<u16>,
}

impl Origin {
    /// The origin of `url`, if it is one a browser may be sent to: `https`, or `http` on
    /// a loopback address; no user name or password.
    fn of(url: &Url) -> Option<Self> {
        let host = url.host_str()?;
        let secure = match url.scheme() {
            "https" => true,
            "http" => false,
            _ => return None,
        };
        if !secure && !is_loopback(host) {
            return None;
        }
        if !url.username().is_empty() || url.password().is_some() {
            return None;
        }
        Some(Self {
            scheme: url.scheme().to_owned(),
            host: host.to_owned(),
            port: url.port_or_known_default(),
        })
    }
}

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost" || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The origins a challenge's `url` may lead to.
#[derive(Debug, Clone, Default)]
pub(crate) struct UiOrigins {
    origins: Vec<Origin>,
}

impl UiOrigins {
    /// The pre-built UI's origins for a client calling `api_base_url`.
    pub(crate) fn for_api(api_base_url: &str) -> Self {
        let mut origins = Self::default();
        let Ok(api) = Url::parse(api_base_url) else {
            return origins;
        };
        let authsignal = api.scheme() == "https"
            && api
                .host_str()
                .is_some_and(|host| host == "authsignal.com" || host.ends_with(".authsignal.com"));
        if authsignal {
            origins.add(AUTHSIGNAL_UI_ORIGIN);
        } else if let Some(origin) = Origin::of(&api) {
            origins.origins.push(origin);
        }
        origins
    }

    /// Adds `origin` (`https://auth.example.com`, or `http://127.0.0.1:4000`); `false` if
    /// it cannot be one (not a URL, not `https` nor `http` on loopback, a path, a user).
    pub(crate) fn add(&mut self, origin: &str) -> bool {
        let parsed = Url::parse(origin)
            .ok()
            .filter(|url| url.path() == "/" && url.query().is_none() && url.fragment().is_none());
        match parsed.as_ref().and_then(Origin::of) {
            Some(origin) => {
                if !self.origins.contains(&origin) {
                    self.origins.push(origin);
                }
                true
            }
            None => false,
        }
    }

    /// Whether `url` is on one of the origins.
    pub(crate) fn allows(&self, url: &str) -> bool {
        Url::parse(url)
            .ok()
            .as_ref()
            .and_then(Origin::of)
            .is_some_and(|origin| self.origins.contains(&origin))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_authsignal_region_allows_the_pre_built_ui_only() {
        for api in [
            "https://api.authsignal.com/v1",
            "https://au.api.authsignal.com/v1",
            "https://eu.api.authsignal.com/v1",
            "https://ca.api.authsignal.com/v1",
        ] {
            let origins = UiOrigins::for_api(api);
            assert!(
                origins.allows("https://mfa.authsignal.com/?token=x"),
                "{api}"
            );
            assert!(
                origins.allows("https://MFA.authsignal.com:443/challenge"),
                "{api}"
            );
            for url in [
                "http://mfa.authsignal.com/",
                "https://mfa.authsignal.com.evil.example/",
                "https://mfa.authsignal.com@evil.example/",
                "https://user@mfa.authsignal.com/",
                "https://mfa.authsignal.com:8443/",
                "https://evil.example/",
                "https://api.authsignal.com/",
                "//evil.example/x",
                "/relative",
                "javascript:alert(1)",
                "data:text/html,<script>alert(1)</script>",
                "",
            ] {
                assert!(!origins.allows(url), "{api} allowed {url}");
            }
        }
    }

    #[test]
    fn another_api_url_allows_its_own_origin_when_https_or_loopback() {
        let emulator = UiOrigins::for_api("http://127.0.0.1:4010/v1");
        assert!(emulator.allows("http://127.0.0.1:4010/ui?token=x"));
        assert!(!emulator.allows("http://127.0.0.1:4011/ui"));
        assert!(!emulator.allows("http://localhost:4010/ui"));
        assert!(!emulator.allows("https://mfa.authsignal.com/"));
        let proxy = UiOrigins::for_api("https://authsignal-proxy.internal.example/v1");
        assert!(proxy.allows("https://authsignal-proxy.internal.example/ui"));
        // Plain http off loopback: nothing, not even its own origin.
        let plain = UiOrigins::for_api("http://10.0.0.5:8080/v1");
        assert!(!plain.allows("http://10.0.0.5:8080/ui"));
        assert!(!UiOrigins::for_api("not a url").allows("https://mfa.authsignal.com/"));
    }

    #[test]
    fn an_app_adds_https_origins_and_http_only_on_loopback() {
        let mut origins = UiOrigins::for_api("https://api.authsignal.com/v1");
        assert!(origins.add("https://auth.example.com"));
        assert!(origins.add("http://localhost:4000/"));
        assert!(origins.add("http://[::1]:4000"));
        for refused in [
            "http://auth.example.com",
            "https://auth.example.com/path",
            "https://auth.example.com/?q",
            "https://user:pw@auth.example.com",
            "ftp://auth.example.com",
            "auth.example.com",
        ] {
            assert!(!origins.add(refused), "{refused}");
        }
        assert!(origins.allows("https://auth.example.com/challenge?token=x"));
        assert!(origins.allows("http://localhost:4000/x"));
        assert!(origins.allows("http://[::1]:4000/x"));
        assert!(!origins.allows("http://auth.example.com/x"));
        assert!(origins.allows("https://mfa.authsignal.com/x"));
    }
}
