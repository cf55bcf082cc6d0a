//! Where [`RedisStore`](super::RedisStore) keeps a record: the names of its Redis keys.
//!
//! ```text
//! {prefix}{<tag>}:challenge:<idempotency key>    a pending challenge (string, PX TTL)
//! {prefix}{<tag>}:resume:<idempotency key>       a completed browser challenge
//! {prefix}{<tag>}:spent:<idempotency key>        a token the validator accepted
//! {prefix}{<tag>}:review:<key>.<request digest>  a request held for a manual review
//! {prefix}{<tag>}:records                        the user's records of every kind: a sorted
//!                                                set of `<kind>:<idempotency key>` scored
//!                                                by expiry, for the per-user bound
//! ```
//!
//! `<tag>` is the first 128 bits of SHA-256 of the user id, in hex, between braces: a Redis
//! Cluster hash tag. Every key of one user hashes to one slot, so that one script can read
//! and write a user's record and index on any cluster; and whatever the user id holds
//! (braces, colons, bytes of any kind), it cannot move a key to another slot or make two
//! users' keys meet. After the tag every part has a fixed spelling but the idempotency
//! key, which comes last: no two record keys can be spelled alike.

use sha2::{Digest, Sha256};

use crate::store::RecordKey;

/// Bytes of the user id's hash kept in the tag: 128 bits, beyond any chance collision.
const TAG_BYTES: usize = 16;

/// The key names of one store: its prefix, then the layout above.
#[derive(Debug, Clone)]
pub(super) struct KeyLayout {
    prefix: String,
}

/// Why a prefix cannot be used.
pub(super) const PREFIX_WITH_BRACE: &str =
    "the key prefix must not contain '{': Redis Cluster would read a hash tag in it";

impl KeyLayout {
    /// The layout under `prefix`; a prefix with `{` would take the hash tag's place.
    pub(super) fn new(prefix: String) -> Result<Self, &'static str> {
        if prefix.contains('{') {
            return Err(PREFIX_WITH_BRACE);
        }
        Ok(Self { prefix })
    }

    pub(super) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The key of the record under `key`.
    pub(super) fn record(&self, key: &RecordKey) -> Vec<u8> {
        let mut name = self.user_part(&key.user_id);
        name.push(b':');
        name.extend_from_slice(key.kind.as_str().as_bytes());
        name.push(b':');
        name.extend_from_slice(key.idempotency_key.as_bytes());
        name
    }

    /// The key of `user_id`'s index of records, of every kind.
    pub(super) fn index(&self, user_id: &str) -> Vec<u8> {
        let mut name = self.user_part(user_id);
        name.extend_from_slice(b":records");
        name
    }

    /// `{prefix}{<tag>}`.
    fn user_part(&self, user_id: &str) -> Vec<u8> {
        let hash = Sha256::digest(user_id.as_bytes());
        let mut name = Vec::with_capacity(self.prefix.len() + 2 * TAG_BYTES + 64);
        name.extend_from_slice(self.prefix.as_bytes());
        name.push(b'{');
        for byte in &hash[..TAG_BYTES] {
            name.extend_from_slice(format!("{byte:02x}").as_bytes());
        }
        name.push(b'}');
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::RecordKind;

    /// The hash tag as Redis Cluster reads it: between the first `{` and the first `}`
    /// after it, when that is not empty; else the whole key.
    fn hash_tag(key: &[u8]) -> &[u8] {
        if let Some(open) = key.iter().position(|&b| b == b'{')
            && let Some(len) = key[open + 1..].iter().position(|&b| b == b'}')
            && len > 0
        {
            return &key[open + 1..open + 1 + len];
        }
        key
    }

    #[test]
    fn every_key_of_a_user_shares_one_tag_whatever_the_user_id() {
        let layout = KeyLayout::new("app:".into()).unwrap();
        for user in ["alice", "{bob}", "}{", "a:b{c}d", "", "é{"] {
            let index = layout.index(user);
            let tag = hash_tag(&index).to_vec();
            assert_eq!(tag.len(), 2 * TAG_BYTES, "{user:?}");
            for kind in [RecordKind::Challenge, RecordKind::Resume, RecordKind::Spent] {
                let record = layout.record(&RecordKey::new(kind, user, "{k}:x"));
                assert!(record.starts_with(b"app:{"), "{user:?}");
                assert_eq!(hash_tag(&record), tag, "{user:?}");
            }
        }
    }

    #[test]
    fn users_and_kinds_get_their_own_keys() {
        let layout = KeyLayout::new("p:".into()).unwrap();
        let alice = layout.record(&RecordKey::new(RecordKind::Challenge, "alice", "k"));
        let bob = layout.record(&RecordKey::new(RecordKind::Challenge, "bob", "k"));
        let resume = layout.record(&RecordKey::new(RecordKind::Resume, "alice", "k"));
        assert_ne!(alice, bob);
        assert_ne!(alice, resume);
        assert_ne!(hash_tag(&alice), hash_tag(&bob));
        assert_ne!(layout.index("alice"), alice);
        assert_eq!(
            String::from_utf8(alice).unwrap(),
            "p:{2bd806c97f0e00af1a1fc3328fa763a9}:challenge:k"
        );
    }

    #[test]
    fn a_prefix_with_an_opening_brace_is_refused() {
        assert_eq!(
            KeyLayout::new("app{1}:".into()).unwrap_err(),
            PREFIX_WITH_BRACE
        );
        assert!(KeyLayout::new("app}:".into()).is_ok());
    }
}
