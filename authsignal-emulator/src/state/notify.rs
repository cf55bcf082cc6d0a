//! What the tenant tells the outside world: the webhook events of what just happened,
//! queued (in order, under the store's lock) for the delivery task. Nothing is queued when
//! no webhook endpoint is configured.

use super::super::clock::Timestamp;
use super::super::webhooks::{LogKind, events};
use super::{AuthenticatorRecord, OtpChallenge, Store};
use authsignal::types::{SmsChannel, UserActionState, VerificationMethod};

impl Store {
    fn emit(&self, event_type: &str, data: impl FnOnce() -> serde_json::Value, now: Timestamp) {
        if let Some(outbound) = &self.outbound {
            outbound.event(event_type, data(), now);
        }
    }

    /// `authenticator.created`.
    pub(crate) fn notify_created(&self, record: &AuthenticatorRecord, now: Timestamp) {
        self.emit(
            "authenticator.created",
            || events::authenticator_created(record),
            now,
        );
    }

    /// `authenticator.deleted`, for each of `records` that was verified (one in progress
    /// was never an authenticator of the user's).
    pub(crate) fn notify_deleted(&self, records: &[AuthenticatorRecord], now: Timestamp) {
        for record in records.iter().filter(|r| r.is_verified()) {
            self.emit(
                "authenticator.deleted",
                || events::authenticator_deleted(record, now),
                now,
            );
        }
    }

    /// A `challenge.log_created` about a code.
    pub(crate) fn notify_code_log(&self, challenge: &OtpChallenge, kind: LogKind, now: Timestamp) {
        let Some(outbound) = &self.outbound else {
            return;
        };
        if let Some(record) = events::challenge_log(&outbound.tenant_id, challenge, kind, now) {
            outbound.log("challenge.log_created", record, now);
        }
    }

    /// A right SMS code over `channel`: the user's SMS authenticator of that number
    /// remembers the channel, and `authenticator.updated` tells of a change.
    pub(crate) fn sms_channel_used(
        &mut self,
        user_id: &str,
        phone_number: &str,
        channel: SmsChannel,
        now: Timestamp,
    ) {
        let Some(record) = self.authenticators.iter_mut().find(|a| {
            a.user_id == user_id
                && a.method == VerificationMethod::Sms
                && a.is_verified()
                && a.phone_number.as_deref() == Some(phone_number)
        }) else {
            return;
        };
        let previous = record.last_sms_channel.replace(channel.clone());
        if let Some(previous) = previous.filter(|previous| *previous != channel) {
            let record = record.clone();
            self.emit(
                "authenticator.updated",
                || events::authenticator_channel_changed(&record, &previous, now),
                now,
            );
        }
    }

    /// An `action.log_created` for the action, if its state is a final one.
    pub(crate) fn notify_action(&self, user_id: &str, code: &str, key: &str) {
        let Some(outbound) = &self.outbound else {
            return;
        };
        let Some(action) = self.action(user_id, code, key) else {
            return;
        };
        if matches!(action.state, UserActionState::ChallengeRequired) {
            return;
        }
        let enrolled = self.enrolled_methods(user_id);
        let record = events::action_log(&outbound.tenant_id, action, &enrolled);
        outbound.log("action.log_created", record, action.state_updated_at);
    }
}
