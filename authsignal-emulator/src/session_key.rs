//! The RSA key that signs session access tokens, and the JWKS that publishes its public
//! half.
//!
//! Authsignal signs access tokens with RS256 and publishes the tenant's keys as a JWKS, so
//! that an API can check a token without calling it. The emulator does the same with one
//! key: generated (RSA 2048) the first time a session or the JWKS needs it, since
//! generating one costs far more than starting an emulator and most emulators never create
//! a session; or supplied as PEM, for a program whose verifiers keep a key across restarts.

use std::sync::OnceLock;

use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;

/// The size of a generated key, and the least a supplied one may have: what RS256 calls for
/// (RFC 7518, section 3.3).
const KEY_BITS: usize = 2048;

/// The signing algorithm of session access tokens.
pub(crate) const ALGORITHM: Algorithm = Algorithm::RS256;

/// One RSA key pair: the private half signs, the public half verifies and is published.
pub(crate) struct SessionKey {
    signing: EncodingKey,
    verifying: DecodingKey,
    /// The public key as published, `kid` set.
    jwk: Jwk,
}

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionKey")
            .field("kid", &self.kid())
            .finish_non_exhaustive()
    }
}

impl SessionKey {
    /// A new key from the operating system's random source.
    fn generate() -> Self {
        let private = rsa::PrivateKey::new(&mut getrandom::SysRng, KEY_BITS)
            .expect("RSA key generation fails only for want of randomness or a bad size");
        Self::from_private(&private).expect("a generated key is of the size asked for")
    }

    /// A key from PEM text: an RSA private key, PKCS#8 (`PRIVATE KEY`) or PKCS#1 (`RSA
    /// PRIVATE KEY`), of at least 2048 bits. The reasons given never quote the key.
    pub(crate) fn from_pem(pem: &str) -> Result<Self, String> {
        let private = rsa::PrivateKey::from_pkcs8_pem(pem)
            .or_else(|_| rsa::PrivateKey::from_pkcs1_pem(pem))
            .map_err(|_| "the session key is not an RSA private key in PEM".to_owned())?;
        Self::from_private(&private)
    }

    fn from_private(private: &rsa::PrivateKey) -> Result<Self, String> {
        let modulus_bits = private.n().bit_width() as usize;
        if modulus_bits < KEY_BITS {
            return Err(format!(
                "the session key has {modulus_bits} bits; RS256 needs at least {KEY_BITS}"
            ));
        }
        let der = private
            .to_pkcs1_der()
            .map_err(|_| "the session key cannot be encoded".to_owned())?;
        let signing = EncodingKey::from_rsa_der(der.as_bytes());
        let public = private.to_public_key();
        let verifying = DecodingKey::from_rsa_raw_components(&public.n_bytes(), &public.e_bytes());
        let mut jwk = Jwk::from_decoding_key(&verifying, Some(ALGORITHM))
            .map_err(|_| "the session key's public half cannot be published".to_owned())?;
        // The RFC 7638 thumbprint names the key by its public half alone: the same key
        // supplied again gets the same `kid`, so a verifier's cached JWKS still finds it.
        let kid = jwk
            .thumbprint(ThumbprintHash::SHA256)
            .map_err(|_| "the session key's thumbprint cannot be computed".to_owned())?;
        jwk.common.key_id = Some(kid);
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        Ok(Self {
            signing,
            verifying,
            jwk,
        })
    }

    /// The key id: in the JWKS, and in the header of every token the key signs.
    pub(crate) fn kid(&self) -> &str {
        self.jwk.common.key_id.as_deref().unwrap_or_default()
    }

    pub(crate) fn signing(&self) -> &EncodingKey {
        &self.signing
    }

    pub(crate) fn verifying(&self) -> &DecodingKey {
        &self.verifying
    }

    /// The JWKS: this key's public half, and nothing else.
    pub(crate) fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: vec![self.jwk.clone()],
        }
    }
}

/// The emulator's session key: supplied at start, or generated on first use.
#[derive(Debug, Default)]
pub(crate) struct SessionKeySlot(OnceLock<SessionKey>);

impl SessionKeySlot {
    /// A slot holding `key` from the start.
    pub(crate) fn with(key: SessionKey) -> Self {
        Self(OnceLock::from(key))
    }

    /// The key, generated now if this is its first use. Concurrent first uses wait for
    /// one generation.
    pub(crate) fn get(&self) -> &SessionKey {
        self.0.get_or_init(SessionKey::generate)
    }

    /// The key if there is one yet: without it, no session token was ever signed.
    pub(crate) fn existing(&self) -> Option<&SessionKey> {
        self.0.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_is_published_with_its_thumbprint_as_kid() {
        let slot = SessionKeySlot::default();
        let key = slot.get();
        assert!(std::ptr::eq(key, slot.get()), "generated once");
        let jwks = serde_json::to_value(key.jwks()).unwrap();
        let published = &jwks["keys"][0];
        assert_eq!(published["kty"], "RSA");
        assert_eq!(published["alg"], "RS256");
        assert_eq!(published["use"], "sig");
        assert_eq!(published["kid"], key.kid());
        assert_eq!(key.kid().len(), 43, "a base64url SHA-256");
        use base64::Engine as _;
        let modulus = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(published["n"].as_str().unwrap())
            .unwrap();
        assert_eq!(modulus.len(), 256, "2048 bits");
        assert!(modulus[0] >= 0x80, "no leading zero byte");
        assert!(published.get("d").is_none(), "no private part");
        assert!(!format!("{key:?}").contains(published["n"].as_str().unwrap()));
    }

    #[test]
    fn a_pem_that_is_not_an_rsa_private_key_is_refused() {
        for pem in [
            "",
            "not a key",
            "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
        ] {
            assert!(SessionKey::from_pem(pem).is_err(), "{pem:?}");
        }
    }
}
