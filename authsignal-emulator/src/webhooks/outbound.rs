//! The store's side of webhooks: events are put in envelopes and queued, in the order
//! they happen, while the store is locked; [`deliver`](super::deliver) sends them.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::oneshot;

use http::StatusCode;

use super::super::clock::Timestamp;
use super::super::error::HttpError;
use super::{Tracker, WEBHOOK_FAILED, WebhookEndpoint};

/// Something to send to one endpoint.
#[derive(Debug)]
pub(crate) enum Queued {
    /// One event, its body as it will be signed and sent.
    Event {
        url: String,
        id: String,
        event_type: String,
        body: Bytes,
    },
    /// One synchronous event (a challenge to deliver, an action about to succeed), tried
    /// once: whether the endpoint accepted it goes back to the request waiting on it.
    Synchronous {
        url: String,
        id: String,
        event_type: String,
        body: Bytes,
        accepted: oneshot::Sender<bool>,
    },
    /// One log event, sent in a batch with the log events queued next to it.
    Log {
        url: String,
        id: String,
        event_type: String,
        envelope: Value,
    },
}

/// Where the store's events go.
#[derive(Debug)]
pub(crate) struct Outbound {
    pub(crate) tenant_id: String,
    endpoints: Vec<WebhookEndpoint>,
    queue: UnboundedSender<Queued>,
    tracker: Arc<Tracker>,
}

impl Outbound {
    pub(crate) fn new(
        tenant_id: String,
        endpoints: Vec<WebhookEndpoint>,
        queue: UnboundedSender<Queued>,
        tracker: Arc<Tracker>,
    ) -> Self {
        Self {
            tenant_id,
            endpoints,
            queue,
            tracker,
        }
    }

    /// The documented envelope of every event.
    fn envelope(
        &self,
        event_type: &str,
        id: &str,
        now: Timestamp,
    ) -> serde_json::Map<String, Value> {
        let Value::Object(envelope) = json!({
            "version": 1,
            "id": id,
            "source": "https://authsignal.com",
            "time": now.rfc3339(),
            "tenantId": self.tenant_id,
            "type": event_type,
        }) else {
            unreachable!("a JSON object literal")
        };
        envelope
    }

    fn enqueue(&self, item: Queued) {
        // A closed queue means the emulator is shutting down: nothing is waiting for it.
        self.tracker.started();
        if self.queue.send(item).is_err() {
            self.tracker.finished(1);
        }
    }

    /// A new event's id and its body, `{envelope, data}`, as it will be signed and sent.
    fn event_body(&self, event_type: &str, data: Value, now: Timestamp) -> (String, Bytes) {
        let id = uuid::Uuid::new_v4().to_string();
        let mut envelope = self.envelope(event_type, &id, now);
        envelope.insert("data".into(), data);
        (id, Bytes::from(Value::Object(envelope).to_string()))
    }

    /// Queues `{envelope, data}` for every endpoint that takes `event_type`.
    pub(crate) fn event(&self, event_type: &str, data: Value, now: Timestamp) {
        let (id, body) = self.event_body(event_type, data, now);
        for endpoint in self.endpoints.iter().filter(|e| e.takes(event_type)) {
            self.enqueue(Queued::Event {
                url: endpoint.url.clone(),
                id: id.clone(),
                event_type: event_type.to_owned(),
                body: body.clone(),
            });
        }
    }

    /// Queues a synchronous event for every endpoint that takes `event_type`; answers
    /// whether every one of them accepted it. Queued behind the events before it, so that
    /// a receiver sees events in the order they happened.
    pub(crate) fn synchronous(
        &self,
        event_type: &str,
        data: Value,
        now: Timestamp,
    ) -> SynchronousDelivery {
        let urls: Vec<&str> = self
            .endpoints
            .iter()
            .filter(|e| e.takes(event_type))
            .map(|e| e.url.as_str())
            .collect();
        self.synchronous_to(&urls, event_type, data, now)
    }

    /// Queues a synchronous event for each of `urls` only (`action.verify` goes to its
    /// action's own URL, never to the tenant's endpoints).
    pub(crate) fn synchronous_to(
        &self,
        urls: &[&str],
        event_type: &str,
        data: Value,
        now: Timestamp,
    ) -> SynchronousDelivery {
        let (id, body) = self.event_body(event_type, data, now);
        let answers = urls
            .iter()
            .map(|url| {
                let (accepted, answer) = oneshot::channel();
                self.enqueue(Queued::Synchronous {
                    url: (*url).to_owned(),
                    id: id.clone(),
                    event_type: event_type.to_owned(),
                    body: body.clone(),
                    accepted,
                });
                answer
            })
            .collect();
        SynchronousDelivery {
            event_type: event_type.to_owned(),
            answers,
        }
    }

    /// Queues a log event `{envelope, record}` for every endpoint that takes it.
    pub(crate) fn log(&self, event_type: &str, record: Value, now: Timestamp) {
        let id = uuid::Uuid::new_v4().to_string();
        let mut envelope = self.envelope(event_type, &id, now);
        envelope.insert("record".into(), record);
        let envelope = Value::Object(envelope);
        for endpoint in self.endpoints.iter().filter(|e| e.takes(event_type)) {
            self.enqueue(Queued::Log {
                url: endpoint.url.clone(),
                id: id.clone(),
                event_type: event_type.to_owned(),
                envelope: envelope.clone(),
            });
        }
    }
}

/// A synchronous event on its way to its endpoints (none when no endpoint takes it).
#[derive(Debug)]
pub(crate) struct SynchronousDelivery {
    event_type: String,
    answers: Vec<oneshot::Receiver<bool>>,
}

impl SynchronousDelivery {
    /// Nothing to wait for: no endpoint takes the event (or there is none).
    pub(crate) fn none() -> Self {
        Self {
            event_type: String::new(),
            answers: Vec::new(),
        }
    }

    /// Waits for every endpoint's answer: `Ok` when each accepted the event (a 2xx within
    /// the attempt timeout), else the error the API answers in place of going ahead. An
    /// emulator shutting down accepts nothing.
    pub(crate) async fn accepted(self) -> Result<(), HttpError> {
        for answer in self.answers {
            if answer.await != Ok(true) {
                return Err(HttpError::new(
                    StatusCode::BAD_REQUEST,
                    WEBHOOK_FAILED,
                    format!(
                        "The {} webhook did not accept the event (no 2xx answer in time).",
                        self.event_type
                    ),
                ));
            }
        }
        Ok(())
    }
}
