//! The step-up gate: [`StepUpLayer`] in front of a route, [`StepUp`] in the handler.
//!
//! ```text
//!  leg 1: no token                                leg 2: a token
//!  ───────────────                                ──────────────
//!  request ─► user? ─no─► 401                     request + token (header, or ?token= on GET)
//!               │                                   │ malformed? ─► 400, nothing sent
//!               ▼                                   ▼
//!  track(user, action, {idempotencyKey,          validateChallenge(token, user, action)
//!        redirectUrl, ip, ua, custom})              │ invalid / other user / other action ─► 403
//!     │ ALLOW ─────────────► handler                ▼
//!     │ BLOCK ─► 403  REVIEW ─► 403 (or 202)     take pending[idempotencyKey]  (atomic, once)
//!     │ error / unknown ─► 503 + Retry-After        │ missing (replay, expired) ─► 403
//!     ▼ CHALLENGE_REQUIRED                          ▼
//!  pending[idempotencyKey] = request             API: same method, path, body hash? else 403
//!     │ browser ─► 303 to the pre-built UI       browser: the stashed request is replayed
//!     │ API ─► 401 problem+json with the token      ▼
//!                                                handler runs once, with StepUp
//! ```
//!
//! Every refusal of a returned token is the same 403 body; the reason goes to the log.
//! Tokens never reach the log, and the handler never sees the token header.
//!
//! ```
//! use axum::{Router, routing::post};
//! use axum_authsignal::Authsignal;
//! use axum_authsignal::step_up::{StepUp, StepUpLayer};
//!
//! async fn withdraw(step_up: StepUp) -> String {
//!     format!("withdrawal by {}", step_up.user_id())
//! }
//!
//! let client = Authsignal::new("your-tenant-secret").unwrap();
//! let app: Router = Router::new().route(
//!     "/withdraw",
//!     post(withdraw).layer(
//!         StepUpLayer::new(client, "withdraw")
//!             .redirect_origin("https://app.example.com")
//!             .custom_from_body(["amount"]),
//!     ),
//! );
//! ```
//!
//! For browsers, put the layer where it also sees the `GET` the pre-built UI sends the
//! user back with: `MethodRouter::layer` (as above, it wraps the method router's fallback
//! too) or `Router::route_layer`. `MethodRouter::route_layer` sees only the methods routed,
//! which is enough for API clients.

mod custom;
mod layer;
mod negotiate;
mod proof;
mod respond;
mod service;
mod signin;
mod token;
mod verify;

pub use layer::{
    CHALLENGE_TTL, DEFAULT_BODY_LIMIT, DEFAULT_RETRY_AFTER, DEFAULT_TOKEN_HEADER, StepUpLayer,
    UserId,
};
pub use negotiate::ClientKind;
pub use proof::{StepUp, StepUpOutcome, StepUpRejection, StepUpValidator};
pub use service::{ResponseFuture, StepUpService};
pub use signin::{SIGN_IN_COOKIE, SignIn, SignedIn};
