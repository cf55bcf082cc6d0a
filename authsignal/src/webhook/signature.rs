//! The `X-Signature-V2` header: parsing, the timestamp tolerance and the HMAC.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use secrecy::ExposeSecret;
use sha2::Sha256;

use serde::de::DeserializeOwned;

use super::event::decode;
use super::{MAX_SIGNATURES, WebhookError, WebhookVerifier};

/// Headers longer than this are malformed without looking further: [`MAX_SIGNATURES`]
/// signatures and a timestamp fit many times over.
const MAX_HEADER_BYTES: usize = 4096;

/// A base64 HMAC-SHA256 is 43 characters (44 padded); anything much longer cannot match,
/// so it is not even decoded.
const MAX_SIGNATURE_CHARS: usize = 64;

type HmacSha256 = Hmac<Sha256>;

impl WebhookVerifier {
    /// The first half of [`verify_at`](Self::verify_at): the header's format and its
    /// timestamp, which need no body. A web framework's extractor runs this before it reads
    /// the body, so that a malformed or stale request is not worth reading, then
    /// [`verify_body`](Self::verify_body).
    pub fn check_header<'h>(
        &self,
        header: &'h [u8],
        now: SystemTime,
    ) -> Result<SignatureHeader<'h>, WebhookError> {
        let parsed = parse_header(header)?;
        if let Some(tolerance) = self.tolerance {
            // A clock before 1970 is as good as 0: the timestamp is then simply far off.
            let now = now
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since| since.as_secs());
            if Duration::from_secs(now.abs_diff(parsed.timestamp)) > tolerance {
                return Err(WebhookError::OutsideTolerance);
            }
        }
        Ok(parsed)
    }

    /// The second half: verifies the signature of a [checked header](Self::check_header)
    /// over the raw `body`, and only then decodes the body as `T`.
    pub fn verify_body<T: DeserializeOwned>(
        &self,
        header: &SignatureHeader<'_>,
        body: &[u8],
    ) -> Result<T, WebhookError> {
        self.check_signature(header, body)?;
        decode(body)
    }

    pub(super) fn check_signature(
        &self,
        parsed: &SignatureHeader<'_>,
        body: &[u8],
    ) -> Result<(), WebhookError> {
        // A signature that is not base64 of the right length cannot match: no HMAC needed.
        let candidates: Vec<Vec<u8>> = parsed
            .signatures
            .iter()
            .filter_map(|s| decode_signature(s))
            .collect();
        if candidates.is_empty() {
            return Err(WebhookError::Mismatch);
        }
        let timestamp = parsed.timestamp.to_string();
        for secret in self.secrets.iter() {
            let Some(mac) = mac_for(secret.expose_secret(), &timestamp, body) else {
                continue;
            };
            // `verify_slice` compares in constant time and insists on the full 32 bytes (a
            // truncated comparison would let a 1-byte guess through).
            if candidates
                .iter()
                .any(|candidate| mac.clone().verify_slice(candidate).is_ok())
            {
                return Ok(());
            }
        }
        Err(WebhookError::Mismatch)
    }
}

/// The `X-Signature-V2` value Authsignal would send for `body` signed with `secret` at
/// `timestamp` (unix seconds), e.g. to test your own webhook handler or to send webhooks
/// from an emulator.
///
/// ```
/// use authsignal::webhook::{WebhookVerifier, signature_header};
/// let header = signature_header("test-secret-key-123", 1_630_000_000, "{}");
/// assert!(header.starts_with("t=1630000000,v2="));
/// WebhookVerifier::new("test-secret-key-123")
///     .without_tolerance()
///     .verify(&header, "{}")
///     .expect("signed with the same secret");
/// ```
#[must_use]
pub fn signature_header(secret: &str, timestamp: u64, body: impl AsRef<[u8]>) -> String {
    let signature = mac_for(secret, &timestamp.to_string(), body.as_ref())
        .map(|mac| STANDARD_NO_PAD.encode(mac.finalize().into_bytes()))
        .unwrap_or_default();
    format!("t={timestamp},v2={signature}")
}

/// HMAC-SHA256 over `"<timestamp>.<body>"`, or `None` for an empty secret.
fn mac_for(secret: &str, timestamp: &str, body: &[u8]) -> Option<HmacSha256> {
    if secret.is_empty() {
        return None;
    }
    // HMAC takes keys of any length, so this cannot fail; `ok()` keeps the path panic-free.
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).ok()?;
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(mac)
}

/// An `X-Signature-V2` header with the right shape and a timestamp within the tolerance,
/// from [`WebhookVerifier::check_header`]. Its signatures are not verified yet.
#[derive(Debug)]
pub struct SignatureHeader<'h> {
    /// `t`, in unix seconds, as signed.
    timestamp: u64,
    /// `t` as a time.
    signed_at: SystemTime,
    signatures: Vec<&'h str>,
}

impl SignatureHeader<'_> {
    /// When the sender signed: the header's `t`.
    pub fn signed_at(&self) -> SystemTime {
        self.signed_at
    }
}

/// Parses `t=<digits>,v2=<sig>[,v2=<sig>...]`. Total: every input is either parsed or
/// [`WebhookError::InvalidFormat`]. Unknown keys (a future `v3=`) are ignored, as the SDKs
/// do; a second `t`, a non-numeric or signed `t`, or more than [`MAX_SIGNATURES`] `v2`
/// values make the header malformed.
fn parse_header(header: &[u8]) -> Result<SignatureHeader<'_>, WebhookError> {
    if header.len() > MAX_HEADER_BYTES {
        return Err(WebhookError::InvalidFormat);
    }
    let header = std::str::from_utf8(header).map_err(|_| WebhookError::InvalidFormat)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let Some((key, value)) = part.split_once('=') else {
            continue;
        };
        let value = value.trim();
        match key.trim() {
            "t" => {
                if timestamp.is_some() {
                    return Err(WebhookError::InvalidFormat);
                }
                timestamp = Some(parse_timestamp(value)?);
            }
            "v2" => {
                if signatures.len() == MAX_SIGNATURES {
                    return Err(WebhookError::InvalidFormat);
                }
                signatures.push(value);
            }
            _ => {}
        }
    }
    match (timestamp, signatures.is_empty()) {
        (Some((timestamp, signed_at)), false) => Ok(SignatureHeader {
            timestamp,
            signed_at,
            signatures,
        }),
        _ => Err(WebhookError::InvalidFormat),
    }
}

/// Unix seconds: ASCII digits only (`str::parse` would also take a leading `+`), and a
/// time a `SystemTime` can hold. Returns the seconds and the time.
fn parse_timestamp(value: &str) -> Result<(u64, SystemTime), WebhookError> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(WebhookError::InvalidFormat);
    }
    let seconds = value.parse().map_err(|_| WebhookError::InvalidFormat)?;
    let time = UNIX_EPOCH
        .checked_add(Duration::from_secs(seconds))
        .ok_or(WebhookError::InvalidFormat)?;
    Ok((seconds, time))
}

/// Decodes one `v2` value; `None` for anything that cannot be a signature. Padding is
/// tolerated although Authsignal strips it.
fn decode_signature(signature: &str) -> Option<Vec<u8>> {
    if signature.is_empty() || signature.len() > MAX_SIGNATURE_CHARS {
        return None;
    }
    STANDARD_NO_PAD.decode(signature.trim_end_matches('=')).ok()
}
