//! One-time codes and magic links of the client API, which a custom UI (the Web SDK's
//! `email`, `sms`, `whatsapp` and `emailML`) calls with a challenge token:
//! enrolling an authenticator, challenging an enrolled one, and verifying the code (or
//! finalizing the followed link). Codes and links go to the outbox, as the Server API's
//! codes do.
//!
//! A code is sent for the token's action (user, action code, idempotency key); only the
//! newest code sent for that action by one channel is good, so a "resend" supersedes the
//! code before it. Wrong codes count toward the action's attempts, shared with the
//! authenticator app's, so that switching methods gains an attacker nothing. A magic
//! link is one more channel whose "code" is a long secret in a URL: following the link
//! marks it, and the token's holder finalizes it once.

use super::super::clock::Timestamp;
use super::super::error::HttpError;
use super::super::tokens::{ActionRef, ChallengeClaims};
use super::super::webhooks::LogKind;
use super::otp::new_code;
use super::sending::{CodeContext, Sending};
use super::{AuthenticatorRecord, CODE_LIFETIME, MAX_ATTEMPTS, OtpChallenge, Store, TotpAttempt};
use crate::random;
use authsignal::types::{UserActionState, UserAuthenticator, VerificationMethod};

/// How a code (or a magic link) reaches the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OtpChannel {
    Email,
    Sms,
    Whatsapp,
    EmailMagicLink,
}

impl OtpChannel {
    pub(crate) fn method(self) -> VerificationMethod {
        match self {
            OtpChannel::Email => VerificationMethod::EmailOtp,
            OtpChannel::Sms => VerificationMethod::Sms,
            OtpChannel::Whatsapp => VerificationMethod::Whatsapp,
            OtpChannel::EmailMagicLink => VerificationMethod::EmailMagicLink,
        }
    }

    /// Whether it sends to an email address (else to a phone number).
    fn by_email(self) -> bool {
        matches!(self, OtpChannel::Email | OtpChannel::EmailMagicLink)
    }

    /// The address of `record` this channel sends to.
    fn address_of(self, record: &AuthenticatorRecord) -> Option<&str> {
        if self.by_email() {
            record.email.as_deref()
        } else {
            record.phone_number.as_deref()
        }
    }

    /// `(email, phone_number)` for `address`.
    fn addresses(self, address: &str) -> (Option<String>, Option<String>) {
        if self.by_email() {
            (Some(address.to_owned()), None)
        } else {
            (None, Some(address.to_owned()))
        }
    }

    /// What the user is sent: six digits to type, or, in a magic link, 32 random bytes
    /// (URL-safe base64), which nobody guesses in a link's lifetime.
    fn new_secret(self) -> String {
        match self {
            OtpChannel::EmailMagicLink => {
                use base64::Engine as _;
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random::bytes::<32>())
            }
            _ => new_code(),
        }
    }

    /// A plausible address: an email address with an `@` between two parts, or an E.164
    /// phone number (`+` and 6 to 15 digits). The real service checks more; the emulator
    /// only refuses what no message could reach.
    fn check(self, address: &str) -> Result<(), HttpError> {
        let ok = if self.by_email() {
            address
                .split_once('@')
                .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
        } else {
            address.strip_prefix('+').is_some_and(|digits| {
                (6..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
            })
        };
        if ok {
            return Ok(());
        }
        Err(HttpError::invalid_request(if self.by_email() {
            "email is not a valid email address."
        } else {
            "phoneNumber is not a valid E.164 phone number (e.g. +64270000000)."
        }))
    }
}

/// A started enrollment: `{userAuthenticatorId, userId}`, and the code or link on its way.
#[derive(Debug)]
pub(crate) struct OtpEnrollment {
    pub(crate) user_authenticator_id: String,
    pub(crate) user_id: String,
    pub(crate) sending: Sending,
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

/// Where a magic link sent for an action stands when its token's holder asks.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum LinkState {
    /// Not followed yet (or expired): the SDK asks again.
    Waiting,
    /// Followed; finalizing completes the action.
    Followed,
    /// Followed and already finalized: a link completes one action once.
    Finalized,
}

/// The refusal for a token whose action cannot take a code.
fn not_challengeable() -> HttpError {
    HttpError::invalid_request("The token's action cannot be verified.")
}

impl Store {
    /// Whether the token's action can still be completed with a code; `Err(true)` when
    /// it failed (too many wrong codes), `Err(false)` when it is gone or not a challenge.
    pub(crate) fn challengeable(&self, claims: &ChallengeClaims) -> Result<(), bool> {
        self.action_challengeable(&claims.other)
    }

    /// [`challengeable`](Self::challengeable), for the action `target` names.
    pub(crate) fn action_challengeable(&self, target: &ActionRef) -> Result<(), bool> {
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

    /// `POST /client/user-authenticators/{email-otp,sms,email-magic-link}`: an
    /// authenticator in progress for `address` (the one already there for it, or a new
    /// one) and a code or link on its way to it. The caller has checked the
    /// `add:authenticators` scope.
    pub(crate) fn start_otp_enrollment(
        &mut self,
        claims: &ChallengeClaims,
        channel: OtpChannel,
        address: &str,
        context: CodeContext,
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
        let id = existing.map_or_else(|| uuid::Uuid::new_v4().to_string(), |r| r.id.clone());
        // Counted and checked first: a refused send leaves no authenticator behind.
        let sending = self.send_client_code(claims, channel, address, context, now)?;
        if !self.authenticators.iter().any(|a| a.id == id) {
            self.user_mut(&user_id);
            let (email, phone_number) = channel.addresses(address);
            self.authenticators.push(AuthenticatorRecord {
                id: id.clone(),
                phone_number,
                email,
                ..AuthenticatorRecord::new(&user_id, method, now)
            });
        }
        Ok(OtpEnrollment {
            user_authenticator_id: id,
            user_id,
            sending,
        })
    }

    /// `POST /client/challenge/{email-otp,sms,whatsapp,email-magic-link}`: a code or link
    /// on its way to the user's verified authenticator of that channel (the one named,
    /// else the default, else the oldest).
    pub(crate) fn start_otp_challenge(
        &mut self,
        claims: &ChallengeClaims,
        channel: OtpChannel,
        authenticator_id: Option<&str>,
        context: CodeContext,
        now: Timestamp,
    ) -> Result<Sending, HttpError> {
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
        self.send_client_code(claims, channel, &address, context, now)
    }

    /// A new code (or link) for the token's action to `address`, on its way: recorded
    /// once its synchronous webhook accepts it.
    fn send_client_code(
        &mut self,
        claims: &ChallengeClaims,
        channel: OtpChannel,
        address: &str,
        context: CodeContext,
        now: Timestamp,
    ) -> Result<Sending, HttpError> {
        let target = &claims.other;
        let (email, phone_number) = channel.addresses(address);
        let challenge = OtpChallenge {
            id: uuid::Uuid::new_v4().to_string(),
            method: channel.method(),
            sms_channel: None,
            email,
            phone_number,
            code: channel.new_secret(),
            user_id: Some(target.user_id.clone()),
            action: Some(target.action_code.clone()),
            idempotency_key: target.idempotency_key.clone(),
            expires_at: now.plus(CODE_LIFETIME),
            failed_attempts: 0,
            verified: false,
            finalized: false,
            claimed_by: None,
        };
        self.start_send(challenge, context, now)
    }

    /// The newest code sent for the token's action by `channel`, if any.
    fn newest_client_code(&self, claims: &ChallengeClaims, channel: OtpChannel) -> Option<usize> {
        let target = &claims.other;
        let method = channel.method();
        self.challenges.iter().rposition(|c| {
            c.method == method
                && c.claimed_by.is_none()
                && c.user_id.as_deref() == Some(target.user_id.as_str())
                && c.action.as_deref() == Some(target.action_code.as_str())
                && c.idempotency_key == target.idempotency_key
        })
    }

    /// Whether `code` is the right one for the token's action now, without using it or
    /// counting it: a right code is checked with `action.verify` before it is spent.
    pub(crate) fn would_verify_otp(
        &self,
        claims: &ChallengeClaims,
        channel: OtpChannel,
        code: &str,
        now: Timestamp,
    ) -> bool {
        if self.challengeable(claims).is_err() {
            return false;
        }
        self.newest_client_code(claims, channel)
            .map(|index| &self.challenges[index])
            .is_some_and(|challenge| {
                !challenge.verified && now < challenge.expires_at && challenge.is(code)
            })
    }

    /// `POST /client/verify/{email-otp,sms,whatsapp}`: checks `code` against the newest
    /// code sent for the token's action by `channel`. The first right code for an
    /// authenticator in progress completes its enrollment.
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
        let Some(index) = self.newest_client_code(claims, channel) else {
            return OtpAttempt::NoCodeSent;
        };
        let challenge = &mut self.challenges[index];
        let right = !challenge.verified && now < challenge.expires_at && challenge.is(code);
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
        let verified = challenge.clone();
        self.notify_code_log(&verified, LogKind::Valid, now);
        self.complete_client_code(claims, channel, &verified, now)
    }

    /// The newest magic link sent for the token's action, and where it stands.
    pub(crate) fn magic_link_state(&self, claims: &ChallengeClaims) -> Option<LinkState> {
        let index = self.newest_client_code(claims, OtpChannel::EmailMagicLink)?;
        let link = &self.challenges[index];
        Some(match (link.verified, link.finalized) {
            (_, true) => LinkState::Finalized,
            (true, false) => LinkState::Followed,
            (false, false) => LinkState::Waiting,
        })
    }

    /// `POST /client/verify/email-magic-link/finalize` for a followed link: the action
    /// succeeds, once.
    pub(crate) fn finalize_magic_link(
        &mut self,
        claims: &ChallengeClaims,
        now: Timestamp,
    ) -> OtpAttempt {
        if self.challengeable(claims).is_err() {
            return OtpAttempt::NotChallengeable;
        }
        let Some(index) = self.newest_client_code(claims, OtpChannel::EmailMagicLink) else {
            return OtpAttempt::NoCodeSent;
        };
        let link = &mut self.challenges[index];
        if !link.verified || link.finalized {
            return OtpAttempt::Wrong;
        }
        link.finalized = true;
        let link = link.clone();
        self.complete_client_code(claims, OtpChannel::EmailMagicLink, &link, now)
    }

    /// A magic link was followed: `secret` is the one in its URL. Refused when no unused,
    /// unexpired link has it.
    pub(crate) fn follow_magic_link(&mut self, secret: &str, now: Timestamp) -> bool {
        let Some(link) = self
            .challenges
            .iter_mut()
            .find(|c| c.method == VerificationMethod::EmailMagicLink && c.is(secret))
        else {
            return false;
        };
        if link.verified || now >= link.expires_at {
            return false;
        }
        link.verified = true;
        let link = link.clone();
        self.notify_code_log(&link, LogKind::Valid, now);
        true
    }

    /// A right code (or a finalized link) for the token's action: its authenticator is
    /// verified (the first time, an enrollment), the user's address with it, and the
    /// action succeeds.
    fn complete_client_code(
        &mut self,
        claims: &ChallengeClaims,
        channel: OtpChannel,
        verified: &OtpChallenge,
        now: Timestamp,
    ) -> OtpAttempt {
        let target = claims.other.clone();
        let method = channel.method();
        let address = if channel.by_email() {
            verified.email.clone()
        } else {
            verified.phone_number.clone()
        };
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
        if channel.by_email() {
            user.email = address;
            user.email_verified = true;
        } else {
            user.phone_number = address;
            user.phone_number_verified = true;
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
            (OtpChannel::Whatsapp, "+64270000000", true),
            (OtpChannel::Whatsapp, "64270000000", false),
            (OtpChannel::EmailMagicLink, "jane@example.com", true),
            (OtpChannel::EmailMagicLink, "jane", false),
        ] {
            assert_eq!(channel.check(address).is_ok(), ok, "{channel:?} {address}");
        }
    }

    #[test]
    fn a_magic_links_secret_is_long_and_url_safe_and_a_codes_six_digits() {
        let link = OtpChannel::EmailMagicLink.new_secret();
        assert_eq!(link.len(), 43, "32 bytes in unpadded base64");
        assert!(
            link.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_ne!(link, OtpChannel::EmailMagicLink.new_secret());
        for channel in [OtpChannel::Email, OtpChannel::Sms, OtpChannel::Whatsapp] {
            let code = channel.new_secret();
            assert!(
                code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()),
                "{code}"
            );
        }
    }
}
