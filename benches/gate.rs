//! What the step-up gate costs, measured against the emulator in-process on loopback.
//!
//! `cargo bench --bench gate`; the numbers and how to read them are in benches/RESULTS.md.
//! Requests go through the router with `tower::ServiceExt::oneshot` (no TCP on the app
//! side), so the only network is the gate's own round trip to the emulator.
//!
//! The emulator keeps every tracked action in a list it scans on each call, so a
//! long-lived one would slow down as a benchmark goes on. Every benchmark that talks to it
//! therefore starts a fresh emulator (untimed) every [`ROTATE_EVERY`] actions: the gate
//! and the direct calls it is compared with always see the same, small emulator.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::routing::post;
use axum_authsignal::emulator::{ActionConfig, Emulator, EmulatorHandle};
use axum_authsignal::step_up::{StepUpConfig, UserId};
use axum_authsignal::store::{
    MemoryStore, PendingChallenge, PendingChallengeStore, RecordKey, RecordKind,
};
use axum_authsignal::{Authsignal, TrackAttributes, ValidateChallengeRequest};
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use http::{Method, Request, StatusCode};
use serde_json::{Value, json};
use tokio::runtime::Runtime;
use tower::ServiceExt;

const USER: &str = "alice";
const ACTION: &str = "withdraw";
const BODY: &str = r#"{"amount":5000,"payee":"acme"}"#;
/// Tracked actions per emulator before a fresh one is started.
const ROTATE_EVERY: u64 = 256;
/// Records each store task cycles through (put then take of the same key).
const KEY_POOL: usize = 1024;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

async fn ok() -> &'static str {
    "ok"
}

/// The app's request: an API client's JSON POST, its user set as the app's auth layer would.
fn request(token: Option<&str>) -> Request<Body> {
    let mut builder = Request::post("/withdraw")
        .header("content-type", "application/json")
        .header("accept", "application/json");
    if let Some(token) = token {
        builder = builder.header("x-authsignal-token", token);
    }
    let mut request = builder.body(Body::from(BODY)).expect("a valid request");
    request.extensions_mut().insert(UserId(USER.into()));
    request
}

/// One emulator, a client of it, and the trivial handler behind the gate.
struct Env {
    emulator: EmulatorHandle,
    client: Authsignal,
    gated: Router,
}

impl Env {
    /// `challenge`: `withdraw` is always challenged (and `alice` enrolled); else the
    /// emulator's default, `ALLOW`.
    async fn start(challenge: bool) -> Self {
        let mut builder = Emulator::builder();
        if challenge {
            builder = builder.action(ACTION, ActionConfig::challenge());
        }
        let emulator = builder.start().await.expect("the emulator starts");
        if challenge {
            emulator.enroll_totp(USER);
        }
        let client = emulator.client();
        let gated = Router::new().route(
            "/withdraw",
            post(ok).layer(StepUpConfig::new(client.clone()).gate(ACTION)),
        );
        Self {
            emulator,
            client,
            gated,
        }
    }

    async fn stop(self) {
        let Self {
            emulator, client, ..
        } = self;
        drop(client);
        emulator.shutdown().await;
    }

    async fn gated_call(&self, token: Option<&str>) -> StatusCode {
        let response = self.gated.clone().oneshot(request(token)).await;
        response.expect("infallible").status()
    }

    async fn direct_track(&self) {
        let attributes = TrackAttributes {
            idempotency_key: Some(uuid::Uuid::new_v4().to_string()),
            ..TrackAttributes::default()
        };
        let tracked = self.client.track(USER, ACTION, attributes).await;
        std::hint::black_box(tracked.expect("track answers"));
    }

    async fn direct_validate(&self, token: &str) {
        let request = ValidateChallengeRequest {
            token: token.into(),
            user_id: Some(USER.into()),
            action: Some(ACTION.into()),
        };
        let validated = self.client.validate_challenge(&request).await;
        assert!(validated.expect("validate answers").is_valid);
    }

    /// Leg 1 through the gate (401 with a track token), then the challenge completed the
    /// way a custom UI does it: returns the token to retry with.
    async fn verified_token(&self, http: &reqwest::Client) -> String {
        let response = self.gated.clone().oneshot(request(None)).await;
        let response = response.expect("infallible");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("the problem body");
        let problem: Value = serde_json::from_slice(&body).expect("problem+json");
        let track_token = problem["token"].as_str().expect("the 401 carries a token");
        let code = self.emulator.totp_code(USER).expect("alice is enrolled");
        let answer: Value = http
            .post(format!("{}/client/verify/totp", self.emulator.api_url()))
            .bearer_auth(track_token)
            .json(&json!({ "verificationCode": code }))
            .send()
            .await
            .expect("the client API answers")
            .json()
            .await
            .expect("JSON");
        assert_eq!(answer["isVerified"], true, "{answer}");
        answer["accessToken"].as_str().expect("a token").to_owned()
    }
}

/// Times `iters` calls of `op`, starting a fresh [`Env`] (and warming its connection)
/// every [`ROTATE_EVERY`] calls, outside the timed sections.
async fn timed_in_fresh_envs<F>(iters: u64, challenge: bool, op: F) -> Duration
where
    F: AsyncFn(&Env),
{
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let chunk = left.min(ROTATE_EVERY);
        let env = Env::start(challenge).await;
        op(&env).await;
        let started = Instant::now();
        for _ in 0..chunk {
            op(&env).await;
        }
        total += started.elapsed();
        env.stop().await;
        left -= chunk;
    }
    total
}

/// 1. The same trivial handler without the gate, behind it on an `ALLOW` action, and the
///    `track` round trip alone.
fn leg1_allow(c: &mut Criterion) {
    let rt = runtime();
    let bare = Router::new().route("/withdraw", post(ok));
    rt.block_on(async {
        let env = Env::start(false).await;
        assert_eq!(env.gated_call(None).await, StatusCode::OK);
        env.stop().await;
    });

    let mut group = c.benchmark_group("leg1_allow");
    group.bench_function("a_handler_without_gate", |b| {
        b.to_async(&rt).iter(|| async {
            let response = bare.clone().oneshot(request(None)).await;
            assert_eq!(response.expect("infallible").status(), StatusCode::OK);
        });
    });
    group.bench_function("b_gate_allow_with_track", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            timed_in_fresh_envs(iters, false, async |env: &Env| {
                assert_eq!(env.gated_call(None).await, StatusCode::OK);
            })
        });
    });
    group.bench_function("c_direct_track", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            timed_in_fresh_envs(iters, false, async |env: &Env| env.direct_track().await)
        });
    });
    group.finish();
}

/// Prepared outside the timed section: a verified token, and the emulator it is for.
struct Prepared {
    env: Arc<Env>,
    token: String,
}

/// Makes [`Prepared`] inputs from a sync `iter_batched` setup, starting a fresh [`Env`]
/// every [`ROTATE_EVERY`] challenges.
struct Preparer {
    handle: tokio::runtime::Handle,
    http: reqwest::Client,
    env: Option<Arc<Env>>,
    made: u64,
}

impl Preparer {
    fn new(rt: &Runtime) -> Self {
        Self {
            handle: rt.handle().clone(),
            http: reqwest::Client::new(),
            env: None,
            made: 0,
        }
    }

    /// Runs inside criterion's `block_on` on the multi-thread runtime, where
    /// `block_in_place` may hand the thread to a nested `block_on`.
    fn next(&mut self) -> Prepared {
        tokio::task::block_in_place(|| {
            self.handle.block_on(async {
                if self.made.is_multiple_of(ROTATE_EVERY) {
                    if let Some(old) = self.env.take()
                        && let Ok(old) = Arc::try_unwrap(old)
                    {
                        old.stop().await;
                    }
                    self.env = Some(Arc::new(Env::start(true).await));
                }
                self.made += 1;
                let env = self.env.clone().expect("started above");
                let token = env.verified_token(&self.http).await;
                Prepared { env, token }
            })
        })
    }
}

/// 2. Leg 2: a verified API retry through the gate (validate round trip, atomic take,
///    body hash, handler) against the `validateChallenge` round trip alone.
fn leg2_verified_retry(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("leg2_verified_retry");
    group.bench_function("gate_retry_with_token", |b| {
        let mut preparer = Preparer::new(&rt);
        b.to_async(&rt).iter_batched(
            || preparer.next(),
            |prepared: Prepared| async move {
                let status = prepared.env.gated_call(Some(&prepared.token)).await;
                assert_eq!(status, StatusCode::OK);
                prepared
            },
            BatchSize::PerIteration,
        );
    });
    group.bench_function("direct_validate_challenge", |b| {
        let mut preparer = Preparer::new(&rt);
        b.to_async(&rt).iter_batched(
            || preparer.next(),
            |prepared: Prepared| async move {
                prepared.env.direct_validate(&prepared.token).await;
                prepared
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

/// An API challenge's record, as the gate builds it.
fn api_record() -> PendingChallenge {
    PendingChallenge {
        user_id: USER.into(),
        action: ACTION.into(),
        method: Method::POST,
        path_and_query: "/withdraw".into(),
        media_type: Some("application/json".into()),
        content_encoding: None,
        body_sha256: [7; 32],
        stashed: None,
        verified: None,
    }
}

/// Keys shaped like the gate's (UUIDs), disjoint between tasks.
fn key_pool() -> Vec<RecordKey> {
    (0..KEY_POOL).map(|_| challenge_key(USER)).collect()
}

fn challenge_key(user: &str) -> RecordKey {
    RecordKey::new(
        RecordKind::Challenge,
        user,
        uuid::Uuid::new_v4().to_string(),
    )
}

/// `ops` put-then-take cycles, each with the key and record the gate would hand over.
async fn put_take(store: &MemoryStore, keys: &[RecordKey], record: &PendingChallenge, ops: u64) {
    const TTL: Duration = Duration::from_secs(600);
    for (_, key) in (0..ops).zip(keys.iter().cycle()) {
        store
            .put(key, record.clone(), TTL)
            .await
            .expect("room in the store");
        let taken = store.take(key).await.expect("the memory store never fails");
        assert!(taken.is_some());
    }
}

/// 3. `MemoryStore` put+take, one task or two contending, with 0 or 10 000 other
///    records held.
fn store_throughput(c: &mut Criterion) {
    let rt = runtime();
    let record = Arc::new(api_record());
    let mut group = c.benchmark_group("memory_store_put_take");
    group.throughput(Throughput::Elements(1));
    for held in [0_usize, 10_000] {
        // Room for the held records and the ones in flight: a full store would sweep on
        // every put and then refuse.
        let store = Arc::new(
            MemoryStore::builder()
                .capacity(held + 2 * KEY_POOL + 16)
                .per_user(KEY_POOL + 1)
                .build(),
        );
        rt.block_on(async {
            for n in 0..held {
                let key = challenge_key(&format!("user-{n}"));
                store
                    .put(&key, api_record(), Duration::from_secs(3600))
                    .await
                    .expect("room");
            }
        });
        assert_eq!(store.len(), held);
        for tasks in [1_u64, 2] {
            let pools: Vec<Arc<Vec<RecordKey>>> =
                (0..tasks).map(|_| Arc::new(key_pool())).collect();
            let id = BenchmarkId::new(format!("{tasks}_task"), format!("{held}_held"));
            group.bench_function(id, |b| {
                b.to_async(&rt).iter_custom(|iters| {
                    let store = store.clone();
                    let record = record.clone();
                    let pools = pools.clone();
                    async move {
                        let per_task = iters.div_ceil(tasks);
                        let started = Instant::now();
                        let running: Vec<_> = pools
                            .into_iter()
                            .map(|keys| {
                                let store = store.clone();
                                let record = record.clone();
                                tokio::spawn(async move {
                                    put_take(&store, &keys, &record, per_task).await;
                                })
                            })
                            .collect();
                        for task in running {
                            task.await.expect("the task completes");
                        }
                        // Per put+take cycle, all tasks together.
                        started
                            .elapsed()
                            .mul_f64(iters as f64 / (per_task * tasks) as f64)
                    }
                });
            });
        }
    }
    group.finish();
}

/// Both legs again with the gate and the direct call alternated call by call (the first
/// of each pair in turn), printed as medians: the machine's load drifts between two
/// benchmarks, much less between two neighbouring calls, so the median of the per-pair
/// differences is the steadiest estimate of the gate's own cost.
fn paired(_: &mut Criterion) {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let filter = args.iter().find(|arg| !arg.starts_with('-'));
    let wanted = |name: &str| filter.is_none_or(|filter| name.contains(filter.as_str()));
    // `cargo test --benches` runs without `--bench`: a few pairs prove the code runs.
    let pairs = if args.iter().any(|arg| arg == "--bench") {
        PAIRS
    } else {
        4
    };
    let rt = runtime();
    if wanted("paired/leg1_allow") {
        let timings = rt.block_on(async {
            let mut timings = Timings::default();
            let mut done = 0;
            while done < pairs {
                let env = Env::start(false).await;
                env.gated_call(None).await;
                env.direct_track().await;
                for _ in 0..(pairs - done).min(ROTATE_EVERY / 2) {
                    timings
                        .pair(
                            async || assert_eq!(env.gated_call(None).await, StatusCode::OK),
                            async || env.direct_track().await,
                        )
                        .await;
                    done += 1;
                }
                env.stop().await;
            }
            timings
        });
        timings.print(
            "paired/leg1_allow",
            "b_gate_allow_with_track",
            "c_direct_track",
        );
    }
    if wanted("paired/leg2_verified_retry") {
        let timings = rt.block_on(async {
            let http = reqwest::Client::new();
            let mut timings = Timings::default();
            let mut done = 0;
            while done < pairs {
                let env = Env::start(true).await;
                let chunk = (pairs - done).min(ROTATE_EVERY / 2);
                let mut tokens = Vec::new();
                for _ in 0..2 * chunk {
                    tokens.push(env.verified_token(&http).await);
                }
                for pair in tokens.chunks_exact(2) {
                    timings
                        .pair(
                            async || {
                                let status = env.gated_call(Some(&pair[0])).await;
                                assert_eq!(status, StatusCode::OK);
                            },
                            async || env.direct_validate(&pair[1]).await,
                        )
                        .await;
                }
                done += chunk;
                env.stop().await;
            }
            timings
        });
        timings.print(
            "paired/leg2_verified_retry",
            "gate_retry_with_token",
            "direct_validate_challenge",
        );
    }
}

/// Pairs per leg in [`paired`].
const PAIRS: u64 = 3000;

/// The times of the gate's call and the direct call, pair by pair.
#[derive(Default)]
struct Timings {
    gate: Vec<f64>,
    direct: Vec<f64>,
}

impl Timings {
    async fn pair(&mut self, gate: impl AsyncFnOnce(), direct: impl AsyncFnOnce()) {
        let micros = |started: Instant| started.elapsed().as_secs_f64() * 1e6;
        if self.gate.len().is_multiple_of(2) {
            let started = Instant::now();
            gate().await;
            self.gate.push(micros(started));
            let started = Instant::now();
            direct().await;
            self.direct.push(micros(started));
        } else {
            let started = Instant::now();
            direct().await;
            self.direct.push(micros(started));
            let started = Instant::now();
            gate().await;
            self.gate.push(micros(started));
        }
    }

    fn print(&self, name: &str, gate_name: &str, direct_name: &str) {
        let differences: Vec<f64> = self
            .gate
            .iter()
            .zip(&self.direct)
            .map(|(gate, direct)| gate - direct)
            .collect();
        let (gate, direct) = (median(&self.gate), median(&self.direct));
        let (difference, low, high) = (
            median(&differences),
            quantile(&differences, 0.25),
            quantile(&differences, 0.75),
        );
        println!("{name} ({} pairs, medians)", self.gate.len());
        println!("    {gate_name}: {gate:.1} µs");
        println!("    {direct_name}: {direct:.1} µs");
        println!(
            "    gate - direct, per pair: {difference:.1} µs (IQR {low:.1} .. {high:.1}), {:.1} % of the direct call",
            100.0 * difference / direct
        );
    }
}

fn quantile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let at = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[at]
}

fn median(values: &[f64]) -> f64 {
    quantile(values, 0.5)
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .without_plots();
    targets = leg1_allow, leg2_verified_retry, store_throughput, paired
}
criterion_main!(benches);
