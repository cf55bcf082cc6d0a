//! The store's side of webhooks: events are put in envelopes and queued, in the order
//! they happen, while the store is locked; [`deliver`](super::deliver) sends them.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedSender;

use super::super::clock::Timestamp;
use super::{Tracker, WebhookEndpoint};

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

    /// Queues `{envelope, data}` for every endpoint that takes `event_type`.
    pub(crate) fn event(&self, event_type: &str, data: Value, now: Timestamp) {
        let id = uuid::Uuid::new_v4().to_string();
        let mut envelope = self.envelope(event_type, &id, now);
        envelope.insert("data".into(), data);
        let body = Bytes::from(Value::Object(envelope).to_string());
        for endpoint in self.endpoints.iter().filter(|e| e.takes(event_type)) {
            self.enqueue(Queued::Event {
                url: endpoint.url.clone(),
                id: id.clone(),
                event_type: event_type.to_owned(),
                body: body.clone(),
            });
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
