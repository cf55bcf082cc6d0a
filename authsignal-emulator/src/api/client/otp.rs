//! One-time codes in the client API, the Web SDK's `email`, `sms` and `whatsapp`:
//!
//! | SDK call | route | body | answer |
//! |---|---|---|---|
//! | `email.enroll({email})` | `POST /client/user-authenticators/email-otp` | `{email}` | `{userAuthenticatorId, userId}` |
//! | `email.challenge()` | `POST /client/challenge/email-otp` | none | `{challengeId}` |
//! | `email.verify({code})` | `POST /client/verify/email-otp` | `{verificationCode}` | `{isVerified, accessToken?, failureReason?, userAuthenticator?}` |
//! | `sms.enroll({phoneNumber})` | `POST /client/user-authenticators/sms` | `{phoneNumber}` | as email |
//! | `sms.challenge()` | `POST /client/challenge/sms` | none | as email |
//! | `sms.verify({code})` | `POST /client/verify/sms` | `{verificationCode}` | as email |
//! | `whatsapp.challenge()` | `POST /client/challenge/whatsapp` | none | as email |
//! | `whatsapp.verify({code})` | `POST /client/verify/whatsapp` | `{verificationCode}` | as email |
//!
//! Enrolling and challenging send a code to the outbox, once the code's synchronous
//! webhook (if any endpoint takes it) accepted it. WhatsApp has no enrollment in the Web
//! SDK: its authenticator is enrolled by the Server API.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use http::HeaderMap;
use serde::{Deserialize, Serialize};

use super::super::super::error::HttpError;
use super::super::super::state::{OtpAttempt, OtpChannel, Shared};
use super::super::extract::ApiJson;
use super::{EnrollResponse, VerifyRequest, VerifyResponse, bearer, may_add_authenticator};
use authsignal::types::VerificationFailureReason;

/// The body of `POST /client/user-authenticators/email-otp`.
#[derive(Debug, Deserialize)]
pub(crate) struct EnrollEmailRequest {
    email: String,
}

impl EnrollEmailRequest {
    pub(super) fn email(&self) -> &str {
        &self.email
    }
}

/// The body of `POST /client/user-authenticators/sms`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EnrollSmsRequest {
    phone_number: String,
}

/// The body of `POST /client/challenge/...`: the SDK sends none; Authsignal documents an
/// optional authenticator to target.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ChallengeRequest {
    user_authenticator_id: Option<String>,
}

/// The answer of `POST /client/challenge/...`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ChallengeResponse {
    challenge_id: String,
}

impl ChallengeResponse {
    pub(super) fn new(challenge_id: String) -> Self {
        Self { challenge_id }
    }
}

type Answer<T> = Result<Json<T>, HttpError>;

/// `POST /client/user-authenticators/email-otp`.
pub(crate) async fn enroll_email(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<EnrollEmailRequest>,
) -> Answer<EnrollResponse> {
    enroll(&shared, &headers, OtpChannel::Email, &request.email).await
}

/// `POST /client/user-authenticators/sms`.
pub(crate) async fn enroll_sms(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<EnrollSmsRequest>,
) -> Answer<EnrollResponse> {
    enroll(&shared, &headers, OtpChannel::Sms, &request.phone_number).await
}

/// `POST /client/challenge/email-otp`.
pub(crate) async fn challenge_email(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<ChallengeRequest>,
) -> Answer<ChallengeResponse> {
    challenge(&shared, &headers, OtpChannel::Email, request).await
}

/// `POST /client/challenge/sms`.
pub(crate) async fn challenge_sms(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<ChallengeRequest>,
) -> Answer<ChallengeResponse> {
    challenge(&shared, &headers, OtpChannel::Sms, request).await
}

/// `POST /client/challenge/whatsapp`.
pub(crate) async fn challenge_whatsapp(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<ChallengeRequest>,
) -> Answer<ChallengeResponse> {
    challenge(&shared, &headers, OtpChannel::Whatsapp, request).await
}

/// `POST /client/verify/email-otp`.
pub(crate) async fn verify_email(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<VerifyRequest>,
) -> Answer<VerifyResponse> {
    verify(&shared, &headers, OtpChannel::Email, &request).await
}

/// `POST /client/verify/sms`.
pub(crate) async fn verify_sms(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<VerifyRequest>,
) -> Answer<VerifyResponse> {
    verify(&shared, &headers, OtpChannel::Sms, &request).await
}

/// `POST /client/verify/whatsapp`.
pub(crate) async fn verify_whatsapp(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<VerifyRequest>,
) -> Answer<VerifyResponse> {
    verify(&shared, &headers, OtpChannel::Whatsapp, &request).await
}

/// A new authenticator for `address`, and a code (or link) sent to it once its webhook
/// accepts it. An enrolled user's token needs `add:authenticators`, whichever method
/// they were enrolled with.
pub(super) async fn enroll(
    shared: &Shared,
    headers: &HeaderMap,
    channel: OtpChannel,
    address: &str,
) -> Answer<EnrollResponse> {
    let claims = bearer(shared, headers)?;
    let now = shared.clock.now();
    let enrollment = {
        let mut store = shared.store();
        may_add_authenticator(&store, &claims)?;
        store.start_otp_enrollment(&claims, channel, address, shared.client_context(), now)?
    };
    let challenge_id = shared.send(enrollment.sending).await?;
    Ok(Json(EnrollResponse {
        user_authenticator_id: enrollment.user_authenticator_id,
        user_id: enrollment.user_id,
        // Documented for the magic link, whose SDK polls with it in mind; the code
        // channels' answers have none.
        challenge_id: (channel == OtpChannel::EmailMagicLink).then_some(challenge_id),
    }))
}

/// A code (or link) sent to the user's enrolled authenticator of `channel`, once its
/// webhook accepts it.
pub(super) async fn challenge(
    shared: &Shared,
    headers: &HeaderMap,
    channel: OtpChannel,
    request: ChallengeRequest,
) -> Answer<ChallengeResponse> {
    let claims = bearer(shared, headers)?;
    let now = shared.clock.now();
    let sending = shared.store().start_otp_challenge(
        &claims,
        channel,
        request.user_authenticator_id.as_deref(),
        shared.client_context(),
        now,
    )?;
    let challenge_id = shared.send(sending).await?;
    Ok(Json(ChallengeResponse { challenge_id }))
}

/// Checks the code against the newest one sent for the token's action by `channel`. A
/// right code waits for the action's `action.verify`, if it has one, before it is used:
/// refused, the code stays good for another try.
async fn verify(
    shared: &Shared,
    headers: &HeaderMap,
    channel: OtpChannel,
    request: &VerifyRequest,
) -> Answer<VerifyResponse> {
    let claims = bearer(shared, headers)?;
    let code = &request.verification_code;
    let gate = {
        let store = shared.store();
        let now = shared.clock.now();
        store
            .would_verify_otp(&claims, channel, code, now)
            .then(|| store.verification_gate(&claims.other, &channel.method(), None, now))
    };
    if let Some(gate) = gate {
        gate.accepted().await?;
    }
    let tokens = shared.tokens();
    let attempt = shared
        .store()
        .verify_otp(&claims, channel, code, tokens.now);
    match attempt {
        OtpAttempt::Verified { enrolled } => Ok(Json(VerifyResponse::verified(
            tokens,
            &claims,
            enrolled.map(|a| *a),
        ))),
        OtpAttempt::Wrong => Ok(Json(VerifyResponse::failed(
            VerificationFailureReason::CodeInvalidOrExpired,
        ))),
        OtpAttempt::LimitReached => Ok(Json(VerifyResponse::failed(
            VerificationFailureReason::MaxAttemptsExceeded,
        ))),
        OtpAttempt::NoCodeSent => Err(HttpError::invalid_request(
            "No code was sent for this token: call enroll or challenge first.",
        )),
        OtpAttempt::NotChallengeable => Err(HttpError::invalid_request(
            "The token's action cannot be verified.",
        )),
    }
}
