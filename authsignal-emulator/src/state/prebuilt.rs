//! What the pre-built UI asks of the tenant's data: which of a user's authenticators it
//! challenges with, whether the user may add one, and one-time codes by SMS, WhatsApp or
//! email for a token's action (sent to the outbox, through `challenge` and `verify`).
//!
//! Authenticator binding, as Authsignal documents it: a user with no authenticator
//! enrolls their first one directly; an enrolled user adds another only after completing
//! a challenge with one they have, or with a token whose track granted
//! `add:authenticators` (the documented way to skip that challenge when the app has
//! already authenticated the user strongly).

use super::super::clock::Timestamp;
use super::super::error::HttpError;
use super::super::tokens::{ADD_AUTHENTICATORS, ActionRef, ChallengeClaims, Tokens};
use super::sending::Sending;
use super::{ActionRecord, MAX_ATTEMPTS, Store, TotpAttempt};
use authsignal::types::{ChallengeRequest, UserActionState, VerificationMethod, VerifyRequest};
use reqwest::Url;

/// The methods the pre-built UI can challenge with, in the order it offers them when the
/// user has no default among them: a passkey first (nothing to type, and phishing
/// resistant), then codes.
const CHALLENGEABLE: [VerificationMethod; 5] = [
    VerificationMethod::Passkey,
    VerificationMethod::AuthenticatorApp,
    VerificationMethod::Sms,
    VerificationMethod::Whatsapp,
    VerificationMethod::EmailOtp,
];

/// A code on its way for a token's action.
#[derive(Debug)]
pub(crate) struct SentCode {
    /// The phone number or email address it goes to.
    pub(crate) to: String,
    /// The message, recorded once its webhook accepts it.
    pub(crate) sending: Sending,
}

impl ActionRecord {
    /// The origin of its `redirectUrl`, if that is an `http` or `https` URL: the app that
    /// asked for the challenge, where redirect mode sends the token. The one origin the
    /// pre-built UI trusts to open it in the Web SDK's popup or window and to receive its
    /// token, and the one that may embed its passkey ceremony.
    pub(crate) fn app_origin(&self) -> Option<String> {
        let url = Url::parse(self.redirect_url.as_deref()?).ok()?;
        if !matches!(url.scheme(), "http" | "https") {
            return None;
        }
        let origin = url.origin().ascii_serialization();
        // What the URL parser serializes as an origin holds none of CSP's separators;
        // checked anyway, since it goes into a header.
        origin
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:/[]".contains(&b))
            .then_some(origin)
    }
}

impl Store {
    /// The methods the UI challenges `user_id` with: those they have enrolled that it
    /// knows, their default first. A passkey only if one can sign in (a batch-enrolled
    /// passkey, whose key the emulator never read, cannot).
    pub(crate) fn challenge_methods(&self, user_id: &str) -> Vec<VerificationMethod> {
        let enrolled = self.enrolled_methods(user_id);
        let mut methods: Vec<VerificationMethod> = CHALLENGEABLE
            .into_iter()
            .filter(|method| enrolled.contains(method))
            .filter(|method| {
                *method != VerificationMethod::Passkey || self.has_signing_passkey(user_id)
            })
            .collect();
        if let Some(default) = self.default_method(user_id)
            && let Some(at) = methods.iter().position(|method| *method == default)
        {
            let default = methods.remove(at);
            methods.insert(0, default);
        }
        methods
    }

    /// Whether `user_id` has a verified passkey whose key the emulator holds.
    fn has_signing_passkey(&self, user_id: &str) -> bool {
        self.authenticators.iter().any(|a| {
            a.user_id == user_id
                && a.method == VerificationMethod::Passkey
                && a.is_verified()
                && a.passkey.as_ref().is_some_and(|p| p.public_key.is_some())
        })
    }

    /// Whether the token's action was just completed with a passkey: what the page may
    /// go on from once its script has verified one through the client API.
    pub(crate) fn passed_with_passkey(&self, claims: &ChallengeClaims) -> bool {
        let target = &claims.other;
        self.action(
            &target.user_id,
            &target.action_code,
            &target.idempotency_key,
        )
        .is_some_and(|action| {
            action.state == UserActionState::ChallengeSucceeded
                && action.verification_method == Some(VerificationMethod::Passkey)
        })
    }

    /// Whether the token's user may add an authenticator now (see the module docs).
    pub(crate) fn may_add_authenticator(&self, claims: &ChallengeClaims) -> bool {
        let target = &claims.other;
        let passed = self
            .action(
                &target.user_id,
                &target.action_code,
                &target.idempotency_key,
            )
            .is_some_and(|action| action.state == UserActionState::ChallengeSucceeded);
        !self.is_enrolled(&target.user_id) || passed || claims.has_scope(ADD_AUTHENTICATORS)
    }

    /// Starts sending a code for the token's action to the user's enrolled authenticator of
    /// `method` (SMS, WhatsApp or email; the default one if they have several).
    pub(crate) fn send_action_code(
        &mut self,
        claims: &ChallengeClaims,
        method: &VerificationMethod,
        now: Timestamp,
    ) -> Result<SentCode, HttpError> {
        let target = &claims.other;
        let state = self
            .action(
                &target.user_id,
                &target.action_code,
                &target.idempotency_key,
            )
            .map(|action| (action.state.clone(), action.failed_attempts));
        match state {
            Some((UserActionState::ChallengeRequired, failed)) if failed < MAX_ATTEMPTS => {}
            _ => {
                return Err(HttpError::invalid_request(
                    "The token's action cannot be verified.",
                ));
            }
        }
        let mut enrolled = self
            .authenticators
            .iter()
            .filter(|a| a.user_id == target.user_id && a.is_verified() && a.method == *method);
        let first = enrolled.clone().next();
        let authenticator = enrolled.find(|a| a.is_default).or(first);
        let (email, phone_number) = match (method, authenticator) {
            (VerificationMethod::EmailOtp, Some(a)) => (a.email.clone(), None),
            (VerificationMethod::Sms | VerificationMethod::Whatsapp, Some(a)) => {
                (None, a.phone_number.clone())
            }
            _ => (None, None),
        };
        let Some(to) = email.clone().or_else(|| phone_number.clone()) else {
            return Err(HttpError::invalid_request(format!(
                "The user has no {method} authenticator to send a code to."
            )));
        };
        let (_, sending) = self.challenge(
            ChallengeRequest {
                verification_method: Some(method.clone()),
                action: Some(target.action_code.clone()),
                idempotency_key: Some(target.idempotency_key.clone()),
                user_id: Some(target.user_id.clone()),
                email,
                phone_number,
                ..ChallengeRequest::default()
            },
            now,
        )?;
        Ok(SentCode { to, sending })
    }

    /// Checks `code` against the code sent for the token's action as `challenge_id`.
    /// Wrong codes count toward the action's attempts, shared with the authenticator
    /// app's, so that switching method or asking for a new code gains a guesser nothing.
    pub(crate) fn verify_action_code(
        &mut self,
        claims: &ChallengeClaims,
        challenge_id: &str,
        code: &str,
        tokens: Tokens<'_>,
    ) -> TotpAttempt {
        let now = tokens.now;
        let target = claims.other.clone();
        // The challenge must be one sent for this very action: a challenge id is no
        // secret, and another action's verified code must not complete this one.
        let ours = self.challenges.iter().any(|c| {
            c.id == challenge_id
                && c.user_id.as_deref() == Some(target.user_id.as_str())
                && c.action.as_deref() == Some(target.action_code.as_str())
                && c.idempotency_key == target.idempotency_key
        });
        let Some(action) = self.action(
            &target.user_id,
            &target.action_code,
            &target.idempotency_key,
        ) else {
            return TotpAttempt::NotChallengeable;
        };
        if action.state == UserActionState::ChallengeFailed
            || action.failed_attempts >= MAX_ATTEMPTS
        {
            return TotpAttempt::LimitReached;
        }
        if !ours || action.state != UserActionState::ChallengeRequired {
            return TotpAttempt::NotChallengeable;
        }
        let verified = self
            .verify(
                &VerifyRequest {
                    challenge_id: challenge_id.to_owned(),
                    verification_code: code.to_owned(),
                },
                now,
            )
            .is_ok_and(|answer| answer.is_verified);
        if verified {
            return match self.action(
                &target.user_id,
                &target.action_code,
                &target.idempotency_key,
            ) {
                Some(action) => TotpAttempt::Verified {
                    token: tokens.challenge(&target, action.scope.as_deref()),
                    redirect_url: action.redirect_url.clone(),
                },
                None => TotpAttempt::NotChallengeable,
            };
        }
        self.count_wrong_code(&target, now)
    }

    /// One more wrong code against the action; the [`MAX_ATTEMPTS`]th fails it.
    pub(crate) fn count_wrong_code(&mut self, target: &ActionRef, now: Timestamp) -> TotpAttempt {
        let Some(action) = self.action_mut(
            &target.user_id,
            &target.action_code,
            &target.idempotency_key,
        ) else {
            return TotpAttempt::NotChallengeable;
        };
        let reached = action.count_wrong_code(now);
        let attempts_left = MAX_ATTEMPTS.saturating_sub(action.failed_attempts);
        if reached {
            self.notify_action(
                &target.user_id,
                &target.action_code,
                &target.idempotency_key,
            );
            return TotpAttempt::LimitReached;
        }
        TotpAttempt::Wrong { attempts_left }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Timestamp;

    fn redirecting_to(url: Option<&str>) -> ActionRecord {
        let mut action = ActionRecord::new(
            "u1",
            "withdraw",
            "key",
            UserActionState::ChallengeRequired,
            Timestamp::from_system(std::time::UNIX_EPOCH),
        );
        action.redirect_url = url.map(str::to_owned);
        action
    }

    #[test]
    fn the_app_origin_is_the_redirect_urls_http_origin() {
        let origin = |url| redirecting_to(url).app_origin();
        assert_eq!(
            origin(Some("https://app.example:8443/done?x=1#y")).as_deref(),
            Some("https://app.example:8443")
        );
        assert_eq!(
            origin(Some("http://127.0.0.1:80/a")).as_deref(),
            Some("http://127.0.0.1")
        );
        assert_eq!(origin(None), None);
        for other in [
            "/relative",
            "javascript:alert(1)",
            "data:text/html,x",
            "file:///x",
            "myapp://done",
        ] {
            assert_eq!(origin(Some(other)), None, "{other}");
        }
    }
}
