//! [`StepUpLayer`]: one action in front of one route, with that route's own settings.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::request::Parts;
use http::{Method, StatusCode};
use tower::Layer;

use super::custom;
use super::negotiate::ClientKind;
use super::route::Route;
use super::service::StepUpService;
use super::settings::{DEFAULT_REVIEW_HOLD, RouteSettings, Unenrolled};
use authsignal::types::CustomData;

/// A Tower layer that puts one Authsignal action in front of a route; made by
/// [`StepUpConfig::gate`](super::StepUpConfig::gate), which holds what every route shares.
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
/// | [`hold_reviews`](Self::hold_reviews) / [`hold_reviews_for`](Self::hold_reviews_for) | off: a review is refused as `on_review` says; held, for [`DEFAULT_REVIEW_HOLD`] (24 hours) |
/// | [`fail_open`](Self::fail_open) | off: an Authsignal outage is a 503 with `Retry-After` |
/// | [`body_limit`](Self::body_limit), [`client_kind`](Self::client_kind), [`unenrolled`](Self::unenrolled) | the configuration's |
///
/// ```
/// use axum::{Router, http::Method, routing::get};
/// use axum_authsignal::Authsignal;
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
    settings: Arc<RouteSettings>,
}

impl std::fmt::Debug for StepUpLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let settings = &self.settings;
        f.debug_struct("StepUpLayer")
            .field("action", settings.action())
            .field("config", settings.config())
            .field("custom", &settings.sends_custom())
            .field("methods", &settings.methods())
            .field("on_block", &settings.on_block())
            .field("on_review", &settings.on_review())
            .field("review_hold", &settings.review_hold())
            .field("fail_open", &settings.fail_open())
            .field("body_limit", &settings.body_limit())
            .field("client_kind", &settings.client_kind())
            .field("unenrolled", &settings.unenrolled())
            .finish()
    }
}

impl StepUpLayer {
    pub(crate) fn new(settings: RouteSettings) -> Self {
        Self {
            settings: Arc::new(settings),
        }
    }

    /// The layer with `change` made to its route's settings (a copy of them if another
    /// layer shares them).
    fn edit(mut self, change: impl FnOnce(&mut RouteSettings)) -> Self {
        change(Arc::make_mut(&mut self.settings));
        self
    }

    /// The action this gate tracks.
    pub fn action(&self) -> &str {
        self.settings.action().as_str()
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
        self.edit(|route| route.set_custom(Arc::new(move |parts, body| Ok(compute(parts, body)))))
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
            route.set_custom(Arc::new(move |parts, body| {
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
        self.edit(|route| route.set_methods(methods))
    }

    /// The status for `BLOCK` (403 by default).
    pub fn on_block(self, status: StatusCode) -> Self {
        self.edit(|route| route.set_on_block(status))
    }

    /// The status for `REVIEW_REQUIRED` (403 by default; e.g. 202 to tell the user the
    /// action waits for a review). The handler does not run either way.
    pub fn on_review(self, status: StatusCode) -> Self {
        self.edit(|route| route.set_on_review(status))
    }

    /// Hold a request Authsignal sends to a manual review (`REVIEW_REQUIRED`) and run it
    /// once when a reviewer approves that very action, for up to [`DEFAULT_REVIEW_HOLD`]
    /// (24 hours; see [`hold_reviews_for`](Self::hold_reviews_for)). Off by default: a
    /// review is refused as [`on_review`](Self::on_review) says, and forgotten.
    ///
    /// The held request is kept as a challenged one is, bound by its method, path and raw
    /// query, media type, content encoding and body, within the user's bound and the
    /// store's ([`RecordKind::Review`](crate::store::RecordKind::Review)). The answer is
    /// `202 Accepted` with `Retry-After` ([`REVIEW_RETRY_AFTER`](super::REVIEW_RETRY_AFTER)):
    ///
    /// - an API client gets a problem document with the `action`, the `idempotencyKey`
    ///   and the `reviewHeader` ([`REVIEW_HEADER`](super::REVIEW_HEADER)), and sends the
    ///   same request again with the idempotency key in that header. The gate asks
    ///   `getAction` about it: still in review, `202` again; approved
    ///   (`REVIEW_SUCCEEDED`), the handler runs once, with a proof that says so
    ///   ([`StepUp::was_reviewed`](super::StepUp::was_reviewed)); denied, unknown or past
    ///   the hold, one identical `403`. Another request with that id finds nothing held
    ///   (`403`), and the held one stays.
    /// - a browser gets a waiting page, no-store, that checks back by itself (a refresh, no
    ///   script); once approved, the held request resumes as a completed challenge
    ///   resumes (a form is posted again by the gate's page), and a denial shows the
    ///   refusal page. It needs a redirect origin, and a request a browser can be made to
    ///   send again (a `GET` or a form `POST`). Until the review ends, a `GET` of that
    ///   route from that browser shows the waiting page (its cookie names the held
    ///   request).
    ///
    /// [`fail_open`](Self::fail_open) never applies: when `getAction` fails (a timeout, a
    /// 5xx, a 429), the answer is `503` with `Retry-After` and the request stays held.
    ///
    /// ```
    /// use axum::{Router, http::Method, routing::post};
    /// use axum_authsignal::{Authsignal, StepUp, StepUpConfig};
    ///
    /// async fn pay(proof: StepUp) -> String {
    ///     let how = if proof.was_reviewed() { "after a review" } else { "at once" };
    ///     format!("paid {how}")
    /// }
    ///
    /// let step_up = StepUpConfig::new(Authsignal::new("secret").unwrap());
    /// let gate = step_up.gate("payment").custom_from_body(["amount"]).hold_reviews();
    /// let app: Router = Router::new().route("/payments", post(pay).layer(gate));
    /// ```
    pub fn hold_reviews(self) -> Self {
        self.hold_reviews_for(DEFAULT_REVIEW_HOLD)
    }

    /// [`hold_reviews`](Self::hold_reviews), for `hold` instead of 24 hours (at least a
    /// second): past it a held request is refused, whatever the review decides.
    pub fn hold_reviews_for(self, hold: Duration) -> Self {
        let hold = hold.max(Duration::from_secs(1));
        self.edit(|route| route.set_review_hold(hold))
    }

    /// Let this route through when Authsignal is out (a timeout, no connection, a 5xx or a
    /// 429), and only then: never on a 4xx (a revoked or wrong-region key, a bad request),
    /// an answer that cannot be read, `BLOCK`, a review, an unknown state or a failed
    /// validation. Only for low-risk actions: each time is logged at WARN and counted in
    /// [`StepUpConfig::failed_open_count`](super::StepUpConfig::failed_open_count), and the
    /// handler sees it in
    /// [`StepUp::failed_open`](super::StepUp::failed_open).
    pub fn fail_open(self) -> Self {
        self.edit(RouteSettings::set_fail_open)
    }

    /// This route's body limit, instead of the configuration's.
    pub fn body_limit(self, bytes: usize) -> Self {
        self.edit(|route| route.set_body_limit(bytes))
    }

    /// Force this route's answers to browsers or to API clients.
    pub fn client_kind(self, kind: ClientKind) -> Self {
        self.edit(|route| route.set_client_kind(kind))
    }

    /// This route's policy for users with no authenticator.
    pub fn unenrolled(self, policy: Unenrolled) -> Self {
        self.edit(|route| route.set_unenrolled(policy))
    }
}

impl<S> Layer<S> for StepUpLayer {
    type Service = StepUpService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        StepUpService::new(inner, Route::new(self.settings.clone()))
    }
}
