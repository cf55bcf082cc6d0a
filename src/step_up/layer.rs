//! [`StepUpLayer`]: the gate's configuration, one action per route.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::ConnectInfo;
use bytes::Bytes;
use http::request::Parts;
use http::{HeaderName, Method, StatusCode};
use tower::Layer;

use super::custom::{self, CustomFn};
use super::negotiate::ClientKind;
use super::service::StepUpService;
use crate::client::Authsignal;
use crate::client::types::CustomData;
use crate::store::{MemoryStore, PendingChallengeStore};

/// The user id the app's own authentication layer puts into the request extensions; the
/// gate's default way of finding the user.
///
/// ```
/// use axum_authsignal::step_up::UserId;
/// # let mut request = http::Request::new(());
/// request.extensions_mut().insert(UserId("user-1".into()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserId(pub String);

/// The header API clients put the challenge token in, by default.
pub const DEFAULT_TOKEN_HEADER: &str = "x-authsignal-token";
/// The largest request body the gate reads, by default.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;
/// The `Retry-After` of a 503 when Authsignal fails, by default.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);
/// How long a challenge stays answerable: Authsignal's tokens last about 10 minutes.
pub const CHALLENGE_TTL: Duration = Duration::from_secs(600);

pub(crate) type PartsFn = Arc<dyn Fn(&Parts) -> Option<String> + Send + Sync>;

/// A Tower layer that puts one Authsignal action in front of a route.
///
/// Leg 1 (no token): the action is tracked; `ALLOW` runs the handler, `CHALLENGE_REQUIRED`
/// answers a browser navigation with 303 to the pre-built UI and anything else with 401
/// and a challenge token. Leg 2 (a token, in the header for API clients or as `?token=`
/// for a browser back from the UI): the token is validated server-side, bound to the user,
/// the action and the very request that was challenged, and good once. See the
/// [module docs](crate::step_up) for the whole flow.
///
/// | setting | default |
/// |---|---|
/// | [`user_id`](Self::user_id) | the [`UserId`] request extension |
/// | [`ip_address`](Self::ip_address) | the peer address from `ConnectInfo<SocketAddr>`, if the app serves with it |
/// | [`user_agent`](Self::user_agent) | sent |
/// | [`device_id`](Self::device_id) | not sent |
/// | [`custom`](Self::custom) / [`custom_from_body`](Self::custom_from_body) | nothing |
/// | [`redirect_origin`](Self::redirect_origin) | none: browsers get the 401 too |
/// | [`token_header`](Self::token_header) | [`DEFAULT_TOKEN_HEADER`] |
/// | [`body_limit`](Self::body_limit) | [`DEFAULT_BODY_LIMIT`] (64 KiB) |
/// | [`on_block`](Self::on_block) / [`on_review`](Self::on_review) | 403 / 403 |
/// | [`client_kind`](Self::client_kind) | [`ClientKind::Auto`] |
/// | [`store`](Self::store) | a [`MemoryStore`] per layer |
/// | [`fail_open`](Self::fail_open) | off: Authsignal failing means 503 |
/// | [`retry_after`](Self::retry_after) | 5 s on 503 answers |
/// | [`methods`](Self::methods) | every method is gated |
#[must_use]
#[derive(Clone)]
pub struct StepUpLayer {
    pub(crate) config: Arc<GateConfig>,
}

pub(crate) struct GateConfig {
    pub(crate) client: Authsignal,
    pub(crate) action: String,
    pub(crate) user_id: PartsFn,
    pub(crate) ip_address: PartsFn,
    pub(crate) device_id: Option<PartsFn>,
    pub(crate) user_agent: bool,
    pub(crate) custom: Option<CustomFn>,
    pub(crate) redirect_origin: Option<String>,
    pub(crate) token_header: HeaderName,
    pub(crate) body_limit: usize,
    pub(crate) on_block: StatusCode,
    pub(crate) on_review: StatusCode,
    pub(crate) client_kind: ClientKind,
    pub(crate) store: Arc<dyn PendingChallengeStore>,
    pub(crate) fail_open: bool,
    pub(crate) retry_after: Duration,
    pub(crate) failed_open: Arc<AtomicU64>,
    pub(crate) methods: Option<Vec<Method>>,
}

impl Clone for GateConfig {
    fn clone(&self) -> Self {
        Self {
            client: self.client.clone(),
            action: self.action.clone(),
            user_id: self.user_id.clone(),
            ip_address: self.ip_address.clone(),
            device_id: self.device_id.clone(),
            user_agent: self.user_agent,
            custom: self.custom.clone(),
            redirect_origin: self.redirect_origin.clone(),
            token_header: self.token_header.clone(),
            body_limit: self.body_limit,
            on_block: self.on_block,
            on_review: self.on_review,
            client_kind: self.client_kind,
            store: self.store.clone(),
            fail_open: self.fail_open,
            retry_after: self.retry_after,
            failed_open: self.failed_open.clone(),
            methods: self.methods.clone(),
        }
    }
}

impl std::fmt::Debug for StepUpLayer {
    // Closures and the store have no useful Debug; the client hides its secret itself.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let config = &self.config;
        f.debug_struct("StepUpLayer")
            .field("action", &config.action)
            .field("client", &config.client)
            .field("redirect_origin", &config.redirect_origin)
            .field("token_header", &config.token_header)
            .field("body_limit", &config.body_limit)
            .field("on_block", &config.on_block)
            .field("on_review", &config.on_review)
            .field("client_kind", &config.client_kind)
            .field("fail_open", &config.fail_open)
            .field("methods", &config.methods)
            .finish_non_exhaustive()
    }
}

impl StepUpLayer {
    /// A gate for `action` (an Authsignal action code such as `withdraw`), with the
    /// defaults in the table above.
    pub fn new(client: Authsignal, action: impl Into<String>) -> Self {
        Self {
            config: Arc::new(GateConfig {
                client,
                action: action.into(),
                user_id: Arc::new(|parts| {
                    parts.extensions.get::<UserId>().map(|user| user.0.clone())
                }),
                ip_address: Arc::new(|parts| {
                    parts
                        .extensions
                        .get::<ConnectInfo<SocketAddr>>()
                        .map(|info| info.0.ip().to_string())
                }),
                device_id: None,
                user_agent: true,
                custom: None,
                redirect_origin: None,
                token_header: HeaderName::from_static(DEFAULT_TOKEN_HEADER),
                body_limit: DEFAULT_BODY_LIMIT,
                on_block: StatusCode::FORBIDDEN,
                on_review: StatusCode::FORBIDDEN,
                client_kind: ClientKind::Auto,
                store: Arc::new(MemoryStore::default()),
                fail_open: false,
                retry_after: DEFAULT_RETRY_AFTER,
                failed_open: Arc::new(AtomicU64::new(0)),
                methods: None,
            }),
        }
    }

    fn edit(mut self, change: impl FnOnce(&mut GateConfig)) -> Self {
        change(Arc::make_mut(&mut self.config));
        self
    }

    /// How to find the user, from the request's parts (e.g. a session extension set by the
    /// app's auth layer). `None` answers 401 and runs nothing.
    pub fn user_id(self, find: impl Fn(&Parts) -> Option<String> + Send + Sync + 'static) -> Self {
        self.edit(|c| c.user_id = Arc::new(find))
    }

    /// How to find the client's IP address (e.g. from a trusted proxy's header).
    pub fn ip_address(
        self,
        find: impl Fn(&Parts) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.edit(|c| c.ip_address = Arc::new(find))
    }

    /// How to find a device id to send with the action.
    pub fn device_id(
        self,
        find: impl Fn(&Parts) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.edit(|c| c.device_id = Some(Arc::new(find)))
    }

    /// Whether to send the request's `User-Agent`.
    pub fn user_agent(self, send: bool) -> Self {
        self.edit(|c| c.user_agent = send)
    }

    /// Values for Authsignal's rules (`custom`), computed from the request and its body.
    pub fn custom(
        self,
        compute: impl Fn(&Parts, &Bytes) -> Option<CustomData> + Send + Sync + 'static,
    ) -> Self {
        self.edit(|c| c.custom = Some(Arc::new(compute)))
    }

    /// Sends these top-level fields of a JSON or form body as `custom` values (numbers
    /// in a form body are sent as numbers), e.g. `["amount"]` for a rule on the amount.
    pub fn custom_from_body<I, F>(self, fields: I) -> Self
    where
        I: IntoIterator<Item = F>,
        F: Into<String>,
    {
        let fields: Vec<String> = fields.into_iter().map(Into::into).collect();
        self.custom(move |parts, body| custom::from_body(parts, body, &fields))
    }

    /// The app's own origin, e.g. `https://app.example.com`: the pre-built UI sends the
    /// browser back to this origin and the challenged path. Taken from configuration,
    /// never from `Host` or `X-Forwarded-*`. Without it browsers get the 401 like API
    /// clients.
    pub fn redirect_origin(self, origin: impl Into<String>) -> Self {
        let origin = origin.into().trim_end_matches('/').to_owned();
        self.edit(|c| c.redirect_origin = Some(origin))
    }

    /// The header API clients send the token back in.
    pub fn token_header(self, header: HeaderName) -> Self {
        self.edit(|c| c.token_header = header)
    }

    /// The largest body the gate reads (and hashes, and for browsers keeps until the user
    /// is back); a larger one answers 413.
    pub fn body_limit(self, bytes: usize) -> Self {
        self.edit(|c| c.body_limit = bytes)
    }

    /// The status for `BLOCK` (403 by default).
    pub fn on_block(self, status: StatusCode) -> Self {
        self.edit(|c| c.on_block = status)
    }

    /// The status for `REVIEW_REQUIRED` (403 by default; e.g. 202 to tell the user the
    /// action waits for a review). The handler does not run either way.
    pub fn on_review(self, status: StatusCode) -> Self {
        self.edit(|c| c.on_review = status)
    }

    /// Force the answer to browsers or to API clients instead of negotiating.
    pub fn client_kind(self, kind: ClientKind) -> Self {
        self.edit(|c| c.client_kind = kind)
    }

    /// Where pending challenges are kept; share one store between instances of the app.
    pub fn store(self, store: Arc<dyn PendingChallengeStore>) -> Self {
        self.edit(|c| c.store = store)
    }

    /// Let this route through when Authsignal cannot be reached or answers with an error
    /// (never on `BLOCK`, a review, an unknown state or a failed validation). Only for
    /// low-risk actions: each time is logged at WARN and counted in
    /// [`failed_open_count`](Self::failed_open_count), and the handler sees it in
    /// [`StepUp::failed_open`](super::StepUp::failed_open).
    pub fn fail_open(self) -> Self {
        self.edit(|c| c.fail_open = true)
    }

    /// The `Retry-After` of the 503 sent when Authsignal fails.
    pub fn retry_after(self, after: Duration) -> Self {
        self.edit(|c| c.retry_after = after)
    }

    /// Gate only these methods; requests with other methods and no token go straight to
    /// the handler, untracked. For a route that shows its form on `GET` and acts on
    /// `POST`: `get(form).post(act).layer(layer.methods([Method::POST]))` tracks only the
    /// `POST`, and the `GET` that brings a browser back from the pre-built UI still reaches
    /// the gate (it carries the token).
    pub fn methods(self, methods: impl IntoIterator<Item = Method>) -> Self {
        let methods = methods.into_iter().collect();
        self.edit(|c| c.methods = Some(methods))
    }

    /// How many requests this layer has let through by [`fail_open`](Self::fail_open).
    pub fn failed_open_count(&self) -> u64 {
        self.config.failed_open.load(Ordering::Relaxed)
    }
}

impl<S> Layer<S> for StepUpLayer {
    type Service = StepUpService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        StepUpService::new(inner, self.config.clone())
    }
}
