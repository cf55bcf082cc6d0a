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

use axum::extract::{FromRef, FromRequestParts};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{KeyInit, Mac};
use http::header::{COOKIE, SET_COOKIE, USER_AGENT};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use sha2::Sha256;

use super::layer::{CHALLENGE_TTL, DEFAULT_RETRY_AFTER, DEFAULT_TOKEN_HEADER};
use super::negotiate::ClientKind;
use super::proof::{StepUp, StepUpOutcome, StepUpRejection};
use super::respond::{self, Problem};
use super::token::{self, FoundToken};
use super::verify::{self, Rejected};
use crate::client::Authsignal;
use crate::client::types::{TrackAttributes, UserActionState};
use crate::store::{MemoryStore, PendingChallenge, PendingChallengeStore, RecordKey, RecordKind};

/// The cookie that binds a sign-in challenge to the browser that started it.
pub const SIGN_IN_COOKIE: &str = "__Host-authsignal-signin";

type HmacSha256 = hmac::Hmac<Sha256>;

/// Sign-in step-up: put it in the app state and use it from the password handler
/// ([`start`](Self::start)) and the callback handler ([`SignedIn`]).
///
/// ```
/// use axum::{Router, extract::State, http::HeaderMap, response::{IntoResponse, Response}, routing::{get, post}};
/// use axum_authsignal::{Authsignal, step_up::{SignIn, SignedIn}};
///
/// async fn password(State(sign_in): State<SignIn>, headers: HeaderMap) -> Response {
///     let user_id = "alice"; // ... after checking the password
///     match sign_in.start(user_id, &headers).await {
///         Ok(proof) => format!("signed in as {}", proof.user_id()).into_response(),
///         Err(challenge_or_refusal) => challenge_or_refusal,
///     }
/// }
///
/// async fn callback(signed_in: SignedIn) -> impl IntoResponse {
///     ([signed_in.clear_cookie()], format!("signed in as {}", signed_in.user_id()))
/// }
///
/// let client = Authsignal::new("secret").unwrap();
/// let sign_in = SignIn::new(client, "https://app.example.com/login/callback");
/// let app: Router = Router::new()
///     .route("/login", post(password))
///     .route("/login/callback", get(callback))
///     .with_state(sign_in);
/// ```
#[derive(Clone)]
pub struct SignIn {
    config: Arc<SignInConfig>,
}

#[derive(Clone)]
struct SignInConfig {
    client: Authsignal,
    action: String,
    callback_url: String,
    cookie_key: Arc<[u8]>,
    client_kind: ClientKind,
    store: Arc<dyn PendingChallengeStore>,
}

impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignIn")
            .field("action", &self.config.action)
            .field("callback_url", &self.config.callback_url)
            .field("client", &self.config.client)
            .finish_non_exhaustive()
    }
}

impl SignIn {
    /// Sign-in step-up on the `signIn` action, coming back to `callback_url` (an absolute
    /// URL of the app, from configuration). The cookie key is random per process: pass a
    /// shared one with [`cookie_key`](Self::cookie_key) when several instances serve the
    /// app.
    pub fn new(client: Authsignal, callback_url: impl Into<String>) -> Self {
        let mut key = [0u8; 32];
        // Without an OS random source there is no safe key to be had: fail loudly at start.
        getrandom::fill(&mut key).expect("the OS random number generator is unavailable");
        Self {
            config: Arc::new(SignInConfig {
                client,
                action: "signIn".to_owned(),
                callback_url: callback_url.into(),
                cookie_key: Arc::from(key.as_slice()),
                client_kind: ClientKind::Auto,
                store: Arc::new(MemoryStore::default()),
            }),
        }
    }

    fn edit(mut self, change: impl FnOnce(&mut SignInConfig)) -> Self {
        change(Arc::make_mut(&mut self.config));
        self
    }

    /// The action tracked (`signIn` by default).
    #[must_use]
    pub fn action(self, action: impl Into<String>) -> Self {
        let action = action.into();
        self.edit(|c| c.action = action)
    }

    /// The HMAC key of the browser-binding cookie (at least 32 bytes; shorter keys are
    /// padded by HMAC but are weaker: use 32 random bytes).
    #[must_use]
    pub fn cookie_key(self, key: impl AsRef<[u8]>) -> Self {
        let key: Arc<[u8]> = Arc::from(key.as_ref());
        self.edit(|c| c.cookie_key = key)
    }

    /// Force the challenge answer to browsers or to API clients.
    #[must_use]
    pub fn client_kind(self, kind: ClientKind) -> Self {
        self.edit(|c| c.client_kind = kind)
    }

    /// Where pending sign-ins are kept.
    #[must_use]
    pub fn store(self, store: Arc<dyn PendingChallengeStore>) -> Self {
        self.edit(|c| c.store = store)
    }

    /// Asks Authsignal whether `user_id`, whose password was just checked, may sign in.
    ///
    /// `Ok` carries the proof: sign the user in. `Err` carries the response to return: a
    /// challenge (303 to the pre-built UI, or 401 with a token) with the binding cookie, or
    /// a refusal (403 on `BLOCK` or a review, 503 when Authsignal fails).
    pub async fn start(&self, user_id: &str, headers: &HeaderMap) -> Result<StepUp, Response> {
        let config = &self.config;
        let attributes = TrackAttributes {
            idempotency_key: Some(uuid::Uuid::new_v4().to_string()),
            redirect_url: Some(config.callback_url.clone()),
            user_agent: headers
                .get(USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            ..TrackAttributes::default()
        };
        let tracked = match config
            .client
            .track(user_id, &config.action, attributes)
            .await
        {
            Ok(tracked) => tracked,
            Err(err) => {
                tracing::warn!(action = %config.action, error = %err, "sign-in step-up unavailable");
                return Err(unavailable());
            }
        };
        match tracked.state {
            UserActionState::Allow => Ok(StepUp::new(
                &config.action,
                user_id,
                StepUpOutcome::Allowed(tracked),
            )),
            UserActionState::ChallengeRequired => {
                let record = PendingChallenge {
                    user_id: user_id.to_owned(),
                    action: config.action.clone(),
                    method: Method::GET,
                    path_and_query: String::new(),
                    media_type: None,
                    content_encoding: None,
                    body_sha256: [0; 32],
                    stashed: None,
                };
                let key = tracked.idempotency_key.clone();
                let record_key = RecordKey::new(RecordKind::Challenge, user_id, &key);
                if let Err(err) = config.store.put(&record_key, record, CHALLENGE_TTL).await {
                    tracing::warn!(error = %err, "sign-in store failed");
                    return Err(unavailable());
                }
                let browser = config.client_kind.is_browser(headers);
                let mut response = match (&tracked.url, &tracked.token) {
                    (Some(url), _) if browser => respond::redirect(url),
                    (_, Some(token)) => Some(respond::challenge(
                        Problem::new(
                            StatusCode::UNAUTHORIZED,
                            "step_up_required",
                            "Complete the sign-in challenge, then return to the callback with the token.",
                        )
                        .with("action", config.action.clone())
                        .with("idempotencyKey", key.clone())
                        .with("token", token.as_str())
                        .with("url", tracked.url.clone().unwrap_or_default()),
                        None,
                    )),
                    _ => None,
                }
                .ok_or_else(unavailable)?;
                if let Ok(cookie) = HeaderValue::try_from(self.binding_cookie(&key)) {
                    response.headers_mut().append(SET_COOKIE, cookie);
                }
                Err(response)
            }
            UserActionState::Block => Err(respond::blocked(StatusCode::FORBIDDEN).into_response()),
            UserActionState::ReviewRequired => {
                Err(respond::in_review(StatusCode::FORBIDDEN).into_response())
            }
            other => {
                tracing::warn!(state = %other, "sign-in step-up: unexpected state");
                Err(unavailable())
            }
        }
    }

    fn mac(&self, idempotency_key: &str) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.config.cookie_key)
            .expect("HMAC accepts keys of any length");
        mac.update(b"axum-authsignal sign-in\0");
        mac.update(idempotency_key.as_bytes());
        mac
    }

    fn binding_cookie(&self, idempotency_key: &str) -> String {
        let tag = URL_SAFE_NO_PAD.encode(self.mac(idempotency_key).finalize().into_bytes());
        format!(
            "{SIGN_IN_COOKIE}={idempotency_key}.{tag}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age={}",
            CHALLENGE_TTL.as_secs()
        )
    }

    /// The idempotency key the browser's binding cookie vouches for, if its HMAC checks.
    fn bound_key(&self, headers: &HeaderMap) -> Option<String> {
        let value = headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|header| header.to_str().ok())
            .flat_map(|header| header.split(';'))
            .find_map(|pair| pair.trim().strip_prefix(SIGN_IN_COOKIE)?.strip_prefix('='))?;
        let (key, tag) = value.rsplit_once('.')?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        self.mac(key).verify_slice(&tag).ok()?;
        Some(key.to_owned())
    }

    async fn complete(&self, parts: &Parts) -> Result<SignedIn, StepUpRejection> {
        let config = &self.config;
        let header = http::HeaderName::from_static(DEFAULT_TOKEN_HEADER);
        let token = match token::find(parts, &header) {
            Ok(Some(FoundToken::Header(token) | FoundToken::Query(token))) => token,
            Ok(None) => return Err(StepUpRejection::TokenRequired),
            Ok(Some(FoundToken::Resume(_))) | Err(_) => {
                return Err(StepUpRejection::MalformedToken);
            }
        };
        let validated = match verify::validate(&config.client, &token, None, &config.action).await {
            Ok(validated) => validated,
            Err(Rejected::Unavailable(reason)) => {
                tracing::warn!(reason, "sign-in validation unavailable");
                return Err(StepUpRejection::Unavailable);
            }
            Err(Rejected::Invalid(reason)) => {
                tracing::warn!(reason, "sign-in token refused");
                return Err(StepUpRejection::VerificationFailed);
            }
        };
        if self.bound_key(&parts.headers).as_deref() != Some(validated.idempotency_key.as_str()) {
            tracing::warn!("sign-in token refused: not the browser that started the sign-in");
            return Err(StepUpRejection::VerificationFailed);
        }
        let key = RecordKey::new(
            RecordKind::Challenge,
            &validated.user_id,
            &validated.idempotency_key,
        );
        match config.store.take(&key).await {
            Ok(Some(record)) if record.user_id == validated.user_id => {}
            Ok(_) => {
                tracing::warn!("sign-in token refused: replayed, expired or another user's");
                return Err(StepUpRejection::VerificationFailed);
            }
            Err(err) => {
                tracing::warn!(error = %err, "sign-in store failed");
                return Err(StepUpRejection::Unavailable);
            }
        }
        let proof = StepUp::new(
            &config.action,
            &validated.user_id,
            StepUpOutcome::Verified(validated.response),
        );
        Ok(SignedIn { proof })
    }
}

/// 503: Authsignal or the store failed, so the sign-in stays shut.
fn unavailable() -> Response {
    respond::unavailable(DEFAULT_RETRY_AFTER).into_response()
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
        (
            SET_COOKIE,
            HeaderValue::from_static(
                "__Host-authsignal-signin=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0",
            ),
        )
    }
}

impl<S> FromRequestParts<S> for SignedIn
where
    S: Send + Sync,
    SignIn: FromRef<S>,
{
    type Rejection = StepUpRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        SignIn::from_ref(state).complete(parts).await
    }
}
