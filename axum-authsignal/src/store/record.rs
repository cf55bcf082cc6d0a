//! [`PendingChallenge`], and its bytes for stores that keep records outside the process.

use bytes::Bytes;
use http::Method;

use authsignal::types::ValidateChallengeResponse;

/// The request a challenge was issued for: everything the returned token is bound to.
#[derive(Clone, PartialEq)]
pub struct PendingChallenge {
    /// The user who was challenged.
    pub user_id: String,
    /// The action tracked.
    pub action: String,
    /// The challenged request's method.
    pub method: Method,
    /// The challenged request's path and query (without any token parameter).
    pub path_and_query: String,
    /// The challenged request's media type, normalised (`application/json` for
    /// `Application/JSON; charset=utf-8`); `None` when it had no `Content-Type`.
    pub media_type: Option<String>,
    /// The challenged request's `Content-Encoding`, normalised; `None` for identity.
    pub content_encoding: Option<String>,
    /// SHA-256 of the challenged request's body.
    pub body_sha256: [u8; 32],
    /// For a browser, the request itself, replayed when the user comes back so that they
    /// need not submit again. `None` for API clients, which retry themselves.
    pub stashed: Option<StashedRequest>,
    /// For a record of a completed challenge waiting to be resumed
    /// ([`RecordKind::Resume`](super::RecordKind::Resume)), Authsignal's validation of its
    /// token, for the handler's proof. Boxed: most records are challenges, which have none.
    pub verified: Option<Box<ValidateChallengeResponse>>,
}

impl PendingChallenge {
    /// The bytes the record takes in memory beyond its fixed size: what a store's byte
    /// bound counts. Every part that grows with the request or with Authsignal's answer
    /// counts: the ids and path, the stashed body, and Authsignal's validation that a
    /// [`RecordKind::Resume`](super::RecordKind::Resume) record carries (its box and its
    /// strings).
    pub fn held_bytes(&self) -> usize {
        let text = |text: &Option<String>| text.as_ref().map_or(0, String::len);
        let stashed = self.stashed.as_ref().map_or(0, |stashed| {
            stashed.body.len() + text(&stashed.content_type)
        });
        let verified = self.verified.as_deref().map_or(0, |verified| {
            std::mem::size_of::<ValidateChallengeResponse>()
                + text(&verified.state_updated_at)
                + text(&verified.user_id)
                + text(&verified.action)
                + text(&verified.idempotency_key)
                + text(&verified.veriff_session_id)
                + text(&verified.error)
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
            .field("verified", &self.verified.is_some())
            .finish_non_exhaustive()
    }
}

/// A browser request kept to be replayed after the pre-built UI.
#[derive(Clone, PartialEq, Eq)]
pub struct StashedRequest {
    /// The body as it was sent.
    pub body: Bytes,
    /// Its `Content-Type`, if any.
    pub content_type: Option<String>,
}

impl std::fmt::Debug for StashedRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StashedRequest")
            .field("body_len", &self.body.len())
            .field("content_type", &self.content_type)
            .finish()
    }
}

/// The largest encoded record: a stashed body of the gate's default 64 KiB limit fits many
/// times over; a route whose limit lets a larger body through gets 413 on a browser
/// challenge rather than a record no store may want.
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;

/// The encoding's version byte; a store that finds another refuses the record.
const VERSION: u8 = 1;

/// The bytes of a record cannot be one (another version, truncated, oversized, corrupt).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("undecodable pending-challenge record: {0}")]
pub struct DecodeRecordError(&'static str);

impl PendingChallenge {
    /// The record as bytes, for a store outside the process: a version byte, then each
    /// field length-prefixed. `None` when it would exceed [`MAX_RECORD_BYTES`].
    ///
    /// ```
    /// use axum_authsignal::store::PendingChallenge;
    /// let record = PendingChallenge {
    ///     user_id: "alice".into(),
    ///     action: "withdraw".into(),
    ///     method: http::Method::POST,
    ///     path_and_query: "/withdraw".into(),
    ///     media_type: Some("application/json".into()),
    ///     content_encoding: None,
    ///     body_sha256: [0; 32],
    ///     stashed: None,
    ///     verified: None,
    /// };
    /// let bytes = record.encode().unwrap();
    /// assert_eq!(PendingChallenge::decode(&bytes).unwrap(), record);
    /// ```
    pub fn encode(&self) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(64 + self.held_bytes());
        out.push(VERSION);
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
                put_bytes(&mut out, &serde_json::to_vec(verified).ok()?);
            }
        }
        (out.len() <= MAX_RECORD_BYTES).then_some(out)
    }

    /// The record back from [`encode`](Self::encode)'s bytes. Never panics: bytes that
    /// cannot be a record of this version are an error.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeRecordError> {
        if bytes.len() > MAX_RECORD_BYTES {
            return Err(DecodeRecordError("oversized"));
        }
        let mut reader = Reader(bytes);
        if reader.byte()? != VERSION {
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
            1 => Some(Box::new(
                serde_json::from_slice(reader.bytes()?)
                    .map_err(|_| DecodeRecordError("bad validation"))?,
            )),
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

    fn record(stashed: Option<StashedRequest>) -> PendingChallenge {
        PendingChallenge {
            user_id: "user:1/é".into(),
            action: "withdraw".into(),
            method: Method::POST,
            path_and_query: "/withdraw?x=1".into(),
            media_type: Some("application/x-www-form-urlencoded".into()),
            content_encoding: Some("gzip".into()),
            body_sha256: [9; 32],
            stashed,
            verified: None,
        }
    }

    #[test]
    fn records_round_trip() {
        for stashed in [
            None,
            Some(StashedRequest {
                body: Bytes::from_static(b"amount=5000"),
                content_type: Some("application/x-www-form-urlencoded".into()),
            }),
            Some(StashedRequest {
                body: Bytes::new(),
                content_type: None,
            }),
        ] {
            let record = record(stashed);
            let bytes = record.encode().unwrap();
            assert_eq!(PendingChallenge::decode(&bytes).unwrap(), record);
        }
        let mut resumed = record(None);
        resumed.verified = Some(Box::new(
            serde_json::from_value(serde_json::json!({
                "isValid": true, "state": "CHALLENGE_SUCCEEDED", "userId": "u",
                "action": "withdraw", "idempotencyKey": "k",
                "verificationMethod": "AUTHENTICATOR_APP"
            }))
            .unwrap(),
        ));
        let bytes = resumed.encode().unwrap();
        assert_eq!(PendingChallenge::decode(&bytes).unwrap(), resumed);
    }

    #[test]
    fn oversized_records_are_not_encoded() {
        let record = record(Some(StashedRequest {
            body: Bytes::from(vec![b'a'; MAX_RECORD_BYTES]),
            content_type: None,
        }));
        assert_eq!(record.encode(), None);
    }

    #[test]
    fn every_truncation_and_another_version_is_refused() {
        let bytes = record(Some(StashedRequest {
            body: Bytes::from_static(b"amount=5000"),
            content_type: None,
        }))
        .encode()
        .unwrap();
        for end in 0..bytes.len() {
            assert!(PendingChallenge::decode(&bytes[..end]).is_err(), "{end}");
        }
        let mut other = bytes.clone();
        other[0] = 2;
        assert_eq!(
            PendingChallenge::decode(&other),
            Err(DecodeRecordError("unknown version"))
        );
        let mut longer = bytes;
        longer.push(0);
        assert!(PendingChallenge::decode(&longer).is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = PendingChallenge::decode(&bytes);
        }
    }
}
