//! A local Authsignal emulator (feature `emulator`): the Server API, the client API of
//! custom UIs (TOTP), the pre-built UI, and test controls (clock, faults, outbox, calls).
//!
//! It is a real HTTP server on a local port, so the code under test talks to it exactly
//! as to Authsignal, through [`Authsignal`](crate::Authsignal) or any other client. It
//! also runs as a program, `authsignal-emulator` (see `--help`).
//!
//! ```
//! use axum_authsignal::emulator::{ActionConfig, Emulator};
//! use axum_authsignal::{TrackAttributes, UserActionState, ValidateChallengeRequest};
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let emulator = Emulator::builder()
//!         .action("withdraw", ActionConfig::challenge())
//!         .start()
//!         .await?;
//!     emulator.enroll_totp("user-1");
//!     let client = emulator.client();
//!
//!     let tracked = client
//!         .track("user-1", "withdraw", TrackAttributes::default())
//!         .await?;
//!     assert_eq!(tracked.state, UserActionState::ChallengeRequired);
//!     let track_token = tracked.token.expect("track always returns a token");
//!
//!     // The user types their authenticator app's code into a custom UI, which sends it to
//!     // the client API with the track token as its Bearer token.
//!     let verified: serde_json::Value = reqwest::Client::new()
//!         .post(format!("{}/client/verify/totp", emulator.api_url()))
//!         .bearer_auth(track_token.as_str())
//!         .json(&serde_json::json!({ "verificationCode": emulator.totp_code("user-1") }))
//!         .send()
//!         .await?
//!         .json()
//!         .await?;
//!     assert_eq!(verified["isVerified"], true);
//!
//!     // The backend validates the token the UI came back with.
//!     let validation = client
//!         .validate_challenge(&ValidateChallengeRequest {
//!             token: verified["accessToken"].as_str().unwrap_or_default().into(),
//!             user_id: Some("user-1".into()),
//!             action: Some("withdraw".into()),
//!         })
//!         .await?;
//!     assert!(validation.is_valid);
//!     assert_eq!(validation.state, Some(UserActionState::ChallengeSucceeded));
//!
//!     emulator.shutdown().await;
//!     Ok(())
//! }
//! ```
//!
//! # What it emulates
//!
//! All 21 operations of the Server API under `/v1`, with Basic auth (the secret as user
//! name, empty password; else 401 `unauthorized` with the live API's description), kept in
//! memory. Every error body carries `error`, `errorCode` and `errorDescription`; bad JSON,
//! a missing field, a bad path or query is 400 `invalid_request`.
//!
//! - **Users** are created by their first `track`, `updateUser` or enrollment; `getUser` of
//!   an unknown user is 200 with `isEnrolled: false`.
//! - **Authenticators**: `enrollVerifiedAuthenticator` for `SMS`, `WHATSAPP` (phone number
//!   required), `EMAIL_OTP`, `EMAIL_MAGIC_LINK` (email required) and `AUTHENTICATOR_APP`
//!   (which gets a TOTP secret); an unknown id to `deleteAuthenticator` is 400
//!   `AUTHENTICATOR_NOT_FOUND`.
//! - **Actions** are decided by [`ActionConfig`]s: a default [`Outcome`] and [`Rule`]s
//!   (first match wins). Unconfigured actions are `ALLOW`. A user with no authenticator
//!   whose outcome would be a challenge is let through (`ALLOW`, `isEnrolled: false`), as
//!   Authsignal does, unless the action [prompts enrollment](ActionConfig::prompt_enrollment).
//!   `track` answers a token and a `url` to the pre-built UI in every state, as Authsignal
//!   does. The same idempotency key tracked again answers the first answer.
//! - **One-time codes** (`challenge`, `verify`, `claimChallenge`, `getChallenge`) go to an
//!   [outbox](EmulatorHandle::outbox) (also [over HTTP](#emulator-only-extension-the-outbox-route)):
//!   6 digits, good for [`CODE_LIFETIME`], failing at the [`MAX_ATTEMPTS`]th wrong code
//!   (`MAX_ATTEMPTS_EXCEEDED`).
//! - **Sessions** start from a token whose action succeeded; refreshing spends the refresh
//!   token; failures are 400 `invalid_credential`.
//! - **Client API** (Bearer = a challenge token): `POST /v1/client/user-authenticators/totp`
//!   starts an authenticator-app enrollment (`{uri, secret, userAuthenticatorId, userId}`;
//!   an enrolled user's token needs the `add:authenticators` scope), and
//!   `POST /v1/client/verify/totp` `{verificationCode}` answers `{isVerified, accessToken}`
//!   (or `failureReason`); [`MAX_ATTEMPTS`] wrong codes make the action `CHALLENGE_FAILED`.
//!   Both answer CORS preflights and allow any origin (the credential is a Bearer token,
//!   never a cookie), so a custom UI can call them from the app's page.
//! - **Pre-built UI** at `/ui/challenge`: see below.
//!
//! # Tokens and `/validate`
//!
//! Tokens are HS256 JWTs signed with the tenant secret: `sub` (the user), `iat`, `exp`
//! ([`TOKEN_LIFETIME`] later, by the emulator's clock), `jti`, `type: "challenge"`,
//! `scope` when the track asked for one, and `other: {userId, actionCode,
//! idempotencyKey}` as older Authsignal tokens carry. A token names an action; `/validate`
//! answers that action's state now, and never consumes the token (Authsignal does not
//! document that it does, so callers must guard against replay themselves). Its answers,
//! all 200:
//!
//! | case | answer |
//! |---|---|
//! | challenge succeeded | `{isValid: true, state: "CHALLENGE_SUCCEEDED", stateUpdatedAt, userId, action, idempotencyKey, verificationMethod}` |
//! | any other state | `{isValid: false, state, userId, action, idempotencyKey}` |
//! | `userId` given and not the token's | `{isValid: false, error: "User is invalid."}` |
//! | `action` given and not the token's | `{isValid: false, error: "Action is invalid."}` |
//! | expired token | `{isValid: false, error: "Token has expired."}` |
//! | malformed, forged or foreign token, or its action deleted | `{isValid: false, error: "Token is invalid."}` |
//!
//! # The pre-built UI
//!
//! The track `url` (`http://127.0.0.1:PORT/ui/challenge?token=...`) opens a page where the
//! user types their authenticator app's code; a user with no app sees the key and the
//! `otpauth://` URI to add first. A right code answers 303 to the track's `redirectUrl`
//! with `token=<jwt>` appended; a wrong one answers 400 with the form and the error again.
//! For an `ALLOW` action the page enrolls a user with no authenticator the same way (the
//! action then becomes `CHALLENGE_SUCCEEDED`), and tells an enrolled one there is nothing
//! to verify (`#message`); a `BLOCK` or `REVIEW_REQUIRED` action has nothing to verify
//! either (`#error`). Stable element ids: `code`, `verify`, `error`, `success`, `message`,
//! `totp-secret`, `totp-uri`.
//!
//! # Emulator-only extension: the outbox route
//!
//! Real Authsignal has no such route: it exists so that tests written in other languages
//! can read the one-time codes that Rust tests read with [`EmulatorHandle::outbox`].
//! `GET /v1/emulator/outbox` (optionally `?to=<email or phone number>`), with the same
//! Basic auth as the Server API (else 401 `unauthorized`), answers the codes sent so far,
//! oldest first:
//!
//! ```json
//! [{"challengeId": "...", "verificationMethod": "EMAIL_OTP", "to": "a@example.com",
//!   "code": "123456", "userId": "u1", "action": "signIn",
//!   "sentAt": "2024-06-01T12:00:10.000Z"}]
//! ```
//!
//! `userId` and `action` are left out when the challenge named none; `sentAt` is by the
//! emulator's clock. Its calls are recorded as `emulatorOutbox`.
//!
//! # Test controls
//!
//! [`EmulatorHandle`] has the [clock](EmulatorHandle::set_time) (pinned or advanced,
//! never waited for), [`totp_code`](EmulatorHandle::totp_code),
//! [`enroll_totp`](EmulatorHandle::enroll_totp), [`set_action`](EmulatorHandle::set_action),
//! the [outbox](EmulatorHandle::outbox), [faults](EmulatorHandle::inject_fault) (latency,
//! status, connection reset, malformed or truncated JSON, slow body, unknown state: see
//! [`Fault`]), and the [calls](EmulatorHandle::calls) received.

mod api;
mod builder;
mod calls;
mod clock;
mod config;
mod error;
mod faults;
mod handle;
mod jwt;
mod latency;
mod outbox;
mod qr;
mod random;
mod rules;
mod server;
mod state;
mod tokens;
mod totp;
mod ui;
mod webhooks;

pub use builder::EmulatorBuilder;
pub use calls::RecordedCall;
pub use config::EmulatorConfig;
pub use faults::{ANY_OPERATION, Fault, FaultKind, FaultSpec, Repeat};
pub use handle::EmulatorHandle;
pub use outbox::OutboxMessage;
pub use rules::{ActionConfig, Condition, Outcome, Rule};
pub use state::{CODE_LIFETIME, MAX_ATTEMPTS};
pub use tokens::{DEFAULT_SCOPE, SESSION_LIFETIME, TOKEN_LIFETIME};
pub use totp::TotpEnrollment;
pub use ui::person::PrebuiltUiError;
pub use webhooks::{
    WEBHOOK_ATTEMPT_TIMEOUT, WEBHOOK_EVENT_TYPES, WebhookAttempt, WebhookEndpoint, WebhookOutcome,
    WebhookSettings,
};

/// The secret of an emulator started without one. It guards nothing real: the emulator
/// is for development and tests, and prints its secret on start.
pub const DEMO_SECRET: &str = "authsignal-emulator-demo-secret";

/// The entry point: `Emulator::builder()...start().await`.
#[derive(Debug)]
#[non_exhaustive]
pub struct Emulator;

impl Emulator {
    /// A builder with the defaults: [`DEMO_SECRET`], `127.0.0.1:0`, no actions configured.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }

    /// Starts an emulator with the defaults.
    pub async fn start() -> std::io::Result<EmulatorHandle> {
        Self::builder().start().await
    }
}
