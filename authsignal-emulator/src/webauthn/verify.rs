//! The relying party's checks (WebAuthn Level 3, §7.1 registering a credential and §7.2
//! verifying an assertion), each its own refusal: the challenge, the client data's `type`
//! and `origin`, the rpIdHash, the UP and UV flags, the attestation (`none`), the key
//! (ES256), the signature and the signature counter. Which user a credential may serve is
//! the store's to check.

use coset::cbor::value::Value;
use coset::{AsCborValue as _, CoseKey, KeyType, Label, iana};
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{DerSignature, VerifyingKey};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use super::base64url;
use super::{AuthenticationCredential, Refusal, RegistrationCredential, RelyingPartySettings};

/// User present.
const FLAG_UP: u8 = 0x01;
/// User verified.
const FLAG_UV: u8 = 0x04;
/// Backup eligible.
const FLAG_BE: u8 = 0x08;
/// Backed up.
const FLAG_BS: u8 = 0x10;
/// Attested credential data included.
const FLAG_AT: u8 = 0x40;
/// Extension data included.
const FLAG_ED: u8 = 0x80;

/// What the ceremony the response answers asked for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Expectation<'a> {
    pub(crate) settings: &'a RelyingPartySettings,
    /// The challenge the emulator issued for this ceremony.
    pub(crate) challenge: &'a [u8],
    /// Whether the authenticator must have verified the user (PIN, biometrics).
    pub(crate) user_verification: bool,
    /// The one top-level origin that may embed the ceremony in a cross-origin iframe:
    /// the app of the token's action, whose page frames the pre-built UI in the Web SDK's
    /// popup. None: no cross-origin ceremony.
    pub(crate) embedder: Option<&'a str>,
}

/// A registered credential's key and what came with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewCredential {
    pub(crate) id: Vec<u8>,
    /// The P-256 public key, SEC1 uncompressed.
    pub(crate) public_key: Vec<u8>,
    pub(crate) sign_count: u32,
    pub(crate) aaguid: [u8; 16],
}

/// `CollectedClientData`, the part the relying party reads.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ClientData {
    #[serde(rename = "type")]
    kind: String,
    #[serde(deserialize_with = "challenge_bytes")]
    pub(crate) challenge: Vec<u8>,
    origin: String,
    #[serde(default)]
    cross_origin: Option<bool>,
    /// The top-level page's origin, which browsers add to a cross-origin ceremony.
    #[serde(default)]
    top_origin: Option<String>,
}

fn challenge_bytes<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
    let text = String::deserialize(deserializer)?;
    base64url(&text, "challenge").map_err(serde::de::Error::custom)
}

impl ClientData {
    /// The client data JSON from its base64url text.
    pub(crate) fn decode(encoded: &str) -> Result<Self, Refusal> {
        let bytes = base64url(encoded, "clientDataJSON")?;
        serde_json::from_slice(&bytes).map_err(|_| Refusal::Malformed("clientDataJSON"))
    }

    /// Steps 7 to 10 (and 11 to 13 of §7.2): type, challenge, origin, and cross-origin only
    /// under the expected embedder.
    fn check(&self, expected: &Expectation<'_>, kind: &'static str) -> Result<(), Refusal> {
        if self.kind != kind {
            return Err(Refusal::WrongType(kind));
        }
        if !bool::from(self.challenge.ct_eq(expected.challenge)) {
            return Err(Refusal::WrongChallenge);
        }
        if !expected.settings.allows_origin(&self.origin) {
            return Err(Refusal::Origin);
        }
        // An iframe of another site is that site's page, whatever the origin says: only
        // the app's own page may embed the ceremony (WebAuthn L3 §7.2 step 13, `topOrigin`).
        let embedded_by_the_app =
            self.top_origin.is_some() && self.top_origin.as_deref() == expected.embedder;
        if self.cross_origin == Some(true) && !embedded_by_the_app {
            return Err(Refusal::Origin);
        }
        Ok(())
    }
}

/// The fixed part of authenticator data.
struct AuthenticatorData<'a> {
    rp_id_hash: &'a [u8],
    flags: u8,
    sign_count: u32,
    /// What follows: attested credential data, then extensions.
    rest: &'a [u8],
}

impl<'a> AuthenticatorData<'a> {
    fn parse(bytes: &'a [u8]) -> Result<Self, Refusal> {
        if bytes.len() < 37 {
            return Err(Refusal::Malformed("authenticator data is too short"));
        }
        let mut count = [0u8; 4];
        count.copy_from_slice(&bytes[33..37]);
        Ok(Self {
            rp_id_hash: &bytes[..32],
            flags: bytes[32],
            sign_count: u32::from_be_bytes(count),
            rest: &bytes[37..],
        })
    }

    /// The rpIdHash, UP, UV and backup flags (§7.1 steps 14 to 18).
    fn check(&self, expected: &Expectation<'_>) -> Result<(), Refusal> {
        let rp_id_hash = Sha256::digest(expected.settings.rp_id().as_bytes());
        if !bool::from(self.rp_id_hash.ct_eq(rp_id_hash.as_slice())) {
            return Err(Refusal::RpIdHash);
        }
        if self.flags & FLAG_UP == 0 {
            return Err(Refusal::UserNotPresent);
        }
        if expected.user_verification && self.flags & FLAG_UV == 0 {
            return Err(Refusal::UserNotVerified);
        }
        if self.flags & FLAG_BS != 0 && self.flags & FLAG_BE == 0 {
            return Err(Refusal::Malformed("backed up but not backup eligible"));
        }
        Ok(())
    }

    /// The extensions' CBOR map after `offset` into `rest`, when the ED flag says there
    /// is one; nothing else may follow.
    fn check_tail(&self, offset: usize) -> Result<(), Refusal> {
        let tail = &self.rest[offset..];
        if self.flags & FLAG_ED == 0 {
            return if tail.is_empty() {
                Ok(())
            } else {
                Err(Refusal::Malformed("trailing bytes in authenticator data"))
            };
        }
        let (extensions, used) = read_cbor(tail)?;
        if !matches!(extensions, Value::Map(_)) || used != tail.len() {
            return Err(Refusal::Malformed("extensions in authenticator data"));
        }
        Ok(())
    }
}

/// One CBOR item from the front of `bytes`, and how many bytes it took.
fn read_cbor(bytes: &[u8]) -> Result<(Value, usize), Refusal> {
    let mut rest = bytes;
    let value: Value =
        coset::cbor::de::from_reader(&mut rest).map_err(|_| Refusal::Malformed("CBOR"))?;
    Ok((value, bytes.len() - rest.len()))
}

/// The credential id in the response: `rawId`, which `id` must repeat.
fn credential_id(id: &str, raw_id: &str) -> Result<Vec<u8>, Refusal> {
    let raw = base64url(raw_id, "rawId")?;
    if base64url(id, "id")? != raw || raw.is_empty() {
        return Err(Refusal::Malformed("id and rawId differ"));
    }
    Ok(raw)
}

/// §7.1: a new credential, from a `none` attestation of an ES256 key.
pub(crate) fn registration(
    expected: &Expectation<'_>,
    credential: &RegistrationCredential,
) -> Result<NewCredential, Refusal> {
    if credential.kind != "public-key" {
        return Err(Refusal::Malformed("type is not public-key"));
    }
    let id = credential_id(&credential.id, &credential.raw_id)?;
    ClientData::decode(&credential.response.client_data_json)?
        .check(expected, "webauthn.create")?;

    let attestation = base64url(&credential.response.attestation_object, "attestationObject")?;
    let (object, used) = read_cbor(&attestation)?;
    if used != attestation.len() {
        return Err(Refusal::Malformed("trailing bytes in attestationObject"));
    }
    let Value::Map(entries) = object else {
        return Err(Refusal::Malformed("attestationObject is not a map"));
    };
    let field = |name: &str| {
        entries
            .iter()
            .find(|(key, _)| key.as_text() == Some(name))
            .map(|(_, value)| value)
    };
    // `none`, with an empty statement: the emulator asks for no attestation, and trusts
    // no authenticator maker.
    let fmt = field("fmt").and_then(Value::as_text);
    let statement_empty = field("attStmt")
        .and_then(Value::as_map)
        .is_some_and(Vec::is_empty);
    if fmt != Some("none") || !statement_empty {
        return Err(Refusal::AttestationFormat);
    }
    let auth_data = field("authData")
        .and_then(Value::as_bytes)
        .ok_or(Refusal::Malformed("authData"))?;

    let data = AuthenticatorData::parse(auth_data)?;
    data.check(expected)?;
    if data.flags & FLAG_AT == 0 || data.rest.len() < 18 {
        return Err(Refusal::Malformed("no attested credential data"));
    }
    let mut aaguid = [0u8; 16];
    aaguid.copy_from_slice(&data.rest[..16]);
    let id_len = usize::from(u16::from_be_bytes([data.rest[16], data.rest[17]]));
    let id_end = 18 + id_len;
    let attested_id = data
        .rest
        .get(18..id_end)
        .ok_or(Refusal::Malformed("credential id"))?;
    if attested_id != id.as_slice() {
        return Err(Refusal::Malformed(
            "the attested credential id is not rawId",
        ));
    }
    let (key, key_len) = read_cbor(&data.rest[id_end..])?;
    data.check_tail(id_end + key_len)?;
    let public_key = es256_key(key)?;
    Ok(NewCredential {
        id,
        public_key,
        sign_count: data.sign_count,
        aaguid,
    })
}

/// The SEC1 uncompressed point of a COSE EC2 P-256 key for ES256.
fn es256_key(value: Value) -> Result<Vec<u8>, Refusal> {
    let key = CoseKey::from_cbor_value(value).map_err(|_| Refusal::Malformed("COSE key"))?;
    if key.kty != KeyType::Assigned(iana::KeyType::EC2)
        || key.alg
            != Some(coset::RegisteredLabelWithPrivate::Assigned(
                iana::Algorithm::ES256,
            ))
    {
        return Err(Refusal::Algorithm);
    }
    let param = |label: iana::Ec2KeyParameter| {
        key.params
            .iter()
            .find(|(l, _)| *l == Label::Int(label as i64))
            .map(|(_, v)| v)
    };
    let curve = param(iana::Ec2KeyParameter::Crv).and_then(Value::as_integer);
    if curve != Some((iana::EllipticCurve::P_256 as i64).into()) {
        return Err(Refusal::Algorithm);
    }
    let coordinate = |label| {
        param(label)
            .and_then(Value::as_bytes)
            .filter(|bytes| bytes.len() == 32)
            .ok_or(Refusal::Malformed("COSE key coordinates"))
    };
    let mut point = vec![0x04];
    point.extend_from_slice(coordinate(iana::Ec2KeyParameter::X)?);
    point.extend_from_slice(coordinate(iana::Ec2KeyParameter::Y)?);
    // A point off the curve is no key.
    VerifyingKey::from_sec1_bytes(&point).map_err(|_| Refusal::Malformed("COSE key point"))?;
    Ok(point)
}

/// A registered credential an assertion is checked against.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Registered<'a> {
    pub(crate) public_key: &'a [u8],
    pub(crate) sign_count: u32,
    /// The `user.id` it was registered with, which a `userHandle` must repeat.
    pub(crate) user_handle: &'a [u8],
}

/// §7.2: an assertion by `registered`; answers the new signature counter.
pub(crate) fn assertion(
    expected: &Expectation<'_>,
    credential: &AuthenticationCredential,
    registered: Registered<'_>,
) -> Result<u32, Refusal> {
    if credential.kind != "public-key" {
        return Err(Refusal::Malformed("type is not public-key"));
    }
    credential_id(&credential.id, &credential.raw_id)?;
    let response = &credential.response;
    if let Some(handle) = &response.user_handle {
        // An empty handle is what some authenticators send for "none".
        let handle = base64url(handle, "userHandle")?;
        if !handle.is_empty() && handle != registered.user_handle {
            return Err(Refusal::OtherUser);
        }
    }
    let client_data_json = base64url(&response.client_data_json, "clientDataJSON")?;
    ClientData::decode(&response.client_data_json)?.check(expected, "webauthn.get")?;
    let auth_data = base64url(&response.authenticator_data, "authenticatorData")?;
    let data = AuthenticatorData::parse(&auth_data)?;
    data.check(expected)?;
    if data.flags & FLAG_AT != 0 {
        return Err(Refusal::Malformed(
            "attested credential data in an assertion",
        ));
    }
    data.check_tail(0)?;

    let key = VerifyingKey::from_sec1_bytes(registered.public_key)
        .map_err(|_| Refusal::UnknownCredential)?;
    let signature = DerSignature::try_from(base64url(&response.signature, "signature")?.as_slice())
        .map_err(|_| Refusal::Signature)?;
    let mut signed = auth_data.clone();
    signed.extend_from_slice(&Sha256::digest(&client_data_json));
    key.verify(&signed, &signature)
        .map_err(|_| Refusal::Signature)?;

    // §7.2 step 22: a counter that does not grow means two copies of the key, unless
    // both are zero (authenticators without a counter).
    if (data.sign_count != 0 || registered.sign_count != 0)
        && data.sign_count <= registered.sign_count
    {
        return Err(Refusal::Counter);
    }
    Ok(data.sign_count)
}
