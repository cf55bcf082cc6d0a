//! The gate's settings, in one place: what a [`StepUpConfigBuilder`] sets for every gate,
//! validator and sign-in of an app ([`ConfigSettings`]), what a gate or a validator sets
//! for its own route ([`RouteSettings`]), and what a sign-in sets for itself
//! ([`SignInSettings`]); with the defaults and the challenge's lifetime.
//!
//! Data only: the fields are private, set by the builders through the setters here and
//! read by the gate through the accessors. Nothing here acts on a request except to read
//! a setting (a route's `custom` function, which methods it gates); the modules that act
//! import this one, never the other way round.
//!
//! [`StepUpConfigBuilder`]: super::StepUpConfigBuilder

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::response::Response;
use bytes::Bytes;
use http::request::Parts;
use http::{HeaderName, Method, StatusCode};

use super::action::ActionCode;
use super::answer::{GateAnswer, Refusal};
use super::client_ip::ClientIp;
use super::negotiate::ClientKind;
use super::ui_origins::UiOrigins;
use super::user::UserLookup;
use crate::store::{MemoryStore, PendingChallengeStore};
use authsignal::Authsignal;
use authsignal::types::CustomData;

/// The header API clients put the challenge token in, by default.
pub const DEFAULT_TOKEN_HEADER: &str = "x-authsignal-token";
/// The largest request body the gate reads, by default.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;
/// The `Retry-After` of a 503 when Authsignal fails, by default.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);
/// How long a challenge stays answerable: Authsignal's tokens last about 10 minutes.
pub const CHALLENGE_TTL: Duration = Duration::from_secs(600);
/// How long a route that holds reviews ([`StepUpLayer::hold_reviews`]) keeps a request
/// waiting for its reviewer, by default: a working day and a night, so that a review queue
/// worked in office hours decides it. Past it the request is refused, whatever the review.
///
/// [`StepUpLayer::hold_reviews`]: super::StepUpLayer::hold_reviews
pub const DEFAULT_REVIEW_HOLD: Duration = Duration::from_secs(24 * 60 * 60);
/// The header an API client sends a held request again with, holding the idempotency key
/// of the action in review.
pub const REVIEW_HEADER: &str = "x-authsignal-review";
/// How long a client waits before it asks again about a held request: the `Retry-After`
/// of the `202`, and the refresh of a browser's waiting page. A person reviews; a
/// minute's wait is nothing beside that, and keeps `getAction` calls few.
pub const REVIEW_RETRY_AFTER: Duration = Duration::from_secs(30);

/// Finds a value (an IP address, a device id) in a request's parts.
pub(crate) type PartsFn = Arc<dyn Fn(&Parts) -> Option<String> + Send + Sync>;

/// The app's own answers: `None` leaves an answer to the defaults.
pub(crate) type RespondFn = Arc<dyn Fn(&GateAnswer, ClientKind) -> Option<Response> + Send + Sync>;

/// Computes `custom` from the request: `Ok(None)` sends nothing, `Err` refuses the request.
pub(crate) type CustomFn =
    Arc<dyn Fn(&Parts, &Bytes) -> Result<Option<CustomData>, Refusal> + Send + Sync>;

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

/// What every gate, validator and sign-in of one configuration shares: its settings, and
/// the one count they keep together (requests let through by `fail_open`).
pub(crate) struct ConfigSettings {
    client: Authsignal,
    store: Arc<dyn PendingChallengeStore>,
    redirect_origin: Option<String>,
    ui_origins: UiOrigins,
    user: UserLookup,
    token_header: HeaderName,
    retry_after: Duration,
    client_ip: ClientIp,
    ip_address: Option<PartsFn>,
    device_id: Option<PartsFn>,
    user_agent: bool,
    body_limit: usize,
    client_kind: ClientKind,
    unenrolled: Unenrolled,
    respond_with: Option<RespondFn>,
    failed_open: AtomicU64,
}

impl ConfigSettings {
    /// Every setting at its default (the table of [`StepUpConfigBuilder`]).
    ///
    /// [`StepUpConfigBuilder`]: super::StepUpConfigBuilder
    pub(crate) fn new(client: Authsignal) -> Self {
        let ui_origins = UiOrigins::for_api(client.base_url());
        Self {
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
            respond_with: None,
            failed_open: AtomicU64::new(0),
        }
    }

    pub(crate) fn client(&self) -> &Authsignal {
        &self.client
    }

    pub(crate) fn store(&self) -> &Arc<dyn PendingChallengeStore> {
        &self.store
    }

    /// The app's own origin, without a trailing `/`.
    pub(crate) fn redirect_origin(&self) -> Option<&str> {
        self.redirect_origin.as_deref()
    }

    pub(crate) fn ui_origins(&self) -> &UiOrigins {
        &self.ui_origins
    }

    pub(crate) fn user(&self) -> &UserLookup {
        &self.user
    }

    pub(crate) fn token_header(&self) -> &HeaderName {
        &self.token_header
    }

    pub(crate) fn retry_after(&self) -> Duration {
        self.retry_after
    }

    pub(crate) fn client_ip(&self) -> &ClientIp {
        &self.client_ip
    }

    pub(crate) fn ip_address(&self) -> Option<&PartsFn> {
        self.ip_address.as_ref()
    }

    pub(crate) fn device_id(&self) -> Option<&PartsFn> {
        self.device_id.as_ref()
    }

    pub(crate) fn user_agent(&self) -> bool {
        self.user_agent
    }

    pub(crate) fn respond_with(&self) -> Option<&RespondFn> {
        self.respond_with.as_ref()
    }

    /// How many requests the gates of this configuration let through by `fail_open`.
    pub(crate) fn failed_open_count(&self) -> u64 {
        self.failed_open.load(Ordering::Relaxed)
    }

    /// Counts one request let through by `fail_open`.
    pub(crate) fn count_failed_open(&self) {
        self.failed_open.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn set_store(&mut self, store: Arc<dyn PendingChallengeStore>) {
        self.store = store;
    }

    /// Sets the app's origin, a trailing `/` dropped.
    pub(crate) fn set_redirect_origin(&mut self, origin: &str) {
        self.redirect_origin = Some(origin.trim_end_matches('/').to_owned());
    }

    /// Adds a pre-built UI origin; `false` if `origin` cannot be one (see
    /// [`UiOrigins::add`]).
    pub(crate) fn add_ui_origin(&mut self, origin: &str) -> bool {
        self.ui_origins.add(origin)
    }

    pub(crate) fn set_user(&mut self, user: UserLookup) {
        self.user = user;
    }

    pub(crate) fn set_token_header(&mut self, header: HeaderName) {
        self.token_header = header;
    }

    pub(crate) fn set_retry_after(&mut self, after: Duration) {
        self.retry_after = after;
    }

    pub(crate) fn set_client_ip(&mut self, client_ip: ClientIp) {
        self.client_ip = client_ip;
    }

    pub(crate) fn set_ip_address(&mut self, find: PartsFn) {
        self.ip_address = Some(find);
    }

    pub(crate) fn set_device_id(&mut self, find: PartsFn) {
        self.device_id = Some(find);
    }

    pub(crate) fn set_user_agent(&mut self, send: bool) {
        self.user_agent = send;
    }

    pub(crate) fn set_body_limit(&mut self, bytes: usize) {
        self.body_limit = bytes;
    }

    pub(crate) fn set_client_kind(&mut self, kind: ClientKind) {
        self.client_kind = kind;
    }

    pub(crate) fn set_unenrolled(&mut self, policy: Unenrolled) {
        self.unenrolled = policy;
    }

    pub(crate) fn set_respond_with(&mut self, hook: RespondFn) {
        self.respond_with = Some(hook);
    }
}

impl std::fmt::Debug for ConfigSettings {
    // Shown as the configuration it is. Closures and the store have no useful Debug; the
    // client hides its secret itself.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StepUpConfig")
            .field("client", &self.client)
            .field("redirect_origin", &self.redirect_origin)
            .field("ui_origins", &self.ui_origins)
            .field("token_header", &self.token_header)
            .field("retry_after", &self.retry_after)
            .field("client_ip", &self.client_ip)
            .field("user_agent", &self.user_agent)
            .field("body_limit", &self.body_limit)
            .field("client_kind", &self.client_kind)
            .field("unenrolled", &self.unenrolled)
            .field("respond_with", &self.respond_with.is_some())
            .finish_non_exhaustive()
    }
}

/// One route's settings (a gate's, or a validator's): its action and its own choices, each
/// falling back to the configuration's.
#[derive(Clone)]
pub(crate) struct RouteSettings {
    config: Arc<ConfigSettings>,
    action: ActionCode,
    custom: Option<CustomFn>,
    methods: Option<Vec<Method>>,
    on_block: StatusCode,
    on_review: StatusCode,
    review_hold: Option<Duration>,
    fail_open: bool,
    body_limit: Option<usize>,
    client_kind: Option<ClientKind>,
    unenrolled: Option<Unenrolled>,
}

impl RouteSettings {
    /// A route of `action` with every setting at the configuration's default.
    pub(crate) fn new(config: Arc<ConfigSettings>, action: ActionCode) -> Self {
        Self {
            config,
            action,
            custom: None,
            methods: None,
            on_block: StatusCode::FORBIDDEN,
            on_review: StatusCode::FORBIDDEN,
            review_hold: None,
            fail_open: false,
            body_limit: None,
            client_kind: None,
            unenrolled: None,
        }
    }

    /// The configuration's settings, which every route of it shares.
    pub(crate) fn config(&self) -> &ConfigSettings {
        &self.config
    }

    pub(crate) fn action(&self) -> &ActionCode {
        &self.action
    }

    /// Whether requests of `method` are tracked. `HEAD` is whenever `GET` is: axum runs
    /// the `GET` handler for it.
    pub(crate) fn gates(&self, method: &Method) -> bool {
        let method = if method == Method::HEAD {
            &Method::GET
        } else {
            method
        };
        self.methods
            .as_ref()
            .is_none_or(|methods| methods.contains(method))
    }

    /// The methods gated, or `None` for every method.
    pub(crate) fn methods(&self) -> Option<&[Method]> {
        self.methods.as_deref()
    }

    pub(crate) fn on_block(&self) -> StatusCode {
        self.on_block
    }

    pub(crate) fn on_review(&self) -> StatusCode {
        self.on_review
    }

    /// How long a request sent to a review is held, if the route holds them.
    pub(crate) fn review_hold(&self) -> Option<Duration> {
        self.review_hold
    }

    pub(crate) fn fail_open(&self) -> bool {
        self.fail_open
    }

    pub(crate) fn body_limit(&self) -> usize {
        self.body_limit.unwrap_or(self.config.body_limit)
    }

    pub(crate) fn client_kind(&self) -> ClientKind {
        self.client_kind.unwrap_or(self.config.client_kind)
    }

    pub(crate) fn unenrolled(&self) -> Unenrolled {
        self.unenrolled.unwrap_or(self.config.unenrolled)
    }

    /// Whether the route sends `custom` values.
    pub(crate) fn sends_custom(&self) -> bool {
        self.custom.is_some()
    }

    /// The `custom` values for this request, or the refusal of a body they cannot be
    /// read from.
    pub(crate) fn custom(
        &self,
        parts: &Parts,
        body: &Bytes,
    ) -> Result<Option<CustomData>, Refusal> {
        match &self.custom {
            Some(compute) => compute(parts, body),
            None => Ok(None),
        }
    }

    pub(crate) fn set_custom(&mut self, compute: CustomFn) {
        self.custom = Some(compute);
    }

    pub(crate) fn set_methods(&mut self, methods: Vec<Method>) {
        self.methods = Some(methods);
    }

    pub(crate) fn set_on_block(&mut self, status: StatusCode) {
        self.on_block = status;
    }

    pub(crate) fn set_on_review(&mut self, status: StatusCode) {
        self.on_review = status;
    }

    pub(crate) fn set_review_hold(&mut self, hold: Duration) {
        self.review_hold = Some(hold);
    }

    pub(crate) fn set_fail_open(&mut self) {
        self.fail_open = true;
    }

    pub(crate) fn set_body_limit(&mut self, bytes: usize) {
        self.body_limit = Some(bytes);
    }

    pub(crate) fn set_client_kind(&mut self, kind: ClientKind) {
        self.client_kind = Some(kind);
    }

    pub(crate) fn set_unenrolled(&mut self, policy: Unenrolled) {
        self.unenrolled = Some(policy);
    }
}

/// A sign-in's own settings, beside its route's: where the pre-built UI sends the browser
/// back, and the key of the cookie that binds the challenge to that browser.
pub(crate) struct SignInSettings {
    callback_url: String,
    cookie_key: Vec<u8>,
}

impl SignInSettings {
    /// `cookie_key` is already checked to be long enough.
    pub(crate) fn new(callback_url: String, cookie_key: Vec<u8>) -> Self {
        Self {
            callback_url,
            cookie_key,
        }
    }

    pub(crate) fn callback_url(&self) -> &str {
        &self.callback_url
    }

    pub(crate) fn cookie_key(&self) -> &[u8] {
        &self.cookie_key
    }
}

impl std::fmt::Debug for SignInSettings {
    // The cookie key is a secret: never shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInSettings")
            .field("callback_url", &self.callback_url)
            .finish_non_exhaustive()
    }
}
