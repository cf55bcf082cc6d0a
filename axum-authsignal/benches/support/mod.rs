//! What the gate benchmarks share (`gate`, `gate_redis`): the app's request, an emulator
//! with a gated route in front of it, on a store of either kind, and the statistics.
//!
//! The emulator keeps every tracked action, so a long-lived one would grow as a benchmark
//! goes on. Every benchmark that talks to it therefore starts a fresh [`Env`] (untimed)
//! every [`ROTATE_EVERY`] actions, with a fresh store: the gate and the calls it is
//! compared with always see the same, small emulator and store.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use authsignal::Authsignal;
use authsignal::types::{TrackAttributes, ValidateChallengeRequest};
use authsignal_emulator::{ActionConfig, Emulator, EmulatorHandle};
use axum::Router;
use axum::body::Body;
use axum::routing::post;
use axum_authsignal::store::{MemoryStore, PendingChallengeStore, RedisStore};
use axum_authsignal::{StepUpConfig, UserId};
use http::{Request, StatusCode};
use redis::aio::ConnectionManager;
use serde_json::{Value, json};
use tokio::runtime::Runtime;
use tower::ServiceExt;

pub const USER: &str = "alice";
pub const ACTION: &str = "withdraw";
pub const BODY: &str = r#"{"amount":5000,"payee":"acme"}"#;
/// Tracked actions per emulator before a fresh one is started.
pub const ROTATE_EVERY: u64 = 256;
/// The per-user bound of the benchmarks' stores: room for every challenge one [`Env`]
/// issues (a benchmark of leg 1 never answers them), so that no put is refused.
const PER_USER: usize = 2 * ROTATE_EVERY as usize + 2;

pub fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

pub async fn ok() -> &'static str {
    "ok"
}

/// The app's request: an API client's JSON POST, its user set as the app's auth layer would.
pub fn request(token: Option<&str>) -> Request<Body> {
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

/// Where an [`Env`]'s gate keeps its pending challenges.
#[derive(Clone)]
pub enum Backend {
    /// A fresh `MemoryStore` for each [`Env`].
    Memory,
    /// One `RedisStore` for every [`Env`], its database emptied (`FLUSHDB`, untimed) when
    /// a fresh one starts.
    Redis {
        store: Arc<RedisStore>,
        admin: ConnectionManager,
    },
}

impl Backend {
    /// A `RedisStore` on the server at `url`, and a connection of the bench's own to it.
    pub async fn redis(url: &str) -> Self {
        let store = RedisStore::builder(url)
            .per_user(PER_USER)
            .build()
            .await
            .expect("the store connects");
        Self::Redis {
            store: Arc::new(store),
            admin: redis_connection(url).await,
        }
    }

    async fn fresh_store(&self) -> Arc<dyn PendingChallengeStore> {
        match self {
            Backend::Memory => Arc::new(MemoryStore::builder().per_user(PER_USER).build()),
            Backend::Redis { store, admin } => {
                let mut admin = admin.clone();
                let () = redis::cmd("FLUSHDB")
                    .query_async(&mut admin)
                    .await
                    .expect("FLUSHDB");
                store.clone()
            }
        }
    }
}

/// A multiplexed connection of the bench's own (the kind `RedisStore` sends through).
pub async fn redis_connection(url: &str) -> ConnectionManager {
    redis::Client::open(url)
        .expect("a Redis URL")
        .get_connection_manager()
        .await
        .expect("a connection to Redis")
}

/// One Redis round trip: `PING` on a multiplexed connection.
pub async fn ping(connection: &ConnectionManager) {
    let mut connection = connection.clone();
    let pong: String = redis::cmd("PING")
        .query_async(&mut connection)
        .await
        .expect("PING");
    assert_eq!(pong, "PONG");
}

/// One emulator, a client of it, and the trivial handler behind the gate.
pub struct Env {
    pub emulator: EmulatorHandle,
    pub client: Authsignal,
    gated: Router,
}

impl Env {
    /// `challenge`: `withdraw` is always challenged (and `alice` enrolled); else the
    /// emulator's default, `ALLOW`.
    pub async fn start(challenge: bool, backend: &Backend) -> Self {
        let mut builder = Emulator::builder();
        if challenge {
            builder = builder.action(ACTION, ActionConfig::challenge());
        }
        let emulator = builder.start().await.expect("the emulator starts");
        if challenge {
            emulator.enroll_totp(USER);
        }
        let client = emulator.client();
        let step_up = StepUpConfig::builder(client.clone())
            .store(backend.fresh_store().await)
            .build();
        let gated = Router::new().route("/withdraw", post(ok).layer(step_up.gate(ACTION)));
        Self {
            emulator,
            client,
            gated,
        }
    }

    pub async fn stop(self) {
        let Self {
            emulator, client, ..
        } = self;
        drop(client);
        emulator.shutdown().await;
    }

    pub async fn gated_call(&self, token: Option<&str>) -> StatusCode {
        let response = self.gated.clone().oneshot(request(token)).await;
        response.expect("infallible").status()
    }

    pub async fn direct_track(&self) {
        let attributes = TrackAttributes {
            idempotency_key: Some(uuid::Uuid::new_v4().to_string()),
            ..TrackAttributes::default()
        };
        let tracked = self.client.track(USER, ACTION, attributes).await;
        std::hint::black_box(tracked.expect("track answers"));
    }

    pub async fn direct_validate(&self, token: &str) {
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
    pub async fn verified_token(&self, http: &reqwest::Client) -> String {
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
pub async fn timed_in_fresh_envs<F>(
    iters: u64,
    challenge: bool,
    backend: &Backend,
    op: F,
) -> Duration
where
    F: AsyncFn(&Env),
{
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let chunk = left.min(ROTATE_EVERY);
        let env = Env::start(challenge, backend).await;
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

/// Prepared outside the timed section: a verified token, and the emulator it is for.
pub struct Prepared {
    pub env: Arc<Env>,
    pub token: String,
}

/// Makes [`Prepared`] inputs from a sync `iter_batched` setup, starting a fresh [`Env`]
/// every [`ROTATE_EVERY`] challenges.
pub struct Preparer {
    handle: tokio::runtime::Handle,
    http: reqwest::Client,
    backend: Backend,
    env: Option<Arc<Env>>,
    made: u64,
}

impl Preparer {
    pub fn new(rt: &Runtime, backend: &Backend) -> Self {
        Self {
            handle: rt.handle().clone(),
            http: reqwest::Client::new(),
            backend: backend.clone(),
            env: None,
            made: 0,
        }
    }

    /// Runs inside criterion's `block_on` on the multi-thread runtime, where
    /// `block_in_place` may hand the thread to a nested `block_on`.
    pub fn next(&mut self) -> Prepared {
        tokio::task::block_in_place(|| {
            self.handle.block_on(async {
                if self.made.is_multiple_of(ROTATE_EVERY) {
                    if let Some(old) = self.env.take()
                        && let Ok(old) = Arc::try_unwrap(old)
                    {
                        old.stop().await;
                    }
                    self.env = Some(Arc::new(Env::start(true, &self.backend).await));
                }
                self.made += 1;
                let env = self.env.clone().expect("started above");
                let token = env.verified_token(&self.http).await;
                Prepared { env, token }
            })
        })
    }
}

/// Times verified API retries through the gate on `backend`, each with a token prepared
/// outside the timed section (`iter_batched`, one per iteration).
pub fn time_verified_retries(b: &mut criterion::Bencher<'_>, rt: &Runtime, backend: &Backend) {
    let mut preparer = Preparer::new(rt, backend);
    b.to_async(rt).iter_batched(
        || preparer.next(),
        |prepared: Prepared| async move {
            let status = prepared.env.gated_call(Some(&prepared.token)).await;
            assert_eq!(status, StatusCode::OK);
            prepared
        },
        criterion::BatchSize::PerIteration,
    );
}

pub fn quantile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let at = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[at]
}

pub fn median(values: &[f64]) -> f64 {
    quantile(values, 0.5)
}

/// Whether this run is `cargo bench` (`--bench`), not `cargo test --benches`, which only
/// proves the code runs; and the name filter given, if any.
pub struct Args {
    pub bench: bool,
    filter: Option<String>,
}

impl Args {
    pub fn read() -> Self {
        let args: Vec<String> = std::env::args().skip(1).collect();
        Self {
            bench: args.iter().any(|arg| arg == "--bench"),
            filter: args.iter().find(|arg| !arg.starts_with('-')).cloned(),
        }
    }

    pub fn wanted(&self, name: &str) -> bool {
        self.filter
            .as_ref()
            .is_none_or(|filter| name.contains(filter.as_str()))
    }
}
