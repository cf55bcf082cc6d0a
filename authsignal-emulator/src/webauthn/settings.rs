//! [`RelyingPartySettings`]: the RP ID passkeys and security keys are bound to, and the
//! origins whose pages may use them.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The relying party the emulator is for WebAuthn (passkeys and security keys): its RP ID
/// and the origins a ceremony may come from.
///
/// With no RP ID (the default) it is a development relying party: RP ID `localhost`, and
/// any `http://localhost` origin, whatever its port. With an RP ID, only the listed
/// origins are accepted (with none listed, `https://<RP ID>`), and each must be the RP ID
/// or a subdomain of it, as browsers insist.
///
/// ```
/// use authsignal_emulator::{EmulatorConfig, RelyingPartySettings};
///
/// let development = RelyingPartySettings::default();
/// assert_eq!(development.rp_id(), "localhost");
/// assert!(development.allows_origin("http://localhost:5173"));
/// assert!(!development.allows_origin("http://127.0.0.1:5173"));
///
/// let config = EmulatorConfig::from_json(r#"{
///     "relyingParty": {"id": "example.com", "origins": ["https://app.example.com"]}
/// }"#).unwrap();
/// assert_eq!(config.relying_party.rp_id(), "example.com");
/// assert!(config.relying_party.allows_origin("https://app.example.com"));
/// assert!(!config.relying_party.allows_origin("https://example.com"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct RelyingPartySettings {
    /// The RP ID (a domain); `None` for the development relying party (`localhost`).
    #[serde(default, rename = "id", skip_serializing_if = "Option::is_none")]
    pub rp_id: Option<String>,
    /// The origins (`scheme://host[:port]`) ceremonies may come from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub origins: Vec<String>,
    /// How long the browser waits for the user, and a challenge stays good, in
    /// milliseconds; `None` for 5 minutes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_millis: Option<u64>,
}

/// The ceremonies' timeout when none is set.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// The development relying party's RP ID.
const DEVELOPMENT_RP_ID: &str = "localhost";

impl RelyingPartySettings {
    /// A relying party for `rp_id`; add its origins with [`origin`](Self::origin).
    pub fn new(rp_id: impl Into<String>) -> Self {
        Self {
            rp_id: Some(rp_id.into()),
            origins: Vec::new(),
            timeout_millis: None,
        }
    }

    /// Sets how long a ceremony may take (the options' `timeout`, and how long its
    /// challenge stays good).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout_millis = Some(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX));
        self
    }

    /// How long a ceremony may take: 5 minutes unless set.
    pub fn ceremony_timeout(&self) -> Duration {
        self.timeout_millis
            .map_or(DEFAULT_TIMEOUT, Duration::from_millis)
    }

    /// Accepts ceremonies from `origin` too.
    #[must_use]
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.origins.push(origin.into());
        self
    }

    /// The RP ID credentials are bound to.
    pub fn rp_id(&self) -> &str {
        self.rp_id.as_deref().unwrap_or(DEVELOPMENT_RP_ID)
    }

    /// Whether a ceremony's client data may name `origin`.
    pub fn allows_origin(&self, origin: &str) -> bool {
        if !self.origins.is_empty() {
            return self.origins.iter().any(|allowed| allowed == origin);
        }
        match &self.rp_id {
            Some(rp_id) => origin == format!("https://{rp_id}"),
            None => is_local_development_origin(origin),
        }
    }

    /// Refuses settings no browser could use: an RP ID that is not a domain name, an
    /// origin that is not `http(s)://host[:port]`, or whose host is neither the RP ID nor
    /// a subdomain of it.
    pub(crate) fn check(&self) -> Result<(), String> {
        let rp_id = self.rp_id();
        let domain_like = !rp_id.is_empty()
            && rp_id.split('.').all(|label| {
                !label.is_empty()
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !domain_like || rp_id.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return Err(format!(
                "relying party: the RP ID {rp_id:?} is not a domain name"
            ));
        }
        for origin in &self.origins {
            let host = origin_host(origin)
                .ok_or_else(|| format!("relying party: {origin:?} is not an http(s) origin"))?;
            if host != rp_id && !host.ends_with(&format!(".{rp_id}")) {
                return Err(format!(
                    "relying party: the origin {origin:?} is not on the RP ID {rp_id:?} or a subdomain of it"
                ));
            }
        }
        Ok(())
    }
}

/// `http://localhost` with any port or none.
fn is_local_development_origin(origin: &str) -> bool {
    let Some(rest) = origin.strip_prefix("http://localhost") else {
        return false;
    };
    rest.is_empty()
        || rest.strip_prefix(':').is_some_and(|port| {
            !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit())
        })
}

/// The host of `scheme://host[:port]` (no path, user, query), for http and https.
fn origin_host(origin: &str) -> Option<&str> {
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))?;
    let host = match rest.rsplit_once(':') {
        Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => rest,
    };
    let plain = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    plain.then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_development_relying_party_takes_localhost_on_any_port_only() {
        let settings = RelyingPartySettings::default();
        for (origin, ok) in [
            ("http://localhost", true),
            ("http://localhost:3000", true),
            ("https://localhost:3000", false),
            ("http://localhost.example.com", false),
            ("http://localhost:", false),
            ("http://localhost:3000/", false),
            ("http://127.0.0.1:3000", false),
        ] {
            assert_eq!(settings.allows_origin(origin), ok, "{origin}");
        }
    }

    #[test]
    fn origins_must_sit_on_the_rp_id() {
        assert!(
            RelyingPartySettings::new("example.com")
                .origin("https://app.example.com:8443")
                .check()
                .is_ok()
        );
        assert!(
            RelyingPartySettings::new("example.com")
                .origin("https://example.org")
                .check()
                .is_err()
        );
        assert!(
            RelyingPartySettings::new("example.com")
                .origin("https://badexample.com")
                .check()
                .is_err()
        );
        assert!(RelyingPartySettings::new("127.0.0.1").check().is_err());
        assert!(RelyingPartySettings::new("").check().is_err());
        assert!(
            RelyingPartySettings::new("example.com")
                .origin("example.com")
                .check()
                .is_err()
        );
    }
}
