//! [`EmulatorBuilder`]: the secret, the actions and the address, then `start`.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use super::config::EmulatorConfig;
use super::faults::Fault;
use super::handle::EmulatorHandle;
use super::rules::ActionConfig;
use super::state::Shared;
use super::webhooks::{Outbound, Retry, Tracker, deliver};
use super::{DEMO_SECRET, server};

/// Configures and starts an emulator.
///
/// | setting | default |
/// |---|---|
/// | [`secret`](Self::secret) | [`DEMO_SECRET`] |
/// | [`bind`](Self::bind) | `127.0.0.1:0` (a free port) |
/// | actions ([`action`](Self::action), [`config`](Self::config)) | none: every action is `ALLOW` |
/// | webhooks ([`webhook`](Self::webhook), [`webhooks`](Self::webhooks)) | none: no events are sent |
/// | [`fault`](Self::fault), [`latency`](Self::latency) (and the configuration's) | none |
#[must_use]
#[derive(Clone)]
pub struct EmulatorBuilder {
    secret: Option<String>,
    config: EmulatorConfig,
    bind: SocketAddr,
    faults: Vec<(String, Fault)>,
    latency: Vec<(String, Duration)>,
}

impl std::fmt::Debug for EmulatorBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatorBuilder")
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .field("config", &self.config)
            .field("bind", &self.bind)
            .field("faults", &self.faults)
            .field("latency", &self.latency)
            .finish()
    }
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        Self {
            secret: None,
            config: EmulatorConfig::default(),
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            faults: Vec::new(),
            latency: Vec::new(),
        }
    }
}

impl EmulatorBuilder {
    /// The tenant secret the API takes (as the Basic-auth user name) and tokens are
    /// signed with.
    pub fn secret(mut self, secret: impl Into<String>) -> Self {
        self.secret = Some(secret.into());
        self
    }

    /// How `track` treats the action `code`.
    pub fn action(mut self, code: impl Into<String>, config: ActionConfig) -> Self {
        self.config.actions.insert(code.into(), config);
        self
    }

    /// How `track` treats action codes with no configuration of their own.
    pub fn default_action(mut self, config: ActionConfig) -> Self {
        self.config.default_action = config;
        self
    }

    /// Every action at once (replacing those set before), e.g. from a file.
    pub fn config(mut self, config: EmulatorConfig) -> Self {
        self.config = config;
        self
    }

    /// Sends every webhook event to `url` (see [the webhooks docs](super::WebhookSettings)).
    pub fn webhook(mut self, url: impl Into<String>) -> Self {
        self.config
            .webhooks
            .endpoints
            .push(super::WebhookEndpoint::new(url));
        self
    }

    /// Where webhook events go and how deliveries are retried (replacing what was set).
    pub fn webhooks(mut self, settings: super::WebhookSettings) -> Self {
        self.config.webhooks = settings;
        self
    }

    /// The WebAuthn relying party passkeys and security keys are registered with and
    /// checked against (replacing what was set): its RP ID and allowed origins.
    ///
    /// ```
    /// use authsignal_emulator::{Emulator, RelyingPartySettings};
    ///
    /// let builder = Emulator::builder().relying_party(
    ///     RelyingPartySettings::new("localhost").origin("http://localhost:3000"),
    /// );
    /// # let _ = builder;
    /// ```
    pub fn relying_party(mut self, settings: super::RelyingPartySettings) -> Self {
        self.config.relying_party = settings;
        self
    }

    /// Arms `fault` for `operation` from the start (after the configuration's faults), as
    /// [`EmulatorHandle::inject_fault`] does later.
    pub fn fault(mut self, operation: impl Into<String>, fault: Fault) -> Self {
        self.faults.push((operation.into(), fault));
        self
    }

    /// Delays every request of `operation` (or [`ANY_OPERATION`](super::ANY_OPERATION)) by
    /// `delay` from the start, as [`EmulatorHandle::set_latency`] does later.
    pub fn latency(mut self, operation: impl Into<String>, delay: Duration) -> Self {
        self.latency.push((operation.into(), delay));
        self
    }

    /// The address to listen on; port 0 picks a free one.
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind = addr;
        self
    }

    /// Binds the address and spawns the server on the current tokio runtime.
    ///
    /// Fails if the address cannot be bound, or (`InvalidInput`) if the secret is empty
    /// or holds characters that cannot travel as a Basic-auth user name (`:`, controls), a
    /// webhook endpoint is not an `http(s)` URL or names an event type the emulator does
    /// not send, a configured fault names none, or the [relying
    /// party](super::RelyingPartySettings)'s RP ID is not a domain name or an origin is
    /// not on it.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, as `tokio::spawn` does.
    pub async fn start(self) -> std::io::Result<EmulatorHandle> {
        let secret = self.secret.unwrap_or_else(|| DEMO_SECRET.to_owned());
        if secret.trim().is_empty() || secret.contains(':') || secret.chars().any(char::is_control)
        {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the emulator secret must be non-empty, without ':' or control characters",
            ));
        }
        let invalid =
            |reason: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, reason);
        self.config.webhooks.check().map_err(invalid)?;
        self.config.relying_party.check().map_err(invalid)?;
        let mut faults = Vec::new();
        for spec in &self.config.faults {
            faults.push((spec.operation.clone(), spec.to_fault().map_err(invalid)?));
        }
        faults.extend(self.faults);
        let mut latency: Vec<(String, Duration)> = self
            .config
            .latency_millis
            .iter()
            .map(|(operation, millis)| (operation.clone(), Duration::from_millis(*millis)))
            .collect();
        latency.extend(self.latency);
        let listener = TcpListener::bind(self.bind).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = watch::channel(false);
        let tenant_id = uuid::Uuid::new_v4().to_string();
        let tracker = Arc::new(Tracker::default());
        let settings = self.config.webhooks.clone();
        let (outbound, queue) = if settings.endpoints.is_empty() {
            (None, None)
        } else {
            let (sender, receiver) = mpsc::unbounded_channel();
            let outbound = Outbound::new(
                tenant_id.clone(),
                settings.endpoints.clone(),
                sender,
                tracker.clone(),
            );
            (Some(outbound), Some(receiver))
        };
        let shared = Arc::new(Shared::new(
            secret,
            origin(addr),
            self.config,
            tenant_id,
            tracker.clone(),
            outbound,
        ));
        for (operation, fault) in faults {
            shared.arm_fault(&operation, fault);
        }
        for (operation, delay) in latency {
            shared.set_latency(&operation, delay);
        }
        if let Some(queue) = queue {
            let retry = Retry {
                max_retries: settings.max_retries,
                first_backoff: settings.first_backoff(),
            };
            tokio::spawn(deliver(
                queue,
                shared.clone(),
                tracker,
                retry,
                stopped.clone(),
            ));
        }
        let app = server::app(shared.clone());
        let task = tokio::spawn(server::serve(listener, shared.clone(), app, stopped));
        Ok(EmulatorHandle::new(shared, addr, stop, task))
    }
}

/// `http://addr`, with an unspecified address (`0.0.0.0`, `::`) replaced by loopback:
/// the URLs handed out must be ones a browser on this machine can open.
fn origin(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        ip if !ip.is_unspecified() => ip,
        std::net::IpAddr::V4(_) => Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(_) => Ipv6Addr::LOCALHOST.into(),
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}
