//! The emulated tenant's data, kept in memory behind one `Mutex`.
//!
//! Handlers lock the store, do their work without awaiting anything, and let go: a
//! `std::sync::Mutex` is never held across an `.await`. The operations themselves live in
//! one module per area, as methods of [`Store`] that take the instant (or a [`Tokens`],
//! which carries it) from the caller, so that the clock is read once per request.

mod action_table;
mod actions;
mod authenticators;
mod client_otp;
mod devices;
mod notify;
mod otp;
mod passkeys;
mod prebuilt;
mod push;
mod sending;
mod sessions;
mod totp;
mod users;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use subtle::ConstantTimeEq as _;

use action_table::ActionTable;
pub(crate) use actions::{ActionsQuery, validation_errors};
pub(crate) use authenticators::EnrollRequest;
pub(crate) use client_otp::{LinkState, OtpAttempt, OtpChannel};
pub(crate) use passkeys::{Answered, Checked, RegistrationRequest, Started};
pub use push::PendingPush;
pub(crate) use push::{PushChallenge, PushState};
pub(crate) use sending::CodeContext;
use sending::SendRecord;
pub(crate) use totp::TotpAttempt;

use super::calls::RecordedCall;
use super::clock::{Clock, Timestamp};
use super::config::EmulatorConfig;
use super::connections::Connections;
use super::faults::{Fault, FaultKind, Faults};
use super::latency::Latencies;
use super::outbox::OutboxMessage;
use super::rules::{Outcome, Rule};
use super::session_key::SessionKeySlot;
use super::tokens::{ActionRef, Tokens};
use super::webhooks::{Outbound, Tracker};
use authsignal::types::{
    CustomData, SmsChannel, TrackResponse, UserActionState, VerificationMethod,
};

/// How many wrong codes a challenge takes before it fails.
pub const MAX_ATTEMPTS: u32 = 5;

/// How long a one-time code sent by `challenge` is good for.
pub const CODE_LIFETIME: Duration = Duration::from_secs(10 * 60);

/// Everything a request handler needs, shared by all of them.
pub(crate) struct Shared {
    pub(crate) secret: String,
    /// `http://host:port`, for the URLs the emulator hands out.
    pub(crate) origin: String,
    pub(crate) clock: Clock,
    /// The tenant's id, in webhook events and the JWKS path.
    pub(crate) tenant_id: String,
    /// Signs session access tokens; published as the JWKS.
    pub(crate) session_key: SessionKeySlot,
    /// Webhook deliveries not yet done.
    pub(crate) webhooks: Arc<Tracker>,
    /// The TCP connections accepted, and open now.
    pub(crate) connections: Connections,
    store: Mutex<Store>,
    faults: Mutex<Faults>,
    latency: Mutex<Latencies>,
    calls: Mutex<Vec<RecordedCall>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("origin", &self.origin)
            .field("secret", &"[redacted]")
            .finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere must not turn every later request into one.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn new(
        secret: String,
        origin: String,
        config: EmulatorConfig,
        tenant_id: String,
        webhooks: Arc<Tracker>,
        outbound: Option<Outbound>,
        session_key: SessionKeySlot,
    ) -> Self {
        Self {
            secret,
            origin,
            clock: Clock::default(),
            tenant_id,
            session_key,
            webhooks,
            connections: Connections::default(),
            store: Mutex::new(Store {
                config,
                outbound,
                ..Store::default()
            }),
            faults: Mutex::default(),
            latency: Mutex::default(),
            calls: Mutex::default(),
        }
    }

    /// Makes sure the session key exists, generating it on a blocking thread if this is
    /// its first use: generation takes long enough (tens of milliseconds, more in an
    /// unoptimised build) that doing it under the store's lock, or on an async worker,
    /// would stall every other request.
    pub(crate) async fn prepare_session_key(self: &Arc<Self>) {
        if self.session_key.existing().is_none() {
            let shared = Arc::clone(self);
            // A panic here would be the OS random source failing; `get` on first signing
            // meets the same failure and reports it.
            let _ = tokio::task::spawn_blocking(move || {
                shared.session_key.get();
            })
            .await;
        }
    }

    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    /// Token signing and reading at the clock's present.
    pub(crate) fn tokens(&self) -> Tokens<'_> {
        Tokens {
            secret: &self.secret,
            session_key: &self.session_key,
            now: self.clock.now(),
        }
    }

    pub(crate) fn record_call(&self, call: RecordedCall) {
        lock(&self.calls).push(call);
    }

    pub(crate) fn calls(&self) -> Vec<RecordedCall> {
        lock(&self.calls).clone()
    }

    pub(crate) fn clear_calls(&self) {
        lock(&self.calls).clear();
    }

    pub(crate) fn arm_fault(&self, operation: &str, fault: Fault) {
        lock(&self.faults).arm(operation, fault);
    }

    pub(crate) fn clear_faults(&self, operation: Option<&str>) {
        lock(&self.faults).clear(operation);
    }

    pub(crate) fn take_fault(&self, operation: &str) -> Option<FaultKind> {
        lock(&self.faults).take(operation)
    }

    pub(crate) fn set_latency(&self, operation: &str, delay: Duration) {
        lock(&self.latency).set(operation, delay);
    }

    pub(crate) fn clear_latency(&self) {
        lock(&self.latency).clear();
    }

    pub(crate) fn latency_of(&self, operation: &str) -> Option<Duration> {
        lock(&self.latency).of(operation)
    }

    /// What the client API knows of a request's user for its challenge events, and where
    /// its magic links point.
    pub(crate) fn client_context(&self) -> CodeContext {
        CodeContext {
            magic_link_base: Some(format!("{}/ui/magic-link?token=", self.origin)),
            ..CodeContext::default()
        }
    }

    /// The pre-built UI's address for a challenge token.
    pub(crate) fn challenge_url(&self, token: &str) -> String {
        format!("{}/ui/challenge?token={token}", self.origin)
    }
}

/// The tenant's data.
#[derive(Debug, Default)]
pub(crate) struct Store {
    pub(crate) config: EmulatorConfig,
    /// By user id. Nothing lists users in the order they came: `queryUsers` sorts by id.
    pub(crate) users: HashMap<String, UserRecord>,
    pub(crate) authenticators: Vec<AuthenticatorRecord>,
    /// By user, each user's in the order they were tracked.
    pub(crate) actions: ActionTable,
    pub(crate) challenges: Vec<OtpChallenge>,
    /// Pushes sent to users' phones.
    pub(crate) pushes: Vec<PushChallenge>,
    /// Codes and links sent, for the send limits.
    sends: Vec<SendRecord>,
    pub(crate) sessions: Vec<SessionRecord>,
    pub(crate) outbox: Vec<OutboxMessage>,
    /// By user, in the order first seen.
    pub(crate) devices: Vec<DeviceRecord>,
    /// Where webhook events go, if anywhere.
    pub(crate) outbound: Option<Outbound>,
    /// WebAuthn challenges issued and not yet answered.
    pub(crate) ceremonies: Vec<passkeys::Ceremony>,
    /// Passkey sign-ins without a token, not yet given their options.
    pub(crate) sign_ins: Vec<passkeys::PendingSignIn>,
}

/// A user, created by the first `track`, `updateUser` or enrollment that names them.
#[derive(Debug, Clone, Default)]
pub(crate) struct UserRecord {
    pub(crate) user_id: String,
    pub(crate) email: Option<String>,
    pub(crate) email_verified: bool,
    pub(crate) phone_number: Option<String>,
    pub(crate) phone_number_verified: bool,
    pub(crate) username: Option<String>,
    pub(crate) display_name: Option<String>,
    pub(crate) custom: Option<CustomData>,
    pub(crate) locale: Option<String>,
}

/// An authenticator; one whose `verified_at` is `None` is an enrollment in progress,
/// which `getAuthenticators` does not list and which does not make the user enrolled.
#[derive(Debug, Clone)]
pub(crate) struct AuthenticatorRecord {
    pub(crate) id: String,
    pub(crate) user_id: String,
    pub(crate) method: VerificationMethod,
    pub(crate) created_at: Timestamp,
    pub(crate) verified_at: Option<Timestamp>,
    pub(crate) last_verified_at: Option<Timestamp>,
    pub(crate) phone_number: Option<String>,
    pub(crate) email: Option<String>,
    pub(crate) is_default: bool,
    /// The shared secret of an authenticator app.
    pub(crate) totp_secret: Option<Vec<u8>>,
    /// The WebAuthn credential of a passkey or security key.
    pub(crate) passkey: Option<PasskeyCredential>,
    /// The channel an SMS authenticator last completed a code over.
    pub(crate) last_sms_channel: Option<SmsChannel>,
}

/// A passkey's or security key's credential, registered through the client API or
/// given by `batchEnrollVerifiedAuthenticators`.
#[derive(Debug, Clone)]
pub(crate) struct PasskeyCredential {
    /// Base64url, as WebAuthn's JSON and the API carry it.
    pub(crate) credential_id: String,
    pub(crate) name: Option<String>,
    pub(crate) aaguid: Option<String>,
    /// The P-256 key (SEC1) assertions are checked with; none for a batch-enrolled
    /// passkey, whose key the emulator does not read.
    pub(crate) public_key: Option<Vec<u8>>,
    /// The authenticator's signature counter at the last assertion.
    pub(crate) sign_count: u32,
}

/// A device a user tracked actions on.
#[derive(Debug, Clone)]
pub(crate) struct DeviceRecord {
    pub(crate) user_id: String,
    pub(crate) device_id: String,
    pub(crate) created_at: Timestamp,
    pub(crate) authenticated_at: Option<Timestamp>,
    pub(crate) invalidated_at: Option<Timestamp>,
    pub(crate) remembered_until: Option<Timestamp>,
    pub(crate) last_verification_method: Option<VerificationMethod>,
}

impl AuthenticatorRecord {
    /// A new authenticator of `method` for `user_id`, not yet verified, with a fresh id
    /// and nothing else set.
    pub(crate) fn new(user_id: &str, method: VerificationMethod, now: Timestamp) -> Self {
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            user_id: user_id.to_owned(),
            method,
            created_at: now,
            verified_at: None,
            last_verified_at: None,
            phone_number: None,
            email: None,
            is_default: false,
            totp_secret: None,
            passkey: None,
            last_sms_channel: None,
        }
    }

    pub(crate) fn is_verified(&self) -> bool {
        self.verified_at.is_some()
    }
}

/// A tracked action, keyed by user, action code and idempotency key.
#[derive(Debug, Clone)]
pub(crate) struct ActionRecord {
    pub(crate) user_id: String,
    pub(crate) code: String,
    pub(crate) idempotency_key: String,
    pub(crate) state: UserActionState,
    pub(crate) created_at: Timestamp,
    pub(crate) updated_at: Timestamp,
    pub(crate) state_updated_at: Timestamp,
    pub(crate) verification_method: Option<VerificationMethod>,
    pub(crate) verified_by: Option<String>,
    pub(crate) rule: Option<Rule>,
    pub(crate) redirect_url: Option<String>,
    pub(crate) redirect_to_settings: bool,
    pub(crate) scope: Option<String>,
    /// The `deviceId` the action was tracked with.
    pub(crate) device_id: Option<String>,
    /// What the rules decided when it was tracked (before an unenrolled user's challenge
    /// became `ALLOW`); the action log's `outcome`.
    pub(crate) outcome: Outcome,
    /// The context it was tracked with, for the action log.
    pub(crate) ip_address: Option<String>,
    pub(crate) email: Option<String>,
    pub(crate) phone_number: Option<String>,
    pub(crate) custom: Option<CustomData>,
    /// Wrong codes so far; at [`MAX_ATTEMPTS`] the challenge has failed.
    pub(crate) failed_attempts: u32,
    /// What `track` first answered, answered again to a repeated `track`.
    pub(crate) tracked: Option<TrackResponse>,
}

impl ActionRecord {
    /// An action in `state` since `now`, decided by no rule, with no context.
    pub(crate) fn new(
        user_id: &str,
        code: &str,
        idempotency_key: &str,
        state: UserActionState,
        now: Timestamp,
    ) -> Self {
        Self {
            user_id: user_id.to_owned(),
            code: code.to_owned(),
            idempotency_key: idempotency_key.to_owned(),
            state,
            created_at: now,
            updated_at: now,
            state_updated_at: now,
            verification_method: None,
            verified_by: None,
            rule: None,
            redirect_url: None,
            redirect_to_settings: false,
            scope: None,
            device_id: None,
            outcome: Outcome::ChallengeRequired,
            ip_address: None,
            email: None,
            phone_number: None,
            custom: None,
            failed_attempts: 0,
            tracked: None,
        }
    }

    pub(crate) fn set_state(&mut self, state: UserActionState, now: Timestamp) {
        self.state = state;
        self.state_updated_at = now;
        self.updated_at = now;
    }

    /// Counts a wrong code, whatever the method; true when it was the [`MAX_ATTEMPTS`]th,
    /// which fails the action (`CHALLENGE_FAILED`).
    pub(crate) fn count_wrong_code(&mut self, now: Timestamp) -> bool {
        self.failed_attempts += 1;
        self.updated_at = now;
        if self.failed_attempts < MAX_ATTEMPTS {
            return false;
        }
        self.set_state(UserActionState::ChallengeFailed, now);
        true
    }
}

/// A one-time code sent by `challenge` or the client API, or an email magic link (whose
/// `code` is the secret in its URL).
#[derive(Clone)]
pub(crate) struct OtpChallenge {
    pub(crate) id: String,
    pub(crate) method: VerificationMethod,
    pub(crate) sms_channel: Option<SmsChannel>,
    pub(crate) email: Option<String>,
    pub(crate) phone_number: Option<String>,
    pub(crate) code: String,
    pub(crate) user_id: Option<String>,
    pub(crate) action: Option<String>,
    pub(crate) idempotency_key: String,
    pub(crate) expires_at: Timestamp,
    pub(crate) failed_attempts: u32,
    /// A right code was given; for a magic link, the link was followed.
    pub(crate) verified: bool,
    /// A followed magic link completed its action (a link does so once).
    pub(crate) finalized: bool,
    pub(crate) claimed_by: Option<String>,
}

impl OtpChallenge {
    /// Whether `given` (a typed code, spaces around it forgiven, or a link's secret) is
    /// this challenge's, compared in constant time: timing must not tell how much of a
    /// guess was right.
    pub(crate) fn is(&self, given: &str) -> bool {
        given.trim().as_bytes().ct_eq(self.code.as_bytes()).into()
    }
}

impl std::fmt::Debug for OtpChallenge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The code (or a link's secret) is a credential while it lives: never printed.
        f.debug_struct("OtpChallenge")
            .field("id", &self.id)
            .field("method", &self.method)
            .field("user_id", &self.user_id)
            .field("action", &self.action)
            .field("code", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .field("verified", &self.verified)
            .field("finalized", &self.finalized)
            .finish_non_exhaustive()
    }
}

/// A session made by `createSession`.
#[derive(Debug, Clone)]
pub(crate) struct SessionRecord {
    pub(crate) id: String,
    pub(crate) user_id: String,
    pub(crate) client_id: String,
    pub(crate) verification_method: Option<VerificationMethod>,
    /// The one refresh token that is good now; refreshing replaces it.
    pub(crate) refresh_token: String,
    pub(crate) refresh_expires_at: Timestamp,
    pub(crate) revoked: bool,
}

impl Store {
    /// The user, created on first mention.
    pub(crate) fn user_mut(&mut self, user_id: &str) -> &mut UserRecord {
        self.users
            .entry(user_id.to_owned())
            .or_insert_with(|| UserRecord {
                user_id: user_id.to_owned(),
                ..UserRecord::default()
            })
    }

    pub(crate) fn user(&self, user_id: &str) -> Option<&UserRecord> {
        self.users.get(user_id)
    }

    pub(crate) fn action(&self, user_id: &str, code: &str, key: &str) -> Option<&ActionRecord> {
        self.actions.get(user_id, code, key)
    }

    pub(crate) fn action_mut(
        &mut self,
        user_id: &str,
        code: &str,
        key: &str,
    ) -> Option<&mut ActionRecord> {
        self.actions.get_mut(user_id, code, key)
    }

    /// A challenge of the action was passed with `method` (by `authenticator`, if one):
    /// the action is `CHALLENGE_SUCCEEDED` and its device, if any, authenticated.
    pub(crate) fn complete_challenge(
        &mut self,
        target: &ActionRef,
        method: VerificationMethod,
        authenticator: Option<String>,
        now: Timestamp,
    ) -> Option<&ActionRecord> {
        let action = self.action_mut(
            &target.user_id,
            &target.action_code,
            &target.idempotency_key,
        )?;
        action.set_state(UserActionState::ChallengeSucceeded, now);
        action.verification_method = Some(method.clone());
        if authenticator.is_some() {
            action.verified_by = authenticator;
        }
        let device = action.device_id.clone();
        if let Some(device) = device {
            self.authenticated_device(&target.user_id, &device, &method, now);
        }
        self.notify_action(
            &target.user_id,
            &target.action_code,
            &target.idempotency_key,
        );
        self.action(
            &target.user_id,
            &target.action_code,
            &target.idempotency_key,
        )
    }
}
