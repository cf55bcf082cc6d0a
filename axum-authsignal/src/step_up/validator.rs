//! [`StepUpValidator`]: the [`StepUp`](super::StepUp) extractor on its own, for handlers
//! without a gate.

use std::sync::Arc;

use http::request::Parts;

use super::answer::Refusal;
use super::proof::{Proof, StepUpOutcome};
use super::rejection::StepUpRejection;
use super::respond::Audience;
use super::route::Route;
use super::settings::{CHALLENGE_TTL, RouteSettings};
use super::{token, verify};
use crate::store::{PendingChallenge, RecordKey, RecordKind, StoreError};

/// Validates a step-up token in the [`StepUp`](super::StepUp) extractor itself, for
/// handlers that run without a gate: made by
/// [`StepUpConfig::validator`](super::StepUpConfig::validator), added as an
/// `Extension` on the route.
///
/// It checks the token server-side for the user and the action, and lets each token
/// through once: it records spent tokens in the configuration's store for the token's
/// lifetime, where they count against the user's bound like any record (a user who spent
/// that many tokens within it gets 429 with `Retry-After` until the first expires). Unlike the gate it
/// cannot bind the token to the request that was challenged, since it never saw that
/// request: put a gate in front of anything that moves money.
///
/// ```
/// use axum::{Extension, Router, routing::post};
/// use axum_authsignal::Authsignal;
/// use axum_authsignal::{StepUp, StepUpConfig};
///
/// let step_up = StepUpConfig::new(Authsignal::new("secret").unwrap());
/// async fn change_payout(proof: StepUp) -> &'static str { "changed" }
/// let app: Router = Router::new()
///     .route("/payout-account", post(change_payout))
///     .layer(Extension(step_up.validator("changePayoutAccount")));
/// ```
#[derive(Clone)]
pub struct StepUpValidator {
    /// The validator's settings, as a route's: its action and the configuration's.
    route: Route,
}

impl std::fmt::Debug for StepUpValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StepUpValidator")
            .field("action", self.route.settings().action())
            .field("config", self.route.config())
            .finish()
    }
}

impl StepUpValidator {
    pub(crate) fn new(settings: RouteSettings) -> Self {
        Self {
            route: Route::new(Arc::new(settings)),
        }
    }

    pub(crate) async fn validate(&self, parts: &mut Parts) -> Result<Proof, StepUpRejection> {
        let route = &self.route;
        let config = route.config();
        let audience = Audience::of(route.settings().client_kind(), &parts.headers);
        let reject = |refusal| StepUpRejection::new(refusal, audience, route.responder());
        let token = verify::given_token(config, parts).map_err(reject)?;
        let user_id = config
            .user()
            .find(parts)
            .await
            .ok_or_else(|| reject(Refusal::NoUser))?;
        let action = route.settings().action().as_str();
        let validated = verify::validate(config, &token, Some(&user_id), action)
            .await
            .map_err(reject)?;
        let spent = PendingChallenge::spent(
            user_id.as_str(),
            action,
            parts.method.clone(),
            token::path_and_query_without_token(&parts.uri),
        );
        let key = RecordKey::new(RecordKind::Spent, &user_id, &validated.idempotency_key);
        match config.store().put(&key, spent, CHALLENGE_TTL).await {
            Ok(()) => {}
            Err(StoreError::Duplicate) => {
                route.outcome("refused", Some("the token was used before"));
                return Err(reject(Refusal::VerificationFailed));
            }
            // Over the user's bound (429; spent tokens count), or the store failing (503).
            Err(err) => return Err(reject(route.store_refusal(&err))),
        }
        route.outcome("verified", None);
        parts.headers.remove(config.token_header());
        parts.uri = token::without_token(&parts.uri);
        Ok(Proof::new(
            route.settings().action().clone(),
            &user_id,
            StepUpOutcome::Verified(validated.response),
        ))
    }
}
