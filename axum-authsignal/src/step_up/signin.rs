//! Step-up at sign-in, where the user is known only after the password check.
//!
//! The password handler calls [`SignIn::start`] once it knows who is signing in. If
//! Authsignal asks for a challenge, the browser goes to the pre-built UI and comes back to
//! the configured callback with `?token=`; the callback handler takes [`SignedIn`], which
//! validates the token *without* a user id, takes the user from Authsignal's answer, and
//! accepts it only in the browser that started the sign-in.
//!
//! That last check is what stops login CSRF: an attacker could complete a sign-in
//! challenge for their own account and lure the victim to the callback with the
//! attacker's token, signing the victim into the attacker's account. [`SignIn::start`]
//! therefore sets a `__Host-` cookie (HttpOnly, Secure, SameSite=Lax) holding the
//! action's idempotency key and an HMAC of it; the callback needs the cookie to name the
//! same idempotency key as the token.

use std::sync::Arc;

use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cookie::{Cookie, SameSite};
use hmac::{KeyInit, Mac};
use http::header::SET_COOKIE;
use http::request::Parts;
use http::{HeaderMap, HeaderValue};
use sha2::Sha256;

use super::action::ActionCode;
use super::answer::Refusal;
use super::cookies;
use super::leg1::{self, Asked, Decision};
use super::proof::{Proof, StepUp, StepUpOutcome};
use super::rejection::StepUpRejection;
use super::respond::Audience;
use super::route::Route;
use super::settings::{CHALLENGE_TTL, ConfigSettings, RouteSettings, SignInSettings};
use super::verify;
use crate::store::{PendingChallenge, RecordKind};
use authsignal::ConfigError;

/// The cookie that binds a sign-in challenge to the browser that started it.
pub const SIGN_IN_COOKIE: &str = "__Host-authsignal-signin";

/// The shortest [`cookie_key`](SignInBuilder::cookie_key) accepted: HMAC-SHA256's own
/// strength.
pub const MIN_COOKIE_KEY_LEN: usize = 32;

type HmacSha256 = hmac::Hmac<Sha256>;

/// Sign-in step-up, made by [`StepUpConfig::sign_in`](super::StepUpConfig::sign_in): put
/// it in the app state and use it from the password handler ([`start`](Self::start)) and
/// the callback handler ([`SignedIn`]).
///
/// ```
/// use axum::{Router, extract::State, http::request::Parts, response::{IntoResponse, Response}, routing::{get, post}};
/// use axum_authsignal::Authsignal;
/// use axum_authsignal::{SignIn, SignedIn, StepUpConfig};
///
/// async fn password(State(sign_in): State<SignIn>, parts: Parts) -> Response {
///     let user_id = "alice"; // ... after checking the password
///     match sign_in.start(user_id, &parts).await {
///         Ok(proof) => format!("signed in as {}", proof.user_id()).into_response(),
///         Err(challenge_or_refusal) => challenge_or_refusal,
///     }
/// }
///
/// async fn callback(signed_in: SignedIn) -> impl IntoResponse {
///     ([signed_in.clear_cookie()], format!("signed in as {}", signed_in.user_id()))
/// }
///
/// let step_up = StepUpConfig::new(Authsignal::new("secret").unwrap());
/// let sign_in = step_up
///     .sign_in("https://app.example.com/login/callback")
///     .cookie_key([7u8; 32]) // the same 32+ random bytes on every instance
///     .build()
///     .unwrap();
/// let app: Router = Router::new()
///     .route("/login", post(password))
///     .route("/login/callback", get(callback))
///     .with_state(sign_in);
/// ```
#[derive(Clone)]
pub struct SignIn {
    /// The sign-in's route: its action and the configuration's defaults.
    route: Route,
    settings: Arc<SignInSettings>,
}

impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignIn")
            .field("action", self.route.settings().action())
            .field("callback_url", &self.settings.callback_url())
            .field("config", self.route.config())
            .finish_non_exhaustive()
    }
}

/// Builds a [`SignIn`]: the action (`signIn` by default) and the cookie key.
#[must_use]
pub struct SignInBuilder {
    config: Arc<ConfigSettings>,
    action: ActionCode,
    callback_url: String,
    cookie_key: Option<Vec<u8>>,
}

impl std::fmt::Debug for SignInBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInBuilder")
            .field("action", &self.action)
            .field("callback_url", &self.callback_url)
            .field(
                "cookie_key",
                &self.cookie_key.as_ref().map(|_| "[redacted]"),
            )
            .finish_non_exhaustive()
    }
}

impl SignInBuilder {
    pub(crate) fn new(config: Arc<ConfigSettings>, callback_url: String) -> Self {
        Self {
            config,
            action: ActionCode::from("signIn"),
            callback_url,
            cookie_key: None,
        }
    }

    /// The action tracked (`signIn` by default).
    pub fn action(mut self, action: impl Into<ActionCode>) -> Self {
        self.action = action.into();
        self
    }

    /// The HMAC key of the browser-binding cookie: at least [`MIN_COOKIE_KEY_LEN`] random
    /// bytes, the same on every instance of the app. Without one, a random key per
    /// process is used, which only one instance can check.
    pub fn cookie_key(mut self, key: impl AsRef<[u8]>) -> Self {
        self.cookie_key = Some(key.as_ref().to_vec());
        self
    }

    /// The sign-in, or [`ConfigError::InvalidSetting`] for a cookie key shorter than
    /// [`MIN_COOKIE_KEY_LEN`] bytes.
    pub fn build(self) -> Result<SignIn, ConfigError> {
        let cookie_key = match self.cookie_key {
            Some(key) if key.len() < MIN_COOKIE_KEY_LEN => {
                return Err(ConfigError::InvalidSetting(
                    "the sign-in cookie key must be at least 32 bytes",
                ));
            }
            Some(key) => key,
            None => {
                let mut key = vec![0u8; MIN_COOKIE_KEY_LEN];
                getrandom::fill(&mut key).map_err(|_| {
                    ConfigError::InvalidSetting("the OS random number generator is unavailable")
                })?;
                key
            }
        };
        let route = RouteSettings::new(self.config, self.action);
        Ok(SignIn {
            route: Route::new(Arc::new(route)),
            settings: Arc::new(SignInSettings::new(self.callback_url, cookie_key)),
        })
    }
}

impl SignIn {
    /// Asks Authsignal whether `user_id`, whose password was just checked, may sign in.
    ///
    /// It is the gate's own first leg (see [`StepUpLayer`](super::StepUpLayer)): the same
    /// context (IP address, user agent, device id), states, per-user bound, expiry,
    /// [`Unenrolled`](super::Unenrolled) policy, pre-built UI origins and metrics, with
    /// the callback as the `redirectUrl`.
    ///
    /// `Ok` carries the proof: sign the user in. `Err` carries the response to return: a
    /// challenge (303 to the pre-built UI, or 401 with a token) with the binding cookie, or
    /// a refusal (403 on `BLOCK`, a review or an unenrolled user the policy refuses, 429
    /// over the user's bound of pending records, 503 when Authsignal or the store fails).
    pub async fn start(&self, user_id: &str, request: &Parts) -> Result<StepUp, Response> {
        let route = &self.route;
        let action = route.settings().action();
        let audience = Audience::of(route.settings().client_kind(), &request.headers);
        let mut attributes = leg1::attributes(route.config(), request);
        attributes.redirect_url = Some(self.settings.callback_url().to_owned());
        let asked = Asked {
            audience,
            record: sign_in_record(user_id, action.as_str()),
            returns_from_ui: true,
            check_url: None,
        };
        match leg1::decide(route, attributes, asked).await {
            Decision::Run(outcome) => {
                let proof = Proof::new(action.clone(), user_id, outcome);
                Ok(StepUp::from_proof(proof))
            }
            Decision::Challenged {
                mut response,
                idempotency_key,
            } => {
                if let Ok(cookie) = HeaderValue::try_from(self.binding_cookie(&idempotency_key)) {
                    response.headers_mut().append(SET_COOKIE, cookie);
                }
                Err(response)
            }
            // A sign-in never holds a review: its route has no such setting.
            Decision::Held { response, .. } | Decision::Refused(response) => Err(response),
        }
    }

    fn mac(&self, idempotency_key: &str) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(self.settings.cookie_key())
            .expect("HMAC accepts keys of any length");
        mac.update(b"axum-authsignal sign-in\0");
        mac.update(idempotency_key.as_bytes());
        mac
    }

    fn binding_cookie(&self, idempotency_key: &str) -> String {
        let tag = URL_SAFE_NO_PAD.encode(self.mac(idempotency_key).finalize().into_bytes());
        let mut cookie = binding_cookie_named(format!("{idempotency_key}.{tag}"));
        cookie.set_max_age(cookie::time::Duration::seconds(
            i64::try_from(CHALLENGE_TTL.as_secs()).unwrap_or(i64::MAX),
        ));
        cookie.to_string()
    }

    /// The idempotency key the browser's binding cookie vouches for, if its HMAC checks.
    /// Every binding cookie the request carries is tried, in the order sent.
    fn bound_key(&self, headers: &HeaderMap) -> Option<String> {
        cookies::sent(headers)
            .filter(|cookie| cookie.name() == SIGN_IN_COOKIE)
            .find_map(|cookie| {
                let (key, tag) = cookie.value().rsplit_once('.')?;
                let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
                self.mac(key).verify_slice(&tag).ok()?;
                Some(key.to_owned())
            })
    }

    /// The callback's check (the [`SignedIn`] extractor): the token validated, for the
    /// user Authsignal names, in the browser that started the sign-in, once.
    pub(crate) async fn complete(&self, parts: &Parts) -> Result<SignedIn, StepUpRejection> {
        let route = &self.route;
        let config = route.config();
        let audience = Audience::of(route.settings().client_kind(), &parts.headers);
        let reject = |refusal| StepUpRejection::new(refusal, audience, route.responder());
        let token = verify::given_token(config, parts).map_err(reject)?;
        let action = route.settings().action();
        let validated = verify::validate(config, &token, None, action.as_str())
            .await
            .map_err(reject)?;
        if self.bound_key(&parts.headers).as_deref() != Some(validated.idempotency_key.as_str()) {
            route.outcome("refused", Some("not the browser that started the sign-in"));
            return Err(reject(Refusal::VerificationFailed));
        }
        let taken = route
            .take_record(
                RecordKind::Challenge,
                &validated.idempotency_key,
                &validated.user_id,
            )
            .await
            .map_err(reject)?;
        if taken.is_none() {
            route.outcome(
                "refused",
                Some("no pending sign-in: replayed, expired or never issued here"),
            );
            return Err(reject(Refusal::VerificationFailed));
        }
        route.outcome("verified", None);
        let proof = Proof::new(
            action.clone(),
            &validated.user_id,
            StepUpOutcome::Verified(validated.response),
        );
        Ok(SignedIn {
            proof: StepUp::from_proof(proof),
        })
    }
}

/// What a sign-in challenge is bound to: its user and action. The callback is a `GET` of
/// its own, not the challenged request, so there is no request to bind; the binding
/// cookie ties the token to the browser instead.
fn sign_in_record(user_id: &str, action: &str) -> PendingChallenge {
    PendingChallenge::challenge(user_id, action, http::Method::GET, "")
}

/// The callback handler's proof that a sign-in challenge was completed in this browser.
/// Needs [`SignIn`] in the router state (`SignIn: FromRef<S>`).
#[derive(Debug, Clone)]
pub struct SignedIn {
    proof: StepUp,
}

impl SignedIn {
    /// The user who signed in, as Authsignal validated them.
    pub fn user_id(&self) -> &str {
        self.proof.user_id()
    }

    /// The full proof.
    pub fn proof(&self) -> &StepUp {
        &self.proof
    }

    /// A `Set-Cookie` that removes the binding cookie; add it to the callback's response.
    pub fn clear_cookie(&self) -> (http::HeaderName, HeaderValue) {
        let mut cookie = binding_cookie_named(String::new());
        cookie.make_removal();
        let value = HeaderValue::try_from(cookie.to_string())
            .unwrap_or_else(|_| HeaderValue::from_static(""));
        (SET_COOKIE, value)
    }
}

/// The sign-in binding cookie holding `value`: host-only, `Secure`, script-proof, and sent
/// on the cross-site navigation back from the pre-built UI (`Lax`).
fn binding_cookie_named(value: String) -> Cookie<'static> {
    Cookie::build((SIGN_IN_COOKIE, value))
        .path("/")
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Lax)
        .build()
}
