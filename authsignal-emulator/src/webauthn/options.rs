//! The options of a ceremony, as the Web SDK hands them to `@simplewebauthn/browser`:
//! `PublicKeyCredentialCreationOptionsJSON` and `PublicKeyCredentialRequestOptionsJSON`.

use serde_json::{Value, json};

use super::{RelyingPartySettings, to_base64url};

/// The relying party's name, shown by some authenticators.
const RP_NAME: &str = "Authsignal emulator";

/// COSE algorithm ES256, the only one the emulator verifies.
const ES256: i64 = -7;

/// What kind of authenticator a ceremony is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthenticatorKind {
    /// A discoverable credential that verifies its user: a passkey.
    Passkey,
    /// A roaming key: user presence is enough, nothing is stored on it.
    SecurityKey,
}

impl AuthenticatorKind {
    /// Whether its ceremonies require user verification (the UV flag).
    pub(crate) fn requires_user_verification(self) -> bool {
        self == Self::Passkey
    }

    fn user_verification(self) -> &'static str {
        match self {
            Self::Passkey => "required",
            Self::SecurityKey => "discouraged",
        }
    }
}

/// The user of a registration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RegisteringUser<'a> {
    /// `user.id`: the bytes a `userHandle` later repeats.
    pub(crate) handle: &'a [u8],
    pub(crate) name: &'a str,
    pub(crate) display_name: &'a str,
}

/// Options for `navigator.credentials.create()`: ES256, no attestation, excluding the
/// credentials the user has.
pub(crate) fn creation(
    settings: &RelyingPartySettings,
    kind: AuthenticatorKind,
    challenge: &[u8],
    user: RegisteringUser<'_>,
    attachment: Option<&str>,
    exclude: &[Vec<u8>],
) -> Value {
    let mut selection = match kind {
        AuthenticatorKind::Passkey => json!({
            "residentKey": "required",
            "requireResidentKey": true,
        }),
        AuthenticatorKind::SecurityKey => json!({
            "residentKey": "discouraged",
            "requireResidentKey": false,
            "authenticatorAttachment": "cross-platform",
        }),
    };
    selection["userVerification"] = kind.user_verification().into();
    if let Some(attachment) = attachment {
        selection["authenticatorAttachment"] = attachment.into();
    }
    json!({
        "rp": {"id": settings.rp_id(), "name": RP_NAME},
        "user": {
            "id": to_base64url(user.handle),
            "name": user.name,
            "displayName": user.display_name,
        },
        "challenge": to_base64url(challenge),
        "pubKeyCredParams": [{"type": "public-key", "alg": ES256}],
        "timeout": timeout_millis(settings),
        "excludeCredentials": descriptors(exclude),
        "authenticatorSelection": selection,
        "attestation": "none",
        "extensions": {"credProps": true},
    })
}

/// Options for `navigator.credentials.get()`: the user's credentials when the user is
/// known, none (a discoverable credential picks itself) when not.
pub(crate) fn request(
    settings: &RelyingPartySettings,
    kind: AuthenticatorKind,
    challenge: &[u8],
    allow: &[Vec<u8>],
) -> Value {
    json!({
        "rpId": settings.rp_id(),
        "challenge": to_base64url(challenge),
        "timeout": timeout_millis(settings),
        "allowCredentials": descriptors(allow),
        "userVerification": kind.user_verification(),
    })
}

/// The ceremony's timeout as the options carry it.
fn timeout_millis(settings: &RelyingPartySettings) -> u64 {
    u64::try_from(settings.ceremony_timeout().as_millis()).unwrap_or(u64::MAX)
}

fn descriptors(ids: &[Vec<u8>]) -> Vec<Value> {
    ids.iter()
        .map(|id| json!({"id": to_base64url(id), "type": "public-key"}))
        .collect()
}
