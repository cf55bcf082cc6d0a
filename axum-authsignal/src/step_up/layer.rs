//! [`StepUpLayer`]: one action in front of one route, with that route's own settings.

use std::sync::Arc;

use bytes::Bytes;
use http::request::Parts;
use http::{Method, StatusCode};
use sha2::{Digest, Sha256};
use tower::Layer;

use super::action::ActionCode;
use super::answer::Refusal;
use super::config::{StepUpConfig, Unenrolled};
use super::custom::{self, CustomFn};
use super::negotiate::ClientKind;
use super::service::StepUpService;
use authsignal::types::CustomData;

/// A Tower layer that puts one Authsignal action in front of a route; made by
/// [`StepUpConfig::gate`], which holds what every route shares.
///
/// Leg 1 (no token): the action is tracked; `ALLOW` runs the handler, `CHALLENGE_REQUIRED`
/// answers a browser navigation with 303 to the pre-built UI and anything else with 401
/// and a challenge token. Leg 2 (a token, in the header for API clients or as `?token=`
/// for a browser back from the UI): the token is validated server-side, bound to the user,
/// the action and the very request that was challenged, and good once. See the
/// [crate docs](crate) for the whole flow.
///
/// | per-route setting | default |
/// |---|---|
/// | [`custom`](Self::custom) / [`custom_from_body`](Self::custom_from_body) | nothing sent |
/// | [`methods`](Self::methods) | every method is gated (`HEAD` with `GET`) |
/// | [`on_block`](Self::on_block) / [`on_review`](Self::on_review) | 403 / 403 |
/// | [`fail_open`](Self::fail_open) | off: an Authsignal outage is a 503 with `Retry-After` |
/// | [`body_limit`](Self::body_limit), [`client_kind`](Self::client_kind), [`unenrolled`](Self::unenrolled) | the configuration's |
///
/// ```
/// use axum::{Router, http::Method, routing::get};
/// use authsignal::Authsignal;
/// use axum_authsignal::{StepUp, StepUpConfig};
///
/// async fn form() -> &'static str { "the withdrawal form" }
/// async fn withdraw(proof: StepUp) -> String { format!("{} withdrew", proof.user_id()) }
///
/// let step_up = StepUpConfig::new(Authsignal::new("secret").unwrap());
/// let gate = step_up.gate("withdraw").custom_from_body(["amount"]).methods([Method::POST]);
/// let app: Router = Router::new().route("/withdraw", get(form).post(withdraw).layer(gate));
/// ```
#[must_use]
#[derive(Clone)]
pub struct StepUpLayer {
    pub(crate) route: Arc<Route>,
}

/// A gate's settings: the shared configuration and this route's own.
#[derive(Clone)]
pub(crate) struct Route {
    pub(crate) config: StepUpConfig,
    pub(crate) action: ActionCode,
    custom: Option<CustomFn>,
    methods: Option<Vec<Method>>,
    pub(crate) on_block: StatusCode,
    pub(crate) on_review: StatusCode,
    pub(crate) fail_open: bool,
    body_limit: Option<usize>,
    client_kind: Option<ClientKind>,
    unenrolled: Option<Unenrolled>,
}

impl Route {
    /// A route of `action` with every setting at the configuration's default.
    pub(crate) fn new(config: StepUpConfig, action: ActionCode) -> Self {
        Self {
            config,
            action,
            custom: None,
            methods: None,
            on_block: StatusCode::FORBIDDEN,
            on_review: StatusCode::FORBIDDEN,
            fail_open: false,
            body_limit: None,
            client_kind: None,
            unenrolled: None,
        }
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

    pub(crate) fn body_limit(&self) -> usize {
        self.body_limit.unwrap_or(self.config.shared.body_limit)
    }

    pub(crate) fn client_kind(&self) -> ClientKind {
        self.client_kind.unwrap_or(self.config.shared.client_kind)
    }

    pub(crate) fn unenrolled(&self) -> Unenrolled {
        self.unenrolled.unwrap_or(self.config.shared.unenrolled)
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

    /// A short tag naming this route's action and path, so that a gate acts only on the
    /// resume cookies of its own challenges.
    pub(crate) fn resume_tag(&self, path_and_query: &str) -> String {
        let digest = Sha256::new()
            .chain_update(self.action.as_str())
            .chain_update([0])
            .chain_update(path_and_query)
            .finalize();
        base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            &digest[..9],
        )
    }
}

impl std::fmt::Debug for StepUpLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let route = &self.route;
        f.debug_struct("StepUpLayer")
            .field("action", &route.action)
            .field("config", &route.config)
            .field("custom", &route.custom.is_some())
            .field("methods", &route.methods)
            .field("on_block", &route.on_block)
            .field("on_review", &route.on_review)
            .field("fail_open", &route.fail_open)
            .field("body_limit", &route.body_limit())
            .field("client_kind", &route.client_kind())
            .field("unenrolled", &route.unenrolled())
            .finish()
    }
}

impl StepUpLayer {
    pub(crate) fn new(config: StepUpConfig, action: ActionCode) -> Self {
        Self {
            route: Arc::new(Route::new(config, action)),
        }
    }

    fn edit(mut self, change: impl FnOnce(&mut Route)) -> Self {
        change(Arc::make_mut(&mut self.route));
        self
    }

    /// The action this gate tracks.
    pub fn action(&self) -> &str {
        self.route.action.as_str()
    }

    /// Values for Authsignal's rules (`custom`), computed from the request and its body.
    /// The closure must read the body as the handler does (see
    /// [`custom_from_body`](Self::custom_from_body), which does). After a challenge, the
    /// gate calls it again on the request the token is bound to, for
    /// [`StepUp::custom`](super::StepUp::custom): it should read only the method, the path
    /// and query, the `Content-Type` and the body, which the binding holds.
    pub fn custom(
        self,
        compute: impl Fn(&Parts, &Bytes) -> Option<CustomData> + Send + Sync + 'static,
    ) -> Self {
        self.edit(|route| {
            route.custom = Some(Arc::new(move |parts, body| Ok(compute(parts, body))))
        })
    }

    /// Sends these top-level fields of the body as `custom` values, read by the rules of
    /// axum's `Json` (`application/json`, `application/*+json`) and `Form`
    /// (`application/x-www-form-urlencoded`; the query string for `GET`). Text that reads
    /// as a number once trimmed of whitespace, a form value or a JSON string (`+5000` in a
    /// form, `" 5000"` in JSON), is sent as that number; a non-finite one (`inf`, `NaN`)
    /// is refused with 400. A body that could be read two ways (another media type, a
    /// `Content-Encoding`, a key or field given twice) is refused with a 4xx before
    /// anything is sent to Authsignal. The handler gets the values sent from
    /// [`StepUp::custom`](super::StepUp::custom) and should book those.
    pub fn custom_from_body<I, F>(self, fields: I) -> Self
    where
        I: IntoIterator<Item = F>,
        F: Into<String>,
    {
        let fields: Vec<String> = fields.into_iter().map(Into::into).collect();
        self.edit(|route| {
            route.custom = Some(Arc::new(move |parts, body| {
                custom::from_body(parts, body, &fields)
            }))
        })
    }

    /// Gate only these methods (`HEAD` goes with `GET`); requests with other methods and
    /// no token go straight to the handler, untracked. For a route that shows its form on
    /// `GET` and acts on `POST`: `get(form).post(act).layer(gate.methods([Method::POST]))`
    /// tracks only the `POST`, and the `GET` that brings a browser back from the pre-built
    /// UI still reaches the gate (it carries the token).
    pub fn methods(self, methods: impl IntoIterator<Item = Method>) -> Self {
        let methods = methods.into_iter().collect();
        self.edit(|route| route.methods = Some(methods))
    }

    /// The status for `BLOCK` (403 by default).
    pub fn on_block(self, status: StatusCode) -> Self {
        self.edit(|route| route.on_block = status)
    }

    /// The status for `REVIEW_REQUIRED` (403 by default; e.g. 202 to tell the user the
    /// action waits for a review). The handler does not run either way.
    pub fn on_review(self, status: StatusCode) -> Self {
        self.edit(|route| route.on_review = status)
    }

    /// Let this route through when Authsignal is out (a timeout, no connection, a 5xx or a
    /// 429), and only then: never on a 4xx (a revoked or wrong-region key, a bad request),
    /// an answer that cannot be read, `BLOCK`, a review, an unknown state or a failed
    /// validation. Only for low-risk actions: each time is logged at WARN and counted in
    /// [`StepUpConfig::failed_open_count`], and the handler sees it in
    /// [`StepUp::failed_open`](super::StepUp::failed_open).
    pub fn fail_open(self) -> Self {
        self.edit(|route| route.fail_open = true)
    }

    /// This route's body limit, instead of the configuration's.
    pub fn body_limit(self, bytes: usize) -> Self {
        self.edit(|route| route.body_limit = Some(bytes))
    }

    /// Force this route's answers to browsers or to API clients.
    pub fn client_kind(self, kind: ClientKind) -> Self {
        self.edit(|route| route.client_kind = Some(kind))
    }

    /// This route's policy for users with no authenticator.
    pub fn unenrolled(self, policy: Unenrolled) -> Self {
        self.edit(|route| route.unenrolled = Some(policy))
    }
}

impl<S> Layer<S> for StepUpLayer {
    type Service = StepUpService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        StepUpService::new(inner, self.route.clone())
    }
}
