//! [`StepUpConfig`]: what every gate, validator and sign-in of an app shares, set once.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::response::Response;
use http::HeaderName;
use http::header::USER_AGENT;
use http::request::Parts;
use ipnet::IpNet;

use super::action::ActionCode;
use super::answer::GateAnswer;
use super::client_ip::{ClientIp, ForwardedHeader};
use super::layer::StepUpLayer;
use super::negotiate::ClientKind;
use super::respond::Responder;
use super::signin::SignInBuilder;
use super::ui_origins::UiOrigins;
use super::user::UserLookup;
use super::validator::StepUpValidator;
use crate::store::{MemoryStore, PendingChallengeStore};
use authsignal::Authsignal;
use authsignal::types::TrackAttributes;

/// The header API clients put the challenge token in, by default.
pub const DEFAULT_TOKEN_HEADER: &str = "x-authsignal-token";
/// The largest request body the gate reads, by default.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;
/// The `Retry-After` of a 503 when Authsignal fails, by default.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);
/// How long a challenge stays answerable: Authsignal's tokens last about 10 minutes.
pub const CHALLENGE_TTL: Duration = Duration::from_secs(600);

pub(crate) type PartsFn = Arc<dyn Fn(&Parts) -> Option<String> + Send + Sync>;

/// What to do when Authsignal allows an action for a user who has no authenticator
/// (`ALLOW` with `isEnrolled: false`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Unenrolled {
    /// Run the handler, as Authsignal decided (the default): the tenant's rules already
    /// choose, per action, whether to prompt enrolment, and a user who has not enrolled
    /// yet must still be able to reach the page where they enrol.
    /// [`StepUp::is_enrolled`](super::StepUp::is_enrolled) tells the handler.
    #[default]
    FollowAuthsignal,
    /// Refuse with 403 `enrolment_required`: for actions no one may take without an
    /// authenticator, whatever the rules say.
    Refuse,
    /// Send the user to enrol first, as for a challenge: a browser to the pre-built UI (the
    /// track `url`), an API client gets 401 `enrolment_required` with the token. The
    /// handler runs once they are back with a token, as after a challenge.
    Enrol,
}

/// The configuration every gate, validator and sign-in of an app shares: the client, the
/// store of pending challenges, the redirect origin, the user lookup and the failure
/// policy. Set it once; make each route's gate from it with [`gate`](Self::gate).
///
/// It is cheap to clone (one `Arc`), and every gate made from one configuration shares
/// its store and its counters.
///
/// ```
/// use axum::{Router, http::Method, routing::post};
/// use authsignal::Authsignal;
/// use axum_authsignal::{StepUp, StepUpConfig};
///
/// async fn handler(proof: StepUp) -> String { proof.action().to_owned() }
///
/// let client = Authsignal::new("secret").unwrap();
/// let step_up = StepUpConfig::builder(client)
///     .redirect_origin("https://app.example.com")
///     .build();
/// let app: Router = Router::new()
///     .route("/withdraw", post(handler).layer(step_up.gate("withdraw").custom_from_body(["amount"])))
///     .route("/payments", post(handler).layer(step_up.gate("payment").custom_from_body(["amount"])))
///     .route("/payout-account", post(handler).layer(step_up.gate("changePayoutAccount")))
///     .route("/api-keys", post(handler).layer(step_up.gate("createApiKey")))
///     .route("/email", post(handler).layer(step_up.gate("changeEmail")));
/// ```
#[derive(Clone)]
pub struct StepUpConfig {
    pub(crate) shared: Arc<Shared>,
}

pub(crate) struct Shared {
    pub(crate) client: Authsignal,
    pub(crate) store: Arc<dyn PendingChallengeStore>,
    pub(crate) redirect_origin: Option<String>,
    pub(crate) ui_origins: UiOrigins,
    pub(crate) user: UserLookup,
    pub(crate) token_header: HeaderName,
    pub(crate) retry_after: Duration,
    pub(crate) client_ip: ClientIp,
    pub(crate) ip_address: Option<PartsFn>,
    pub(crate) device_id: Option<PartsFn>,
    pub(crate) user_agent: bool,
    pub(crate) body_limit: usize,
    pub(crate) client_kind: ClientKind,
    pub(crate) unenrolled: Unenrolled,
    pub(crate) responder: Responder,
    pub(crate) failed_open: AtomicU64,
}

impl StepUpConfig {
    /// A configuration with every default (see [`StepUpConfigBuilder`]).
    pub fn new(client: Authsignal) -> Self {
        Self::builder(client).build()
    }

    /// A builder, starting from the defaults.
    pub fn builder(client: Authsignal) -> StepUpConfigBuilder {
        let ui_origins = UiOrigins::for_api(client.base_url());
        StepUpConfigBuilder {
            shared: Shared {
                client,
                store: Arc::new(MemoryStore::default()),
                redirect_origin: None,
                ui_origins,
                user: UserLookup::extension(),
                token_header: HeaderName::from_static(DEFAULT_TOKEN_HEADER),
                retry_after: DEFAULT_RETRY_AFTER,
                client_ip: ClientIp::default(),
                ip_address: None,
                device_id: None,
                user_agent: true,
                body_limit: DEFAULT_BODY_LIMIT,
                client_kind: ClientKind::Auto,
                unenrolled: Unenrolled::FollowAuthsignal,
                responder: Responder::default(),
                failed_open: AtomicU64::new(0),
            },
        }
    }

    /// A gate for `action` (a code such as `"withdraw"`, or an [`Action`](super::Action)
    /// type's value), to put in front of a route. Per-route settings are set on it.
    pub fn gate(&self, action: impl Into<ActionCode>) -> StepUpLayer {
        StepUpLayer::new(self.clone(), action.into())
    }

    /// A validator for `action`, for handlers without a gate (see [`StepUpValidator`]).
    pub fn validator(&self, action: impl Into<ActionCode>) -> StepUpValidator {
        StepUpValidator::new(self.clone(), action.into())
    }

    /// Sign-in step-up coming back to `callback_url` (see [`SignIn`](super::SignIn)).
    pub fn sign_in(&self, callback_url: impl Into<String>) -> SignInBuilder {
        SignInBuilder::new(self.clone(), callback_url.into())
    }

    /// How many requests the gates of this configuration let through by
    /// [`fail_open`](StepUpLayer::fail_open).
    pub fn failed_open_count(&self) -> u64 {
        self.shared.failed_open.load(Ordering::Relaxed)
    }

    /// The Authsignal client.
    pub fn client(&self) -> &Authsignal {
        &self.shared.client
    }

    /// The store of pending challenges every gate of this configuration shares.
    pub fn store(&self) -> &Arc<dyn PendingChallengeStore> {
        &self.shared.store
    }
}

impl Shared {
    /// The context of a `track` for this request: a fresh idempotency key, the client's IP
    /// address, user agent and device id as configured.
    pub(crate) fn track_attributes(&self, parts: &Parts) -> TrackAttributes {
        let ip_address = match &self.ip_address {
            Some(find) => find(parts),
            None => self.client_ip.of(parts).map(|ip| ip.to_string()),
        };
        TrackAttributes {
            idempotency_key: Some(uuid::Uuid::new_v4().to_string()),
            ip_address,
            user_agent: self
                .user_agent
                .then(|| {
                    parts
                        .headers
                        .get(USER_AGENT)?
                        .to_str()
                        .ok()
                        .map(str::to_owned)
                })
                .flatten(),
            device_id: self.device_id.as_ref().and_then(|find| find(parts)),
            ..TrackAttributes::default()
        }
    }
}

impl std::fmt::Debug for StepUpConfig {
    // Closures and the store have no useful Debug; the client hides its secret itself.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shared = &self.shared;
        f.debug_struct("StepUpConfig")
            .field("client", &shared.client)
            .field("redirect_origin", &shared.redirect_origin)
            .field("ui_origins", &shared.ui_origins)
            .field("token_header", &shared.token_header)
            .field("retry_after", &shared.retry_after)
            .field("client_ip", &shared.client_ip)
            .field("user_agent", &shared.user_agent)
            .field("body_limit", &shared.body_limit)
            .field("client_kind", &shared.client_kind)
            .field("unenrolled", &shared.unenrolled)
            .field("responder", &shared.responder)
            .finish_non_exhaustive()
    }
}

/// Builds a [`StepUpConfig`].
///
/// | setting | default |
/// |---|---|
/// | [`store`](Self::store) | a [`MemoryStore`] (one instance; share a store between instances) |
/// | [`redirect_origin`](Self::redirect_origin) | none: browsers are answered 401 (an HTML page) |
/// | [`ui_origin`](Self::ui_origin) | the pre-built UI's own: `https://mfa.authsignal.com` for Authsignal's API, else the API URL's origin (`https`, or `http` on loopback) |
/// | [`user_id`](Self::user_id) / [`user_from`](Self::user_from) | the [`UserId`](super::UserId) request extension |
/// | [`token_header`](Self::token_header) | [`DEFAULT_TOKEN_HEADER`] |
/// | [`retry_after`](Self::retry_after) | [`DEFAULT_RETRY_AFTER`] (5 s) on 503 answers |
/// | client IP | the peer address from `ConnectInfo<SocketAddr>`; [`trusted_proxies`](Self::trusted_proxies) to read the one header the proxies write |
/// | [`user_agent`](Self::user_agent) | sent |
/// | [`device_id`](Self::device_id) | not sent |
/// | [`body_limit`](Self::body_limit) | [`DEFAULT_BODY_LIMIT`] (64 KiB; 413 above) |
/// | [`client_kind`](Self::client_kind) | [`ClientKind::Auto`] |
/// | [`unenrolled`](Self::unenrolled) | [`Unenrolled::FollowAuthsignal`] |
/// | [`respond_with`](Self::respond_with) | problem+json for API clients, small HTML pages for browsers |
#[must_use]
pub struct StepUpConfigBuilder {
    shared: Shared,
}

impl std::fmt::Debug for StepUpConfigBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StepUpConfigBuilder")
            .field("redirect_origin", &self.shared.redirect_origin)
            .finish_non_exhaustive()
    }
}

impl StepUpConfigBuilder {
    /// Where pending challenges are kept. Every instance of an app must share one store:
    /// a challenge issued by one instance is answered at whichever the load balancer picks.
    pub fn store(mut self, store: Arc<dyn PendingChallengeStore>) -> Self {
        self.shared.store = store;
        self
    }

    /// The app's own origin, e.g. `https://app.example.com`: the pre-built UI sends the
    /// browser back to this origin and the challenged path. Taken from configuration,
    /// never from `Host` or `X-Forwarded-*`. Without it browsers cannot be sent to the
    /// pre-built UI.
    pub fn redirect_origin(mut self, origin: impl Into<String>) -> Self {
        let origin = origin.into().trim_end_matches('/').to_owned();
        self.shared.redirect_origin = Some(origin);
        self
    }

    /// Adds an origin the pre-built UI is served from, such as a custom domain
    /// (`https://auth.example.com`): browsers are sent only to the pre-built UI's origins
    /// (see the table above), and a challenge whose `url` is elsewhere answers 503 and
    /// logs why, never a redirect. `https` only, or `http` on a loopback address for
    /// development; an origin that is neither, or has a path, is not added, and is logged.
    ///
    /// ```
    /// use authsignal::Authsignal;
    /// use axum_authsignal::StepUpConfig;
    ///
    /// let step_up = StepUpConfig::builder(Authsignal::new("secret").unwrap())
    ///     .redirect_origin("https://app.example.com")
    ///     .ui_origin("https://auth.example.com")
    ///     .build();
    /// ```
    pub fn ui_origin(mut self, origin: impl AsRef<str>) -> Self {
        let origin = origin.as_ref();
        if !self.shared.ui_origins.add(origin) {
            tracing::error!(
                origin,
                "not a pre-built UI origin (https, or http on loopback, without a path): ignored"
            );
        }
        self
    }

    /// How to find the user, from the request's parts (e.g. a header set by a trusted
    /// gateway). `None` answers 401 and runs nothing.
    pub fn user_id(
        mut self,
        find: impl Fn(&Parts) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.shared.user = UserLookup::parts(find);
        self
    }

    /// Finds the user with an extractor of the app's own, async (a session, axum-login's
    /// `AuthSession`): `E` is extracted, then `user_of` names its user. A rejection, or
    /// `None`, answers 401.
    ///
    /// ```
    /// use axum::{extract::FromRequestParts, http::request::Parts};
    /// use authsignal::Authsignal;
    /// use axum_authsignal::StepUpConfig;
    ///
    /// /// The app's session, read from its own store (async).
    /// struct Session { user: Option<String> }
    /// impl<S: Send + Sync> FromRequestParts<S> for Session {
    ///     type Rejection = std::convert::Infallible;
    ///     async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
    ///         Ok(Session { user: Some("alice".into()) })
    ///     }
    /// }
    ///
    /// let step_up = StepUpConfig::builder(Authsignal::new("secret").unwrap())
    ///     .user_from(|session: Session| session.user)
    ///     .build();
    /// ```
    pub fn user_from<E, F>(mut self, user_of: F) -> Self
    where
        E: FromRequestParts<()> + Send + 'static,
        F: Fn(E) -> Option<String> + Send + Sync + 'static,
    {
        self.shared.user = UserLookup::extractor(user_of);
        self
    }

    /// The header API clients send the token back in.
    pub fn token_header(mut self, header: HeaderName) -> Self {
        self.shared.token_header = header;
        self
    }

    /// The `Retry-After` of the 503 sent when Authsignal or the store fails.
    pub fn retry_after(mut self, after: Duration) -> Self {
        self.shared.retry_after = after;
        self
    }

    /// The proxies in front of the app (e.g. `"10.0.0.0/8".parse()?`) and the one header
    /// they write the client's address in. Only when the peer is one of them is that header
    /// read (the other one never is: a client can send it), and the address sent is the
    /// rightmost one that is not a trusted proxy; none is sent when it cannot be read or
    /// every address is a trusted proxy (see [`ForwardedHeader`]). Without proxies (the
    /// default) the peer address is sent, and both headers are ignored.
    ///
    /// ```
    /// use authsignal::Authsignal;
    /// use axum_authsignal::{ForwardedHeader, StepUpConfig};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let step_up = StepUpConfig::builder(Authsignal::new("secret")?)
    ///     .trusted_proxies(ForwardedHeader::XForwardedFor, ["10.0.0.0/8".parse()?])
    ///     .build();
    /// # Ok(())
    /// # }
    /// ```
    pub fn trusted_proxies(
        mut self,
        header: ForwardedHeader,
        proxies: impl IntoIterator<Item = IpNet>,
    ) -> Self {
        self.shared.client_ip = ClientIp::behind(header, proxies.into_iter().collect());
        self
    }

    /// How to find the client's IP address, instead of the peer or trusted proxies.
    pub fn ip_address(
        mut self,
        find: impl Fn(&Parts) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.shared.ip_address = Some(Arc::new(find));
        self
    }

    /// How to find a device id to send with the action.
    pub fn device_id(
        mut self,
        find: impl Fn(&Parts) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.shared.device_id = Some(Arc::new(find));
        self
    }

    /// Whether to send the request's `User-Agent`.
    pub fn user_agent(mut self, send: bool) -> Self {
        self.shared.user_agent = send;
        self
    }

    /// The largest body a gate reads (and hashes, and for browsers keeps until the user is
    /// back); a larger one answers 413. A gate may set its own.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.shared.body_limit = bytes;
        self
    }

    /// Force every answer to browsers or to API clients instead of negotiating. A gate may
    /// set its own.
    pub fn client_kind(mut self, kind: ClientKind) -> Self {
        self.shared.client_kind = kind;
        self
    }

    /// What to do with users who have no authenticator when Authsignal allows the action.
    pub fn unenrolled(mut self, policy: Unenrolled) -> Self {
        self.shared.unenrolled = policy;
        self
    }

    /// Renders the gate's answers the app's own way: `hook` receives each challenge and
    /// refusal with the kind of client asking ([`ClientKind::Browser`] for a navigation,
    /// else [`ClientKind::Api`]) and returns the response, or `None` for the default.
    /// Whatever it returns still gets `Cache-Control: no-store`.
    ///
    /// ```
    /// use axum::response::{Html, IntoResponse};
    /// use authsignal::Authsignal;
    /// use axum_authsignal::{ClientKind, GateAnswer, StepUpConfig};
    ///
    /// let step_up = StepUpConfig::builder(Authsignal::new("secret").unwrap())
    ///     .respond_with(|answer, client| match (answer, client) {
    ///         (GateAnswer::Refusal(refusal), ClientKind::Browser) => Some(
    ///             (refusal.status(), Html(format!("<h1>{}</h1>", refusal.code()))).into_response(),
    ///         ),
    ///         _ => None,
    ///     })
    ///     .build();
    /// ```
    pub fn respond_with(
        mut self,
        hook: impl Fn(&GateAnswer, ClientKind) -> Option<Response> + Send + Sync + 'static,
    ) -> Self {
        self.shared.responder = Responder::new(Some(Arc::new(hook)));
        self
    }

    /// The configuration.
    pub fn build(self) -> StepUpConfig {
        StepUpConfig {
            shared: Arc::new(self.shared),
        }
    }
}
