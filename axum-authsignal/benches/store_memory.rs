//! Bytes held per record of every kind in `MemoryStore`, counted by a wrapping global
//! allocator: `cargo bench --bench store_memory` prints a table (no criterion).
//!
//! The counts are the bytes *requested* from the allocator; malloc's own per-block
//! overhead and rounding (about 8-16 bytes a block with glibc) come on top, so the
//! allocation count is printed too.

#[path = "support/heap.rs"]
mod heap;

use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use axum_authsignal::store::{
    MemoryStore, PendingChallenge, PendingChallengeStore, RecordKey, RecordKind, StashedRequest,
    Verification,
};
use bytes::Bytes;
use http::Method;

#[global_allocator]
static ALLOCATOR: heap::Counting = heap::Counting;

fn held() -> (isize, isize) {
    heap::allocated()
}

const TTL: Duration = Duration::from_secs(600);
const BODY_LEN: usize = 1024;

/// What a bench row stores: every kind of record the gate keeps for a user.
#[derive(Clone, Copy)]
enum Kept {
    /// An API challenge: the body's hash only.
    ApiChallenge,
    /// A browser challenge: the body (1 KiB here) and its content type, to replay them.
    BrowserChallenge,
    /// A completed browser challenge waiting to be resumed: the browser challenge and
    /// Authsignal's validation of its token.
    Resume,
    /// A token the standalone validator accepted.
    Spent,
    /// An API client's request held for a review: the body's hash only, under the
    /// idempotency key and the request's digest.
    ApiReview,
    /// A browser's request held for a review: the body (1 KiB here) stashed too.
    BrowserReview,
}

/// A record as the gate builds it, of the kind `kept`.
fn record(n: usize, kept: Kept) -> PendingChallenge {
    let browser = matches!(
        kept,
        Kept::BrowserChallenge | Kept::Resume | Kept::BrowserReview
    );
    let form = || Some("application/x-www-form-urlencoded".to_owned());
    let mut record = PendingChallenge::challenge(
        format!("user-{n:06}"),
        "withdraw",
        Method::POST,
        "/withdraw",
    )
    .with_body(form(), None, [7; 32]);
    if browser {
        record = record.with_stash(StashedRequest::new(
            Bytes::from(vec![b'a'; BODY_LEN]),
            form(),
        ));
    }
    if matches!(kept, Kept::Resume) {
        // What the gate keeps of Authsignal's validation of the token.
        record = record.into_resume(
            Verification::new(uuid::Uuid::new_v4().to_string())
                .with_verification_method("AUTHENTICATOR_APP"),
        );
    }
    record
}

/// Puts `count` records (with UUID keys, as the gate's idempotency keys) into a fresh
/// store and returns the bytes and blocks held per record, the store's table included.
fn per_record(count: usize, kept: Kept, rt: &tokio::runtime::Runtime) -> (f64, f64) {
    let (bytes_before, blocks_before) = held();
    let store = MemoryStore::builder()
        .capacity(count)
        .max_bytes(usize::MAX)
        .build();
    rt.block_on(async {
        for n in 0..count {
            let kind = match kept {
                Kept::ApiChallenge | Kept::BrowserChallenge => RecordKind::Challenge,
                Kept::Resume => RecordKind::Resume,
                Kept::Spent => RecordKind::Spent,
                Kept::ApiReview | Kept::BrowserReview => RecordKind::Review,
            };
            let mut id = uuid::Uuid::new_v4().to_string();
            if kind == RecordKind::Review {
                // The gate's id of a held request: the key, a dot, the request's SHA-256
                // digest in hex.
                id = format!("{id}.{}", "0f".repeat(32));
            }
            let key = RecordKey::new(kind, format!("user-{n:06}"), id);
            store.put(&key, record(n, kept), TTL).await.expect("room");
        }
    });
    let (bytes_after, blocks_after) = held();
    assert_eq!(store.len(), count);
    drop(store);
    let per = |after: isize, before: isize| (after - before) as f64 / count as f64;
    (
        per(bytes_after, bytes_before),
        per(blocks_after, blocks_before),
    )
}

/// What a body read by hyper (the way the gate reads it, `axum::body::to_bytes`) keeps
/// alive once stashed: the handler keeps each body, as a pending browser challenge does,
/// either as read (`copy: false`) or copied as the gate stashes it (`copy: true`).
fn hyper_body_per_request(rt: &tokio::runtime::Runtime, copy: bool) -> (f64, f64) {
    const FIRST: usize = 100;
    const MORE: usize = 1000;
    let kept: Arc<Mutex<Vec<Bytes>>> = Arc::new(Mutex::new(Vec::with_capacity(FIRST + MORE)));
    let keep = move |State(kept): State<Arc<Mutex<Vec<Bytes>>>>, body: axum::body::Body| async move {
        let body = axum::body::to_bytes(body, 64 * 1024).await.expect("a body");
        assert_eq!(body.len(), BODY_LEN);
        let body = if copy {
            Bytes::copy_from_slice(&body)
        } else {
            body
        };
        kept.lock().expect("not poisoned").push(body);
    };
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/withdraw", listener.local_addr().unwrap());
        let app = Router::new()
            .route("/withdraw", post(keep))
            .with_state(kept.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let http = reqwest::Client::new();
        let body = vec![b'a'; BODY_LEN];
        let send = async |count: usize| {
            for _ in 0..count {
                let response = http
                    .post(&url)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body.clone())
                    .send()
                    .await
                    .expect("the app answers");
                assert!(response.status().is_success());
            }
        };
        send(FIRST).await;
        let (bytes_before, blocks_before) = held();
        send(MORE).await;
        let (bytes_after, blocks_after) = held();
        (
            (bytes_after - bytes_before) as f64 / MORE as f64,
            (blocks_after - blocks_before) as f64 / MORE as f64,
        )
    })
}

fn main() {
    // `cargo test` runs benches only when asked; `--bench` is what `cargo bench` passes.
    if !std::env::args().any(|arg| arg == "--bench") {
        println!("store_memory: run with `cargo bench --bench store_memory`");
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    println!("Bytes held per record in MemoryStore, of every kind (requested from the allocator)");
    println!();
    println!("| record | held | bytes / record | allocations / record |");
    println!("|---|---:|---:|---:|");
    // Each record is another user's, as in a store full of honest users: the per-user
    // index costs its share.
    for (name, kept, counts) in [
        (
            "API challenge (body hash only)",
            Kept::ApiChallenge,
            &[10_000, 100_000][..],
        ),
        (
            "browser challenge (1 KiB body stashed)",
            Kept::BrowserChallenge,
            &[1_000, 10_000][..],
        ),
        (
            "resume (1 KiB body stashed, and the validation)",
            Kept::Resume,
            &[1_000, 10_000][..],
        ),
        ("spent token", Kept::Spent, &[10_000][..]),
        (
            "request held for review, API (body hash only)",
            Kept::ApiReview,
            &[10_000][..],
        ),
        (
            "request held for review, browser (1 KiB body stashed)",
            Kept::BrowserReview,
            &[1_000, 10_000][..],
        ),
    ] {
        for &count in counts {
            let (bytes, blocks) = per_record(count, kept, &rt);
            println!("| {name} | {count} | {bytes:.0} | {blocks:.2} |");
        }
    }
    for (name, copy) in [
        (
            "a 1 KiB body as hyper hands it to `to_bytes` (HTTP/1 over TCP), kept",
            false,
        ),
        ("the same body copied, as the gate stashes it", true),
    ] {
        let (bytes, blocks) = hyper_body_per_request(&rt, copy);
        println!("| {name} | 1 000 | {bytes:.0} | {blocks:.2} |");
    }
    println!();
    println!(
        "size_of: PendingChallenge {} B, RecordKey {} B",
        std::mem::size_of::<PendingChallenge>(),
        std::mem::size_of::<RecordKey>(),
    );
}
