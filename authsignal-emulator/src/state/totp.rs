//! Completing a challenge with an authenticator app, for the client API and the pre-built UI.

use super::super::clock::Timestamp;
use super::super::tokens::{ChallengeClaims, Tokens};
use super::super::totp;
use super::{MAX_ATTEMPTS, Store};
use authsignal::types::{UserActionState, VerificationMethod};

/// What a code typed against a challenge token came to (an authenticator app's, or one
/// sent by SMS or email).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TotpAttempt {
    /// Right: the action is `CHALLENGE_SUCCEEDED`, and this token proves it.
    Verified {
        token: String,
        redirect_url: Option<String>,
    },
    /// Wrong; this many tries are left.
    Wrong { attempts_left: u32 },
    /// Too many wrong codes: the action is `CHALLENGE_FAILED`.
    LimitReached,
    /// The user has no authenticator app, not even one being enrolled.
    NoAuthenticator,
    /// The action cannot be completed with a code (gone, blocked, in review).
    NotChallengeable,
}

impl Store {
    /// The app of the token's user whose code `code` is now, and whether it was verified
    /// before; `Ok(None)` for a wrong code; `Err` when no code can complete the action.
    fn matching_app(
        &self,
        claims: &ChallengeClaims,
        code: &str,
        now: Timestamp,
    ) -> Result<Option<(String, bool)>, TotpAttempt> {
        let target = &claims.other;
        let (user_id, action_code, key) = (
            target.user_id.as_str(),
            target.action_code.as_str(),
            target.idempotency_key.as_str(),
        );
        let Some(action) = self.action(user_id, action_code, key) else {
            return Err(TotpAttempt::NotChallengeable);
        };
        if action.state == UserActionState::ChallengeFailed
            || action.failed_attempts >= MAX_ATTEMPTS
        {
            return Err(TotpAttempt::LimitReached);
        }
        // ALLOW is accepted too: an unenrolled user's token is how a custom UI enrolls them.
        if !matches!(
            action.state,
            UserActionState::ChallengeRequired
                | UserActionState::ChallengeSucceeded
                | UserActionState::Allow
        ) {
            return Err(TotpAttempt::NotChallengeable);
        }
        // The user's apps, verified ones first; one being set up only where the user may
        // add an authenticator (a user re-enrolling a new app with `add:authenticators`
        // proves it with a code from the new one).
        let may_add = self.may_add_authenticator(claims);
        let mut apps: Vec<_> = self
            .authenticators
            .iter()
            .filter(|a| {
                a.user_id == target.user_id
                    && a.method == VerificationMethod::AuthenticatorApp
                    && a.totp_secret.is_some()
                    && (a.is_verified() || may_add)
            })
            .collect();
        if apps.is_empty() {
            return Err(TotpAttempt::NoAuthenticator);
        }
        apps.sort_by_key(|a| !a.is_verified());
        Ok(apps
            .iter()
            .find(|a| {
                a.totp_secret
                    .as_deref()
                    .is_some_and(|secret| totp::check(secret, code, now))
            })
            .map(|a| (a.id.clone(), a.is_verified())))
    }

    /// The app `code` would verify with now, without using the code or counting it: a
    /// right code is checked with `action.verify` before it completes the action.
    pub(crate) fn would_verify_totp(
        &self,
        claims: &ChallengeClaims,
        code: &str,
        now: Timestamp,
    ) -> Option<String> {
        self.matching_app(claims, code, now)
            .ok()
            .flatten()
            .map(|(id, _)| id)
    }

    /// Checks `code` against the authenticator app of the token's user, for the token's
    /// action. The first right code also completes an enrollment in progress, but only
    /// where the user [may add an authenticator](Store::may_add_authenticator): an
    /// enrolled user's app being set up proves nothing until they passed a challenge with
    /// one they have (or the token grants `add:authenticators`).
    pub(crate) fn verify_totp(
        &mut self,
        claims: &ChallengeClaims,
        code: &str,
        tokens: Tokens<'_>,
    ) -> TotpAttempt {
        let now = tokens.now;
        let target = &claims.other;
        let (authenticator_id, was_verified) = match self.matching_app(claims, code, now) {
            Ok(Some(matched)) => matched,
            Ok(None) => return self.count_wrong_code(target, now),
            Err(refused) => return refused,
        };

        if !was_verified {
            // A finished enrollment replaces the user's previous app (one app per user).
            let replaced = self.remove_authenticators(|a| {
                a.user_id == target.user_id
                    && a.method == VerificationMethod::AuthenticatorApp
                    && a.id != authenticator_id
            });
            self.notify_deleted(&replaced, now);
            let default_taken = self
                .authenticators
                .iter()
                .any(|a| a.user_id == target.user_id && a.is_default);
            if let Some(app) = self
                .authenticators
                .iter_mut()
                .find(|a| a.id == authenticator_id)
            {
                app.verified_at = Some(now);
                app.is_default = !default_taken;
            }
            if let Some(app) = self
                .authenticators
                .iter()
                .find(|a| a.id == authenticator_id)
            {
                self.notify_created(app, now);
            }
        }
        if let Some(app) = self
            .authenticators
            .iter_mut()
            .find(|a| a.id == authenticator_id)
        {
            app.last_verified_at = Some(now);
        }
        // Found above, and nothing since removes actions.
        let Some(action) = self.complete_challenge(
            target,
            VerificationMethod::AuthenticatorApp,
            Some(authenticator_id),
            now,
        ) else {
            return TotpAttempt::NotChallengeable;
        };
        TotpAttempt::Verified {
            token: tokens.challenge(target, action.scope.as_deref()),
            redirect_url: action.redirect_url.clone(),
        }
    }
}
