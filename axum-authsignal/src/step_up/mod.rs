//! The step-up gate; documented at the crate's root, where its items are re-exported.

mod action;
mod answer;
mod binding;
mod client_ip;
mod config;
mod cookies;
mod custom;
mod flow;
mod layer;
mod negotiate;
mod page;
mod proof;
mod respond;
mod resume;
mod service;
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
pub use config::{
    CHALLENGE_TTL, DEFAULT_BODY_LIMIT, DEFAULT_RETRY_AFTER, DEFAULT_TOKEN_HEADER, StepUpConfig,
    StepUpConfigBuilder, Unenrolled,
};
pub use layer::StepUpLayer;
pub use negotiate::ClientKind;
pub use proof::{StepUp, StepUpOutcome, StepUpRejection};
pub use resume::{ClearResumeCookies, RESUME_COOKIE};
pub use service::{ResponseFuture, StepUpService};
pub use signin::{MIN_COOKIE_KEY_LEN, SIGN_IN_COOKIE, SignIn, SignInBuilder, SignedIn};
pub use user::UserId;
pub use validator::StepUpValidator;
