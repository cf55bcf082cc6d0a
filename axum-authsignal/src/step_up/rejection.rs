//! [`StepUpRejection`]: why the [`StepUp`](super::StepUp) or
//! [`SignedIn`](super::SignedIn) extractor did not extract, answered like the gate.

use axum::response::{IntoResponse, Response};
use http::StatusCode;

use super::answer::Refusal;
use super::respond::{Audience, Problem, Responder};

/// Why [`StepUp`](super::StepUp) (or [`SignedIn`](super::SignedIn)) could not be
/// extracted. The handler does not run. It answers like the gate: problem+json for API
/// clients, a small HTML page for a browser navigation, or the configuration's own answer.
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
