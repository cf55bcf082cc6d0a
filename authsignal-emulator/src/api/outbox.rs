//! `GET /emulator/outbox?to=`: the outbox over HTTP, for tests written in other languages
//! (which cannot call [`EmulatorHandle::outbox`](super::super::EmulatorHandle::outbox)).
//!
//! An emulator-only extension: real Authsignal has no such route. It sits behind the same
//! Basic auth as the Server API, since the codes it answers are credentials.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use super::super::clock::Timestamp;
use super::super::outbox::OutboxMessage;
use super::super::state::Shared;
use super::extract::ApiQuery;
use authsignal::types::VerificationMethod;

/// The query: `to` keeps only the messages sent to that phone number or email address.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct OutboxQuery {
    to: Option<String>,
}

/// One sent code, as the route answers it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OutboxEntry {
    challenge_id: String,
    verification_method: VerificationMethod,
    to: String,
    /// Empty for a magic link, whose secret is in `link` only.
    #[serde(skip_serializing_if = "String::is_empty")]
    code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    link: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    action: Option<String>,
    /// RFC 3339, by the emulator's clock.
    sent_at: String,
}

impl From<OutboxMessage> for OutboxEntry {
    fn from(message: OutboxMessage) -> Self {
        Self {
            challenge_id: message.challenge_id,
            verification_method: message.verification_method,
            to: message.to,
            code: message.code,
            link: message.link,
            user_id: message.user_id,
            action: message.action,
            sent_at: Timestamp::from_system(message.sent_at).rfc3339(),
        }
    }
}

/// `GET /emulator/outbox?to=`: the codes sent so far, oldest first.
pub(crate) async fn outbox(
    State(shared): State<Arc<Shared>>,
    ApiQuery(query): ApiQuery<OutboxQuery>,
) -> Json<Vec<OutboxEntry>> {
    let sent: Vec<OutboxMessage> = shared
        .store()
        .outbox
        .iter()
        .filter(|message| query.to.as_ref().is_none_or(|to| *to == message.to))
        .cloned()
        .collect();
    Json(sent.into_iter().map(OutboxEntry::from).collect())
}
