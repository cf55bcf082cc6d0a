//! What the gate answers instead of running the handler: a [`Challenge`] or a [`Refusal`],
//! for apps that render their own ([`StepUpConfigBuilder::respond_with`]) and for outer
//! layers, which find the refusal in the response's extensions.
//!
//! [`StepUpConfigBuilder::respond_with`]: super::StepUpConfigBuilder::respond_with

use std::time::Duration;

use http::StatusCode;

use authsignal::types::Token;

/// The gate's answer when the handler does not run.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum GateAnswer {
    /// The user must complete a challenge (or enrol) first.
    Challenge(Challenge),
    /// The request is held for a manual review (on a route that holds reviews, see
    /// [`StepUpLayer::hold_reviews`](super::StepUpLayer::hold_reviews)): answered `202
    /// Accepted`, it runs once a reviewer approves it.
    Review(HeldReview),
    /// The request is refused.
    Refusal(Refusal),
}

/// A request held until a reviewer decides: what the client needs to come back with it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HeldReview {
    /// The action in review.
    pub action: String,
    /// The idempotency key of the action in review: the id the client comes back with.
    pub idempotency_key: String,
    /// The header an API client sends the request again with, holding the idempotency key.
    pub review_header: String,
    /// When the hold ends, in seconds since the Unix epoch; known when the request is
    /// first held, not on a later visit.
    pub expires_at: Option<u64>,
    /// When to ask again.
    pub retry_after: Duration,
    /// Where a browser's waiting page checks back (an absolute URL on the app's origin),
    /// for a browser the gate can resume.
    pub check_url: Option<String>,
}

/// A challenge the user must complete before the request runs.
///
/// Its `Debug` shows neither the token nor the token in `url`.
#[derive(Clone)]
#[non_exhaustive]
pub struct Challenge {
    /// The action challenged.
    pub action: String,
    /// The idempotency key of the tracked action.
    pub idempotency_key: String,
    /// The track token: a custom UI uses it as its Bearer token with Authsignal's client API.
    pub token: Option<Token>,
    /// The pre-built UI, for a browser (already checked to be an http(s) URL).
    pub url: Option<String>,
    /// When the challenge expires, in seconds since the Unix epoch.
    pub expires_at: u64,
    /// Whether the user has no authenticator yet and is asked to enrol one (see
    /// [`Unenrolled::Enrol`](super::Unenrolled::Enrol)).
    pub enrolment: bool,
    /// The header an API client sends the completed challenge's token back in.
    pub token_header: String,
}

impl std::fmt::Debug for Challenge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Challenge")
            .field("action", &self.action)
            .field("idempotency_key", &self.idempotency_key)
            .field("token", &self.token)
            .field(
                "url",
                &self
                    .url
                    .as_deref()
                    .map(authsignal::safe_text::redact_url_token),
            )
            .field("expires_at", &self.expires_at)
            .field("enrolment", &self.enrolment)
            .finish_non_exhaustive()
    }
}

/// Why the gate refused a request. The reason of a failed verification stays in the logs:
/// every one is [`VerificationFailed`](Self::VerificationFailed), so that a prober learns
/// nothing from the difference.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// No authenticated user (401).
    NoUser,
    /// A token was given but cannot be one (400).
    MalformedToken,
    /// A review id was given (in the review header) but cannot be one (400).
    MalformedReviewId,
    /// The standalone extractor found no token (401).
    TokenRequired,
    /// The token did not validate for this user, action and request, or was used before
    /// (403).
    VerificationFailed,
    /// Authsignal blocked the action (403 unless configured otherwise).
    Blocked {
        /// The status answered.
        status: StatusCode,
    },
    /// The action waits for a manual review, on a route that does not hold reviews (403
    /// unless configured otherwise).
    InReview {
        /// The status answered.
        status: StatusCode,
        /// The idempotency key of the action under review.
        idempotency_key: String,
    },
    /// The user has no authenticator and the gate is set to refuse such users (403).
    NotEnrolled,
    /// The user holds as many step-up records as they may (429): challenges not yet
    /// answered, completed ones not yet resumed, tokens spent recently. Nobody else is
    /// affected.
    TooManyChallenges {
        /// When the first of them expires.
        retry_after: Duration,
    },
    /// Authsignal or the store failed, so the gate stays shut (503).
    Unavailable {
        /// When to try again.
        retry_after: Duration,
    },
    /// The body is larger than the route reads (413).
    BodyTooLarge {
        /// The route's limit, in bytes.
        limit: usize,
    },
    /// The body could not be read (400).
    UnreadableBody,
    /// The body's media type or encoding is not one the gate reads rules' values from (415).
    UnsupportedBody {
        /// What to send instead.
        reason: &'static str,
    },
    /// The body could be read more than one way, or not at all (400).
    MalformedBody {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The path and query are longer than the gate keeps (414).
    UriTooLong,
    /// A handler asks for a proof no layer or validator on its route provides: a server
    /// misconfiguration (500).
    MissingLayer,
    /// A handler asks for the proof of one action behind the gate of another: a server
    /// misconfiguration (500).
    WrongAction {
        /// The action the handler asks for.
        expected: &'static str,
        /// The action of the gate in front of it.
        found: String,
    },
}

impl Refusal {
    /// [`TooManyChallenges`](Self::TooManyChallenges) for a user the store refused with
    /// [`StoreError::UserLimit`](crate::store::StoreError::UserLimit): at least a second,
    /// since `Retry-After` counts whole seconds and 0 would invite an immediate retry.
    pub(crate) fn too_many_challenges(retry_after: Duration) -> Self {
        Refusal::TooManyChallenges {
            retry_after: retry_after.max(Duration::from_secs(1)),
        }
    }

    /// The status the refusal answers with.
    ///
    /// ```
    /// use axum_authsignal::Refusal;
    /// assert_eq!(Refusal::VerificationFailed.status(), 403);
    /// ```
    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::NoUser | Refusal::TokenRequired => StatusCode::UNAUTHORIZED,
            Refusal::MalformedToken
            | Refusal::MalformedReviewId
            | Refusal::UnreadableBody
            | Refusal::MalformedBody { .. } => StatusCode::BAD_REQUEST,
            Refusal::VerificationFailed | Refusal::NotEnrolled => StatusCode::FORBIDDEN,
            Refusal::Blocked { status } | Refusal::InReview { status, .. } => *status,
            Refusal::TooManyChallenges { .. } => StatusCode::TOO_MANY_REQUESTS,
            Refusal::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Refusal::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::UnsupportedBody { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Refusal::UriTooLong => StatusCode::URI_TOO_LONG,
            Refusal::MissingLayer | Refusal::WrongAction { .. } => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// A short stable code for programs, e.g. `step_up_failed`.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::NoUser => "user_required",
            Refusal::MalformedToken => "token_malformed",
            Refusal::MalformedReviewId => "review_id_malformed",
            Refusal::TokenRequired => "step_up_required",
            Refusal::VerificationFailed => "step_up_failed",
            Refusal::Blocked { .. } => "action_blocked",
            Refusal::InReview { .. } => "action_in_review",
            Refusal::NotEnrolled => "enrolment_required",
            Refusal::TooManyChallenges { .. } => "too_many_challenges",
            Refusal::Unavailable { .. } => "step_up_unavailable",
            Refusal::BodyTooLarge { .. } => "body_too_large",
            Refusal::UnreadableBody => "body_unreadable",
            Refusal::UnsupportedBody { .. } => "body_unsupported",
            Refusal::MalformedBody { .. } => "body_malformed",
            Refusal::UriTooLong => "uri_too_long",
            Refusal::MissingLayer => "step_up_layer_missing",
            Refusal::WrongAction { .. } => "step_up_wrong_action",
        }
    }

    /// What happened, for people.
    pub fn detail(&self) -> String {
        match self {
            Refusal::NoUser => "Sign in first: this action needs an authenticated user.".into(),
            Refusal::MalformedToken => "The step-up token is malformed.".into(),
            Refusal::MalformedReviewId => "The review id is malformed.".into(),
            Refusal::TokenRequired => "This action needs a step-up authentication token.".into(),
            Refusal::VerificationFailed => {
                "The step-up authentication could not be verified. Start the action again.".into()
            }
            Refusal::Blocked { .. } => "This action is not allowed.".into(),
            Refusal::InReview { .. } => "This action is held for a manual review.".into(),
            Refusal::NotEnrolled => {
                "This action needs an authenticator: add one to your account first.".into()
            }
            Refusal::TooManyChallenges { .. } => {
                "Too many step-up challenges are open for this account. Finish one, or try \
                 again later."
                    .into()
            }
            Refusal::Unavailable { .. } => {
                "Step-up authentication is unavailable right now. Try again shortly.".into()
            }
            Refusal::BodyTooLarge { .. } => {
                "The request body is larger than this action accepts.".into()
            }
            Refusal::UnreadableBody => "The request body could not be read.".into(),
            Refusal::UnsupportedBody { reason } | Refusal::MalformedBody { reason } => {
                format!("The request body cannot be checked: {reason}.")
            }
            Refusal::UriTooLong => "The request's address is too long.".into(),
            Refusal::MissingLayer => "This route asks for a StepUp proof but has no \
                                      StepUpLayer and no StepUpValidator extension: add \
                                      StepUpConfig::gate(action) to the route."
                .into(),
            Refusal::WrongAction { expected, found } => format!(
                "This handler asks for the proof of the action `{expected}`, but the gate in \
                 front of it is for `{found}`: put it behind a gate for `{expected}`."
            ),
        }
    }

    /// How long to wait before trying again, where that is known.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Refusal::TooManyChallenges { retry_after } | Refusal::Unavailable { retry_after } => {
                Some(*retry_after)
            }
            _ => None,
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.detail())
    }
}
