//! [`StepUp`]: the proof a handler receives, and how the request got through
//! ([`StepUpOutcome`]). The extractors that hand it over are in `extract`.

use std::marker::PhantomData;

use super::action::{ActionCode, AnyAction};
use authsignal::types::{
    ActionDetails, CustomData, TrackResponse, ValidateChallengeResponse, VerificationMethod,
};

/// What the gate puts in the request's extensions for the handler, whatever action type
/// the handler asks for.
#[derive(Debug, Clone)]
pub(crate) struct Proof {
    action: ActionCode,
    user_id: String,
    outcome: StepUpOutcome,
    /// The `custom` values judged, for the handler to book.
    custom: Option<CustomData>,
}

impl Proof {
    pub(crate) fn new(action: ActionCode, user_id: &str, outcome: StepUpOutcome) -> Self {
        Self {
            action,
            user_id: user_id.to_owned(),
            outcome,
            custom: None,
        }
    }

    /// The proof with the `custom` values Authsignal's rules judged for this request.
    pub(crate) fn with_custom(mut self, custom: Option<CustomData>) -> Self {
        self.custom = custom;
        self
    }

    /// The action of the gate (or validator, or sign-in) that let the request through.
    pub(crate) fn action(&self) -> &ActionCode {
        &self.action
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
/// use axum_authsignal::StepUp;
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
            .field("custom", &self.proof.custom)
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
    /// Authsignal sent the action to a manual review, the route held the request, and a
    /// reviewer approved this very action (`REVIEW_SUCCEEDED`).
    Reviewed(ReviewedAction),
    /// Authsignal was out and the route was configured to fail open.
    FailedOpen,
}

/// An action a reviewer approved, as the gate learnt it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ReviewedAction {
    /// The idempotency key of the action reviewed.
    pub idempotency_key: String,
    /// What `getAction` answered about it (its state `REVIEW_SUCCEEDED`). For a browser's
    /// request, resumed after the approval, only that state: the rest is not kept.
    pub details: ActionDetails,
}

impl ReviewedAction {
    pub(crate) fn new(idempotency_key: impl Into<String>, details: ActionDetails) -> Self {
        Self {
            idempotency_key: idempotency_key.into(),
            details,
        }
    }
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
            StepUpOutcome::Reviewed(reviewed) => Some(&reviewed.idempotency_key),
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

    /// Whether this request was held for a manual review and a reviewer approved it.
    pub fn was_reviewed(&self) -> bool {
        matches!(self.proof.outcome, StepUpOutcome::Reviewed(_))
    }

    /// Whether the user has an authenticator: Authsignal's `isEnrolled` when it allowed
    /// the action, true after a completed challenge, false (unknown) after a review or
    /// when failed open.
    pub fn is_enrolled(&self) -> bool {
        match &self.proof.outcome {
            StepUpOutcome::Allowed(track) => track.is_enrolled,
            StepUpOutcome::Verified(_) => true,
            StepUpOutcome::Reviewed(_) | StepUpOutcome::FailedOpen => false,
        }
    }

    /// Whether the request got through only because Authsignal was out and the route
    /// fails open.
    pub fn failed_open(&self) -> bool {
        matches!(self.proof.outcome, StepUpOutcome::FailedOpen)
    }

    /// The `custom` values Authsignal's rules judged for this request, as the gate sent
    /// them with `track` (see [`StepUpLayer::custom_from_body`]): after `ALLOW`, the values
    /// sent; after a completed challenge (or an approved review), the values of the
    /// challenged (or held) request, computed again by the route's same `custom` function
    /// from the request the token (or the hold) is bound to, byte for byte. When the route
    /// fails open, the values the gate would have sent (nothing judged them). `None` when
    /// the route sends no `custom` (or this request gave none), and behind a
    /// [`StepUpValidator`](super::StepUpValidator), which never sees the challenged request.
    ///
    /// Book these, not a parse of your own: they are what the rules saw. A form's
    /// `amount=+5000` is the number 5000 here, whatever a handler's own parse would make
    /// of `" 5000"`.
    ///
    /// [`StepUpLayer::custom_from_body`]: super::StepUpLayer::custom_from_body
    pub fn custom(&self) -> Option<&CustomData> {
        self.proof.custom.as_ref()
    }

    /// The number judged under `field` of [`custom`](Self::custom): `None` when the field
    /// was not sent, or was sent as anything but a number (then no rule compared it as
    /// one: refuse the request rather than book it).
    ///
    /// ```
    /// use axum::{Form, Router, http::{Method, StatusCode}, routing::post};
    /// use axum_authsignal::Authsignal;
    /// use axum_authsignal::{StepUp, StepUpConfig};
    /// use serde::Deserialize;
    ///
    /// #[derive(Deserialize)]
    /// struct Withdrawal {
    ///     payee: String,
    /// }
    ///
    /// // The amount booked is the amount Authsignal's rules judged; the form's other
    /// // fields are read as usual.
    /// async fn withdraw(step_up: StepUp, Form(form): Form<Withdrawal>) -> (StatusCode, String) {
    ///     match step_up.judged_number("amount") {
    ///         Some(amount) if amount > 0.0 => {
    ///             (StatusCode::CREATED, format!("{amount:.2} to {}", form.payee))
    ///         }
    ///         _ => (StatusCode::BAD_REQUEST, "enter a positive amount".to_owned()),
    ///     }
    /// }
    ///
    /// let step_up = StepUpConfig::new(Authsignal::new("secret").unwrap());
    /// let gate = step_up.gate("withdraw").custom_from_body(["amount"]).methods([Method::POST]);
    /// let app: Router = Router::new().route("/withdraw", post(withdraw).layer(gate));
    /// ```
    pub fn judged_number(&self, field: &str) -> Option<f64> {
        self.custom()?.get(field)?.as_f64()
    }
}
