//! [`StepUp`]: the proof a handler receives, its extractor, and its rejection.

use std::marker::PhantomData;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;

use super::action::{ActionCode, AnyAction, ExpectedAction};
use super::answer::Refusal;
use super::negotiate::ClientKind;
use super::respond::{Audience, Problem, Responder};
use super::validator::StepUpValidator;
use crate::client::types::{TrackResponse, ValidateChallengeResponse, VerificationMethod};

/// What the gate puts in the request's extensions for the handler, whatever action type
/// the handler asks for.
#[derive(Debug, Clone)]
pub(crate) struct Proof {
    action: ActionCode,
    user_id: String,
    outcome: StepUpOutcome,
}

impl Proof {
    pub(crate) fn new(action: ActionCode, user_id: &str, outcome: StepUpOutcome) -> Self {
        Self {
            action,
            user_id: user_id.to_owned(),
            outcome,
        }
    }
}

/// Proof that the gate let this request through, for the handler.
///
/// `StepUp` (that is, `StepUp<AnyAction>`) accepts the proof of any action;
/// `StepUp<Withdraw>`, for an [`Action`](super::Action) type `Withdraw`, only the proof of
/// that action: behind another action's gate it refuses with a 500 that names both.
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
pub struct StepUp<A = AnyAction> {
    proof: Proof,
    action: PhantomData<fn() -> A>,
}

impl<A> Clone for StepUp<A> {
    fn clone(&self) -> Self {
        Self {
            proof: self.proof.clone(),
            action: PhantomData,
        }
    }
}

impl<A> std::fmt::Debug for StepUp<A> {
    // The outcome's own Debug keeps tokens out.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StepUp")
            .field("action", &self.proof.action)
            .field("user_id", &self.proof.user_id)
            .field("outcome", &self.proof.outcome)
            .finish()
    }
}

/// How the request got through the gate.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum StepUpOutcome {
    /// Authsignal allowed the action without a challenge.
    Allowed(TrackResponse),
    /// The user completed a challenge and its token validated for this request.
    Verified(ValidateChallengeResponse),
    /// Authsignal was out and the route was configured to fail open.
    FailedOpen,
}

impl<A> StepUp<A> {
    pub(crate) fn from_proof(proof: Proof) -> Self {
        Self {
            proof,
            action: PhantomData,
        }
    }

    /// The action tracked.
    pub fn action(&self) -> &str {
        self.proof.action.as_str()
    }

    /// The user who passed.
    pub fn user_id(&self) -> &str {
        &self.proof.user_id
    }

    /// How the request got through, with Authsignal's answer.
    pub fn outcome(&self) -> &StepUpOutcome {
        &self.proof.outcome
    }

    /// The idempotency key of the tracked action (none when failed open).
    pub fn idempotency_key(&self) -> Option<&str> {
        match &self.proof.outcome {
            StepUpOutcome::Allowed(track) => Some(&track.idempotency_key),
            StepUpOutcome::Verified(validation) => validation.idempotency_key.as_deref(),
            StepUpOutcome::FailedOpen => None,
        }
    }

    /// How the user was verified, when a challenge was completed.
    pub fn verification_method(&self) -> Option<&VerificationMethod> {
        match &self.proof.outcome {
            StepUpOutcome::Verified(validation) => validation.verification_method.as_ref(),
            _ => None,
        }
    }

    /// Whether the user completed a challenge for this request.
    pub fn was_challenged(&self) -> bool {
        matches!(self.proof.outcome, StepUpOutcome::Verified(_))
    }

    /// Whether the user has an authenticator: Authsignal's `isEnrolled` when it allowed
    /// the action, true after a completed challenge, false (unknown) when failed open.
    pub fn is_enrolled(&self) -> bool {
        match &self.proof.outcome {
            StepUpOutcome::Allowed(track) => track.is_enrolled,
            StepUpOutcome::Verified(_) => true,
            StepUpOutcome::FailedOpen => false,
        }
    }

    /// Whether the request got through only because Authsignal was out and the route
    /// fails open.
    pub fn failed_open(&self) -> bool {
        matches!(self.proof.outcome, StepUpOutcome::FailedOpen)
    }
}

/// Why [`StepUp`] (or [`SignedIn`](super::SignedIn)) could not be extracted. The handler
/// does not run. It answers like the gate: problem+json for API clients, a small HTML page
/// for a browser navigation, or the configuration's own answer.
#[derive(Debug)]
pub struct StepUpRejection {
    refusal: Refusal,
    audience: Audience,
    responder: Responder,
}

impl StepUpRejection {
    pub(crate) fn new(refusal: Refusal, audience: Audience, responder: Responder) -> Self {
        Self {
            refusal,
            audience,
            responder,
        }
    }

    /// Why: the gate's refusal.
    pub fn refusal(&self) -> &Refusal {
        &self.refusal
    }

    /// The status the rejection answers with.
    pub fn status(&self) -> StatusCode {
        self.refusal.status()
    }

    /// The problem+json body the rejection answers an API client with.
    pub fn body_text(&self) -> String {
        Problem::of(&self.refusal).body().to_string()
    }
}

impl std::fmt::Display for StepUpRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.refusal, f)
    }
}

impl std::error::Error for StepUpRejection {}

impl IntoResponse for StepUpRejection {
    fn into_response(self) -> Response {
        self.responder.refuse(self.refusal, self.audience)
    }
}

impl<S: Send + Sync, A: ExpectedAction> FromRequestParts<S> for StepUp<A> {
    type Rejection = StepUpRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let proof = match parts.extensions.get::<Proof>() {
            Some(proof) => proof.clone(),
            None => match parts.extensions.get::<StepUpValidator>().cloned() {
                Some(validator) => validator.validate(parts).await?,
                None => {
                    let audience = Audience::of(ClientKind::Auto, &parts.headers);
                    return Err(StepUpRejection::new(
                        Refusal::MissingLayer,
                        audience,
                        Responder::default(),
                    ));
                }
            },
        };
        if let Some(expected) = A::expected()
            && proof.action.as_str() != expected
        {
            tracing::error!(
                expected,
                found = proof.action.as_str(),
                "a handler asks for another action's step-up proof"
            );
            let audience = Audience::of(ClientKind::Auto, &parts.headers);
            let refusal = Refusal::WrongAction {
                expected,
                found: proof.action.as_str().to_owned(),
            };
            return Err(StepUpRejection::new(
                refusal,
                audience,
                Responder::default(),
            ));
        }
        Ok(StepUp::from_proof(proof))
    }
}

/// `Option<StepUp>`: `None` when no layer ran and no token came; a token that is given
/// must still be valid.
impl<S: Send + Sync, A: ExpectedAction> OptionalFromRequestParts<S> for StepUp<A> {
    type Rejection = StepUpRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        match <StepUp<A> as FromRequestParts<S>>::from_request_parts(parts, state).await {
            Ok(proof) => Ok(Some(proof)),
            Err(rejection)
                if matches!(
                    rejection.refusal,
                    Refusal::MissingLayer | Refusal::TokenRequired
                ) =>
            {
                Ok(None)
            }
            Err(rejection) => Err(rejection),
        }
    }
}
