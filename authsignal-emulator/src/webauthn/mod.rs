//! The emulator as a WebAuthn relying party, for passkeys and security keys: the options
//! a page hands to `navigator.credentials.create()` / `.get()` ([`options`]), and the
//! checks a real relying party makes of what comes back ([`verify`]), for ES256 keys with
//! `none` attestation. Which relying party it is comes from [`RelyingPartySettings`].
//!
//! Signatures are checked with RustCrypto's `p256` (pure Rust, no C library to install),
//! CBOR and COSE keys read with `coset` (over `ciborium`).

pub(crate) mod options;
mod settings;
pub(crate) mod verify;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

pub use settings::RelyingPartySettings;

/// A credential being registered, as `@simplewebauthn/browser`'s `startRegistration`
/// (inside the Web SDK) gives it: `RegistrationResponseJSON`. Binary fields are base64url.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RegistrationCredential {
    pub(crate) id: String,
    raw_id: String,
    response: AttestationResponse,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AttestationResponse {
    #[serde(rename = "clientDataJSON")]
    client_data_json: String,
    attestation_object: String,
}

/// An assertion, as `startAuthentication` gives it: `AuthenticationResponseJSON`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AuthenticationCredential {
    pub(crate) id: String,
    raw_id: String,
    response: AssertionResponse,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AssertionResponse {
    #[serde(rename = "clientDataJSON")]
    client_data_json: String,
    authenticator_data: String,
    signature: String,
    #[serde(default)]
    user_handle: Option<String>,
}

impl RegistrationCredential {
    /// The challenge its client data answers (unchecked: the ceremony it names is looked
    /// up with it, then [`verify::registration`] checks everything).
    pub(crate) fn challenge(&self) -> Result<Vec<u8>, Refusal> {
        Ok(verify::ClientData::decode(&self.response.client_data_json)?.challenge)
    }
}

impl AuthenticationCredential {
    /// Whether it names its user (a non-empty `userHandle`), as a sign-in without a token
    /// needs (WebAuthn §7.2 step 6).
    pub(crate) fn has_user_handle(&self) -> bool {
        self.response
            .user_handle
            .as_deref()
            .is_some_and(|handle| !handle.is_empty())
    }

    /// As [`RegistrationCredential::challenge`].
    pub(crate) fn challenge(&self) -> Result<Vec<u8>, Refusal> {
        Ok(verify::ClientData::decode(&self.response.client_data_json)?.challenge)
    }
}

/// Why a credential or an assertion is refused. The text is what the API answers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refusal {
    #[error("The credential is malformed: {0}.")]
    Malformed(&'static str),
    #[error("The challenge was not issued by this relying party, has expired or was already used.")]
    UnknownChallenge,
    #[error("The challenge was issued for another ceremony.")]
    WrongChallenge,
    #[error("The client data type is not {0}.")]
    WrongType(&'static str),
    #[error("The origin is not allowed for this relying party.")]
    Origin,
    #[error("The authenticator data is for another RP ID.")]
    RpIdHash,
    #[error("The user was not present.")]
    UserNotPresent,
    #[error("The user was not verified.")]
    UserNotVerified,
    #[error("Only attestation format none is accepted.")]
    AttestationFormat,
    #[error("Only ES256 (ECDSA P-256) credentials are accepted.")]
    Algorithm,
    #[error("The signature is invalid.")]
    Signature,
    #[error("The signature counter did not grow: the authenticator may be cloned.")]
    Counter,
    #[error("The credential is not registered.")]
    UnknownCredential,
    #[error("The credential belongs to another user.")]
    OtherUser,
    #[error("The credential is already registered.")]
    AlreadyRegistered,
}

/// Bytes from base64url without padding, as WebAuthn's JSON carries them.
fn base64url(text: &str, what: &'static str) -> Result<Vec<u8>, Refusal> {
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| Refusal::Malformed(what))
}

/// Bytes from base64url, if it is.
pub(crate) fn from_base64url(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// Base64url without padding.
pub(crate) fn to_base64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}
