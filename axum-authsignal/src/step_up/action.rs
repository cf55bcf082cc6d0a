//! Actions as types: a handler asks for the proof of *its* action, so that moving it behind
//! another action's gate is caught instead of silently passing.

use std::fmt;
use std::sync::Arc;

/// An Authsignal action, named by a type.
///
/// ```
/// use axum_authsignal::{Action, StepUp};
///
/// /// The `withdraw` action of the tenant's Authsignal rules.
/// struct Withdraw;
/// impl Action for Withdraw {
///     const CODE: &'static str = "withdraw";
/// }
///
/// // Extracts only behind a gate for `withdraw`; behind another action's gate the
/// // handler does not run (500, naming both actions).
/// async fn withdraw(proof: StepUp<Withdraw>) -> String {
///     format!("{} withdrew", proof.user_id())
/// }
/// ```
pub trait Action: Send + Sync + 'static {
    /// The action code, as the tenant's Authsignal rules name it (`^[a-zA-Z0-9_-]{1,64}$`).
    const CODE: &'static str;
}

/// Any action: what a plain `StepUp` (that is, `StepUp<AnyAction>`) accepts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AnyAction;

/// Which action a `StepUp<A>` accepts: implemented for [`AnyAction`] (any) and for every
/// [`Action`] (that one only).
pub trait ExpectedAction: Send + Sync + 'static {
    /// The action code expected, or `None` for any.
    fn expected() -> Option<&'static str>;
}

impl ExpectedAction for AnyAction {
    fn expected() -> Option<&'static str> {
        None
    }
}

impl<A: Action> ExpectedAction for A {
    fn expected() -> Option<&'static str> {
        Some(A::CODE)
    }
}

/// An action code a gate tracks: from a string, or from an [`Action`] type's value.
///
/// ```
/// use axum_authsignal::{Action, ActionCode};
/// struct Withdraw;
/// impl Action for Withdraw { const CODE: &'static str = "withdraw"; }
/// assert_eq!(ActionCode::from(Withdraw).as_str(), "withdraw");
/// assert_eq!(ActionCode::from("withdraw").as_str(), "withdraw");
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ActionCode(Arc<str>);

impl ActionCode {
    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ActionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for ActionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for ActionCode {
    fn from(code: &str) -> Self {
        Self(Arc::from(code))
    }
}

impl From<String> for ActionCode {
    fn from(code: String) -> Self {
        Self(Arc::from(code))
    }
}

impl<A: Action> From<A> for ActionCode {
    fn from(_: A) -> Self {
        Self(Arc::from(A::CODE))
    }
}
