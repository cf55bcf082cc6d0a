//! # authsignal-emulator
//!
//! A local Authsignal: the Server API, the client API of
//! custom UIs (authenticator app, email and SMS codes, passkeys and security keys: what
//! the Web SDK calls), the
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
//!   token; failures are 400 `invalid_credential`. Access tokens are RS256 JWTs, checkable
//!   against the emulator's JWKS: see [below](#sessions-and-the-jwks).
//! - **Client API** (Bearer = a challenge token) for custom UIs: the authenticator app,
//!   email, SMS and WhatsApp codes, email magic links, push, passkeys and security keys,
//!   as the official Web SDK calls them. See
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
//! | every answer, errors and unknown `/v1/client` routes (JSON 404) included, carries `Access-Control-Allow-Origin: *`; preflights allow `GET` and `POST` with `Authorization` and `Content-Type`, cached 600 s; credentials are never allowed | S (what the SDK sends), A (the headers) |
//!
//! `launch(url, {mode: "redirect"})` only sets `window.location` to the track's `url`
//! (S): it reaches the [pre-built UI](#the-pre-built-ui) unchanged. The SDK's QR code
//! calls are not emulated: they answer the JSON 404. WhatsApp, magic links and push are
//! [below](#whatsapp-email-magic-links-and-push); passkeys and security keys
//! [below](#passkeys-and-security-keys-webauthn).
//!
//! ## WhatsApp, email magic links and push
//!
//! | SDK call | route | body | answer |
//! |---|---|---|---|
//! | `whatsapp.challenge()` | `/v1/client/challenge/whatsapp` | none | `{challengeId}`; a code to the outbox (`WHATSAPP`) |
//! | `whatsapp.verify({code})` | `/v1/client/verify/whatsapp` | `{verificationCode}` | as `totp.verify` |
//! | `emailML.enroll({email})` | `/v1/client/user-authenticators/email-magic-link` | `{email}` | `{userAuthenticatorId, userId, challengeId}`; a link to the outbox |
//! | `emailML.challenge()` | `/v1/client/challenge/email-magic-link` | none | `{challengeId}`; a link to the outbox |
//! | `emailML.checkVerificationStatus()` | `/v1/client/verify/email-magic-link/finalize`, every second until verified | `{}` | `{isVerified: false}` until the link is followed, then as `totp.verify` |
//! | `push.challenge({action})` | `/v1/client/challenge/push` | `{action}` | `{challengeId}`; a push to the user's phone |
//! | `push.verify({challengeId})` | `/v1/client/verify/push` | `{challengeId}` | `{isVerified, isConsumed, accessToken?}` |
//!
//! The emulator acts as the phone and the inbox: a WhatsApp code is read from the
//! [outbox](EmulatorHandle::outbox) like any code; a magic link is the outbox message's
//! [`link`](OutboxMessage::link) ([`last_link_sent_to`](EmulatorHandle::last_link_sent_to)),
//! opened in a browser (`GET /ui/magic-link?token=<secret>`, a page of the emulator); a
//! push is approved or denied with [`answer_push`](EmulatorHandle::answer_push) (or
//! [over HTTP](#emulator-only-extensions)), on a push authenticator enrolled with
//! [`enroll_push`](EmulatorHandle::enroll_push). Validation answers `verificationMethod`
//! `WHATSAPP`, `EMAIL_MAGIC_LINK` or `PUSH`.
//!
//! | behaviour | from |
//! |---|---|
//! | the routes, bodies and answers above (`challengeId` in the magic link's enroll answer, `isConsumed` in push's) | D (client API reference), S (`src/api/whatsapp-api-client.ts`, `email-magic-link-api-client.ts`, `push-api-client.ts`, `api/types/push.ts`) |
//! | `checkVerificationStatus` polls `finalize` every second until `isVerified`, then keeps the `accessToken` | S (`src/api/email-magic-link-api-client.ts`, `src/email-magic-link.ts`) |
//! | WhatsApp is one more code channel: the same codes, lifetime, attempt limit shared with the other methods, "only the newest code is good" | A |
//! | WhatsApp has no enrollment in the Web SDK: its authenticator is enrolled by the Server API (`enrollVerifiedAuthenticator`) | S (1.16.0 has `challenge` and `verify` only) |
//! | a magic link carries 32 random bytes (URL-safe base64), good for [`CODE_LIFETIME`], followed once; following it completes nothing: the token's holder finalizes, once, and a second `finalize` is 400 | A |
//! | a `finalize` before any link was sent is 400 `invalid_request` (not an endless `{isVerified: false}`) | A |
//! | the link page is a `GET` (`Cache-Control: no-store`, `Referrer-Policy: no-referrer`), 200 `#message` when followed, 400 `#error` otherwise | A (docs show the link as a URL to open) |
//! | a magic link sends no `challenge.log_created` (its log types are not documented); the Server API's `verify` refuses a link's challenge id | A |
//! | push: `action` is required and must be the token's action (else 400) | A |
//! | push: unanswered `{isVerified: false, isConsumed: false}`; denied or expired `{isVerified: false, isConsumed: true}`; approved `{isVerified: true, isConsumed: true, accessToken}` once, then 400 | S (the answer's fields, `api/types/push.ts`); the states' mapping is A |
//! | push: a denial fails the action (`CHALLENGE_FAILED`); a push is good for [`CODE_LIFETIME`] | A |
//! | push: the push authenticator is enrolled by the mobile SDK on a phone, which the emulator has none of: [`enroll_push`](EmulatorHandle::enroll_push) enrolls it verified | A |
//! | sends are limited per user and channel: email OTP and magic link 12, SMS 6 per 10 minutes; past that 429 `too_many_requests` (client API, Server API `challenge`, pre-built UI), nothing sent; see [`SendLimits`] | D (FAQ "Rate limits for sending"; the 429 status is A, `too_many_requests` is S, the SDK's `ErrorCode`); WhatsApp's 6 is A |
//! | `sms.created`, `email.created` (a magic link's with `url` in place of `code`) and `push.created` are synchronous: not accepted (no 2xx within [`WEBHOOK_ATTEMPT_TIMEOUT`], tried once), the message is not sent and the request fails | D (webhook event types: "a non-2xx response fails the challenge") |
//! | that failure is 400 `webhook_failed`, and leaves nothing to verify | A (the docs say only "the API will return an error response") |
//! | `action.verify` goes to the action's `verificationWebhookUrl` ([`ActionConfig::verification_webhook`]) when a challenge is about to succeed; not accepted, the request fails (400 `webhook_failed`), the action stays as it was and the code, link or approval stays good for another try | D (action verify webhook: "a non-2xx response or a timeout blocks the transition", "the user can retry"); the status, code and what stays good are A |
//! | `action.verify` is sent before every success this emulator's code paths make: the client API's codes (app, email, SMS, WhatsApp), magic links, push, passkeys and security keys (a registration is kept only once accepted; a refused ceremony is spent, and the user answers a new one), the Server API's `verify` of a code tied to a tracked action, and the pre-built UI's codes; only a right code (or a followed link, an approved push) asks, and the refused one is not spent | D (when), A (which paths; `claimChallenge` and `updateAction` set states directly and do not ask) |
//!
//! ## Passkeys and security keys (WebAuthn)
//!
//! The emulator is a WebAuthn relying party that checks what a real one checks. Its RP ID
//! and allowed origins are [`RelyingPartySettings`] (the builder's
//! [`relying_party`](EmulatorBuilder::relying_party), the config file's `relyingParty`,
//! the program's `--rp-id` and `--origin`); with none, it is a development relying party:
//! RP ID `localhost`, any `http://localhost:<port>` origin (browsers refuse an IP address
//! as an RP ID, so pages must be opened at `localhost`, not `127.0.0.1`).
//!
//! | SDK call | route | body | answer |
//! |---|---|---|---|
//! | `passkey.signUp({token, username?})` | `/v1/client/user-authenticators/passkey/registration-options` | `{username?, displayName?, authenticatorAttachment?}` | `{challengeId, options}` (creation options) |
//! | (then) | `/v1/client/user-authenticators/passkey` | `{registrationCredential, conditionalCreate?, challengeId}` | `{isVerified, accessToken, userId, userAuthenticatorId, userAuthenticator}` |
//! | `passkey.signIn({token})` | `/v1/client/user-authenticators/passkey/authentication-options` | `{}` | `{challengeId, options}` (request options) |
//! | (then) | `/v1/client/verify/passkey` | `{authenticationCredential, deviceId, challengeId}` | `{isVerified, accessToken, userId, userAuthenticatorId, username?, userDisplayName?}` |
//! | `securityKey.enroll()` | `/v1/client/user-authenticators/security-key/registration-options`, then `/v1/client/user-authenticators/security-key` | `{}`, then the credential itself | the creation options, then as a passkey's |
//! | `securityKey.verify()` | `/v1/client/user-authenticators/security-key/authentication-options`, then `/v1/client/verify/security-key` | `{}`, then the assertion itself | the request options, then as a passkey's |
//! | (1.17 and later, after either) | `GET /v1/client/user-authenticators` | none | the user's verified authenticators, as `getAuthenticators` |
//! | `passkey.signIn({action})` (no token; `Authorization: Basic base64(encodeURIComponent(tenantId))`) | `/v1/client/challenge` | `{action, idempotencyKey?}` | `{challengeId}` |
//! | (then, the same Basic auth) | `/v1/client/user-authenticators/passkey/authentication-options`, then `/v1/client/verify/passkey` | `{challengeId}`, then as above | `{challengeId, options}` with no `allowCredentials`, then as above, `accessToken` for the new action |
//!
//! | behaviour | from |
//! |---|---|
//! | the routes, bodies and answer fields above | S (`@authsignal/browser` 1.16.0 `dist/index.js`; 1.21.1 `src/api/passkey-api-client.ts`, `src/api/security-key-api-client.ts`, `src/api/types/passkey.ts`) |
//! | a security key's options come back bare and its credential is the whole body | S (`src/api/security-key-api-client.ts`, `src/security-key.ts`) |
//! | the options are `@simplewebauthn` JSON (`PublicKeyCredentialCreationOptionsJSON`, `...RequestOptionsJSON`), base64url without padding | S (`src/passkey.ts` hands them to `startRegistration`/`startAuthentication`) |
//! | ES256 only, `attestation: "none"`, and only `fmt: "none"` with an empty statement registers | A (Authsignal does not document its attestation policy) |
//! | each challenge is issued by the emulator (32 random bytes), answers one ceremony of one kind (registration or sign-in, passkey or security key) for the token's action, once, right or wrong, within the options' `timeout` (5 minutes, or [`RelyingPartySettings::timeout`]); a `challengeId` sent must name it | A (what a relying party must do: WebAuthn §13.4.3) |
//! | the client data `type` (`webauthn.create`, `webauthn.get`), `challenge` and `origin` are checked, and `crossOrigin: true` refused but for an assertion whose `topOrigin` is the action's app (below) | D (WebAuthn §7.1, §7.2) |
//! | the rpIdHash is SHA-256 of the RP ID; UP is required; UV is required for passkeys (`userVerification: "required"`), not for security keys (`"discouraged"`) | D (WebAuthn); which ceremony requires UV is A |
//! | the signature (ECDSA P-256 over authenticator data and the client data hash) is checked with the registered key | D (WebAuthn §7.2) |
//! | a signature counter that does not grow is refused unless it and the stored one are both 0 | D (WebAuthn §7.2 step 22: the relying party decides; the emulator refuses) |
//! | a credential signs in only for its own user (the token's), and its `userHandle`, if any, must be that user's id | D (WebAuthn §7.2 step 6); the user handle being the user id's bytes is A |
//! | a credential id registers once, for one user | D (WebAuthn §7.1 step 25) |
//! | a registration completes the token's action with `PASSKEY` (or `SECURITY_KEY`), as a first code completes an email or SMS enrollment; a good assertion completes it too, and `/validate` answers `verificationMethod: PASSKEY` | D (validate challenge); completing on registration is A |
//! | the answer's `accessToken` may manage authenticators, as a verified code's | A (as above) |
//! | an enrolled user adds one only with `add:authenticators` (403 `forbidden` otherwise) | D |
//! | `username` and `displayName` given to `registration-options` become the user's (`user.name`, `user.displayName` of the options; else the user's username, email or id) | A |
//! | a refused credential or assertion is 400 `invalid_credential` with the reason; nothing is completed and no attempt is counted | S (`invalid_credential` is in the SDK's `ErrorCode`); the status, the texts and not counting are A |
//! | `GET /user-authenticators` needs `read:authenticators` | D (the scope's name); A (that this route checks it) |
//! | a batch-enrolled passkey (whose key the emulator does not read) cannot sign in | A |
//! | a sign-in without a token authenticates with the tenant id as Basic user name and no password | S (`src/api/helpers.ts` `buildHeaders`) |
//! | that tenant id must be the emulator's ([`EmulatorHandle::tenant_id`]), else 401 `unauthorized` | A |
//! | a sign-in's `challengeId` gives options once, within the timeout; its assertion must carry a `userHandle`, which names the user; a good one tracks the action (`idempotencyKey`, else a new one) for that user, completed with `PASSKEY`, and answers a token for it; an `idempotencyKey` already used for that user and action is 400 | D (WebAuthn §7.2 step 6 for the handle); the rest A |
//! | `passkey.isAvailableOnDevice({userId})`: `GET /v1/client/user-authenticators/passkey?credentialIds=a,b` with the tenant's Basic auth answers `{credentialId, verifiedAt}` of the first registered passkey among them, else 404 `not_found` | S (1.16.0 `dist/index.js`, `src/api/types/passkey.ts`); the 404 is A (the SDK only reads `response.ok`) |
//! | not emulated: the `/web` variants of `useCookies: true` (they need credentialed CORS and a cookie the emulator does not issue): JSON 404 | — |
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
//! # Sessions and the JWKS
//!
//! `createSession` answers an access token signed with RS256 by the emulator's session
//! key, and an opaque refresh token. The key's public half is published, with no
//! credentials, at [`jwks_url`](EmulatorHandle::jwks_url):
//! `GET /v1/client/public/<tenant id>/.well-known/jwks` answers `{"keys": [{"kty": "RSA",
//! "alg": "RS256", "use": "sig", "kid", "n", "e"}]}`, so that an API can check a token
//! itself, as it would with Authsignal's. The token:
//!
//! ```text
//! header: {"typ": "JWT", "alg": "RS256", "kid": "<the JWKS key's kid>"}
//! claims: {"sub": "<userId>", "aud": "<clientId>", "iat": 1700000000, "exp": 1700003600,
//!          "jti": "<uuid>", "type": "access", "sid": "<session id>"}
//! ```
//!
//! `validateSession` checks, in this order, the signature (RS256 with the session key
//! only: an HS256 token made with the public key as its secret, or an unsigned one, is
//! refused), `aud` against `clientIds` when the request names them, `exp` by the
//! emulator's clock, and that the session was not revoked; `revokeSession` takes an expired
//! token too, never a forged one. The key is RSA 2048, generated the first time a session
//! or the JWKS needs it (each emulator has its own), or the one given to
//! [`session_key_pem`](EmulatorBuilder::session_key_pem) (the program's `--session-key`),
//! whose `kid` is the same in every emulator that is given it.
//!
//! | behaviour | source |
//! |---|---|
//! | access tokens are RS256 JWTs; the tenant's keys are published as a JWKS | documented (session management: "Access tokens are signed using an RS256 algorithm") |
//! | the `clientId` given to `createSession` is the token's `aud` | documented (session management: "The client ID will be set as the access token's aud claim") |
//! | `validateSession` checks the signature and that the token is not revoked | documented (server SDK sessions: validate session) |
//! | `clientIds` in `validateSession`, checked against `aud` | SDK (authsignal-node `ValidateSessionRequest.clientIds`); that it is an `aud` check is assumed |
//! | the JWKS is under the API's URL and names the tenant id | documented ("AUTHSIGNAL_URL ... AUTHSIGNAL_TENANT"); the exact path `/client/public/<tenant>/.well-known/jwks` is assumed |
//! | one key, `kid` its RFC 7638 thumbprint, `use: sig`; the JWKS needs no credentials; another tenant id is a JSON 404 | assumed |
//! | the claims besides `aud` (`sub`, `iat`, `exp`, `jti`, `type`, `sid`); no `iss`; no custom claims | assumed (custom claims are a portal setting the emulator does not have) |
//! | an access token lives [`SESSION_LIFETIME`], a refresh token 30 days | assumed (both are per app client in the portal) |
//! | challenge tokens stay HS256 with the tenant secret | SDK (authsignal-python before its "Delegate validate challenge logic to backend" change decoded them with `jwt.decode(token, api_key, algorithms=["HS256"])`) |
//! | no server SDK verifies session tokens against the JWKS itself | SDK (authsignal-node, -python, -ruby, -go, -java, -dotnet, -php have only the API calls) |
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
//! ## Script, popup and window modes, passkeys
//!
//! Every page of the pre-built UI runs only its own script: each response has a fresh
//! 128-bit nonce, and its CSP is `default-src 'none'; script-src 'nonce-…'; style-src
//! 'unsafe-inline'; base-uri 'none'; frame-ancestors …` (no `'unsafe-inline'` script, no
//! `'unsafe-eval'`, no `'strict-dynamic'`). A page works without script as before (its
//! forms post, answers redirect); the script only talks to the Web SDK in popup and
//! window modes, which open the track `url` with `&mode=popup`:
//!
//! | behaviour | source |
//! |---|---|
//! | popup mode opens the `url` with `&mode=popup` in an iframe of a dialog on the app's page; window mode opens it so in a window (`window.open`) | SDK (`@authsignal/browser` 1.16.0, `src/authsignal.ts` `launchWithPopup`, `launchWithWindow`; `src/handlers/popup-handler.ts`, `window-handler.ts`) |
//! | the page posts `JSON.stringify({event: "AUTHSIGNAL_CLOSE_POPUP", token})` when verified, to its parent (popup) or opener (window); `launch` resolves `{token}` with it, and the SDK closes the dialog or window | SDK (`src/authsignal.ts`, `src/types.ts` `AuthsignalWindowMessage`) |
//! | the page posts `{height}` (the popup's iframe takes it) and `JSON.stringify({event: "AUTHSIGNAL_READY"})` (the popup shows at once rather than after 3 s) | SDK (`src/handlers/popup-handler.ts`) |
//! | the SDK takes messages only from the `url`'s origin | SDK (`event.origin !== expectedOrigin`) |
//! | the page posts only to the origin of the track's `redirectUrl` (`http` or `https`), never to `"*"`: a page of another origin that opens it gets nothing | assumed (Authsignal does not document the target origin; the `redirectUrl` is where redirect mode sends the token anyway) |
//! | in popup mode for such an action, `frame-ancestors` is that origin alone; else `'none'` (and pages with no valid token, e.g. a bad link, are never framed) | assumed (the SDK's iframe needs the page framed; Authsignal does not document by whom) |
//! | with `mode=popup` but no such origin (no `redirectUrl`, or another scheme), the page is as in redirect mode: no script, not framed, the token shown or redirected to | assumed |
//! | in popup mode a right code answers 200 with the posting page, not 303; the settings page's `continue` posts the token rather than linking to the `redirectUrl` | assumed (what the SDK's wait for the message needs) |
//! | `mode` other than `popup` (in the query or a form) is a 400 page | assumed (the SDK sends no other) |
//!
//! Passkeys on the pre-built UI, by the same script rules (the passkey page's CSP adds
//! `connect-src 'self'`, for the client API on the emulator's own origin):
//!
//! | behaviour | source |
//! |---|---|
//! | a user with a passkey is offered it on the pre-built UI (`#passkey`) | documented (Authsignal's pre-built UI offers passkeys) |
//! | it is offered first, before codes; a batch-enrolled passkey (whose key the emulator never read) is not offered | assumed |
//! | the page's script makes the calls of the Web SDK's `passkey.signIn` with the page's token: `authentication-options`, `navigator.credentials.get`, `verify/passkey` (the assertion as `@simplewebauthn`'s JSON) | SDK (1.16.0 `dist/index.js`; `src/passkey.ts`, `src/api/passkey-api-client.ts`) |
//! | then `POST /ui/challenge/passkey` with the token `verify/passkey` answered goes on as after a right code (303 to the `redirectUrl`, the token posted in popup mode, the settings page), only if a passkey completed that token's action; else a 400 page | assumed (Authsignal's pre-built UI is a single-page app with routes of its own) |
//! | if the passkey cannot be used (no authenticator has it, or the relying party refuses it), `#passkey-error` says so and nothing is verified | assumed |
//! | in the Web SDK's popup the page is an iframe on the app's page (the SDK's iframe allows `publickey-credentials-get`), so the assertion is cross-origin: it is accepted only when its `topOrigin` is the origin of the action's `redirectUrl`, and never for an action without one | SDK (`src/handlers/popup-handler.ts`, the iframe's `allow`); the check is WebAuthn L3 §7.2 (D); which top origin Authsignal accepts is A |
//! | pages must be opened at `localhost` for the development relying party (the track `url` is on `127.0.0.1`: browsers refuse an IP address as an RP ID) | D (WebAuthn's RP ID rules) |
//! | passkeys are not enrolled on the pre-built UI (the SDK's `passkey.signUp` or the Server API does that) | left out |
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
//! emulator's clock. A magic link has `link` in place of `code`. Its calls are recorded
//! as `emulatorOutbox`.
//!
//! The user's phone, for push: `POST /v1/emulator/push-authenticators` with `{"userId"}`
//! enrolls a push authenticator (`{"userAuthenticatorId"}`); `GET /v1/emulator/push`
//! answers the pushes waiting, `[{"challengeId", "userId", "action", "sentAt"}]`; `POST
//! /v1/emulator/push/{challengeId}` with `{"approve": true}` (or `false`) answers one
//! (400 when none waits). Recorded as `emulatorEnrollPush`, `emulatorPendingPushes`,
//! `emulatorAnswerPush`.
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
mod send_limits;
mod server;
mod session_key;
mod state;
mod tokens;
mod totp;
mod ui;
mod webauthn;
mod webhooks;

pub use builder::EmulatorBuilder;
pub use calls::RecordedCall;
pub use config::EmulatorConfig;
pub use faults::{ANY_OPERATION, Fault, FaultKind, FaultSpec, Repeat};
pub use handle::EmulatorHandle;
pub use outbox::OutboxMessage;
pub use rules::{ActionConfig, Condition, Outcome, Rule};
pub use send_limits::{SendLimit, SendLimits};
pub use state::{CODE_LIFETIME, MAX_ATTEMPTS, PendingPush};
pub use tokens::{DEFAULT_SCOPE, SESSION_LIFETIME, TOKEN_LIFETIME};
pub use totp::TotpEnrollment;
pub use ui::person::PrebuiltUiError;
pub use webauthn::RelyingPartySettings;
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
