//! [`StepUp`]: the proof a handler receives, its extractor, and [`StepUpValidator`] for
//! handlers without the layer.

use std::sync::Arc;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{HeaderName, StatusCode};

use super::layer::{CHALLENGE_TTL, DEFAULT_RETRY_AFTER, DEFAULT_TOKEN_HEADER, PartsFn, UserId};
use super::respond::{self, Problem};
use super::token::{self, FoundToken};
use super::verify::{self, Rejected};
use crate::client::Authsignal;
use crate::client::types::{TrackResponse, ValidateChallengeResponse, VerificationMethod};
use crate::store::{
    MemoryStore, PendingChallenge, PendingChallengeStore, RecordKey, RecordKind, StoreError,
};

/// Proof that the gate let this request through, for the handler.
///
/// ```
/// use axum::{Router, routing::post};
/// use axum_authsignal::step_up::StepUp;
///
/// async fn withdraw(step_up: StepUp) -> String {
///     format!("{} passed {} ({:?})", step_up.user_id(), step_up.action(), step_up.verification_method())
/// }
/// let app: Router = Router::new().route("/withdraw", post(withdraw));
/// ```
#[derive(Debug, Clone)]
pub struct StepUp {
    action: String,
    user_id: String,
    outcome: StepUpOutcome,
}

/// How the request got through the gate.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum StepUpOutcome {
    /// Authsignal allowed the action without a challenge.
    Allowed(TrackResponse),
    /// The user completed a challenge and its token validated for this request.
    Verified(ValidateChallengeResponse),
    /// Authsignal failed and the route was configured to fail open.
    FailedOpen,
}

impl StepUp {
    pub(crate) fn new(action: &str, user_id: &str, outcome: StepUpOutcome) -> Self {
        Self {
            action: action.to_owned(),
            user_id: user_id.to_owned(),
            outcome,
        }
    }

    /// The action tracked.
    pub fn action(&self) -> &str {
        &self.action
    }

    /// The user who passed.
    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    /// How the request got through, with Authsignal's answer.
    pub fn outcome(&self) -> &StepUpOutcome {
        &self.outcome
    }

    /// The idempotency key of the tracked action (none when failed open).
    pub fn idempotency_key(&self) -> Option<&str> {
        match &self.outcome {
            StepUpOutcome::Allowed(track) => Some(&track.idempotency_key),
            StepUpOutcome::Verified(validation) => validation.idempotency_key.as_deref(),
            StepUpOutcome::FailedOpen => None,
        }
    }

    /// How the user was verified, when a challenge was completed.
    pub fn verification_method(&self) -> Option<&VerificationMethod> {
        match &self.outcome {
            StepUpOutcome::Verified(validation) => validation.verification_method.as_ref(),
            _ => None,
        }
    }

    /// Whether the user completed a challenge for this request.
    pub fn was_challenged(&self) -> bool {
        matches!(self.outcome, StepUpOutcome::Verified(_))
    }

    /// Whether the request got through only because Authsignal failed and the route
    /// fails open.
    pub fn failed_open(&self) -> bool {
        matches!(self.outcome, StepUpOutcome::FailedOpen)
    }
}

/// Why [`StepUp`] could not be extracted. The handler does not run.
#[derive(Debug)]
#[non_exhaustive]
pub enum StepUpRejection {
    /// Neither a [`StepUpLayer`](super::StepUpLayer) nor a [`StepUpValidator`] is on the
    /// route: a server misconfiguration (500).
    MissingLayer,
    /// The standalone validator found no token (401).
    TokenRequired,
    /// The token cannot be one (400).
    MalformedToken,
    /// No authenticated user (401).
    NoUser,
    /// The token did not validate for this user and action, or was used before (403).
    VerificationFailed,
    /// Authsignal or the store failed (503).
    Unavailable,
}

impl StepUpRejection {
    fn problem(&self) -> Problem {
        match self {
            Self::MissingLayer => respond::missing_layer(),
            Self::TokenRequired => respond::token_required(),
            Self::MalformedToken => respond::malformed_token(),
            Self::NoUser => respond::no_user(),
            Self::VerificationFailed => respond::verification_failed(),
            Self::Unavailable => respond::unavailable(DEFAULT_RETRY_AFTER),
        }
    }

    /// The status the rejection answers with.
    pub fn status(&self) -> StatusCode {
        self.problem().status()
    }

    /// The JSON body the rejection answers with.
    pub fn body_text(&self) -> String {
        self.problem().body().to_string()
    }
}

impl std::fmt::Display for StepUpRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.body_text())
    }
}

impl std::error::Error for StepUpRejection {}

impl IntoResponse for StepUpRejection {
    fn into_response(self) -> Response {
        self.problem().into_response()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for StepUp {
    type Rejection = StepUpRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(proof) = parts.extensions.get::<StepUp>() {
            return Ok(proof.clone());
        }
        match parts.extensions.get::<StepUpValidator>().cloned() {
            Some(validator) => validator.validate(parts).await,
            None => Err(StepUpRejection::MissingLayer),
        }
    }
}

/// `Option<StepUp>`: `None` when no layer ran and no token came; a token that is given
/// must still be valid.
impl<S: Send + Sync> OptionalFromRequestParts<S> for StepUp {
    type Rejection = StepUpRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        match <StepUp as FromRequestParts<S>>::from_request_parts(parts, state).await {
            Ok(proof) => Ok(Some(proof)),
            Err(StepUpRejection::MissingLayer | StepUpRejection::TokenRequired) => Ok(None),
            Err(rejection) => Err(rejection),
        }
    }
}

/// Validates a step-up token in the [`StepUp`] extractor itself, for handlers that run
/// without [`StepUpLayer`](super::StepUpLayer): add it as an `Extension` on the route.
///
/// It checks the token server-side for the user and the action, and lets each token
/// through once (it records spent tokens in its store). Unlike the layer it cannot bind
/// the token to the request that was challenged, since it never saw that request: put the
/// layer in front of anything that moves money.
///
/// ```
/// use axum::{Extension, Router, routing::post};
/// use axum_authsignal::{Authsignal, step_up::{StepUp, StepUpValidator}};
///
/// let client = Authsignal::new("secret").unwrap();
/// async fn change_payout(step_up: StepUp) -> &'static str { "changed" }
/// let app: Router = Router::new()
///     .route("/payout-account", post(change_payout))
///     .layer(Extension(StepUpValidator::new(client, "changePayoutAccount")));
/// ```
#[derive(Clone)]
pub struct StepUpValidator {
    client: Authsignal,
    action: String,
    user_id: PartsFn,
    token_header: HeaderName,
    spent: Arc<dyn PendingChallengeStore>,
}

impl std::fmt::Debug for StepUpValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StepUpValidator")
            .field("action", &self.action)
            .field("client", &self.client)
            .field("token_header", &self.token_header)
            .finish_non_exhaustive()
    }
}

impl StepUpValidator {
    /// A validator for `action`; the user comes from the [`UserId`] extension, the token
    /// from [`DEFAULT_TOKEN_HEADER`].
    pub fn new(client: Authsignal, action: impl Into<String>) -> Self {
        Self {
            client,
            action: action.into(),
            user_id: Arc::new(|parts| parts.extensions.get::<UserId>().map(|u| u.0.clone())),
            token_header: HeaderName::from_static(DEFAULT_TOKEN_HEADER),
            spent: Arc::new(MemoryStore::default()),
        }
    }

    /// How to find the user.
    #[must_use]
    pub fn user_id(
        mut self,
        find: impl Fn(&Parts) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.user_id = Arc::new(find);
        self
    }

    /// The header the token comes in.
    #[must_use]
    pub fn token_header(mut self, header: HeaderName) -> Self {
        self.token_header = header;
        self
    }

    /// Where spent tokens are remembered; share one between instances of the app.
    #[must_use]
    pub fn store(mut self, store: Arc<dyn PendingChallengeStore>) -> Self {
        self.spent = store;
        self
    }

    async fn validate(&self, parts: &mut Parts) -> Result<StepUp, StepUpRejection> {
        let token = match token::find(parts, &self.token_header) {
            Ok(Some(FoundToken::Header(token) | FoundToken::Query(token))) => token,
            Ok(None) => return Err(StepUpRejection::TokenRequired),
            Ok(Some(FoundToken::Resume(_))) | Err(_) => {
                return Err(StepUpRejection::MalformedToken);
            }
        };
        let user_id = (self.user_id)(parts).ok_or(StepUpRejection::NoUser)?;
        let validated =
            match verify::validate(&self.client, &token, Some(&user_id), &self.action).await {
                Ok(validated) => validated,
                Err(Rejected::Unavailable(reason)) => {
                    tracing::warn!(action = %self.action, reason, "step-up validation unavailable");
                    return Err(StepUpRejection::Unavailable);
                }
                Err(Rejected::Invalid(reason)) => {
                    tracing::warn!(action = %self.action, reason, "step-up token refused");
                    return Err(StepUpRejection::VerificationFailed);
                }
            };
        let spent = PendingChallenge {
            user_id: user_id.clone(),
            action: self.action.clone(),
            method: parts.method.clone(),
            path_and_query: token::path_and_query_without_token(&parts.uri),
            media_type: None,
            content_encoding: None,
            body_sha256: [0; 32],
            stashed: None,
        };
        let key = RecordKey::new(RecordKind::Spent, &user_id, &validated.idempotency_key);
        match self.spent.put(&key, spent, CHALLENGE_TTL).await {
            Ok(()) => {}
            Err(StoreError::Duplicate) => {
                tracing::warn!(action = %self.action, "step-up token replayed");
                return Err(StepUpRejection::VerificationFailed);
            }
            Err(err) => {
                tracing::warn!(action = %self.action, error = %err, "step-up store failed");
                return Err(StepUpRejection::Unavailable);
            }
        }
        parts.headers.remove(&self.token_header);
        Ok(StepUp::new(
            &self.action,
            &user_id,
            StepUpOutcome::Verified(validated.response),
        ))
    }
}
