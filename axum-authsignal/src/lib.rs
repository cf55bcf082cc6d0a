//! # axum-authsignal
//!
//! [Authsignal](https://www.authsignal.com) step-up MFA in front of sensitive
//! [Axum](https://docs.rs/axum) routes.
//!
//! - The gate: configured once in a [`StepUpConfig`], a [`StepUpLayer`] tracks an
//!   Authsignal action per route and answers `CHALLENGE_REQUIRED` with a redirect to the
//!   pre-built UI (browsers) or a 401 with a challenge token (API clients); on the way back
//!   it validates the token server-side, bound to the user, the action and the very request
//!   that was challenged, and lets it through once. [`StepUp`] gives the handler the proof;
//!   [`SignIn`] covers sign-in, where the user is known only after the password check.
//! - [`authsignal`] (re-exported): the typed async client of the whole Server API
//!   ([`Authsignal`]), its wire types ([`authsignal::types`]) and webhook signature
//!   verification, with no web framework.
//! - [`store`]: where pending challenges wait between the two legs (in memory by default).
//! - [`webhook`]: an Axum extractor for webhook events, verified with
//!   [`authsignal::webhook`].
//!
//! The local Authsignal the examples and tests run against is the `authsignal-emulator`
//! crate.
//!
//! ```
//! use axum::{Router, routing::post};
//! use axum_authsignal::authsignal::{Authsignal, Region};
//! use axum_authsignal::{StepUp, StepUpConfig};
//!
//! async fn withdraw(step_up: StepUp) -> String {
//!     format!("withdrawal by {}", step_up.user_id())
//! }
//!
//! let client = Authsignal::builder()
//!     .secret_key("your-tenant-secret")
//!     .region(Region::Eu)
//!     .build()
//!     .expect("a secret key is set");
//! // The secret stays out of debug output.
//! assert!(!format!("{client:?}").contains("your-tenant-secret"));
//!
//! let step_up = StepUpConfig::new(client);
//! let app: Router = Router::new().route(
//!     "/withdraw",
//!     post(withdraw).layer(step_up.gate("withdraw").custom_from_body(["amount"])),
//! );
//! ```
//!
//! # The gate
//!
//! Configure once with [`StepUpConfig`], put a [`StepUpLayer`] in front of each sensitive
//! route, take the [`StepUp`] proof in the handler.
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
//!     │ BLOCK ─► 403  REVIEW ─► 403, or held (202)  ▼
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
//! use axum_authsignal::{Action, Authsignal, StepUp, StepUpConfig};
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
//! ## Manual reviews
//!
//! A route with [`StepUpLayer::hold_reviews`] keeps a request Authsignal sends to a manual
//! review, bound as a challenged one is, and answers `202 Accepted`. The client comes back
//! with the same request and the action's idempotency key in [`REVIEW_HEADER`] (a browser's
//! waiting page comes back by itself); the gate asks `getAction`:
//!
//! ```text
//!  REVIEW_REQUIRED ─► 202 again, nothing written
//!  REVIEW_SUCCEEDED ─► take held[user, key + digest of the request]  (atomic, once)
//!        │ missing (run, expired, another request) ─► 403
//!        ▼
//!  handler runs once, StepUp::was_reviewed()   (a browser's request: through the resume)
//!  REVIEW_FAILED, another state, unknown ─► the hold ends, 403
//!  getAction fails (timeout, 5xx, 429) ─► 503 + Retry-After, still held; never fail-open
//! ```
//!
//! For browsers, put the layer where it also sees the `GET` the pre-built UI sends the
//! user back with: `MethodRouter::layer` (as above, it wraps the method router's fallback
//! too) or `Router::route_layer`. `MethodRouter::route_layer` sees only the methods routed,
//! which is enough for API clients.
#![forbid(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod step_up;
pub mod store;
pub mod webhook;

pub use authsignal::{self, Authsignal};
pub use step_up::*;

/// The README's Rust examples, compiled as doc tests so that they stay true.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
