//! [`Token`]: a bearer credential that keeps itself out of `Debug` output.

use serde::{Deserialize, Serialize};

/// A challenge, session or refresh token.
///
/// Anyone holding a token can use it, so it must not reach logs: its `Debug` shows only
/// its length, and it has no `Display`. Read it with [`as_str`](Self::as_str) where it is
/// really needed (an `Authorization` header, a response to the client that owns it).
///
/// ```
/// use authsignal::types::Token;
/// let token = Token::from("eyJhbGciOiJIUzI1NiJ9.e30.sig");
/// assert_eq!(format!("{token:?}"), "Token([redacted; 28 bytes])");
/// assert_eq!(token.as_str(), "eyJhbGciOiJIUzI1NiJ9.e30.sig");
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Token(String);

impl Token {
    /// The token itself.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The token itself, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Token([redacted; {} bytes])", self.0.len())
    }
}

impl From<String> for Token {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Token {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}
