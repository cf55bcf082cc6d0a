//! What a stand-in Authsignal's odd `track` answers cannot make the gate's first leg do:
//! send a browser off the pre-built UI's origins.

use std::sync::{Arc, Mutex};

use http::Method;
use serde_json::{Value, json};

use crate::support::stand_in::{Answer, Rewrite};
use crate::support::*;

/// Where a stand-in Authsignal may try to send a browser; none is the pre-built UI's.
pub const FOREIGN_URLS: [&str; 8] = [
    "javascript:alert(document.cookie)",
    "data:text/html,<script>alert(1)</script>",
    "//evil.example/x",
    "https://evil.example/x",
    "http://evil.example/x",
    "https://mfa.authsignal.com.evil.example/x",
    "https://mfa.authsignal.com@evil.example/x",
    // Loopback, but not the emulator's origin.
    "http://127.0.0.1:1/x",
];

/// A rewrite of `track`'s `url` to whatever `url` holds (nothing while it is `None`).
pub fn track_url(url: &Arc<Mutex<Option<String>>>) -> Rewrite {
    let url = url.clone();
    Arc::new(move |answer, json| {
        if answer == Answer::Track
            && json.get("url").is_some()
            && let Some(url) = url.lock().unwrap().clone()
        {
            json["url"] = Value::String(url);
        }
    })
}

/// Finding 4: a `url` off the pre-built UI's origins is a 503 and a log line, never a
/// `Location`; for an API client it is left out of the challenge.
#[tokio::test]
async fn the_gate_sends_browsers_only_to_the_pre_built_ui() {
    let url = Arc::new(Mutex::new(None));
    let gate = setup().stand_in(track_url(&url)).start().await;
    // The control: the emulator's own UI URL is followed.
    let location = browser_submit(&gate, "alice", &[("amount", "5000")]).await;
    assert!(location.starts_with(gate.emulator.origin()), "{location}");
    for foreign in FOREIGN_URLS {
        *url.lock().unwrap() = Some(foreign.to_owned());
        let response = navigate(
            &gate,
            Method::POST,
            "/withdraw",
            "alice",
            None,
            Some("amount=5000"),
        )
        .await;
        assert_eq!(
            response.status_code(),
            503,
            "{foreign}: {}",
            response.text()
        );
        assert!(
            response.maybe_header("location").is_none(),
            "{foreign} became a Location"
        );
        assert!(!response.text().contains("evil.example"), "{foreign}");
        // An API client still gets its token, without the foreign URL.
        let problem = api_challenge(&gate, "/withdraw", "alice", &json!({"amount": 5000})).await;
        assert!(problem["token"].is_string(), "{problem}");
        assert!(
            !problem.to_string().contains(foreign),
            "{foreign} in {problem}"
        );
    }
    assert_eq!(gate.runs(), 0);
    assert!(
        log_text().contains("not on an allowed UI origin"),
        "the refusal is logged"
    );
}
