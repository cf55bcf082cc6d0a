//! The faults: `--fault-percent` of the gate's Authsignal calls (`track` and
//! `validateChallenge`) faulted, each request by chance (the emulator's `"percent"`
//! faults), the kind changing every second through [`KINDS`], over the emulator's HTTP
//! control route as a test in any language would arm them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::options::Options;

/// The operations the gate calls.
const OPERATIONS: [&str; 2] = ["track", "validateChallenge"];

/// Every kind in the emulator's catalogue that a call can meet (`bad token 400` only
/// changes answers about bad tokens, which the load sends too). The delays outlast the
/// app's attempt timeout (1 s), so those calls are retried.
fn kinds() -> Vec<Value> {
    vec![
        json!({"fault": "500"}),
        json!({"fault": "502"}),
        json!({"fault": "503"}),
        json!({"fault": "429", "retryAfterSeconds": 1}),
        json!({"fault": "reset"}),
        json!({"fault": "malformed JSON"}),
        json!({"fault": "truncated JSON"}),
        json!({"fault": "unknown state"}),
        json!({"fault": "timeout", "millis": 1500}),
        json!({"fault": "slow body", "millis": 1500}),
        json!({"fault": "bad token 400"}),
    ]
}

/// How long each kind stays armed.
const EACH_KIND: Duration = Duration::from_secs(1);

/// The emulator's control routes.
#[derive(Clone)]
pub struct Emulator {
    http: reqwest::Client,
    api: String,
    secret: String,
}

impl Emulator {
    pub fn new(options: &Options) -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("a client"),
            api: options.emulator_url.clone(),
            secret: options.secret.clone(),
        }
    }

    async fn arm(&self, operation: &str, kind: &Value, percent: u8) -> bool {
        let mut spec = kind.clone();
        spec["operation"] = operation.into();
        spec["percent"] = percent.into();
        let armed = self
            .http
            .post(format!("{}/emulator/faults", self.api))
            .basic_auth(&self.secret, Some(""))
            .json(&spec)
            .send()
            .await;
        armed.is_ok_and(|answer| answer.status().is_success())
    }

    async fn clear(&self, operation: Option<&str>) -> bool {
        let query = operation.map_or(String::new(), |operation| format!("?operation={operation}"));
        let cleared = self
            .http
            .delete(format!("{}/emulator/faults{query}", self.api))
            .basic_auth(&self.secret, Some(""))
            .send()
            .await;
        cleared.is_ok_and(|answer| answer.status().is_success())
    }

    pub async fn clear_faults(&self) {
        self.clear(None).await;
    }

    /// Whether the emulator answers its (never faulted) outbox route.
    pub async fn alive(&self) -> bool {
        let answer = self
            .http
            .get(format!(
                "{}/emulator/outbox?to=nobody@example.com",
                self.api
            ))
            .basic_auth(&self.secret, Some(""))
            .send()
            .await;
        answer.is_ok_and(|answer| answer.status().is_success())
    }
}

/// Arms the next kind for both operations every [`EACH_KIND`] until `stop`; returns how
/// many kinds were armed, and how many times arming failed.
pub async fn rotate(emulator: Emulator, percent: u8, stop: Arc<AtomicBool>) -> (usize, usize) {
    if percent == 0 {
        return (0, 0);
    }
    let kinds = kinds();
    let mut next = 0;
    let mut failures = 0;
    while !stop.load(Ordering::Relaxed) {
        let kind = &kinds[next % kinds.len()];
        for operation in OPERATIONS {
            let armed = emulator.clear(Some(operation)).await
                && emulator.arm(operation, kind, percent).await;
            if !armed {
                failures += 1;
            }
        }
        next += 1;
        tokio::time::sleep(EACH_KIND).await;
    }
    println!(
        "faults: {percent} % of {} calls, {} kinds in turn ({} rotations, {failures} failed to arm)",
        OPERATIONS.join(" and "),
        kinds.len(),
        next
    );
    (next, failures)
}
