//! One-time codes of the client API, which a custom UI (the Web SDK's `email` and `sms`)
//! calls with a challenge token: enrolling an email or SMS authenticator, challenging an
//! enrolled one, and verifying the code. Codes go to the outbox, as the Server API's do.
//!
//! A code is sent for the token's action (user, action code, idempotency key); only the
//! newest code sent for that action by one channel is good, so a "resend" supersedes the
//! code before it. Wrong codes count toward the action's attempts, shared with the
//! authenticator app's, so that switching methods gains an attacker nothing.

use subtle::ConstantTimeEq as _;

use super::super::clock::Timestamp;
use super::super::error::HttpError;
use super::super::tokens::ChallengeClaims;
use super::super::webhooks::LogKind;
use super::otp::{new_code, outbox_message};
use super::{AuthenticatorRecord, CODE_LIFETIME, MAX_ATTEMPTS, OtpChallenge, Store, TotpAttempt};
use authsignal::types::{UserActionState, UserAuthenticator, VerificationMethod};

/// How a code reaches the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OtpChannel {
    Email,
    Sms,
}

impl OtpChannel {
    pub(crate) fn method(self) -> VerificationMethod {
        match self {
            OtpChannel::Email => VerificationMethod::EmailOtp,
            OtpChannel::Sms => VerificationMethod::Sms,
        }
    }

    /// The address of `record` this channel sends to.
    fn address_of(self, record: &AuthenticatorRecord) -> Option<&str> {
        match self {
            OtpChannel::Email => record.email.as_deref(),
            OtpChannel::Sms => record.phone_number.as_deref(),
        }
    }

    /// A plausible address: an email address with an `@` between two parts, or an E.164
    /// phone number (`+` and 6 to 15 digits). The real service checks more; the emulator
    /// only refuses what no message could reach.
    fn check(self, address: &str) -> Result<(), HttpError> {
        let ok = match self {
            OtpChannel::Email => address
                .split_once('@')
                .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty()),
            OtpChannel::Sms => address.strip_prefix('+').is_some_and(|digits| {
                (6..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
            }),
        };
        if ok {
            return Ok(());
        }
        Err(HttpError::invalid_request(match self {
            OtpChannel::Email => "email is not a valid email address.",
            OtpChannel::Sms => "phoneNumber is not a valid E.164 phone number (e.g. +64270000000).",
        }))
    }
}

/// A started enrollment: `{userAuthenticatorId, userId}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OtpEnrollment {
    pub(crate) user_authenticator_id: String,
    pub(crate) user_id: String,
}

/// What a code typed against a challenge token came to.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum OtpAttempt {
    /// Right: the action is `CHALLENGE_SUCCEEDED`. `enrolled` is the authenticator this
    /// code verified for the first time (an enrollment), if it did.
    Verified {
        enrolled: Option<Box<UserAuthenticator>>,
    },
    /// Wrong, expired or already used.
    Wrong,
    /// Too many wrong codes: the action is `CHALLENGE_FAILED`.
    LimitReached,
    /// No code was sent for this action by this channel (or its authenticator is gone).
    NoCodeSent,
    /// The action cannot be completed with a code (gone, blocked, in review).
    NotChallengeable,
}

/// The refusal for a token whose action cannot take a code.
fn not_challengeable() -> HttpError {
    HttpError::invalid_request("The token's action cannot be verified.")
}

impl Store {
    /// Whether the token's action can still be completed with a code; `Err(true)` when
    /// it failed (too many wrong codes), `Err(false)` when it is gone or not a challenge.
    pub(super) fn challengeable(&self, claims: &ChallengeClaims) -> Result<(), bool> {
        let target = &claims.other;
        let action = self
            .action(
                &target.user_id,
                &target.action_code,
                &target.idempotency_key,
            )
            .ok_or(false)?;
        if action.state == UserActionState::ChallengeFailed
            || action.failed_attempts >= MAX_ATTEMPTS
        {
            return Err(true);
        }
        // ALLOW too: an unenrolled user's token is how a custom UI enrolls them.
        match action.state {
            UserActionState::ChallengeRequired
            | UserActionState::ChallengeSucceeded
            | UserActionState::Allow => Ok(()),
            _ => Err(false),
        }
    }

    /// `POST /client/user-authenticators/{email-otp,sms}`: an authenticator in progress
    /// for `address` (the one already there for it, or a new one) and a code sent to it.
    /// The caller has checked the `add:authenticators` scope.
    pub(crate) fn start_otp_enrollment(
        &mut self,
        claims: &ChallengeClaims,
        channel: OtpChannel,
        address: &str,
        now: Timestamp,
    ) -> Result<OtpEnrollment, HttpError> {
        let address = address.trim();
        channel.check(address)?;
        self.challengeable(claims)
            .map_err(|_| not_challengeable())?;
        let user_id = claims.other.user_id.clone();
        let method = channel.method();
        let existing = self.authenticators.iter().find(|a| {
            a.user_id == user_id && a.method == method && channel.address_of(a) == Some(address)
        });
        let id = match existing {
            Some(record) => record.id.clone(),
            None => {
                self.user_mut(&user_id);
                let (email, phone_number) = match channel {
                    OtpChannel::Email => (Some(address.to_owned()), None),
                    OtpChannel::Sms => (None, Some(address.to_owned())),
                };
                let record = AuthenticatorRecord {
                    phone_number,
                    email,
                    ..AuthenticatorRecord::new(&user_id, method, now)
                };
                let id = record.id.clone();
                self.authenticators.push(record);
                id
            }
        };
        self.send_client_code(claims, channel, address, now);
        Ok(OtpEnrollment {
            user_authenticator_id: id,
            user_id,
        })
    }

    /// `POST /client/challenge/{email-otp,sms}`: a code sent to the user's verified
    /// authenticator of that channel (the one named, else the default, else the oldest).
    /// Answers the challenge id.
    pub(crate) fn start_otp_challenge(
        &mut self,
        claims: &ChallengeClaims,
        channel: OtpChannel,
        authenticator_id: Option<&str>,
        now: Timestamp,
    ) -> Result<String, HttpError> {
        self.challengeable(claims)
            .map_err(|_| not_challengeable())?;
        let method = channel.method();
        let mut enrolled = self.authenticators.iter().filter(|a| {
            a.user_id == claims.other.user_id
                && a.method == method
                && a.is_verified()
                && authenticator_id.is_none_or(|id| a.id == id)
        });
        let first = enrolled.clone().next();
        let address = enrolled
            .find(|a| a.is_default)
            .or(first)
            .and_then(|a| channel.address_of(a))
            .map(str::to_owned)
            .ok_or_else(|| {
                HttpError::invalid_request(format!(
                    "The user has no verified {method} authenticator{}: enroll one first.",
                    if authenticator_id.is_some() {
                        " with that userAuthenticatorId"
                    } else {
                        ""
                    }
                ))
            })?;
        Ok(self.send_client_code(claims, channel, &address, now))
    }

    /// Sends a new code for the token's action to `address`; returns the challenge id.
    fn send_client_code(
        &mut self,
        claims: &ChallengeClaims,
        channel: OtpChannel,
        address: &str,
        now: Timestamp,
    ) -> String {
        let target = &claims.other;
        let (email, phone_number) = match channel {
            OtpChannel::Email => (Some(address.to_owned()), None),
            OtpChannel::Sms => (None, Some(address.to_owned())),
        };
        let challenge = OtpChallenge {
            id: uuid::Uuid::new_v4().to_string(),
            method: channel.method(),
            sms_channel: None,
            email,
            phone_number,
            code: new_code(),
            user_id: Some(target.user_id.clone()),
            action: Some(target.action_code.clone()),
            idempotency_key: target.idempotency_key.clone(),
            expires_at: now.plus(CODE_LIFETIME),
            failed_attempts: 0,
            verified: false,
            claimed_by: None,
        };
        let id = challenge.id.clone();
        self.outbox.push(outbox_message(&challenge, now));
        self.notify_code_sent(&challenge, None, None, None, now);
        self.challenges.push(challenge);
        id
    }

    /// `POST /client/verify/{email-otp,sms}`: checks `code` against the newest code sent
    /// for the token's action by `channel`. The first right code for an authenticator in
    /// progress completes its enrollment.
    pub(crate) fn verify_otp(
        &mut self,
        claims: &ChallengeClaims,
        channel: OtpChannel,
        code: &str,
        now: Timestamp,
    ) -> OtpAttempt {
        match self.challengeable(claims) {
            Ok(()) => {}
            Err(true) => return OtpAttempt::LimitReached,
            Err(false) => return OtpAttempt::NotChallengeable,
        }
        let target = claims.other.clone();
        let method = channel.method();
        let Some(index) = self.challenges.iter().rposition(|c| {
            c.method == method
                && c.claimed_by.is_none()
                && c.user_id.as_deref() == Some(target.user_id.as_str())
                && c.action.as_deref() == Some(target.action_code.as_str())
                && c.idempotency_key == target.idempotency_key
        }) else {
            return OtpAttempt::NoCodeSent;
        };
        let challenge = &mut self.challenges[index];
        // In constant time, as every code and secret of the emulator.
        let same: bool = code
            .trim()
            .as_bytes()
            .ct_eq(challenge.code.as_bytes())
            .into();
        let right = !challenge.verified && now < challenge.expires_at && same;
        if !right {
            challenge.failed_attempts += 1;
            let challenge = challenge.clone();
            return match self.count_wrong_code(&target, now) {
                TotpAttempt::LimitReached => {
                    self.notify_code_log(&challenge, LogKind::MaxAttempts, now);
                    OtpAttempt::LimitReached
                }
                TotpAttempt::Wrong { .. } => {
                    self.notify_code_log(&challenge, LogKind::Invalid, now);
                    OtpAttempt::Wrong
                }
                _ => OtpAttempt::NotChallengeable,
            };
        }
        challenge.verified = true;
        let address = match channel {
            OtpChannel::Email => challenge.email.clone(),
            OtpChannel::Sms => challenge.phone_number.clone(),
        };
        let verified = challenge.clone();
        self.notify_code_log(&verified, LogKind::Valid, now);
        let default_taken = self
            .authenticators
            .iter()
            .any(|a| a.user_id == target.user_id && a.is_verified() && a.is_default);
        let Some(record) = self.authenticators.iter_mut().find(|a| {
            a.user_id == target.user_id
                && a.method == method
                && channel.address_of(a) == address.as_deref()
        }) else {
            return OtpAttempt::NoCodeSent;
        };
        let first_time = !record.is_verified();
        if first_time {
            record.verified_at = Some(now);
            record.is_default = !default_taken;
        }
        record.last_verified_at = Some(now);
        let authenticator_id = record.id.clone();
        let enrolled = first_time.then(|| Box::new(Store::authenticator_view(record)));
        if first_time {
            let record = record.clone();
            self.notify_created(&record, now);
        }
        let user = self.user_mut(&target.user_id);
        match channel {
            OtpChannel::Email => {
                user.email = address;
                user.email_verified = true;
            }
            OtpChannel::Sms => {
                user.phone_number = address;
                user.phone_number_verified = true;
            }
        }
        self.complete_challenge(&target, method, Some(authenticator_id), now);
        OtpAttempt::Verified { enrolled }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_a_message_could_reach() {
        for (channel, address, ok) in [
            (OtpChannel::Email, "jane@example.com", true),
            (OtpChannel::Email, "jane", false),
            (OtpChannel::Email, "@example.com", false),
            (OtpChannel::Email, "jane@", false),
            (OtpChannel::Sms, "+64270000000", true),
            (OtpChannel::Sms, "64270000000", false),
            (OtpChannel::Sms, "+6427 000", false),
            (OtpChannel::Sms, "+12345", false),
            (OtpChannel::Sms, "+1234567890123456", false),
        ] {
            assert_eq!(channel.check(address).is_ok(), ok, "{channel:?} {address}");
        }
    }
}
