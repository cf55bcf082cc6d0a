//! Compact JWTs signed with HS256, the only algorithm the emulator issues.
//!
//! Both ends are ours (the emulator signs, the emulator verifies), so a general JWT crate
//! would bring RSA and EC stacks for nothing. This module does exactly one thing: a fixed
//! `{"alg":"HS256","typ":"JWT"}` header, HMAC-SHA256 with the tenant secret, and on the way
//! in a refusal of any other `alg` (no `none`, no algorithm confusion) and a constant-time
//! signature check through [`Mac::verify_slice`].

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::Sha256;

/// The longest token that is looked at; anything longer is malformed, not work to do.
const MAX_TOKEN_LEN: usize = 8 * 1024;

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JwtError {
    /// Not three base64url parts of JSON, or claims of the wrong shape.
    Malformed,
    /// A header naming another algorithm than HS256.
    UnsupportedAlgorithm,
    /// The signature does not match.
    BadSignature,
}

/// An HMAC-SHA256 keyed with `secret`.
pub(crate) fn mac(secret: &[u8]) -> Hmac<Sha256> {
    Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts keys of any length")
}

/// Signs `claims` with `secret`.
pub(crate) fn sign(claims: &impl Serialize, secret: &[u8]) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    // Claims are plain structs of strings and numbers: serializing them cannot fail.
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
    let signing_input = format!("{header}.{payload}");
    let mut mac = mac(secret);
    mac.update(signing_input.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{signing_input}.{signature}")
}

/// Checks the header and the signature of `token` and decodes its claims.
pub(crate) fn verify<T: DeserializeOwned>(token: &str, secret: &[u8]) -> Result<T, JwtError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(JwtError::Malformed);
    }
    let Some((signing_input, signature)) = token.rsplit_once('.') else {
        return Err(JwtError::Malformed);
    };
    let Some((header, payload)) = signing_input.split_once('.') else {
        return Err(JwtError::Malformed);
    };
    if payload.contains('.') {
        return Err(JwtError::Malformed);
    }
    let header: serde_json::Value = URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or(JwtError::Malformed)?;
    if header.get("alg").and_then(serde_json::Value::as_str) != Some("HS256") {
        return Err(JwtError::UnsupportedAlgorithm);
    }
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| JwtError::Malformed)?;
    let mut mac = mac(secret);
    mac.update(signing_input.as_bytes());
    mac.verify_slice(&signature)
        .map_err(|_| JwtError::BadSignature)?;
    let payload = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| JwtError::Malformed)?;
    serde_json::from_slice(&payload).map_err(|_| JwtError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn a_signed_token_verifies_with_its_secret_only() {
        let token = sign(&json!({"sub": "u1"}), b"secret");
        assert!(token.starts_with("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."));
        let claims: Value = verify(&token, b"secret").unwrap();
        assert_eq!(claims["sub"], "u1");
        assert_eq!(
            verify::<Value>(&token, b"other").unwrap_err(),
            JwtError::BadSignature
        );
    }

    #[test]
    fn tampering_and_other_algorithms_are_refused() {
        let token = sign(&json!({"sub": "u1"}), b"secret");
        let (rest, signature) = token.rsplit_once('.').unwrap();
        let (_, payload) = rest.split_once('.').unwrap();
        let forged_payload = URL_SAFE_NO_PAD.encode(br#"{"sub":"admin"}"#);
        let forged = format!(
            "{}.{forged_payload}.{signature}",
            rest.split('.').next().unwrap()
        );
        assert_eq!(
            verify::<Value>(&forged, b"secret").unwrap_err(),
            JwtError::BadSignature
        );

        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#);
        let unsigned = format!("{none_header}.{payload}.");
        assert_eq!(
            verify::<Value>(&unsigned, b"secret").unwrap_err(),
            JwtError::UnsupportedAlgorithm
        );
        for bad in [
            "",
            "a.b",
            "a.b.c.d",
            "!!!.e30.sig",
            &"x".repeat(MAX_TOKEN_LEN + 1),
        ] {
            assert_eq!(
                verify::<Value>(bad, b"secret").unwrap_err(),
                JwtError::Malformed
            );
        }
    }
}
