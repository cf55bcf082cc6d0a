//! Compact JWTs as the emulator signs and reads them, through `jsonwebtoken`.
//!
//! Two keys, each with the one algorithm it may be used with: the tenant secret signs
//! challenge tokens with HS256, the [session key](super::session_key) signs access tokens
//! with RS256. A token is read with the key its kind calls for and that key's algorithm
//! alone, whatever its header says: no `none`, and no HS256 token made with the public RSA
//! key as its secret (the classic confusion) passes for an access token.
//!
//! `exp` is left to the callers, who compare it with the emulator's clock (which tests set
//! and advance), not the system's.

use std::collections::HashSet;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::session_key::{self, SessionKey};

/// The longest token that is looked at; anything longer is malformed, not work to do.
const MAX_TOKEN_LEN: usize = 8 * 1024;

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JwtError {
    /// Not three base64url parts of JSON, or claims of the wrong shape.
    Malformed,
    /// A header naming another algorithm than the key's.
    UnsupportedAlgorithm,
    /// The signature does not match.
    BadSignature,
    /// An `aud` other than the ones asked for, or none.
    WrongAudience,
}

/// The key a token is signed or read with.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Key<'a> {
    /// The tenant secret, with HS256.
    Secret(&'a [u8]),
    /// The session key, with RS256.
    Session(&'a SessionKey),
}

impl Key<'_> {
    fn algorithm(self) -> Algorithm {
        match self {
            Self::Secret(_) => Algorithm::HS256,
            Self::Session(_) => session_key::ALGORITHM,
        }
    }
}

/// Signs `claims` with `key`. A session key's tokens name it by `kid`, as a JWKS verifier
/// looks it up.
pub(crate) fn sign(claims: &impl Serialize, key: Key<'_>) -> String {
    let mut header = Header::new(key.algorithm());
    // Claims are plain structs of strings and numbers, and the keys are checked when they
    // are made: signing cannot fail.
    let encoded = match key {
        Key::Secret(secret) => EncodingKey::from_secret(secret)
            .and_then(|secret| jsonwebtoken::encode(&header, claims, &secret)),
        Key::Session(session) => {
            header.kid = Some(session.kid().to_owned());
            jsonwebtoken::encode(&header, claims, session.signing())
        }
    };
    encoded.expect("signing plain claims with a checked key does not fail")
}

/// Checks the algorithm, the signature and, when `audience` names some, that `aud` is one
/// of them; then decodes the claims.
pub(crate) fn verify<T: DeserializeOwned>(
    token: &str,
    key: Key<'_>,
    audience: Option<&[String]>,
) -> Result<T, JwtError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(JwtError::Malformed);
    }
    let mut validation = Validation::new(key.algorithm());
    // The emulator's clock, not the system's, decides expiry: the callers check `exp`.
    validation.validate_exp = false;
    validation.required_spec_claims = HashSet::from(["exp".to_owned()]);
    match audience {
        Some(audience) => validation.set_audience(audience),
        None => validation.validate_aud = false,
    }
    let decoded = match key {
        Key::Secret(secret) => DecodingKey::from_secret(secret)
            .and_then(|secret| jsonwebtoken::decode::<T>(token, &secret, &validation)),
        Key::Session(session) => jsonwebtoken::decode::<T>(token, session.verifying(), &validation),
    };
    decoded
        .map(|data| data.claims)
        .map_err(|err| match err.kind() {
            ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                JwtError::UnsupportedAlgorithm
            }
            ErrorKind::InvalidSignature => JwtError::BadSignature,
            ErrorKind::InvalidAudience => JwtError::WrongAudience,
            ErrorKind::MissingRequiredClaim(claim) if claim == "aud" => JwtError::WrongAudience,
            _ => JwtError::Malformed,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::{Value, json};

    const SECRET: Key<'static> = Key::Secret(b"secret");

    #[test]
    fn a_signed_token_verifies_with_its_secret_only() {
        let token = sign(&json!({"sub": "u1", "exp": 1}), SECRET);
        let header: Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(token.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(header, json!({"typ": "JWT", "alg": "HS256"}));
        let claims: Value = verify(&token, SECRET, None).unwrap();
        assert_eq!(claims["sub"], "u1");
        assert_eq!(
            verify::<Value>(&token, Key::Secret(b"other"), None).unwrap_err(),
            JwtError::BadSignature
        );
    }

    #[test]
    fn tampering_and_other_algorithms_are_refused() {
        let token = sign(&json!({"sub": "u1", "exp": 1}), SECRET);
        let mut parts = token.split('.');
        let (header, payload, signature) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        let forged_payload = URL_SAFE_NO_PAD.encode(br#"{"sub":"admin","exp":1}"#);
        let forged = format!("{header}.{forged_payload}.{signature}");
        assert_eq!(
            verify::<Value>(&forged, SECRET, None).unwrap_err(),
            JwtError::BadSignature
        );

        // Refused for the name in the header, before any signature is looked at: `none`
        // is no algorithm `jsonwebtoken` knows, the others are not the key's.
        for (alg, refusal) in [
            ("none", JwtError::Malformed),
            ("RS256", JwtError::UnsupportedAlgorithm),
            ("HS512", JwtError::UnsupportedAlgorithm),
        ] {
            let other_header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{alg}"}}"#));
            for other in [
                format!("{other_header}.{payload}.{signature}"),
                format!("{other_header}.{payload}."),
            ] {
                assert_eq!(
                    verify::<Value>(&other, SECRET, None).unwrap_err(),
                    refusal,
                    "{alg}"
                );
            }
        }
        for bad in [
            "",
            "a.b",
            "a.b.c.d",
            "!!!.e30.sig",
            &"x".repeat(MAX_TOKEN_LEN + 1),
        ] {
            assert_eq!(
                verify::<Value>(bad, SECRET, None).unwrap_err(),
                JwtError::Malformed
            );
        }
        let without_exp = sign(&json!({"sub": "u1"}), SECRET);
        assert_eq!(
            verify::<Value>(&without_exp, SECRET, None).unwrap_err(),
            JwtError::Malformed
        );
    }
}
