//! [`PendingChallenge`], the record a store keeps, and its bytes for stores that keep
//! records outside the process.
//!
//! The record belongs to the store: its fields are private, so that a field added later
//! breaks no store written elsewhere, and its stored bytes embed no type of the Authsignal
//! client. What a resume record keeps of Authsignal's validation is a [`Verification`]
//! of its own, converted from and to the client's answer by the gate. The bytes carry
//! [`PendingChallenge::FORMAT_VERSION`]; bytes of any other version are refused.

use bytes::Bytes;
use http::Method;

/// The request a challenge was issued for: everything the returned token is bound to.
///
/// Built with a constructor per [`RecordKind`](super::RecordKind):
/// [`challenge`](Self::challenge) (with [`with_body`](Self::with_body) and
/// [`with_stash`](Self::with_stash)), [`into_resume`](Self::into_resume) and
/// [`spent`](Self::spent); read with its accessors.
///
/// ```
/// use axum_authsignal::store::{PendingChallenge, StashedRequest, Verification};
/// use http::Method;
///
/// let challenge = PendingChallenge::challenge("alice", "withdraw", Method::POST, "/withdraw")
///     .with_body(Some("application/x-www-form-urlencoded".into()), None, [7; 32])
///     .with_stash(StashedRequest::new("amount=5000", Some("application/x-www-form-urlencoded".into())));
/// assert_eq!(challenge.user_id(), "alice");
/// assert!(challenge.verified().is_none());
///
/// let resume = challenge.into_resume(Verification::new("0b6c…").with_verification_method("AUTHENTICATOR_APP"));
/// assert_eq!(resume.verified().map(Verification::idempotency_key), Some("0b6c…"));
/// ```
#[derive(Clone, PartialEq)]
pub struct PendingChallenge {
    user_id: String,
    action: String,
    method: Method,
    path_and_query: String,
    media_type: Option<String>,
    content_encoding: Option<String>,
    body_sha256: [u8; 32],
    stashed: Option<StashedRequest>,
    /// Boxed: most records are challenges, which have none.
    verified: Option<Box<Verification>>,
}

impl PendingChallenge {
    /// The record of a challenge issued to `user_id` for `action` on a request of `method`
    /// to `path_and_query` (without any token parameter), with no body bound to it yet
    /// (no media type, no content coding, the hash all zeros): see
    /// [`with_body`](Self::with_body).
    pub fn challenge(
        user_id: impl Into<String>,
        action: impl Into<String>,
        method: Method,
        path_and_query: impl Into<String>,
    ) -> Self {
        Self {
            user_id: user_id.into(),
            action: action.into(),
            method,
            path_and_query: path_and_query.into(),
            media_type: None,
            content_encoding: None,
            body_sha256: [0; 32],
            stashed: None,
            verified: None,
        }
    }

    /// The record of a token the standalone validator accepted, for a request of `method`
    /// to `path_and_query`: kept so that the token is good once. It binds no body.
    pub fn spent(
        user_id: impl Into<String>,
        action: impl Into<String>,
        method: Method,
        path_and_query: impl Into<String>,
    ) -> Self {
        Self::challenge(user_id, action, method, path_and_query)
    }

    /// The record bound to the challenged request's body too: its media type, normalised
    /// (`application/json` for `Application/JSON; charset=utf-8`, `None` without a
    /// `Content-Type`), its `Content-Encoding`, normalised (`None` for identity), and the
    /// SHA-256 of its bytes.
    #[must_use]
    pub fn with_body(
        mut self,
        media_type: Option<String>,
        content_encoding: Option<String>,
        body_sha256: [u8; 32],
    ) -> Self {
        self.media_type = media_type;
        self.content_encoding = content_encoding;
        self.body_sha256 = body_sha256;
        self
    }

    /// The record holding the challenged browser request itself, replayed when the user
    /// comes back so that they need not submit again.
    #[must_use]
    pub fn with_stash(mut self, stashed: StashedRequest) -> Self {
        self.stashed = Some(stashed);
        self
    }

    /// This challenge, completed: the record of a
    /// [`RecordKind::Resume`](super::RecordKind::Resume), holding what the handler's proof
    /// needs of Authsignal's validation.
    #[must_use]
    pub fn into_resume(mut self, verified: Verification) -> Self {
        self.verified = Some(Box::new(verified));
        self
    }

    /// The user who was challenged.
    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    /// The action tracked.
    pub fn action(&self) -> &str {
        &self.action
    }

    /// The challenged request's method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The challenged request's path and query (without any token parameter).
    pub fn path_and_query(&self) -> &str {
        &self.path_and_query
    }

    /// The challenged request's media type, normalised; `None` when it had no
    /// `Content-Type` (or no body is bound).
    pub fn media_type(&self) -> Option<&str> {
        self.media_type.as_deref()
    }

    /// The challenged request's `Content-Encoding`, normalised; `None` for identity.
    pub fn content_encoding(&self) -> Option<&str> {
        self.content_encoding.as_deref()
    }

    /// SHA-256 of the challenged request's body (all zeros when no body is bound).
    pub fn body_sha256(&self) -> &[u8; 32] {
        &self.body_sha256
    }

    /// For a browser, the request itself; `None` for API clients, which retry themselves.
    pub fn stashed(&self) -> Option<&StashedRequest> {
        self.stashed.as_ref()
    }

    /// For a record of a completed challenge waiting to be resumed, what it keeps of
    /// Authsignal's validation of its token.
    pub fn verified(&self) -> Option<&Verification> {
        self.verified.as_deref()
    }

    /// The bytes the record takes in memory beyond its fixed size: what a store's byte
    /// bound counts. Every part that grows with the request or with Authsignal's answer
    /// counts: the ids and path, the stashed body, and the [`Verification`] that a
    /// [`RecordKind::Resume`](super::RecordKind::Resume) record carries (its box and its
    /// strings).
    pub fn held_bytes(&self) -> usize {
        let text = |text: &Option<String>| text.as_ref().map_or(0, String::len);
        let stashed = self.stashed.as_ref().map_or(0, |stashed| {
            stashed.body.len() + text(&stashed.content_type)
        });
        let verified = self.verified.as_deref().map_or(0, |verified| {
            std::mem::size_of::<Verification>()
                + verified.idempotency_key.len()
                + text(&verified.verification_method)
        });
        self.user_id.len()
            + self.action.len()
            + self.path_and_query.len()
            + text(&self.media_type)
            + text(&self.content_encoding)
            + stashed
            + verified
    }
}

impl std::fmt::Debug for PendingChallenge {
    // The body may hold anything the user typed: it stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingChallenge")
            .field("user_id", &self.user_id)
            .field("action", &self.action)
            .field("method", &self.method)
            .field("path_and_query", &self.path_and_query)
            .field("media_type", &self.media_type)
            .field("content_encoding", &self.content_encoding)
            .field("stashed", &self.stashed)
            .field("verified", &self.verified)
            .finish_non_exhaustive()
    }
}

/// A browser request kept to be replayed after the pre-built UI.
#[derive(Clone, PartialEq, Eq)]
pub struct StashedRequest {
    body: Bytes,
    content_type: Option<String>,
}

impl StashedRequest {
    /// The request's `body` as it was sent, and its `Content-Type`, if any.
    pub fn new(body: impl Into<Bytes>, content_type: Option<String>) -> Self {
        Self {
            body: body.into(),
            content_type,
        }
    }

    /// The body as it was sent.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// Its `Content-Type`, if any.
    pub fn content_type(&self) -> Option<&str> {
        self.content_type.as_deref()
    }
}

impl std::fmt::Debug for StashedRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StashedRequest")
            .field("body_len", &self.body.len())
            .field("content_type", &self.content_type)
            .finish()
    }
}

/// What a resume record keeps of Authsignal's validation of the completed challenge's
/// token: what the handler's proof reports beyond the record itself. The rest of the
/// answer is implied by the record existing at all (the token was valid, the challenge
/// succeeded, for the record's user and action) or not kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    idempotency_key: String,
    verification_method: Option<String>,
    reviewed: bool,
}

impl Verification {
    /// A validation of the tracked action `idempotency_key`, with no verification method.
    pub fn new(idempotency_key: impl Into<String>) -> Self {
        Self {
            idempotency_key: idempotency_key.into(),
            verification_method: None,
            reviewed: false,
        }
    }

    /// Not a challenge but a manual review: Authsignal reported the action
    /// `idempotency_key` approved by a reviewer (`REVIEW_SUCCEEDED`).
    ///
    /// ```
    /// use axum_authsignal::store::Verification;
    /// let approved = Verification::reviewed("0b6c…");
    /// assert!(approved.is_review());
    /// assert!(!Verification::new("0b6c…").is_review());
    /// ```
    pub fn reviewed(idempotency_key: impl Into<String>) -> Self {
        Self {
            reviewed: true,
            ..Self::new(idempotency_key)
        }
    }

    /// The validation with how the user was verified, as Authsignal names it
    /// (`AUTHENTICATOR_APP`, `PASSKEY`, …).
    #[must_use]
    pub fn with_verification_method(mut self, method: impl Into<String>) -> Self {
        self.verification_method = Some(method.into());
        self
    }

    /// The idempotency key of the tracked action.
    pub fn idempotency_key(&self) -> &str {
        &self.idempotency_key
    }

    /// How the user was verified, as Authsignal names it, when it said.
    pub fn verification_method(&self) -> Option<&str> {
        self.verification_method.as_deref()
    }

    /// Whether a reviewer approved the action ([`reviewed`](Self::reviewed)), rather than
    /// the user completing a challenge.
    pub fn is_review(&self) -> bool {
        self.reviewed
    }
}

/// The largest encoded record: a stashed body of the gate's default 64 KiB limit fits many
/// times over; a route whose limit lets a larger body through gets 413 on a browser
/// challenge rather than a record no store may want.
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;

/// The bytes of a record cannot be one (another version, truncated, oversized, corrupt).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("undecodable pending-challenge record: {0}")]
pub struct DecodeRecordError(&'static str);

impl PendingChallenge {
    /// The version of the bytes [`encode`](Self::encode) writes, their first byte.
    /// [`decode`](Self::decode) refuses any other: a record written by another version of
    /// this crate is not read, and the gate fails closed on it (a 503; the take removed
    /// it, so its token is spent).
    ///
    /// Version 1 kept the Authsignal client's answer as JSON; version 2 keeps a
    /// [`Verification`] of its own; version 3 adds to it whether a review approved the
    /// action ([`Verification::is_review`]).
    pub const FORMAT_VERSION: u8 = 3;

    /// The record as bytes, for a store outside the process: the version byte, then each
    /// field in a fixed order, strings and bodies prefixed by their length (4 bytes, little
    /// endian), optional parts by a flag byte. `None` when it would exceed
    /// [`MAX_RECORD_BYTES`].
    ///
    /// ```
    /// use axum_authsignal::store::PendingChallenge;
    /// let record = PendingChallenge::challenge("alice", "withdraw", http::Method::POST, "/withdraw")
    ///     .with_body(Some("application/json".into()), None, [0; 32]);
    /// let bytes = record.encode().unwrap();
    /// assert_eq!(bytes[0], PendingChallenge::FORMAT_VERSION);
    /// assert_eq!(PendingChallenge::decode(&bytes).unwrap(), record);
    /// ```
    pub fn encode(&self) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(64 + self.held_bytes());
        out.push(Self::FORMAT_VERSION);
        put_bytes(&mut out, self.user_id.as_bytes());
        put_bytes(&mut out, self.action.as_bytes());
        put_bytes(&mut out, self.method.as_str().as_bytes());
        put_bytes(&mut out, self.path_and_query.as_bytes());
        put_optional(&mut out, self.media_type.as_deref());
        put_optional(&mut out, self.content_encoding.as_deref());
        out.extend_from_slice(&self.body_sha256);
        match &self.stashed {
            None => out.push(0),
            Some(stashed) => {
                out.push(1);
                put_optional(&mut out, stashed.content_type.as_deref());
                put_bytes(&mut out, &stashed.body);
            }
        }
        match &self.verified {
            None => out.push(0),
            Some(verified) => {
                out.push(1);
                put_bytes(&mut out, verified.idempotency_key.as_bytes());
                put_optional(&mut out, verified.verification_method.as_deref());
                out.push(u8::from(verified.reviewed));
            }
        }
        (out.len() <= MAX_RECORD_BYTES).then_some(out)
    }

    /// The record back from [`encode`](Self::encode)'s bytes. Never panics: bytes that
    /// cannot be a record of [`FORMAT_VERSION`](Self::FORMAT_VERSION) are an error.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeRecordError> {
        if bytes.len() > MAX_RECORD_BYTES {
            return Err(DecodeRecordError("oversized"));
        }
        let mut reader = Reader(bytes);
        if reader.byte()? != Self::FORMAT_VERSION {
            return Err(DecodeRecordError("unknown version"));
        }
        let user_id = reader.text()?;
        let action = reader.text()?;
        let method =
            Method::from_bytes(reader.bytes()?).map_err(|_| DecodeRecordError("bad method"))?;
        let path_and_query = reader.text()?;
        let media_type = reader.optional_text()?;
        let content_encoding = reader.optional_text()?;
        let body_sha256 = reader
            .take(32)?
            .try_into()
            .map_err(|_| DecodeRecordError("bad hash"))?;
        let stashed = match reader.byte()? {
            0 => None,
            1 => Some(StashedRequest {
                content_type: reader.optional_text()?,
                body: Bytes::copy_from_slice(reader.bytes()?),
            }),
            _ => return Err(DecodeRecordError("bad stash flag")),
        };
        let verified = match reader.byte()? {
            0 => None,
            1 => Some(Box::new(Verification {
                idempotency_key: reader.text()?,
                verification_method: reader.optional_text()?,
                reviewed: match reader.byte()? {
                    0 => false,
                    1 => true,
                    _ => return Err(DecodeRecordError("bad review flag")),
                },
            })),
            _ => return Err(DecodeRecordError("bad validation flag")),
        };
        if !reader.0.is_empty() {
            return Err(DecodeRecordError("trailing bytes"));
        }
        Ok(Self {
            user_id,
            action,
            method,
            path_and_query,
            media_type,
            content_encoding,
            body_sha256,
            stashed,
            verified,
        })
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    // Lengths past u32 cannot occur: the whole record is bounded well below.
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(bytes);
}

fn put_optional(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        None => out.push(0),
        Some(text) => {
            out.push(1);
            put_bytes(out, text.as_bytes());
        }
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeRecordError> {
        if self.0.len() < n {
            return Err(DecodeRecordError("truncated"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn byte(&mut self) -> Result<u8, DecodeRecordError> {
        Ok(self.take(1)?[0])
    }

    fn bytes(&mut self) -> Result<&'a [u8], DecodeRecordError> {
        let len: [u8; 4] = self
            .take(4)?
            .try_into()
            .map_err(|_| DecodeRecordError("truncated"))?;
        self.take(u32::from_le_bytes(len) as usize)
    }

    fn text(&mut self) -> Result<String, DecodeRecordError> {
        let bytes = self.bytes()?;
        String::from_utf8(bytes.to_vec()).map_err(|_| DecodeRecordError("not UTF-8"))
    }

    fn optional_text(&mut self) -> Result<Option<String>, DecodeRecordError> {
        match self.byte()? {
            0 => Ok(None),
            1 => self.text().map(Some),
            _ => Err(DecodeRecordError("bad option flag")),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn record() -> PendingChallenge {
        PendingChallenge::challenge("user:1/é", "withdraw", Method::POST, "/withdraw?x=1")
            .with_body(
                Some("application/x-www-form-urlencoded".into()),
                Some("gzip".into()),
                [9; 32],
            )
    }

    #[test]
    fn records_round_trip() {
        let form = Some("application/x-www-form-urlencoded".to_owned());
        let records = [
            record(),
            record().with_stash(StashedRequest::new("amount=5000", form)),
            record().with_stash(StashedRequest::new(Bytes::new(), None)),
            record().into_resume(Verification::new("k")),
            record()
                .with_stash(StashedRequest::new(&b"\0\xff"[..], None))
                .into_resume(Verification::new("k").with_verification_method("PASSKEY")),
            record()
                .with_stash(StashedRequest::new("amount=5000", None))
                .into_resume(Verification::reviewed("k")),
            PendingChallenge::spent("", "", Method::GET, ""),
        ];
        for record in records {
            let bytes = record.encode().unwrap();
            assert_eq!(PendingChallenge::decode(&bytes).unwrap(), record);
        }
    }

    #[test]
    fn oversized_records_are_not_encoded() {
        let record = record().with_stash(StashedRequest::new(vec![b'a'; MAX_RECORD_BYTES], None));
        assert_eq!(record.encode(), None);
    }

    #[test]
    fn every_truncation_and_another_version_is_refused() {
        let bytes = record()
            .with_stash(StashedRequest::new("amount=5000", None))
            .into_resume(Verification::new("k").with_verification_method("SMS"))
            .encode()
            .unwrap();
        for end in 0..bytes.len() {
            assert!(PendingChallenge::decode(&bytes[..end]).is_err(), "{end}");
        }
        for version in [0, 1, PendingChallenge::FORMAT_VERSION + 1, u8::MAX] {
            let mut other = bytes.clone();
            other[0] = version;
            assert_eq!(
                PendingChallenge::decode(&other),
                Err(DecodeRecordError("unknown version"))
            );
        }
        let mut longer = bytes;
        longer.push(0);
        assert!(PendingChallenge::decode(&longer).is_err());
    }

    #[test]
    fn held_bytes_count_the_verification() {
        let plain = record();
        let resumed =
            record().into_resume(Verification::new("key").with_verification_method("SMS"));
        assert_eq!(
            resumed.held_bytes() - plain.held_bytes(),
            std::mem::size_of::<Verification>() + "key".len() + "SMS".len()
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = PendingChallenge::decode(&bytes);
        }
    }
}
