//! [`StepUpConfig`]: what every gate, validator and sign-in of an app shares, set once.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::response::Response;
use http::HeaderName;
use http::request::Parts;
use ipnet::IpNet;

use super::action::ActionCode;
use super::answer::GateAnswer;
use super::client_ip::{ClientIp, ForwardedHeader};
use super::layer::StepUpLayer;
use super::negotiate::ClientKind;
use super::resume::{self, ClearResumeCookies};
use super::settings::{ConfigSettings, RouteSettings, Unenrolled};
use super::signin::SignInBuilder;
use super::user::UserLookup;
use super::validator::StepUpValidator;
use crate::store::PendingChallengeStore;
use authsignal::Authsignal;

/// The configuration every gate, validator and sign-in of an app shares: the client, the
/// store of pending challenges, the redirect origin, the user lookup and the failure
/// policy. Set it once; make each route's gate from it with [`gate`](Self::gate).
///
/// It is cheap to clone (one `Arc`), and every gate made from one configuration shares
/// its store and its counters.
///
/// ```
/// use axum::{Router, http::Method, routing::post};
/// use axum_authsignal::Authsignal;
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
    settings: Arc<ConfigSettings>,
}

impl StepUpConfig {
    /// A configuration with every default (see [`StepUpConfigBuilder`]).
    pub fn new(client: Authsignal) -> Self {
        Self::builder(client).build()
    }

    /// A builder, starting from the defaults.
    pub fn builder(client: Authsignal) -> StepUpConfigBuilder {
        StepUpConfigBuilder {
            settings: ConfigSettings::new(client),
        }
    }

    /// A gate for `action` (a code such as `"withdraw"`, or an [`Action`](super::Action)
    /// type's value), to put in front of a route. Per-route settings are set on it.
    pub fn gate(&self, action: impl Into<ActionCode>) -> StepUpLayer {
        StepUpLayer::new(self.route(action.into()))
    }

    /// A validator for `action`, for handlers without a gate (see [`StepUpValidator`]).
    pub fn validator(&self, action: impl Into<ActionCode>) -> StepUpValidator {
        StepUpValidator::new(self.route(action.into()))
    }

    /// Sign-in step-up coming back to `callback_url` (see [`SignIn`](super::SignIn)).
    pub fn sign_in(&self, callback_url: impl Into<String>) -> SignInBuilder {
        SignInBuilder::new(self.settings.clone(), callback_url.into())
    }

    /// How many requests the gates of this configuration let through by
    /// [`fail_open`](StepUpLayer::fail_open).
    pub fn failed_open_count(&self) -> u64 {
        self.settings.failed_open_count()
    }

    /// The Authsignal client.
    pub fn client(&self) -> &Authsignal {
        self.settings.client()
    }

    /// The store of pending challenges every gate of this configuration shares.
    pub fn store(&self) -> &Arc<dyn PendingChallengeStore> {
        self.settings.store()
    }

    /// `Set-Cookie`s that remove the resume cookie, for an app's sign-out answer: a
    /// challenge completed before signing out is then never resumed after it, even if the
    /// same user signs in again in that browser.
    pub fn clear_resume_cookies(&self) -> ClearResumeCookies {
        resume::clear_cookies(self.settings.redirect_origin().unwrap_or(""))
    }

    /// A route of `action`, every setting at this configuration's default.
    fn route(&self, action: ActionCode) -> RouteSettings {
        RouteSettings::new(self.settings.clone(), action)
    }
}

impl std::fmt::Debug for StepUpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&*self.settings, f)
    }
}

/// Builds a [`StepUpConfig`].
///
/// | setting | default |
/// |---|---|
/// | [`store`](Self::store) | a [`MemoryStore`](crate::store::MemoryStore) (one instance; share a store between instances) |
/// | [`redirect_origin`](Self::redirect_origin) | none: browsers are answered 401 (an HTML page) |
/// | [`ui_origin`](Self::ui_origin) | the pre-built UI's own: `https://mfa.authsignal.com` for Authsignal's API, else the API URL's origin (`https`, or `http` on loopback) |
/// | [`user_id`](Self::user_id) / [`user_from`](Self::user_from) | the [`UserId`](super::UserId) request extension |
/// | [`token_header`](Self::token_header) | [`DEFAULT_TOKEN_HEADER`](super::DEFAULT_TOKEN_HEADER) |
/// | [`retry_after`](Self::retry_after) | [`DEFAULT_RETRY_AFTER`](super::DEFAULT_RETRY_AFTER) (5 s) on 503 answers |
/// | client IP | the peer address from `ConnectInfo<SocketAddr>`; [`trusted_proxies`](Self::trusted_proxies) to read the one header the proxies write |
/// | [`user_agent`](Self::user_agent) | sent |
/// | [`device_id`](Self::device_id) | not sent |
/// | [`body_limit`](Self::body_limit) | [`DEFAULT_BODY_LIMIT`](super::DEFAULT_BODY_LIMIT) (64 KiB; 413 above) |
/// | [`client_kind`](Self::client_kind) | [`ClientKind::Auto`] |
/// | [`unenrolled`](Self::unenrolled) | [`Unenrolled::FollowAuthsignal`] |
/// | [`respond_with`](Self::respond_with) | problem+json for API clients, small HTML pages for browsers |
#[must_use]
pub struct StepUpConfigBuilder {
    settings: ConfigSettings,
}

impl std::fmt::Debug for StepUpConfigBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StepUpConfigBuilder")
            .field("redirect_origin", &self.settings.redirect_origin())
            .finish_non_exhaustive()
    }
}

impl StepUpConfigBuilder {
    /// Where pending challenges are kept. Every instance of an app must share one store:
    /// a challenge issued by one instance is answered at whichever the load balancer picks.
    pub fn store(mut self, store: Arc<dyn PendingChallengeStore>) -> Self {
        self.settings.set_store(store);
        self
    }

    /// The app's own origin, e.g. `https://app.example.com`: the pre-built UI sends the
    /// browser back to this origin and the challenged path. Taken from configuration,
    /// never from `Host` or `X-Forwarded-*`. Without it browsers cannot be sent to the
    /// pre-built UI.
    pub fn redirect_origin(mut self, origin: impl Into<String>) -> Self {
        self.settings.set_redirect_origin(&origin.into());
        self
    }

    /// Adds an origin the pre-built UI is served from, such as a custom domain
    /// (`https://auth.example.com`): browsers are sent only to the pre-built UI's origins
    /// (see the table above), and a challenge whose `url` is elsewhere answers 503 and
    /// logs why, never a redirect. `https` only, or `http` on a loopback address for
    /// development; an origin that is neither, or has a path, is not added, and is logged.
    ///
    /// ```
    /// use axum_authsignal::Authsignal;
    /// use axum_authsignal::StepUpConfig;
    ///
    /// let step_up = StepUpConfig::builder(Authsignal::new("secret").unwrap())
    ///     .redirect_origin("https://app.example.com")
    ///     .ui_origin("https://auth.example.com")
    ///     .build();
    /// ```
    pub fn ui_origin(mut self, origin: impl AsRef<str>) -> Self {
        let origin = origin.as_ref();
        if !self.settings.add_ui_origin(origin) {
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
        self.settings.set_user(UserLookup::parts(find));
        self
    }

    /// Finds the user with an extractor of the app's own, async (a session, axum-login's
    /// `AuthSession`): `E` is extracted, then `user_of` names its user. A rejection, or
    /// `None`, answers 401.
    ///
    /// ```
    /// use axum::{extract::FromRequestParts, http::request::Parts};
    /// use axum_authsignal::Authsignal;
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
        self.settings.set_user(UserLookup::extractor(user_of));
        self
    }

    /// The header API clients send the token back in.
    pub fn token_header(mut self, header: HeaderName) -> Self {
        self.settings.set_token_header(header);
        self
    }

    /// The `Retry-After` of the 503 sent when Authsignal or the store fails.
    pub fn retry_after(mut self, after: Duration) -> Self {
        self.settings.set_retry_after(after);
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
    /// use axum_authsignal::Authsignal;
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
        self.settings
            .set_client_ip(ClientIp::behind(header, proxies.into_iter().collect()));
        self
    }

    /// How to find the client's IP address, instead of the peer or trusted proxies.
    pub fn ip_address(
        mut self,
        find: impl Fn(&Parts) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.settings.set_ip_address(Arc::new(find));
        self
    }

    /// How to find a device id to send with the action.
    pub fn device_id(
        mut self,
        find: impl Fn(&Parts) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.settings.set_device_id(Arc::new(find));
        self
    }

    /// Whether to send the request's `User-Agent`.
    pub fn user_agent(mut self, send: bool) -> Self {
        self.settings.set_user_agent(send);
        self
    }

    /// The largest body a gate reads (and hashes, and for browsers keeps until the user is
    /// back); a larger one answers 413. A gate may set its own.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.settings.set_body_limit(bytes);
        self
    }

    /// Force every answer to browsers or to API clients instead of negotiating. A gate may
    /// set its own.
    pub fn client_kind(mut self, kind: ClientKind) -> Self {
        self.settings.set_client_kind(kind);
        self
    }

    /// What to do with users who have no authenticator when Authsignal allows the action.
    pub fn unenrolled(mut self, policy: Unenrolled) -> Self {
        self.settings.set_unenrolled(policy);
        self
    }

    /// Renders the gate's answers the app's own way: `hook` receives each challenge and
    /// refusal with the kind of client asking ([`ClientKind::Browser`] for a navigation,
    /// else [`ClientKind::Api`]) and returns the response, or `None` for the default.
    /// Whatever it returns still gets `Cache-Control: no-store`.
    ///
    /// ```
    /// use axum::response::{Html, IntoResponse};
    /// use axum_authsignal::Authsignal;
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
        self.settings.set_respond_with(Arc::new(hook));
        self
    }

    /// The configuration.
    pub fn build(self) -> StepUpConfig {
        StepUpConfig {
            settings: Arc::new(self.settings),
        }
    }
}
