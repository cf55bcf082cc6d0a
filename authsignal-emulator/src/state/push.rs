//! Push challenges: the Web SDK's `push.challenge` sends one to the user's push
//! authenticator (their phone, with the app that holds its key), the phone approves or
//! denies it, and `push.verify` answers what the phone said. The emulator has no phone:
//! [`EmulatorHandle::answer_push`](crate::EmulatorHandle::answer_push) (and
//! `POST /v1/emulator/push/{challengeId}`) act as it.

use std::time::SystemTime;

use super::super::clock::Timestamp;
use super::super::error::HttpError;
use super::super::tokens::{ActionRef, ChallengeClaims};
use super::sending::Sending;
use super::{AuthenticatorRecord, CODE_LIFETIME, Store};
use authsignal::types::{UserActionState, VerificationMethod};

/// A push sent to a user's push authenticator, for one action.
#[derive(Debug, Clone)]
pub(crate) struct PushChallenge {
    pub(crate) id: String,
    pub(crate) target: ActionRef,
    pub(crate) authenticator_id: String,
    pub(crate) sent_at: Timestamp,
    pub(crate) expires_at: Timestamp,
    /// What the phone said: approved (`true`) or denied; `None` while it is unanswered.
    pub(crate) answer: Option<bool>,
    /// An approval that completed its action: it completes no other.
    pub(crate) consumed: bool,
}

/// A push waiting on the user's phone.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PendingPush {
    /// The challenge to approve or deny.
    pub challenge_id: String,
    /// Whose phone shows it.
    pub user_id: String,
    /// The action it asks about.
    pub action: String,
    /// When it was sent, by the emulator's clock.
    pub sent_at: SystemTime,
}

/// Where a push stands when the browser asks (`push.verify`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PushState {
    /// Not answered yet: `{isVerified: false, isConsumed: false}`.
    Waiting,
    /// Denied on the phone, or expired unanswered: `{isVerified: false, isConsumed: true}`.
    Refused,
    /// Approved and not yet used: the action may succeed, with this authenticator.
    Approved { authenticator_id: String },
}

impl Store {
    /// The user's push authenticator, verified at once (a phone's app enrolls it with
    /// keys of its own; the emulator has none to check). The existing one if they have
    /// one.
    pub(crate) fn enroll_push(&mut self, user_id: &str, now: Timestamp) -> String {
        if let Some(existing) = self.authenticators.iter().find(|a| {
            a.user_id == user_id && a.method == VerificationMethod::Push && a.is_verified()
        }) {
            return existing.id.clone();
        }
        let default_taken = self
            .authenticators
            .iter()
            .any(|a| a.user_id == user_id && a.is_verified() && a.is_default);
        self.user_mut(user_id);
        let record = AuthenticatorRecord {
            verified_at: Some(now),
            is_default: !default_taken,
            ..AuthenticatorRecord::new(user_id, VerificationMethod::Push, now)
        };
        let id = record.id.clone();
        self.notify_created(&record, now);
        self.authenticators.push(record);
        id
    }

    /// `POST /client/challenge/push`: a push on its way to the user's push authenticator
    /// for the token's action. `action`, which the SDK sends, must be the token's.
    pub(crate) fn start_push_challenge(
        &mut self,
        claims: &ChallengeClaims,
        action: &str,
        now: Timestamp,
    ) -> Result<Sending, HttpError> {
        let target = &claims.other;
        if action != target.action_code {
            return Err(HttpError::invalid_request(
                "action is not the action of the token.",
            ));
        }
        self.challengeable(claims)
            .map_err(|_| HttpError::invalid_request("The token's action cannot be verified."))?;
        let mut enrolled = self.authenticators.iter().filter(|a| {
            a.user_id == target.user_id && a.method == VerificationMethod::Push && a.is_verified()
        });
        let first = enrolled.clone().next();
        let authenticator = enrolled.find(|a| a.is_default).or(first).ok_or_else(|| {
            HttpError::invalid_request("The user has no verified PUSH authenticator.")
        })?;
        let push = PushChallenge {
            id: uuid::Uuid::new_v4().to_string(),
            target: target.clone(),
            authenticator_id: authenticator.id.clone(),
            sent_at: now,
            expires_at: now.plus(CODE_LIFETIME),
            answer: None,
            consumed: false,
        };
        Ok(self.start_push(push, now))
    }

    /// The push `challenge_id` of the token's action, and where it stands. Another
    /// action's push is "not found": a challenge id is no secret.
    pub(crate) fn push_state(
        &self,
        claims: &ChallengeClaims,
        challenge_id: &str,
        now: Timestamp,
    ) -> Result<PushState, HttpError> {
        let push = self
            .pushes
            .iter()
            .find(|p| p.id == challenge_id && p.target == claims.other)
            .ok_or_else(|| HttpError::invalid_request("The push challenge was not found."))?;
        Ok(match push.answer {
            _ if push.consumed => {
                return Err(HttpError::invalid_request(
                    "The push challenge has already been used.",
                ));
            }
            Some(true) => PushState::Approved {
                authenticator_id: push.authenticator_id.clone(),
            },
            Some(false) => PushState::Refused,
            None if now >= push.expires_at => PushState::Refused,
            None => PushState::Waiting,
        })
    }

    /// An approved push completes its action, once. False if it was used meanwhile.
    pub(crate) fn complete_push(
        &mut self,
        claims: &ChallengeClaims,
        challenge_id: &str,
        now: Timestamp,
    ) -> bool {
        let Some(index) = self.pushes.iter().position(|p| {
            p.id == challenge_id
                && p.target == claims.other
                && p.answer == Some(true)
                && !p.consumed
        }) else {
            return false;
        };
        if self.challengeable(claims).is_err() {
            return false;
        }
        self.pushes[index].consumed = true;
        let push = self.pushes[index].clone();
        if let Some(record) = self
            .authenticators
            .iter_mut()
            .find(|a| a.id == push.authenticator_id)
        {
            record.last_verified_at = Some(now);
        }
        self.complete_challenge(
            &push.target,
            VerificationMethod::Push,
            Some(push.authenticator_id),
            now,
        );
        true
    }

    /// The phone's answer to an unanswered, unexpired push. A denial fails the action
    /// (`CHALLENGE_FAILED`): the user said it was not them. False when there is no such
    /// push to answer.
    pub(crate) fn answer_push(
        &mut self,
        challenge_id: &str,
        approve: bool,
        now: Timestamp,
    ) -> bool {
        let Some(push) = self
            .pushes
            .iter_mut()
            .find(|p| p.id == challenge_id && p.answer.is_none() && now < p.expires_at)
        else {
            return false;
        };
        push.answer = Some(approve);
        let target = push.target.clone();
        if !approve
            && let Some(action) = self.action_mut(
                &target.user_id,
                &target.action_code,
                &target.idempotency_key,
            )
            && action.state == UserActionState::ChallengeRequired
        {
            action.set_state(UserActionState::ChallengeFailed, now);
            self.notify_action(
                &target.user_id,
                &target.action_code,
                &target.idempotency_key,
            );
        }
        true
    }

    /// The pushes waiting on phones now, oldest first.
    pub(crate) fn pending_pushes(&self, now: Timestamp) -> Vec<PendingPush> {
        self.pushes
            .iter()
            .filter(|p| p.answer.is_none() && now < p.expires_at)
            .map(|p| PendingPush {
                challenge_id: p.id.clone(),
                user_id: p.target.user_id.clone(),
                action: p.target.action_code.clone(),
                sent_at: p.sent_at.to_system(),
            })
            .collect()
    }
}
