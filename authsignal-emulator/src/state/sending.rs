//! Sending a code, a magic link or a push, in two steps around the synchronous webhook
//! that delivers it (`sms.created`, `email.created`, `push.created`): the store checks the
//! user's send limit and queues the event; the request waits, unlocked, for the endpoint's
//! answer; only an accepted message is recorded (in the outbox, and as a challenge a code
//! can answer). A refused one fails the request, and leaves nothing to verify.
//!
//! `action.verify` is the same kind of wait, before a challenge succeeds: see
//! [`Store::verification_gate`].

use http::StatusCode;

use super::super::clock::Timestamp;
use super::super::error::HttpError;
use super::super::outbox::OutboxMessage;
use super::super::tokens::ActionRef;
use super::super::webhooks::{LogKind, SynchronousDelivery, events};
use super::{OtpChallenge, PushChallenge, Shared, Store};
use authsignal::types::VerificationMethod;

/// What the request knew of the user, for the challenge event.
#[derive(Debug, Clone, Default)]
pub(crate) struct CodeContext {
    pub(crate) locale: Option<String>,
    pub(crate) user_agent: Option<String>,
    pub(crate) ip_address: Option<String>,
    /// Where magic links point, their secret appended (the emulator's page).
    pub(crate) magic_link_base: Option<String>,
}

/// One send counted against its channel's limit.
#[derive(Debug, Clone)]
pub(crate) struct SendRecord {
    /// The user, else the address, the limit is kept for.
    key: String,
    method: VerificationMethod,
    at: Timestamp,
}

/// What is on its way.
#[derive(Debug)]
enum Outgoing {
    Code {
        challenge: OtpChallenge,
        link: Option<String>,
    },
    Push(PushChallenge),
}

/// A message waiting for its webhook's answer.
#[derive(Debug)]
pub(crate) struct Sending {
    outgoing: Outgoing,
    delivery: SynchronousDelivery,
}

impl Store {
    /// Counts a send of `method` for `key`; 429 `too_many_requests` past the channel's
    /// limit, with nothing counted.
    fn count_send(
        &mut self,
        key: &str,
        method: &VerificationMethod,
        now: Timestamp,
    ) -> Result<(), HttpError> {
        let Some(limit) = self.config.send_limits.of(method) else {
            return Ok(());
        };
        let recent = self
            .sends
            .iter()
            .filter(|sent| {
                sent.key == key && sent.method == *method && now < sent.at.plus(limit.window())
            })
            .count();
        if recent >= usize::try_from(limit.sends).unwrap_or(usize::MAX) {
            return Err(HttpError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                format!(
                    "Too many {method} messages sent to this user: at most {} in {} seconds.",
                    limit.sends, limit.window_seconds
                ),
            ));
        }
        self.sends.push(SendRecord {
            key: key.to_owned(),
            method: method.clone(),
            at: now,
        });
        Ok(())
    }

    /// Starts sending `challenge`'s code (or link): counted against the send limit, and
    /// its `sms.created` or `email.created` queued for the endpoints that take it. A
    /// WhatsApp code has no such event (Authsignal delivers WhatsApp itself).
    pub(crate) fn start_send(
        &mut self,
        challenge: OtpChallenge,
        mut context: CodeContext,
        now: Timestamp,
    ) -> Result<Sending, HttpError> {
        let address = challenge
            .email
            .clone()
            .or_else(|| challenge.phone_number.clone())
            .unwrap_or_default();
        let key = challenge.user_id.clone().unwrap_or(address);
        self.count_send(&key, &challenge.method, now)?;
        let event_type = match challenge.method {
            VerificationMethod::Sms => Some("sms.created"),
            VerificationMethod::EmailOtp | VerificationMethod::EmailMagicLink => {
                Some("email.created")
            }
            _ => None,
        };
        if context.locale.is_none() {
            context.locale = challenge
                .user_id
                .as_deref()
                .and_then(|id| self.user(id))
                .and_then(|user| user.locale.clone());
        }
        if context.ip_address.is_none()
            && let (Some(user_id), Some(code)) = (&challenge.user_id, &challenge.action)
        {
            context.ip_address = self
                .action(user_id, code, &challenge.idempotency_key)
                .and_then(|action| action.ip_address.clone());
        }
        let link = match (&challenge.method, &context.magic_link_base) {
            (VerificationMethod::EmailMagicLink, Some(base)) => {
                Some(format!("{base}{}", challenge.code))
            }
            _ => None,
        };
        let delivery = match (&self.outbound, event_type) {
            (Some(outbound), Some(event_type)) => outbound.synchronous(
                event_type,
                events::code_created(&challenge, link.as_deref(), &context),
                now,
            ),
            _ => SynchronousDelivery::none(),
        };
        Ok(Sending {
            outgoing: Outgoing::Code { challenge, link },
            delivery,
        })
    }

    /// Starts sending a push: its `push.created` queued for the endpoints that take it.
    pub(crate) fn start_push(&self, push: PushChallenge, now: Timestamp) -> Sending {
        let ip_address = self
            .action(
                &push.target.user_id,
                &push.target.action_code,
                &push.target.idempotency_key,
            )
            .and_then(|action| action.ip_address.clone());
        let delivery = match &self.outbound {
            Some(outbound) => {
                outbound.synchronous("push.created", events::push_created(&push, ip_address), now)
            }
            None => SynchronousDelivery::none(),
        };
        Sending {
            outgoing: Outgoing::Push(push),
            delivery,
        }
    }

    /// Records a message its webhooks accepted: a code in the outbox and among the
    /// challenges (in place of the one it resends, if any), with its `*_SENT` log; a push
    /// among the pushes the user's phone shows.
    fn finish_send(&mut self, outgoing: Outgoing, now: Timestamp) {
        match outgoing {
            Outgoing::Code { challenge, link } => {
                self.outbox.push(OutboxMessage::sent(&challenge, link, now));
                self.notify_code_log(&challenge, LogKind::Sent, now);
                match self.challenges.iter_mut().find(|c| c.id == challenge.id) {
                    Some(resent) => *resent = challenge,
                    None => self.challenges.push(challenge),
                }
            }
            Outgoing::Push(push) => self.pushes.push(push),
        }
    }

    /// The `action.verify` a challenge of `target` waits for before it succeeds with
    /// `method`, when the action has a `verificationWebhookUrl`; else nothing to wait for.
    pub(crate) fn verification_gate(
        &self,
        target: &ActionRef,
        method: &VerificationMethod,
        authenticator_id: Option<&str>,
        now: Timestamp,
    ) -> SynchronousDelivery {
        let url = self
            .config
            .action(&target.action_code)
            .verification_webhook_url
            .as_deref();
        match (&self.outbound, url) {
            (Some(outbound), Some(url)) => outbound.synchronous_to(
                &[url],
                "action.verify",
                events::action_verify(target, method, authenticator_id, now),
                now,
            ),
            _ => SynchronousDelivery::none(),
        }
    }
}

impl Shared {
    /// Waits for the message's webhooks, then records it; answers its challenge id, or
    /// the error the API answers when a webhook did not accept it.
    pub(crate) async fn send(&self, sending: Sending) -> Result<String, HttpError> {
        let Sending { outgoing, delivery } = sending;
        delivery.accepted().await?;
        let id = match &outgoing {
            Outgoing::Code { challenge, .. } => challenge.id.clone(),
            Outgoing::Push(push) => push.id.clone(),
        };
        self.store().finish_send(outgoing, self.clock.now());
        Ok(id)
    }
}
