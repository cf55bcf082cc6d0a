//! The step-up gate; documented at the crate's root, where its items are re-exported.
//!
//! The modules, from the bottom up; none imports a module above it, and
//! `.ci/module-graph.py` checks that no circle of imports comes back:
//!
//! - plain types and helpers that import nothing of the gate: `action`, `answer`,
//!   `negotiate`, `client_ip`, `ui_origins`, `user`, `token`, `cookies`, `page`,
//!   `telemetry`;
//! - `settings`: every setting of a configuration, a route and a sign-in (private fields,
//!   accessors, setters for the builders), over those alone; `proof`, the handler's proof;
//! - the steps: `binding`, `custom`, `respond`, `resume`, `held` (what ties a held review
//!   to its request and its client), `verify` (a returned token),
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
mod held;
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
pub use answer::{Challenge, GateAnswer, HeldReview, Refusal};
pub use client_ip::ForwardedHeader;
pub use config::{StepUpConfig, StepUpConfigBuilder};
pub use layer::StepUpLayer;
pub use negotiate::ClientKind;
pub use proof::{ReviewedAction, StepUp, StepUpOutcome};
pub use rejection::StepUpRejection;
pub use resume::{ClearResumeCookies, RESUME_COOKIE};
pub use service::{ResponseFuture, StepUpService};
pub use settings::{
    CHALLENGE_TTL, DEFAULT_BODY_LIMIT, DEFAULT_RETRY_AFTER, DEFAULT_REVIEW_HOLD,
    DEFAULT_TOKEN_HEADER, REVIEW_HEADER, REVIEW_RETRY_AFTER, Unenrolled,
};
pub use signin::{MIN_COOKIE_KEY_LEN, SIGN_IN_COOKIE, SignIn, SignInBuilder, SignedIn};
pub use user::UserId;
pub use validator::StepUpValidator;
