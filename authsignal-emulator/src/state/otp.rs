//! One-time codes by SMS, email or WhatsApp: `challenge`, `verify`, `claimChallenge`,
//! `getChallenge`. Codes go to the outbox instead of a phone.

use super::super::clock::Timestamp;
use super::super::error::HttpError;
use super::super::random;
use super::super::tokens::{ActionRef, Tokens};
use super::super::webhooks::LogKind;
use super::sending::{CodeContext, Sending};
use super::{ActionRecord, CODE_LIFETIME, MAX_ATTEMPTS, OtpChallenge, Store};
use authsignal::types::{
    ChallengeRequest, ChallengeResponse, ClaimChallengeRequest, ClaimChallengeResponse,
    GetChallengeRequest, GetChallengeResponse, SmsChannel, UserActionState,
    VerificationFailureReason, VerificationMethod, VerifyRequest, VerifyResponse,
};

/// The action code a claimed challenge is recorded under when it named none.
const CLAIMED_ACTION: &str = "challenge";

pub(super) fn new_code() -> String {
    random::six_digits()
}

impl Store {
    /// `challenge`: starts sending a code (to the outbox, once its webhook accepts it:
    /// see [`Shared::send`](super::Shared::send)). With a `challengeId` it sends a new
    /// code for that challenge; `userId`, `action` and `idempotencyKey` of a tracked
    /// action tie the challenge to it, so that a right code makes it
    /// `CHALLENGE_SUCCEEDED`.
    pub(crate) fn challenge(
        &mut self,
        request: ChallengeRequest,
        now: Timestamp,
    ) -> Result<(ChallengeResponse, Sending), HttpError> {
        let expires_at = now.plus(CODE_LIFETIME);
        if let Some(id) = &request.challenge_id {
            let mut challenge = self
                .challenges
                .iter()
                .find(|c| &c.id == id && is_code(&c.method))
                .cloned()
                .ok_or_else(|| HttpError::invalid_request("The challenge was not found."))?;
            challenge.code = new_code();
            challenge.expires_at = expires_at;
            challenge.failed_attempts = 0;
            let response = wire!(ChallengeResponse {
                challenge_id: challenge.id.clone(),
                idempotency_key: Some(challenge.idempotency_key.clone()),
                expires_at: Some(expires_at.unix_seconds().into()),
            });
            let sending = self.start_send(challenge, context_of(&request), now)?;
            return Ok((response, sending));
        }
        let user = request.user_id.as_deref().and_then(|id| self.user(id));
        let email = request
            .email
            .clone()
            .or_else(|| user.and_then(|u| u.email.clone()));
        let phone = request
            .phone_number
            .clone()
            .or_else(|| user.and_then(|u| u.phone_number.clone()));
        let method = match request.verification_method.clone() {
            Some(method) => method,
            None if request.email.is_some() => VerificationMethod::EmailOtp,
            None if request.phone_number.is_some() => VerificationMethod::Sms,
            None => {
                return Err(HttpError::invalid_request(
                    "verificationMethod is required (SMS, EMAIL_OTP or WHATSAPP).",
                ));
            }
        };
        let (email, phone_number) = match method {
            VerificationMethod::EmailOtp => (
                Some(email.ok_or_else(|| {
                    HttpError::invalid_request("email is required for EMAIL_OTP.")
                })?),
                None,
            ),
            VerificationMethod::Sms | VerificationMethod::Whatsapp => (
                None,
                Some(phone.ok_or_else(|| {
                    HttpError::invalid_request(format!("phoneNumber is required for {method}."))
                })?),
            ),
            other => {
                return Err(HttpError::invalid_request(format!(
                    "{other} cannot be challenged with a one-time code."
                )));
            }
        };
        let challenge = OtpChallenge {
            id: uuid::Uuid::new_v4().to_string(),
            method,
            sms_channel: request.sms_channel.clone(),
            email,
            phone_number,
            code: new_code(),
            user_id: request.user_id.clone(),
            action: request.action.clone(),
            idempotency_key: request
                .idempotency_key
                .clone()
                .filter(|key| !key.is_empty())
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            expires_at,
            failed_attempts: 0,
            verified: false,
            finalized: false,
            claimed_by: None,
        };
        let response = wire!(ChallengeResponse {
            challenge_id: challenge.id.clone(),
            idempotency_key: Some(challenge.idempotency_key.clone()),
            expires_at: Some(expires_at.unix_seconds().into()),
        });
        let sending = self.start_send(challenge, context_of(&request), now)?;
        Ok((response, sending))
    }

    /// `verify`: a right, unexpired code verifies the challenge once. Wrong codes count;
    /// the [`MAX_ATTEMPTS`]th fails the challenge (`MAX_ATTEMPTS_EXCEEDED`), and a tied
    /// action with it (`CHALLENGE_FAILED`).
    pub(crate) fn verify(
        &mut self,
        request: &VerifyRequest,
        now: Timestamp,
    ) -> Result<VerifyResponse, HttpError> {
        // A magic link is no code: its secret is followed, never typed.
        let index = self
            .challenges
            .iter()
            .position(|c| c.id == request.challenge_id && is_code(&c.method))
            .ok_or_else(|| HttpError::invalid_request("The challenge was not found."))?;
        let challenge = &mut self.challenges[index];
        let failed = |reason| {
            wire!(VerifyResponse {
                is_verified: false,
                failure_reason: Some(reason)
            })
        };
        if challenge.failed_attempts >= MAX_ATTEMPTS {
            return Ok(failed(VerificationFailureReason::MaxAttemptsExceeded));
        }
        if challenge.verified || now >= challenge.expires_at {
            return Ok(failed(VerificationFailureReason::CodeInvalidOrExpired));
        }
        let right = challenge.is(&request.verification_code);
        if !right {
            challenge.failed_attempts += 1;
            let challenge = challenge.clone();
            if challenge.failed_attempts < MAX_ATTEMPTS {
                self.notify_code_log(&challenge, LogKind::Invalid, now);
                return Ok(failed(VerificationFailureReason::CodeInvalidOrExpired));
            }
            self.notify_code_log(&challenge, LogKind::MaxAttempts, now);
            if let Some(action) = self.tied_action(&challenge) {
                action.set_state(UserActionState::ChallengeFailed, now);
                let target = action_ref(action);
                self.notify_action(
                    &target.user_id,
                    &target.action_code,
                    &target.idempotency_key,
                );
            }
            return Ok(failed(VerificationFailureReason::MaxAttemptsExceeded));
        }
        challenge.verified = true;
        let challenge = challenge.clone();
        self.notify_code_log(&challenge, LogKind::Valid, now);
        if let (Some(user_id), Some(phone_number)) = (
            challenge.claimed_by.as_ref().or(challenge.user_id.as_ref()),
            challenge.phone_number.as_deref(),
        ) {
            let channel = match (&challenge.method, &challenge.sms_channel) {
                (VerificationMethod::Whatsapp, _) => SmsChannel::Whatsapp,
                (_, Some(channel)) => channel.clone(),
                (_, None) => SmsChannel::Default,
            };
            let user_id = user_id.clone();
            self.sms_channel_used(&user_id, phone_number, channel, now);
        }
        if let Some(target) = self
            .tied_action(&challenge)
            .map(|action| action_ref(action))
        {
            self.complete_challenge(&target, challenge.method.clone(), None, now);
        }
        Ok(wire!(VerifyResponse {
            is_verified: true,
            email: challenge.email,
            phone_number: challenge.phone_number,
            verification_method: Some(challenge.method),
            failure_reason: None,
        }))
    }

    /// The tracked action a right `request` would complete now, and the challenge's
    /// method, without using the code or counting it: a right code is checked with
    /// `action.verify` before it is spent. `None` for a wrong code or an untied challenge.
    pub(crate) fn would_complete(
        &self,
        request: &VerifyRequest,
        now: Timestamp,
    ) -> Option<(ActionRef, VerificationMethod)> {
        let challenge = self
            .challenges
            .iter()
            .find(|c| c.id == request.challenge_id && is_code(&c.method))?;
        let right = challenge.is(&request.verification_code);
        let usable = challenge.failed_attempts < MAX_ATTEMPTS
            && !challenge.verified
            && now < challenge.expires_at;
        if !(right && usable) {
            return None;
        }
        let user_id = challenge
            .claimed_by
            .as_ref()
            .or(challenge.user_id.as_ref())?;
        let action = self.action(
            user_id,
            challenge.action.as_deref()?,
            &challenge.idempotency_key,
        )?;
        Some((action_ref(action), challenge.method.clone()))
    }

    /// The tracked action a challenge names (user, action and idempotency key), if any.
    fn tied_action(&mut self, challenge: &OtpChallenge) -> Option<&mut ActionRecord> {
        let user_id = challenge
            .claimed_by
            .as_ref()
            .or(challenge.user_id.as_ref())?;
        let code = challenge.action.as_deref()?;
        self.action_mut(user_id, code, &challenge.idempotency_key)
    }

    /// `claimChallenge`: binds a verified challenge (or, with `skipVerificationCheck`, any)
    /// to a user and returns a token for `validateChallenge`.
    pub(crate) fn claim(
        &mut self,
        request: &ClaimChallengeRequest,
        tokens: Tokens<'_>,
    ) -> Result<ClaimChallengeResponse, HttpError> {
        let now = tokens.now;
        let challenge = self
            .challenges
            .iter_mut()
            .find(|c| c.id == request.challenge_id)
            .ok_or_else(|| HttpError::invalid_request("The challenge was not found."))?;
        if !challenge.verified && request.skip_verification_check != Some(true) {
            return Err(HttpError::invalid_request(
                "The challenge has not been verified.",
            ));
        }
        let owner = challenge.claimed_by.as_ref().or(challenge.user_id.as_ref());
        if owner.is_some_and(|owner| *owner != request.user_id) {
            return Err(HttpError::invalid_request(
                "The challenge belongs to another user.",
            ));
        }
        challenge.claimed_by = Some(request.user_id.clone());
        let challenge = challenge.clone();
        let code = challenge
            .action
            .clone()
            .unwrap_or_else(|| CLAIMED_ACTION.to_owned());
        let state = if challenge.verified {
            UserActionState::ChallengeSucceeded
        } else {
            UserActionState::ChallengeRequired
        };
        self.user_mut(&request.user_id);
        if self
            .action(&request.user_id, &code, &challenge.idempotency_key)
            .is_none()
        {
            self.actions.push(ActionRecord {
                verification_method: challenge.verified.then(|| challenge.method.clone()),
                ..ActionRecord::new(
                    &request.user_id,
                    &code,
                    &challenge.idempotency_key,
                    state,
                    now,
                )
            });
        }
        let token = tokens.challenge(
            &ActionRef {
                user_id: request.user_id.clone(),
                action_code: code,
                idempotency_key: challenge.idempotency_key.clone(),
            },
            None,
        );
        Ok(wire!(ClaimChallengeResponse {
            token: token.into(),
            verification_method: Some(challenge.method),
        }))
    }

    /// `getChallenge`: the newest pending (unverified, unexpired, not failed) challenge
    /// matching every criterion given; none is `{}`.
    pub(crate) fn get_challenge(
        &self,
        query: &GetChallengeRequest,
        now: Timestamp,
    ) -> GetChallengeResponse {
        let matches = |c: &&OtpChallenge| {
            let given = |wanted: &Option<String>, value: Option<&String>| {
                wanted.is_none() || wanted.as_ref() == value
            };
            !c.verified
                && now < c.expires_at
                && c.failed_attempts < MAX_ATTEMPTS
                && given(&query.challenge_id, Some(&c.id))
                && given(&query.user_id, c.user_id.as_ref())
                && given(&query.action, c.action.as_ref())
                && query
                    .verification_method
                    .as_ref()
                    .is_none_or(|method| *method == c.method)
        };
        self.challenges
            .iter()
            .rev()
            .find(matches)
            .map(|c| {
                wire!(GetChallengeResponse {
                    challenge_id: Some(c.id.clone()),
                    expires_at: Some(c.expires_at.unix_seconds().into()),
                    verification_method: Some(c.method.clone()),
                    sms_channel: c.sms_channel.clone(),
                    phone_number: c.phone_number.clone(),
                    email: c.email.clone(),
                    action: c.action.clone(),
                })
            })
            .unwrap_or_default()
    }
}

/// Whether challenges of `method` are answered with a typed code.
fn is_code(method: &VerificationMethod) -> bool {
    matches!(
        method,
        VerificationMethod::Sms | VerificationMethod::EmailOtp | VerificationMethod::Whatsapp
    )
}

/// What a Server API `challenge` tells of the user, for its event.
fn context_of(request: &ChallengeRequest) -> CodeContext {
    CodeContext {
        locale: request.locale.clone(),
        user_agent: request.user_agent.clone(),
        ip_address: request.ip_address.clone(),
        magic_link_base: None,
    }
}

fn action_ref(action: &ActionRecord) -> ActionRef {
    ActionRef {
        user_id: action.user_id.clone(),
        action_code: action.code.clone(),
        idempotency_key: action.idempotency_key.clone(),
    }
}
