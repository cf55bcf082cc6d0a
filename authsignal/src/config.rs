//! Client configuration: [`Region`], [`AuthsignalBuilder`] and the defaults.

use std::time::Duration;

use base64::Engine as _;
use http::HeaderValue;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Semaphore;

use super::error::ConfigError;
use super::retry::RetryPolicy;
use super::{Authsignal, Inner};

/// How long connecting to Authsignal may take, by default.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one attempt (sending and reading the whole answer) may take, by default.
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a call may take over all its attempts and back-off pauses, by default.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(10);

/// The environment variable holding the secret key.
pub const ENV_SECRET_KEY: &str = "AUTHSIGNAL_SECRET_KEY";
/// The environment variable holding the base URL (optional; the US region by default).
pub const ENV_API_URL: &str = "AUTHSIGNAL_API_URL";

/// An Authsignal region: where a tenant's data lives, and so which host serves its API.
/// A key used against the wrong region answers 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Region {
    /// United States (the default).
    #[default]
    Us,
    /// Australia.
    Au,
    /// Europe.
    Eu,
    /// Canada.
    Ca,
}

impl Region {
    /// The base URL of the region's Server API.
    ///
    /// ```
    /// use authsignal::Region;
    /// assert_eq!(Region::Eu.base_url(), "https://eu.api.authsignal.com/v1");
    /// ```
    pub const fn base_url(self) -> &'static str {
        match self {
            Region::Us => "https://api.authsignal.com/v1",
            Region::Au => "https://au.api.authsignal.com/v1",
            Region::Eu => "https://eu.api.authsignal.com/v1",
            Region::Ca => "https://ca.api.authsignal.com/v1",
        }
    }
}

/// Builds an [`Authsignal`] client. Every setting has a default but the secret key.
///
/// | setting | default |
/// |---|---|
/// | base URL | [`Region::Us`] |
/// | [`connect_timeout`](Self::connect_timeout) | [`DEFAULT_CONNECT_TIMEOUT`] (2 s) |
/// | [`attempt_timeout`](Self::attempt_timeout) | [`DEFAULT_ATTEMPT_TIMEOUT`] (5 s) |
/// | [`deadline`](Self::deadline) | [`DEFAULT_DEADLINE`] (10 s) |
/// | [`retry_policy`](Self::retry_policy) | [`RetryPolicy::default`]: 2 retries, 200 ms doubling to 2 s, `Retry-After` up to 5 s |
/// | [`max_connections`](Self::max_connections) | none: as many connections as calls in flight |
///
/// ```
/// use std::time::Duration;
/// use authsignal::{Authsignal, Region};
///
/// let client = Authsignal::builder()
///     .secret_key("my-secret")
///     .region(Region::Eu)
///     .deadline(Duration::from_secs(3))
///     .build()
///     .unwrap();
/// assert_eq!(client.base_url(), "https://eu.api.authsignal.com/v1");
///
/// // No key is a configuration error now, not a failed request later.
/// assert!(Authsignal::builder().build().is_err());
/// ```
#[must_use]
#[derive(Clone)]
pub struct AuthsignalBuilder {
    secret_key: Option<SecretString>,
    base_url: String,
    connect_timeout: Duration,
    attempt_timeout: Duration,
    deadline: Duration,
    retry: RetryPolicy,
    max_connections: Option<usize>,
}

impl std::fmt::Debug for AuthsignalBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthsignalBuilder")
            .field(
                "secret_key",
                &self.secret_key.as_ref().map(|_| "[redacted]"),
            )
            .field("base_url", &self.base_url)
            .field("connect_timeout", &self.connect_timeout)
            .field("attempt_timeout", &self.attempt_timeout)
            .field("deadline", &self.deadline)
            .field("retry", &self.retry)
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

impl Default for AuthsignalBuilder {
    fn default() -> Self {
        Self {
            secret_key: None,
            base_url: Region::default().base_url().to_owned(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            attempt_timeout: DEFAULT_ATTEMPT_TIMEOUT,
            deadline: DEFAULT_DEADLINE,
            retry: RetryPolicy::default(),
            max_connections: None,
        }
    }
}

impl AuthsignalBuilder {
    /// A builder with every default and no secret key.
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder from `AUTHSIGNAL_SECRET_KEY` and, if set, `AUTHSIGNAL_API_URL`.
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub(crate) fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let mut builder = Self::default();
        if let Some(secret) = lookup(ENV_SECRET_KEY) {
            builder = builder.secret_key(secret);
        }
        match lookup(ENV_API_URL) {
            Some(url) if !url.trim().is_empty() => builder.base_url(url.trim()),
            _ => builder,
        }
    }

    /// The tenant's secret key (sent as the Basic-auth user name).
    pub fn secret_key(mut self, secret_key: impl Into<String>) -> Self {
        self.secret_key = Some(SecretString::from(secret_key.into()));
        self
    }

    /// Use a region's base URL.
    pub fn region(mut self, region: Region) -> Self {
        self.base_url = region.base_url().to_owned();
        self
    }

    /// Use any base URL (a proxy, the emulator); `/v1` included, e.g.
    /// `http://127.0.0.1:8787/v1`.
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }

    /// The time allowed to open a connection.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The time allowed to one attempt, from sending to the end of the answer's body.
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = timeout;
        self
    }

    /// The time allowed to a whole call: all attempts and the pauses between them.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// When and how calls are retried.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// At most `connections` calls in flight at once, each on one HTTP/1.1 connection
    /// while it runs, and at most `connections` idle ones kept for reuse. Calls past the
    /// bound wait for a turn, within their [`deadline`](Self::deadline) (a call that gets
    /// none in time fails with [`Error::Timeout`](crate::Error::Timeout)).
    ///
    /// While calls wait for turns, the connections open stay at the bound: each call
    /// finds the last one's connection idle (`benches/gate_load.rs`: 64 connections for
    /// 256 concurrent requests with `max_connections(64)`). In a burst of calls under
    /// the bound, the pool may open more connections than calls are in flight: it
    /// finishes a connection it began for a call that was handed an idle one meanwhile,
    /// and keeps it, up to the bound of idle ones.
    ///
    /// Without it (the default) the client opens a connection for every call in flight
    /// that finds none idle, as many as the app has concurrent requests: HTTP's
    /// connection pool has no bound of its own (seanmonstar/reqwest#1517). Set it where
    /// Authsignal, a proxy or the app's file descriptors must not see more. A slow
    /// Authsignal then caps the gate's throughput at about `connections` / latency.
    ///
    /// ```
    /// let client = authsignal::Authsignal::builder()
    ///     .secret_key("my-secret")
    ///     .max_connections(64)
    ///     .build()
    ///     .unwrap();
    /// // Zero would let no call through: refused when built.
    /// assert!(authsignal::Authsignal::builder().secret_key("s").max_connections(0).build().is_err());
    /// ```
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.max_connections = Some(connections);
        self
    }

    /// Builds the client: checks the settings and creates the one connection pool that all
    /// clones of the client share.
    pub fn build(self) -> Result<Authsignal, ConfigError> {
        let secret = self
            .secret_key
            .filter(|secret| !secret.expose_secret().trim().is_empty())
            .ok_or(ConfigError::MissingSecret)?;
        let authorization = basic_auth(&secret)?;
        let base_url = parse_base_url(&self.base_url)?;
        for (setting, value) in [
            (
                "connect_timeout must be greater than zero",
                self.connect_timeout,
            ),
            (
                "attempt_timeout must be greater than zero",
                self.attempt_timeout,
            ),
            ("deadline must be greater than zero", self.deadline),
        ] {
            if value.is_zero() {
                return Err(ConfigError::InvalidSetting(setting));
            }
        }
        if self.max_connections == Some(0) {
            return Err(ConfigError::InvalidSetting(
                "max_connections must be greater than zero",
            ));
        }
        let mut http = reqwest::Client::builder();
        if let Some(connections) = self.max_connections {
            http = http.pool_max_idle_per_host(connections);
        }
        let http = http
            .connect_timeout(self.connect_timeout)
            .user_agent(concat!(
                env!("CARGO_PKG_NAME"),
                "/",
                env!("CARGO_PKG_VERSION")
            ))
            // Redirects would replay the secret to wherever they point.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|err| ConfigError::HttpClient(err.without_url().to_string()))?;
        Ok(Authsignal::from_inner(Inner {
            http,
            base_url,
            authorization,
            attempt_timeout: self.attempt_timeout,
            deadline: self.deadline,
            retry: self.retry,
            max_connections: self.max_connections,
            slots: self.max_connections.map(Semaphore::new),
        }))
    }
}

/// `Basic base64("<secret>:")`, marked sensitive so that `http` never prints it.
fn basic_auth(secret: &SecretString) -> Result<HeaderValue, ConfigError> {
    // Base64 makes any bytes sendable, so control characters (a pasted newline) are refused here.
    if secret.expose_secret().chars().any(char::is_control) {
        return Err(ConfigError::InvalidSecret);
    }
    let credentials =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:", secret.expose_secret()));
    let mut value = HeaderValue::try_from(format!("Basic {credentials}"))
        .map_err(|_| ConfigError::InvalidSecret)?;
    value.set_sensitive(true);
    Ok(value)
}

/// Checks the base URL and returns it without a trailing slash, ready for paths to be appended.
fn parse_base_url(raw: &str) -> Result<String, ConfigError> {
    let url = reqwest::Url::parse(raw.trim())
        .map_err(|err| ConfigError::InvalidBaseUrl(format!("{err}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ConfigError::InvalidBaseUrl(format!(
            "scheme must be http or https, not {}",
            url.scheme()
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ConfigError::InvalidBaseUrl(
            "credentials in the URL are not allowed; use secret_key".into(),
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ConfigError::InvalidBaseUrl(
            "a query or fragment is not allowed".into(),
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
        }
    }

    #[test]
    fn from_env_reads_secret_and_url() {
        let client = AuthsignalBuilder::from_lookup(lookup(&[
            (ENV_SECRET_KEY, "s3cret"),
            (ENV_API_URL, "http://127.0.0.1:8787/v1/"),
        ]))
        .build()
        .unwrap();
        assert_eq!(client.base_url(), "http://127.0.0.1:8787/v1");
    }

    #[test]
    fn from_env_defaults_to_us() {
        let client = AuthsignalBuilder::from_lookup(lookup(&[(ENV_SECRET_KEY, "s3cret")]))
            .build()
            .unwrap();
        assert_eq!(client.base_url(), Region::Us.base_url());
    }

    #[test]
    fn missing_or_empty_secret_fails_at_build_time() {
        for pairs in [
            &[][..],
            &[(ENV_SECRET_KEY, "")][..],
            &[(ENV_SECRET_KEY, "  ")][..],
        ] {
            let pairs: &'static [(&str, &str)] = pairs;
            let err = AuthsignalBuilder::from_lookup(lookup(pairs))
                .build()
                .unwrap_err();
            assert_eq!(err, ConfigError::MissingSecret);
        }
    }

    #[test]
    fn bad_settings_are_rejected() {
        let base = AuthsignalBuilder::new().secret_key("k");
        assert!(matches!(
            base.clone().base_url("ftp://x").build(),
            Err(ConfigError::InvalidBaseUrl(_))
        ));
        assert!(matches!(
            base.clone().base_url("not a url").build(),
            Err(ConfigError::InvalidBaseUrl(_))
        ));
        assert!(matches!(
            base.clone().base_url("https://user:pw@host/v1").build(),
            Err(ConfigError::InvalidBaseUrl(_))
        ));
        assert!(matches!(
            base.clone().deadline(Duration::ZERO).build(),
            Err(ConfigError::InvalidSetting(_))
        ));
        assert!(matches!(
            AuthsignalBuilder::new().secret_key("a\nb").build(),
            Err(ConfigError::InvalidSecret)
        ));
    }

    #[test]
    fn every_region_has_its_host() {
        for (region, host) in [
            (Region::Us, "api.authsignal.com"),
            (Region::Au, "au.api.authsignal.com"),
            (Region::Eu, "eu.api.authsignal.com"),
            (Region::Ca, "ca.api.authsignal.com"),
        ] {
            let client = AuthsignalBuilder::new()
                .secret_key("k")
                .region(region)
                .build()
                .unwrap();
            assert_eq!(client.base_url(), format!("https://{host}/v1"));
        }
    }
}
