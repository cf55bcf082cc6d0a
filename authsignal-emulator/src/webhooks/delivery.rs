//! Sending the queued events: one at a time, in order, signed, retried with back-off, and
//! every attempt recorded as a call.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::Method;
use http::header::CONTENT_TYPE;
use serde_json::json;
use tokio::sync::Notify;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::oneshot;
use tokio::sync::watch;

use super::super::calls::RecordedCall;
use super::super::server::stopped;
use super::super::state::Shared;
use super::{MAX_LOG_BATCH, Queued, WEBHOOK_ATTEMPT_TIMEOUT, WebhookAttempt, WebhookOutcome};
use authsignal::webhook::{SIGNATURE_HEADER, signature_header};

/// How many queued events are not yet delivered or given up, and a signal when none is.
#[derive(Debug, Default)]
pub(crate) struct Tracker {
    pending: AtomicUsize,
    idle: Notify,
}

impl Tracker {
    pub(crate) fn started(&self) {
        self.pending.fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn finished(&self, count: usize) {
        if self.pending.fetch_sub(count, Ordering::SeqCst) == count {
            self.idle.notify_waiters();
        }
    }

    /// Resolves once nothing is pending.
    pub(crate) async fn idle(&self) {
        loop {
            let notified = self.idle.notified();
            if self.pending.load(Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// How deliveries are retried.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Retry {
    pub(crate) max_retries: u32,
    pub(crate) first_backoff: Duration,
}

/// One delivery: a body for a URL, and the events it carries.
struct Delivery {
    url: String,
    ids: Vec<String>,
    types: Vec<String>,
    body: Bytes,
    /// Where a synchronous event's outcome goes; such an event is tried once.
    accepted: Option<oneshot::Sender<bool>>,
}

/// Sends what the store queues until the emulator shuts down.
pub(crate) async fn deliver(
    mut queue: UnboundedReceiver<Queued>,
    shared: Arc<Shared>,
    tracker: Arc<Tracker>,
    retry: Retry,
    shutdown: watch::Receiver<bool>,
) {
    let Ok(http) = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(WEBHOOK_ATTEMPT_TIMEOUT)
        .user_agent("authsignal-emulator")
        .build()
    else {
        return;
    };
    let stop = stopped(shutdown);
    tokio::pin!(stop);
    let mut waiting: VecDeque<Queued> = VecDeque::new();
    loop {
        if waiting.is_empty() {
            tokio::select! {
                () = &mut stop => break,
                next = queue.recv() => match next {
                    Some(item) => waiting.push_back(item),
                    None => break,
                },
            }
        }
        // Everything queued meanwhile, so that neighbouring log events share a batch.
        while let Ok(item) = queue.try_recv() {
            waiting.push_back(item);
        }
        let Some(mut delivery) = next_delivery(&mut waiting) else {
            continue;
        };
        let count = delivery.ids.len();
        let accepted = delivery.accepted.take();
        // A synchronous event is not retried: the request waiting on it fails instead, and
        // the user tries again (as Authsignal documents for its challenge and action
        // verification webhooks).
        let retry = match accepted {
            Some(_) => Retry {
                max_retries: 0,
                ..retry
            },
            None => retry,
        };
        tokio::select! {
            () = &mut stop => break,
            delivered = send(&http, &shared, &delivery, retry) => {
                if let Some(accepted) = accepted {
                    // The request may have gone away meanwhile; nothing then waits.
                    let _ = accepted.send(delivered);
                }
                tracker.finished(count);
            }
        }
    }
    // Shutting down: what was not sent never will be.
    let left = waiting.len() + std::iter::from_fn(|| queue.try_recv().ok()).count();
    if left > 0 {
        tracker.finished(left);
    }
}

/// The next body to send: an event, or a batch of the log events for one URL at the
/// front of the queue.
fn next_delivery(waiting: &mut VecDeque<Queued>) -> Option<Delivery> {
    match waiting.pop_front()? {
        Queued::Event {
            url,
            id,
            event_type,
            body,
        } => Some(Delivery {
            url,
            ids: vec![id],
            types: vec![event_type],
            body,
            accepted: None,
        }),
        Queued::Synchronous {
            url,
            id,
            event_type,
            body,
            accepted,
        } => Some(Delivery {
            url,
            ids: vec![id],
            types: vec![event_type],
            body,
            accepted: Some(accepted),
        }),
        Queued::Log {
            url,
            id,
            event_type,
            envelope,
        } => {
            let mut ids = vec![id];
            let mut types = vec![event_type];
            let mut records = vec![envelope];
            while records.len() < MAX_LOG_BATCH {
                match waiting.front() {
                    Some(Queued::Log { url: next, .. }) if *next == url => {}
                    _ => break,
                }
                if let Some(Queued::Log {
                    id,
                    event_type,
                    envelope,
                    ..
                }) = waiting.pop_front()
                {
                    ids.push(id);
                    types.push(event_type);
                    records.push(envelope);
                }
            }
            let body = Bytes::from(json!({ "records": records }).to_string());
            Some(Delivery {
                url,
                ids,
                types,
                body,
                accepted: None,
            })
        }
    }
}

/// Tries `delivery` until a 2xx answer or the last retry; answers whether it was delivered.
async fn send(http: &reqwest::Client, shared: &Shared, delivery: &Delivery, retry: Retry) -> bool {
    let recorded_url = reqwest::Url::parse(&delivery.url).map_or_else(
        |_| delivery.url.clone(),
        |mut url| {
            url.set_query(None);
            url.set_fragment(None);
            url.to_string()
        },
    );
    let path = reqwest::Url::parse(&delivery.url)
        .map(|url| url.path().to_owned())
        .unwrap_or_default();
    let mut pause = retry.first_backoff;
    for attempt in 1..=retry.max_retries.saturating_add(1) {
        // Signed at each attempt, by the wall clock: the receiver checks `t` against its own.
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        let answer = http
            .post(&delivery.url)
            .header(CONTENT_TYPE, "application/json")
            .header(
                SIGNATURE_HEADER,
                signature_header(&shared.secret, now, &delivery.body),
            )
            .body(delivery.body.clone())
            .send()
            .await;
        let status = answer.ok().map(|answer| answer.status());
        let delivered = status.is_some_and(|status| status.is_success());
        let last = attempt > retry.max_retries;
        let outcome = match (delivered, last) {
            (true, _) => WebhookOutcome::Delivered,
            (false, false) => WebhookOutcome::Retrying,
            (false, true) => WebhookOutcome::GaveUp,
        };
        shared.record_call(RecordedCall {
            operation: "webhookDelivery",
            method: Method::POST,
            path: path.clone(),
            webhook: Some(WebhookAttempt {
                url: recorded_url.clone(),
                event_ids: delivery.ids.clone(),
                event_types: delivery.types.clone(),
                attempt,
                status: status.map(|status| status.as_u16()),
                outcome,
            }),
        });
        if outcome != WebhookOutcome::Retrying {
            return delivered;
        }
        tokio::time::sleep(pause).await;
        pause = pause.saturating_mul(2);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(url: &str, id: &str) -> Queued {
        Queued::Log {
            url: url.into(),
            id: id.into(),
            event_type: "action.log_created".into(),
            envelope: json!({"id": id}),
        }
    }

    #[test]
    fn neighbouring_log_events_of_one_url_share_a_batch() {
        let event = Queued::Event {
            url: "http://a".into(),
            id: "e".into(),
            event_type: "sms.created".into(),
            body: Bytes::from_static(b"{}"),
        };
        let mut waiting = VecDeque::from([
            log("http://a", "1"),
            log("http://a", "2"),
            log("http://b", "3"),
            event,
            log("http://a", "4"),
        ]);
        let ids = |d: Delivery| (d.url, d.ids);
        let batches: Vec<(String, Vec<String>)> =
            std::iter::from_fn(|| next_delivery(&mut waiting).map(ids)).collect();
        let expected: Vec<(String, Vec<String>)> = [
            ("http://a", vec!["1", "2"]),
            ("http://b", vec!["3"]),
            ("http://a", vec!["e"]),
            ("http://a", vec!["4"]),
        ]
        .into_iter()
        .map(|(url, ids)| (url.to_owned(), ids.into_iter().map(str::to_owned).collect()))
        .collect();
        assert_eq!(batches, expected);
    }

    #[tokio::test]
    async fn idle_waits_for_every_started_delivery() {
        let tracker = Arc::new(Tracker::default());
        tracker.idle().await;
        tracker.started();
        tracker.started();
        let waiting = tokio::spawn({
            let tracker = tracker.clone();
            async move { tracker.idle().await }
        });
        tracker.finished(1);
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        tracker.finished(1);
        waiting.await.unwrap();
    }
}
