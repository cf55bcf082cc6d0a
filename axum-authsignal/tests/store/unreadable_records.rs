//! Through the gate, on `RedisStore`: a record this version of the crate cannot read (one
//! written by version 1 of the format, before a deploy; one of a later version, written
//! by a newer instance during a rolling deploy; bytes that are no record) fails closed.
//! The token or resume cookie that finds it gets a 503 and runs nothing, never a 500, a
//! panic or the handler; the take removed the record, so the token is spent: it gets a
//! 403 after that, and the user starts again.
//!
//! The two instances, the emulator and the proxy are those of the instances suite
//! (`tests/instances/instances_support/`); Redis is this binary's own
//! (`tests/support/redis.rs`). The unreadable bytes are written straight into Redis under
//! the record's key, keeping its time to live.

use std::time::Duration;

use axum_authsignal::store::PendingChallenge;
use http::Method;
use serde_json::json;

use crate::golden;
use crate::instances_support::{Instances, cookie_set, location};
use crate::redis_support;

/// Generous, so that a loaded machine does not turn a slow answer into a 503 of its own.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Bytes this version cannot read as a record, and what wrote them.
fn unreadable() -> Vec<(&'static str, Vec<u8>)> {
    let mut newer = PendingChallenge::challenge("alice", "withdraw", Method::POST, "/withdraw")
        .encode()
        .expect("a small record encodes");
    newer[0] = PendingChallenge::FORMAT_VERSION + 1;
    vec![
        ("version 1", golden::older_record(1, "challenge")),
        ("version 1 resume", golden::older_record(1, "resume")),
        ("a later version", newer),
        ("no record", b"\xff\x00garbage".to_vec()),
    ]
}

/// The one key of the instances' whose name holds `kind` (`:challenge:`, `:resume:`).
fn only_key(i: &Instances, redis_url: &str, kind: &str) -> String {
    let keys: Vec<String> = i
        .keys(redis_url)
        .into_iter()
        .map(|(name, _)| name)
        .filter(|name| name.contains(kind))
        .collect();
    assert_eq!(keys.len(), 1, "{keys:?}");
    keys.into_iter().next().unwrap()
}

/// Writes `bytes` over the record under `key`, keeping its time to live.
fn overwrite(redis_url: &str, key: &str, bytes: &[u8]) {
    let mut admin = redis::Client::open(redis_url)
        .unwrap()
        .get_connection_with_timeout(TIMEOUT)
        .expect("the test connects to its Redis");
    let () = redis::cmd("SET")
        .arg(key)
        .arg(bytes)
        .arg("KEEPTTL")
        .arg("XX")
        .query(&mut admin)
        .expect("the record is there to overwrite");
}

async fn start() -> Option<(Instances, String)> {
    let server = redis_support::shared()?;
    Some((Instances::start(&server.url(), TIMEOUT).await, server.url()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_returned_token_whose_record_cannot_be_read_is_503_then_spent() {
    let Some((i, redis_url)) = start().await else {
        return;
    };
    let body = json!({ "amount": 5000, "to": "NZ-123" });
    for (what, bytes) in unreadable() {
        let (_, token) = i.api_token(&i.a, "alice", &body).await;
        overwrite(&redis_url, &only_key(&i, &redis_url, ":challenge:"), &bytes);

        let answered = i.api_post(&i.b, "alice", &body, Some(&token)).await;
        assert_eq!(answered.status(), 503, "{what}");
        assert_eq!(i.runs(), 0, "{what}: the handler ran");
        // The take removed what it could not read: the token is spent, at either instance.
        for instance in [&i.a, &i.b] {
            let again = i.api_post(instance, "alice", &body, Some(&token)).await;
            assert_eq!(again.status(), 403, "{what}, again at {}", instance.name);
        }
        assert_eq!(i.runs(), 0, "{what}: the handler ran");
        assert!(
            i.keys(&redis_url)
                .iter()
                .all(|(name, _)| !name.contains(":challenge:")),
            "{what}: a record is left"
        );
    }
    // The same user completes a fresh challenge: nothing of the unreadable records stays
    // in their way (their places under the per-user bound were freed).
    let (_, token) = i.api_token(&i.a, "alice", &body).await;
    assert_eq!(
        i.api_post(&i.b, "alice", &body, Some(&token))
            .await
            .status(),
        200
    );
    assert_eq!(i.runs(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_whose_record_cannot_be_read_is_503_and_runs_nothing() {
    let Some((i, redis_url)) = start().await else {
        return;
    };
    for (what, bytes) in unreadable() {
        let submitted = i
            .browser_post(&i.a, "/withdraw", "mallory", "amount=2500")
            .await;
        assert_eq!(submitted.status(), 303, "{what}");
        let back = i.complete_ui(&location(&submitted)).await;
        let returned = i.browser_get(&i.a, &back, "mallory", None).await;
        assert_eq!(returned.status(), 303, "{what}");
        let resume = cookie_set(&returned, "authsignal-resume").expect("a resume cookie");
        overwrite(&redis_url, &only_key(&i, &redis_url, ":resume:"), &bytes);

        let resumed = i
            .browser_get(&i.b, "/withdraw", "mallory", Some(&resume))
            .await;
        assert_eq!(resumed.status(), 503, "{what}");
        // Gone with the take: the cookie finds nothing now, and nothing runs.
        let again = i
            .browser_get(&i.a, "/withdraw", "mallory", Some(&resume))
            .await;
        assert!(!again.status().is_success(), "{what}: {}", again.status());
        assert_eq!(i.runs(), 0, "{what}: the handler ran");
    }
}
