//! The step-up gate: configure once with [`StepUpConfig`], put a [`StepUpLayer`] in front
//! of each sensitive route, take the [`StepUp`] proof in the handler.
//!
//! ```text
//!  leg 1: no token                                leg 2: a token
//!  ───────────────                                ──────────────
//!  request ─► user? ─no─► 401                     API: X-Authsignal-Token header
//!               │                                 browser: GET ?token= from the UI
//!               ▼                                   │ malformed? ─► 400, nothing sent
//!  body read as the handler will (415/400 if it     ▼
//!  could be read two ways)                       validateChallenge(token, user, action)
//!               ▼                                   │ invalid / other user / other action ─► 403
//!  track(user, action, {idempotencyKey,             ▼
//!        redirectUrl, ip, ua, custom})           take pending[user, idempotencyKey]  (atomic, once)
//!     │ ALLOW ─────────────► handler                │ missing (replay, expired) ─► 403
//!     │ BLOCK ─► 403  REVIEW ─► 403 (or 202)        ▼
//!     │ outage / unknown ─► 503 + Retry-After    API: same method, path, query, media type,
//!     ▼ CHALLENGE_REQUIRED                            encoding and body? else 403
//!  pending[user, idempotencyKey] = request       browser: 303 to the clean URL, then the
//!     │ over the user's bound ─► 429                  stashed request runs (a form is
//!     │ browser ─► 303 to the pre-built UI            re-posted by the gate's own page)
//!     │ API ─► 401 problem+json with the token      ▼
//!                                                handler runs once, with StepUp
//! ```
//!
//! Every refusal of a returned token is the same 403; the reason goes to the log. Tokens
//! never reach the log, the handler never sees one (header, URI, `OriginalUri`), and a
//! response at a URL with a token carries `Referrer-Policy: no-referrer`.
//!
//! ```
//! use axum::{Router, http::Method, routing::get};
//! use authsignal::Authsignal;
//! use axum_authsignal::{Action, StepUp, StepUpConfig};
//!
//! struct Withdraw;
//! impl Action for Withdraw {
//!     const CODE: &'static str = "withdraw";
//! }
//!
//! async fn form() -> &'static str {
//!     "the withdrawal form"
//! }
//!
//! async fn withdraw(proof: StepUp<Withdraw>) -> String {
//!     format!("withdrawal by {}", proof.user_id())
//! }
//!
//! let step_up = StepUpConfig::builder(Authsignal::new("your-tenant-secret").unwrap())
//!     .redirect_origin("https://app.example.com")
//!     .build();
//! let gate = step_up.gate(Withdraw).custom_from_body(["amount"]).methods([Method::POST]);
//! let app: Router = Router::new().route("/withdraw", get(form).post(withdraw).layer(gate));
//! ```
//!
//! For browsers, put the layer where it also sees the `GET` the pre-built UI sends the
//! user back with: `MethodRouter::layer` (as above, it wraps the method router's fallback
//! too) or `Router::route_layer`. `MethodRouter::route_layer` sees only the methods routed,
//! which is enough for API clients.
//!
//! The modules, from the bottom up; none imports a module above it, and
//! `.ci/module-graph.py` checks that no circle of imports comes back:
//!
//! - plain types and helpers that import nothing of the gate: `action`, `answer`,
//!   `negotiate`, `client_ip`, `ui_origins`, `user`, `token`, `cookies`, `page`,
//!   `telemetry`;
//! - `settings`: every setting of a configuration, a route and a sign-in (private fields,
//!   accessors, setters for the builders), over those alone; `proof`, the handler's proof;
//! - the steps: `binding`, `custom`, `respond`, `resume`, `verify` (a returned token),
//!   `route` (a route's settings at work: outcome, refusal, taking a record), `leg1` (the
//!   first leg, shared with sign-in), `rejection`;
//! - the gate: `flow` (one request's legs), `service`, `layer`; beside it `validator` and
//!   `signin`; `extract` (the extractors) over those; `config` on top, which makes them all.

mod action;
mod answer;
mod binding;
mod client_ip;
mod config;
mod cookies;
mod custom;
mod extract;
mod flow;
mod layer;
mod leg1;
mod negotiate;
mod page;
mod proof;
mod rejection;
mod respond;
mod resume;
mod route;
mod service;
mod settings;
mod signin;
mod telemetry;
mod token;
mod ui_origins;
mod user;
mod validator;
mod verify;

pub use action::{Action, ActionCode, AnyAction, ExpectedAction};
pub use answer::{Challenge, GateAnswer, Refusal};
pub use client_ip::ForwardedHeader;
pub use config::{StepUpConfig, StepUpConfigBuilder};
pub use layer::StepUpLayer;
pub use negotiate::ClientKind;
pub use proof::{StepUp, StepUpOutcome};
pub use rejection::StepUpRejection;
pub use resume::{ClearResumeCookies, RESUME_COOKIE};
pub use service::{ResponseFuture, StepUpService};
pub use settings::{
    CHALLENGE_TTL, DEFAULT_BODY_LIMIT, DEFAULT_RETRY_AFTER, DEFAULT_TOKEN_HEADER, Unenrolled,
};
pub use signin::{MIN_COOKIE_KEY_LEN, SIGN_IN_COOKIE, SignIn, SignInBuilder, SignedIn};
pub use user::UserId;
pub use validator::StepUpValidator;
