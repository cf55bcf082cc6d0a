//! [`Route`]: a route's settings at work, with the steps every leg takes on them, the
//! gate's, a validator's and sign-in's alike: record the outcome, answer a refusal, take a
//! record from the store.

use std::sync::Arc;

use axum::response::Response;

use super::answer::Refusal;
use super::respond::{Audience, Responder};
use super::settings::{ConfigSettings, RouteSettings};
use super::telemetry;
use crate::store::{PendingChallenge, RecordKey, RecordKind, StoreError};

/// One route (a gate's, a validator's or a sign-in's): its settings, shared by every
/// request through it; cheap to clone.
#[derive(Clone)]
pub(crate) struct Route {
    settings: Arc<RouteSettings>,
}

impl Route {
    pub(crate) fn new(settings: Arc<RouteSettings>) -> Self {
        Self { settings }
    }

    pub(crate) fn settings(&self) -> &RouteSettings {
        &self.settings
    }

    /// The configuration's settings, which the route shares with every other of it.
    pub(crate) fn config(&self) -> &ConfigSettings {
        self.settings.config()
    }

    /// How this route answers: the configuration's hook, else the defaults.
    pub(crate) fn responder(&self) -> Responder {
        Responder::new(self.config().respond_with().cloned())
    }

    /// Records this request's outcome (span, log, metrics).
    pub(crate) fn outcome(&self, outcome: &'static str, reason: Option<&str>) {
        telemetry::outcome(self.settings.action().as_str(), outcome, reason);
    }

    pub(crate) fn refuse(&self, refusal: Refusal, audience: Audience) -> Response {
        self.responder().refuse(refusal, audience)
    }

    pub(crate) fn unavailable(&self, audience: Audience) -> Response {
        let retry_after = self.config().retry_after();
        self.refuse(Refusal::Unavailable { retry_after }, audience)
    }

    /// The one way a record of any kind is taken, by the gate and by sign-in: the user's
    /// own (the key names them), once only, and only if the record says it is that user's
    /// and this route's action's. A store is not trusted to have kept records apart: a
    /// record rewritten in a shared store, or a key built without the user, opens nothing.
    ///
    /// `Ok(None)` when there is no such record (spent, expired, never issued); the caller
    /// decides what that means. `Err` is the refusal, its reason logged: another user's or
    /// action's record, or the store failing.
    pub(crate) async fn take_record(
        &self,
        kind: RecordKind,
        id: &str,
        user_id: &str,
    ) -> Result<Option<PendingChallenge>, Refusal> {
        // A resume id is a capability, kept out of the log; an idempotency key is not.
        if kind == RecordKind::Challenge {
            tracing::Span::current().record("idempotency_key", id);
        }
        let key = RecordKey::new(kind, user_id, id);
        let store = self.config().store();
        let taken = store.take(&key).await;
        telemetry::pending(&**store);
        match taken {
            Ok(Some(record))
                if record.user_id() == user_id
                    && record.action() == self.settings.action().as_str() =>
            {
                Ok(Some(record))
            }
            Ok(Some(_)) => {
                self.outcome("refused", Some("the record is another user's or action's"));
                Err(Refusal::VerificationFailed)
            }
            Ok(None) => Ok(None),
            Err(err) => Err(self.store_refusal(&err)),
        }
    }

    /// The refusal for a store that refused or failed: 429 for a user at their bound
    /// (their records of every kind count, so a resume can be refused too), else 503.
    /// Either way nothing runs. The outcome is recorded.
    pub(crate) fn store_refusal(&self, err: &StoreError) -> Refusal {
        if let StoreError::UserLimit { retry_after } = err {
            self.outcome(
                "too_many_challenges",
                Some("the user's step-up records fill their bound"),
            );
            return Refusal::too_many_challenges(*retry_after);
        }
        self.outcome("unavailable", Some(&err.to_string()));
        Refusal::Unavailable {
            retry_after: self.config().retry_after(),
        }
    }

    /// [`store_refusal`](Self::store_refusal), answered.
    pub(crate) fn store_failed(&self, err: &StoreError, audience: Audience) -> Response {
        self.refuse(self.store_refusal(err), audience)
    }
}
