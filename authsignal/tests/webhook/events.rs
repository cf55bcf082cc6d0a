//! Webhook events to sign in tests, shared with `axum-authsignal`'s extractor tests (which
//! include this file).

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::json;

/// Now, in unix seconds: a signature's `t`.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// The body of an `email.created` event with this id.
pub fn event_body(id: &str) -> String {
    json!({
        "version": 1,
        "type": "email.created",
        "id": id,
        "source": "https://authsignal.com",
        "time": "2025-02-20T01:51:56.070Z",
        "tenantId": "tenant-1",
        "data": {"code": "157743", "actionCode": "signIn"}
    })
    .to_string()
}
