//! One user cannot deny service to another with records of any kind: a user who completes
//! their own browser challenges and never follows the 303 back parks a resume record each
//! time (holding the stashed body), and those count against their bound like pending
//! challenges. Past it they get 429; another user is still challenged and completes.
//! (`tests/instances_faults.rs` runs the same attack on Redis with `maxmemory`.)

use std::sync::Arc;

use axum_authsignal::store::{DEFAULT_PER_USER, MemoryStore};
use http::Method;
use serde_json::Value;

use crate::support::*;

/// Room for the attacker's bound of records with bodies this large, and a few more:
/// without a per-user bound on resume records, about 16 fill it.
const STORE_BYTES: usize = 1024 * 1024;
/// Each parked form's body: near the gate's 64 KiB limit, as in the attack.
const MEMO_BYTES: usize = 60 * 1024;
/// Rounds an attacker may take before it must have been refused: far past the bound.
const MAX_ROUNDS: usize = 4 * DEFAULT_PER_USER;

/// How one round of the attack ended.
enum Round {
    /// The browser was sent back with a resume cookie, which it never follows.
    Parked,
    /// The gate refused the user with 429 and `Retry-After`.
    Refused,
    /// Anything else: the status and the body.
    Other(u16, String),
}

/// A 429 to a browser: an HTML page with `Retry-After`, at most a challenge's ten minutes
/// away.
fn refused(response: &axum_test::TestResponse) -> Round {
    assert!(
        response
            .header("content-type")
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "a browser gets a page"
    );
    let retry_after: u64 = response
        .header("retry-after")
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in seconds");
    assert!((1..=600).contains(&retry_after), "{retry_after}");
    Round::Refused
}

/// One round: submit a large challenged form, complete the pre-built UI, come back with
/// the token, and stop there.
async fn park_one(gate: &Gate, memo: &str) -> Round {
    let submitted = gate
        .server
        .post("/withdraw")
        .add_header(USER_HEADER, "mallory")
        .add_header("accept", NAVIGATION_ACCEPT)
        .add_header("sec-fetch-mode", "navigate")
        .form(&[("amount", "5000"), ("memo", memo)])
        .await;
    match submitted.status_code().as_u16() {
        303 => {}
        429 => return refused(&submitted),
        other => return Round::Other(other, submitted.text()),
    }
    let ui = submitted.header("location").to_str().unwrap().to_owned();
    let back = complete_ui(gate, &ui).await;
    let returned = navigate(
        gate,
        Method::GET,
        &local_path(&gate.origin, &back),
        "mallory",
        None,
        None,
    )
    .await;
    match returned.status_code().as_u16() {
        303 => Round::Parked,
        // Another of mallory's rounds took the place this challenge's take freed.
        429 => refused(&returned),
        other => Round::Other(other, returned.text()),
    }
}

/// One attacker: parks resume records until refused with 429. A full store (503) does
/// not stop it: it halves its body and goes on, to fill what room is left. Returns how
/// many records it parked, how many 503s it got, and the round that stopped it.
async fn attack(gate: &Gate) -> (usize, usize, Round) {
    let mut memo_bytes = MEMO_BYTES;
    let (mut parked, mut full) = (0, 0);
    for _ in 0..MAX_ROUNDS {
        match park_one(gate, &"x".repeat(memo_bytes)).await {
            Round::Parked => parked += 1,
            Round::Other(503, _) if memo_bytes > 0 => {
                full += 1;
                memo_bytes /= 2;
            }
            stopped => return (parked, full, stopped),
        }
    }
    panic!("mallory parked {parked} resume records in {MAX_ROUNDS} rounds and was never refused");
}

/// Alice's browser challenge from its form's first submission to the handler's answer.
async fn alice_completes(gate: &Gate, ui: &str, amount: &str) {
    let back = complete_ui(gate, ui).await;
    let resumed = follow_back(gate, &back, "alice").await;
    assert_eq!(resumed.status_code(), 200, "{}", resumed.text());
    let ran: Value = resumed.json();
    assert_eq!(ran["user"], "alice");
    assert_eq!(ran["challenged"], true);
    assert_eq!(ran["body"], format!("amount={amount}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_parking_resume_records_is_refused_and_another_user_completes() {
    let store = Arc::new(MemoryStore::builder().max_bytes(STORE_BYTES).build());
    let gate = setup()
        .relaxed_timeouts()
        .config({
            let store = store.clone();
            move |config| config.store(store)
        })
        .start()
        .await;
    // Alice is challenged first, and answers while mallory attacks.
    let first = browser_submit(&gate, "alice", &[("amount", "2500")]).await;
    // Four attackers at once, each as fast as it can.
    let attackers = async {
        let (a, b, c, d) = tokio::join!(attack(&gate), attack(&gate), attack(&gate), attack(&gate));
        [a, b, c, d]
    };
    let (attacks, ()) = tokio::join!(attackers, alice_completes(&gate, &first, "2500"));
    // With mallory's records parked, alice is challenged again and completes.
    let second = browser_submit(&gate, "alice", &[("amount", "3000")]).await;
    alice_completes(&gate, &second, "3000").await;
    assert_eq!(
        gate.runs(),
        2,
        "alice's two withdrawals, and nothing of mallory's"
    );

    // Mallory was refused with 429, within her bound, and stays refused.
    for (_, full, stopped) in &attacks {
        assert_eq!(*full, 0, "the store was full");
        if let Round::Other(status, body) = stopped {
            panic!("mallory got {status}, not 429: {body}");
        }
    }
    let parked: usize = attacks.iter().map(|(parked, _, _)| parked).sum();
    assert!(
        (1..=DEFAULT_PER_USER).contains(&parked),
        "mallory parked {parked} resume records"
    );
    // Every record mallory holds counts: nothing of hers, of any kind, is past her bound.
    assert!(store.len() <= DEFAULT_PER_USER, "{} records", store.len());
    assert!(matches!(park_one(&gate, "small").await, Round::Refused));
}
