//! # authsignal-emulator
//!
//! A local Authsignal: the Server API, the client API of
//! custom UIs (authenticator app, email and SMS codes: what the Web SDK calls), the
//! pre-built UI, webhooks, and test controls (clock, faults, latency, outbox, calls).
//!
//! It is a real HTTP server on a local port, so the code under test talks to it exactly
//! as to Authsignal, through [`Authsignal`](authsignal::Authsignal) or any other client. It
//! also runs as a program, `authsignal-emulator` (see `--help`).
//!
//! ```
//! use authsignal_emulator::{ActionConfig, Emulator};
//! use authsignal::types::{TrackAttributes, UserActionState, ValidateChallengeRequest};
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
//! All 25 operations of the Server API under `/v1`, with Basic auth (the secret as user
//! name, empty password; else 401 `unauthorized` with the live API's description), kept in
//! memory. Every error body carries `error`, `errorCode` and `errorDescription`; bad JSON,
//! a missing field, a bad path or query is 400 `invalid_request`.
//!
//! - **Users** are created by their first `track`, `updateUser` or enrollment; `getUser` of
//!   an unknown user is 200 with `isEnrolled: false`, and answers the user's `locale` and
//!   `defaultVerificationMethod` (which `updateUser` sets among the enrolled methods).
//! - **Authenticators**: `enrollVerifiedAuthenticator` for `SMS`, `WHATSAPP` (phone number
//!   required), `EMAIL_OTP`, `EMAIL_MAGIC_LINK` (email required) and `AUTHENTICATOR_APP`
//!   (which gets a TOTP secret); `batchEnrollVerifiedAuthenticators` for passkeys (a
//!   repeat is a no-op, another user's credential a `conflict`); an unknown id to
//!   `deleteAuthenticator` is 400 `AUTHENTICATOR_NOT_FOUND`.
//! - **Devices** are recorded by a `track` with a `deviceId`, authenticated by a completed
//!   challenge, remembered (`updateDevice`) and invalidated (then seen as new); an unknown
//!   device is 404.
//! - **Actions** are decided by [`ActionConfig`]s: a default [`Outcome`] and [`Rule`]s
//!   (first match wins). Unconfigured actions are `ALLOW`. A user with no authenticator
//!   whose outcome would be a challenge is let through (`ALLOW`, `isEnrolled: false`), as
//!   Authsignal does, unless the action [prompts enrollment](ActionConfig::prompt_enrollment).
//!   `track` answers a token and a `url` to the pre-built UI in every state, as Authsignal
//!   does. The same idempotency key tracked again answers the first answer. `getAction`
//!   answers an `output` (an empty object).
//! - **One-time codes** (`challenge`, `verify`, `claimChallenge`, `getChallenge`, and the
//!   client API's email and SMS codes) go to an [outbox](EmulatorHandle::outbox) (also
//!   [over HTTP](#emulator-only-extensions)): 6 digits from the OS random source, good for
//!   [`CODE_LIFETIME`], failing at the [`MAX_ATTEMPTS`]th wrong code
//!   (`MAX_ATTEMPTS_EXCEEDED`).
//! - **Sessions** start from a token whose action succeeded; refreshing spends the refresh
//!   token; failures are 400 `invalid_credential`.
//! - **Client API** (Bearer = a challenge token) for custom UIs: the authenticator app,
//!   email and SMS codes, as the official Web SDK calls them. See
//!   [below](#the-client-api-web-sdk).
//! - **Pre-built UI** at `/ui/challenge`: see below.
//! - **Webhooks** to the configured URLs, signed with `X-Signature-V2`: see
//!   [`WebhookSettings`].
//!
//! # The client API (Web SDK)
//!
//! What a custom UI calls from the browser through `@authsignal/browser` (the Web SDK),
//! with a challenge token (from `track`, or from a verification) as `Authorization:
//! Bearer`. The SDK sends every call as `POST` with `Content-Type: application/json`,
//! with no body for the app's `enroll` and for `challenge`, and reads every answer as JSON
//! (an answer with an `error` member is an error to it).
//!
//! | SDK call | route | body | answer |
//! |---|---|---|---|
//! | `totp.enroll()` | `/v1/client/user-authenticators/totp` | none | `{userAuthenticatorId, userId, uri, secret}` |
//! | `totp.verify({code})` | `/v1/client/verify/totp` | `{verificationCode}` | `{isVerified, accessToken?, failureReason?, userAuthenticator?}` |
//! | `email.enroll({email})` | `/v1/client/user-authenticators/email-otp` | `{email}` | `{userAuthenticatorId, userId}`; a code to the outbox |
//! | `email.challenge()` | `/v1/client/challenge/email-otp` | none (or `{userAuthenticatorId}`) | `{challengeId}`; a code to the outbox |
//! | `email.verify({code})` | `/v1/client/verify/email-otp` | `{verificationCode}` | as `totp.verify` |
//! | `sms.enroll({phoneNumber})` | `/v1/client/user-authenticators/sms` | `{phoneNumber}` | as `email.enroll` |
//! | `sms.challenge()` | `/v1/client/challenge/sms` | none (or `{userAuthenticatorId}`) | as `email.challenge` |
//! | `sms.verify({code})` | `/v1/client/verify/sms` | `{verificationCode}` | as `totp.verify` |
//!
//! Where each behaviour comes from: **D** documented by Authsignal (the client API
//! reference and the Web SDK guide), **S** seen in the Web SDK's source or tests
//! (`@authsignal/browser` 1.16.0, the version `tests/web_sdk/` pins; the SDK's own tests
//! cover only the popup and passkeys), **A** assumed, for want of either.
//!
//! | behaviour | from |
//! |---|---|
//! | the routes, bodies and answers above | D, S |
//! | `setToken` keeps the token in the page; every call sends it as Bearer | S |
//! | a right code answers `accessToken`, a new token for the same action, and the SDK uses it for its next calls | D, S |
//! | that token may manage authenticators: it carries `read:`, `add:`, `update:` and `remove:authenticators` beside the token's own scopes | D (the scope names are those `track` takes; which of them the real token carries is A) |
//! | `userAuthenticator` only when the code completed an enrollment | D, S |
//! | `failureReason` is `CODE_INVALID_OR_EXPIRED` or `MAX_ATTEMPTS_EXCEEDED` | D |
//! | a user's first authenticator needs any token of theirs; another one needs `add:authenticators` (a `track` scope, or the token of a verification just made) | D |
//! | enrolling email or SMS sends a code at once; `challenge` sends one to an enrolled authenticator (the default, else the oldest), and may be called again to resend | D |
//! | only the newest code sent for an action by one channel is good, once, for [`CODE_LIFETIME`] | A |
//! | wrong codes count against the action, whatever the method; the [`MAX_ATTEMPTS`]th fails it (`CHALLENGE_FAILED`), after which no code is sent | A |
//! | an email needs an `@`, a phone number E.164 form (`+` and 6 to 15 digits) | A |
//! | an expired token is 401 `expired_token` (the code the SDK's `onTokenExpired` waits for); any other bad token 401 `unauthorized` | S (the code), A (the status) |
//! | a missing scope is 403 `forbidden`; a challenge with nothing enrolled, a verify with no code sent, a bad body, a code (or a verify) for a token whose action is blocked or in review: 400 `invalid_request` | A |
//! | every answer, errors and unknown `/v1/client` routes (JSON 404) included, carries `Access-Control-Allow-Origin: *`; preflights allow `POST` with `Authorization` and `Content-Type`, cached 600 s; credentials are never allowed | S (what the SDK sends), A (the headers) |
//!
//! `launch(url, {mode: "redirect"})` only sets `window.location` to the track's `url`
//! (S): it reaches the [pre-built UI](#the-pre-built-ui) unchanged. The SDK's passkey,
//! security key, push, QR code, WhatsApp and magic-link calls are not emulated: they
//! answer the JSON 404.
//!
//! # Tokens and `/validate`
//!
//! Tokens are HS256 JWTs signed with the tenant secret: `sub` (the user), `iat`, `exp`
//! ([`TOKEN_LIFETIME`] later, by the emulator's clock), `jti`, `type: "challenge"`,
//! `scope` (what the track asked for, else [`DEFAULT_SCOPE`], `read:authenticators`), and
//! `other: {userId, actionCode, idempotencyKey}` as older Authsignal tokens carry. A token
//! names an action; `/validate` answers that action's state now, and never consumes the
//! token (Authsignal does not document that it does, so callers must guard against replay
//! themselves). Its answers, all 200 (see [`Fault::bad_token_rejected`] for a 400 instead):
//!
//! | case | answer |
//! |---|---|
//! | challenge succeeded | `{isValid: true, state: "CHALLENGE_SUCCEEDED", stateUpdatedAt, userId, action, actionCode, idempotencyKey, verificationMethod}` |
//! | any other state | `{isValid: false, state, userId, action, actionCode, idempotencyKey}` |
//! | `userId` given and not the token's | `{isValid: false, error: "User is invalid."}` |
//! | `action` given and not the token's | `{isValid: false, error: "Action is invalid."}` |
//! | expired token | `{isValid: false, error: "Token has expired."}` |
//! | malformed, forged or foreign token, or its action deleted | `{isValid: false, error: "Token is invalid."}` |
//!
//! # The pre-built UI
//!
//! The track `url` (`http://127.0.0.1:PORT/ui/challenge?token=...`) opens a page that
//! challenges the user with an authenticator they have: their app's code, or a code sent
//! by SMS, WhatsApp or email (to the outbox). A user with no authenticator enrolls an app
//! first: the page shows its key, its `otpauth://` URI and the URI as a QR code. An
//! enrolled user adds an app only after passing the challenge (on the settings page a
//! track with `redirectToSettings` leads to) or with a token granting
//! `add:authenticators`, never in place of the challenge. A right code answers 303 to the
//! track's `redirectUrl` with `token=<jwt>` appended; a wrong one answers 400 with the form
//! and the error again. The routes, states and stable element ids are in the `ui` module's
//! source documentation (`src/ui/mod.rs`, `html.rs`).
//!
//! # Where each behaviour comes from
//!
//! The emulator is what tests and offline development stand on, so each behaviour says
//! its source: **documented** (Authsignal's docs, docs.authsignal.com), **SDK** (seen in an
//! official SDK's source or tests), or **assumed** (neither says; the emulator chose).
//!
//! | behaviour | source |
//! |---|---|
//! | Basic auth with the secret as user name; the 401 description | documented (server API overview); SDK (authsignal-python `client_tests.py` asserts the text) |
//! | error body `error`, `errorCode`, `errorDescription`; codes `invalid_request`, `unauthorized`, ... | documented (server SDK error handling) |
//! | unknown user: 200 `isEnrolled: false` | SDK (authsignal-python, -node live tests) |
//! | unenrolled users are allowed where a challenge would be | documented (FAQ: "to be challenged a user needs ... at least one authenticator") |
//! | `track` answers `url` and `token` in every state | SDK (authsignal-node Auth0 helper sends unenrolled users to it) |
//! | `/validate` answers `actionCode` beside `action` | SDK (authsignal-python tests show both; -java, -dotnet read only `actionCode`) |
//! | `/validate` user and action mismatch texts | SDK (authsignal-ruby, -python tests) |
//! | `/validate` bad and expired token texts, their 200 shape | assumed (the 400 alternative is a [fault](Fault::bad_token_rejected)) |
//! | tokens are JWTs, about 10 minutes; `other.{userId, actionCode, idempotencyKey}` | documented (client SDKs: "10 minutes"); the claims are assumed from older tokens |
//! | default scope `read:authenticators`; `add:authenticators` needed to add one when enrolled | documented (track action; client API authentication) |
//! | `getAction` has `output` | SDK (authsignal-python live test asserts it); an empty object is assumed |
//! | devices: paths, bodies, `rememberedUntil: null` clears | documented (get/invalidate/update device); SDK (authsignal-php `getDevices`, `invalidateDevice`) |
//! | devices: recorded by `track`'s `deviceId`; invalidated ones seen as new; 404 for unknown | documented ("treating it as if it were a new device"); 404 assumed |
//! | batch enrollment: path, 1000 items at most, no-op repeat, `conflict` | documented; SDK (authsignal-dotnet `BatchEnrollVerifiedAuthenticators`); `invalid_request` for a non-passkey item assumed |
//! | `veriffSessionId` in `/validate` | SDK (authsignal-node #94, -dotnet #39); the emulator has no Veriff and never sends it |
//! | `defaultVerificationMethod` in `updateUser`; `locale` in `getUser` | SDK (authsignal-java #22); documented (get user) |
//! | codes: 6 digits, 10 minutes, 5 attempts | assumed (typical of the docs' examples) |
//! | pre-built UI: first enrollment directly, another only after a challenge or with `add:authenticators` | documented (authenticator binding; enrolling authenticators) |
//! | pre-built UI: one attempt limit across methods, the settings page's shape | assumed |
//! | webhooks: event types, envelopes, fields, `X-Signature-V2`, 3 retries | documented (webhook event types and payloads); SDK (every SDK's webhook tests) |
//! | webhooks: sent at once, back-off from 250 ms, which moments log events mark | assumed (Authsignal batches log events and waits 30 s between retries) |
//! | rules: custom data points are typed (text, number, boolean, multiselect) and a Number data point is sent as a JSON number | documented (custom data points: "sending the amount as a number in the track action payload"); SDK (terraform-provider-authsignal `data_type`) |
//! | rules: a number condition (`customAbove`, `customBelow`, `customEquals` with a number) never holds for text, however it reads (`"5000"`, `" 5000"`) | assumed, the strict reading: Authsignal does not document it; its rule conditions are JSON Logic (terraform-provider-authsignal's `conditions`), whose reference implementation would coerce `" 5000"` to 5000 with JavaScript's `>`; a lenient emulator would hide an app that sends an amount as text (DESIGN.md invariant 13) |
//! | manual review: a rule's `REVIEW` outcome tracks the action `REVIEW_REQUIRED`; `updateAction` to `REVIEW_SUCCEEDED` or `REVIEW_FAILED` decides it, and `getAction` and `queryUserActions` (its `state` filter too) report the decision | documented (action states: `REVIEW_REQUIRED` holds an action for a manual review, `REVIEW_SUCCEEDED`, `REVIEW_FAILED`; `updateAction` sets a state; `getAction` and `queryUserActions` answer `state`); SDK (authsignal-node `test/client.test.ts`: `updateAction` to `REVIEW_REQUIRED`, then `getAction` reports it; `src/types.ts` names the three review states) |
//! | manual review: any state may follow `REVIEW_REQUIRED` through `updateAction`, a denial included (nothing in the service stops a later approval) | assumed |
//!
//! # Emulator-only extensions
//!
//! Real Authsignal has none of these routes: they exist so that tests written in other
//! languages can do what Rust tests do with the [`EmulatorHandle`]. They take the same
//! Basic auth as the Server API (else 401 `unauthorized`), and no fault or latency reaches
//! them.
//!
//! `GET /v1/emulator/outbox` (optionally `?to=<email or phone number>`) answers the codes
//! sent so far, oldest first:
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
//! `POST /v1/emulator/faults` with a [`FaultSpec`] (`{"operation": "track", "fault":
//! "503", "times": 2}`, or `"percent": 30` for each request by chance) arms a fault, as
//! [`inject_fault`](EmulatorHandle::inject_fault) does; `DELETE /v1/emulator/faults[?operation=]` clears them. `PUT /v1/emulator/latency`
//! (`{"operation": "getUser", "millis": 300}`, 0 removes) and `DELETE /v1/emulator/latency`
//! set [latency](EmulatorHandle::set_latency). Recorded as `emulatorFaults` and
//! `emulatorLatency`. The configuration file takes the same as `faults` and
//! `latencyMillis` (see [`EmulatorConfig`]).
//!
//! `GET /v1/emulator/reviews` is the reviewer's page, in place of the Portal's review queue:
//! the actions in review (`REVIEW_REQUIRED`), newest first, with approve and deny. A
//! decision (`POST`, a form) is `updateAction` to `REVIEW_SUCCEEDED` or `REVIEW_FAILED`,
//! webhooks included, for an action still in review (else 409). A browser is asked for the
//! secret (the 401 carries `WWW-Authenticate: Basic`; the secret is the user name), and each
//! form carries a CSRF value, an HMAC under the secret of the action it decides, without
//! which it is refused (403): a browser would send the cached credentials with a form
//! posted from another site. Recorded as `emulatorReviews`. The page, its element ids and
//! its answers are in `src/ui/review.rs` (all assumed: the Portal is not emulated).
//!
//! # Test controls
//!
//! [`EmulatorHandle`] has the [clock](EmulatorHandle::set_time) (pinned or advanced,
//! never waited for), [`totp_code`](EmulatorHandle::totp_code),
//! [`enroll_totp`](EmulatorHandle::enroll_totp), [`set_action`](EmulatorHandle::set_action),
//! the [outbox](EmulatorHandle::outbox), [faults](EmulatorHandle::inject_fault) (latency,
//! status, connection reset, malformed or truncated JSON, slow body, unknown state, bad
//! token: see [`Fault`] and [`Fault::catalogue`]), [latency](EmulatorHandle::set_latency),
//! [webhook deliveries](EmulatorHandle::webhooks_idle), the
//! [calls](EmulatorHandle::calls) received and webhook attempts made, and the
//! [connections](EmulatorHandle::connections_accepted) accepted.

#![forbid(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations)]
#![cfg_attr(docsrs, feature(doc_cfg))]

/// Builds one of the client's wire types from its default (or from the constructor after
/// `@from`) and the fields given. The wire types are `#[non_exhaustive]` in `authsignal`,
/// since Authsignal adds fields, so a struct literal cannot name them here; the emulator
/// fills them field by field instead.
macro_rules! wire {
    (@from $base:expr, { $($field:ident $(: $value:expr)?),* $(,)? }) => {{
        let mut value = $base;
        $(wire!(@set value $field $(: $value)?);)*
        value
    }};
    ($ty:path { $($field:ident $(: $value:expr)?),* $(,)? }) => {
        wire!(@from <$ty>::default(), { $($field $(: $value)?),* })
    };
    (@set $value:ident $field:ident : $set:expr) => {
        $value.$field = $set;
    };
    (@set $value:ident $field:ident) => {
        $value.$field = $field;
    };
}

mod api;
mod builder;
mod calls;
mod clock;
mod config;
mod connections;
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

/// The crate's README examples, compiled as doc tests so that they stay true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
