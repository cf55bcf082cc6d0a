//! Request and response types of the Server API.
//!
//! Field names are camelCase on the wire. Optional request fields left `None` are not sent
//! (never `null`); response fields the API may leave out are `Option` or default.

mod actions;
mod authenticators;
mod challenges;
mod devices;
mod enums;
mod open_enum;
mod sessions;
mod token;
mod users;

pub use actions::*;
pub use authenticators::*;
pub use challenges::*;
pub use devices::*;
pub use enums::*;
pub use sessions::*;
pub use token::Token;
pub use users::*;

/// Free-form data for rules and user records (`custom`): a JSON object whose keys are sent
/// exactly as given.
pub type CustomData = serde_json::Map<String, serde_json::Value>;
