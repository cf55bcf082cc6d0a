//! The Lua scripts of [`RedisStore`](super::RedisStore): what has to happen in one step on
//! the server so that no other instance can come between.
//!
//! Times are the server's own (`TIME`), in milliseconds, so that instances whose clocks
//! disagree still agree on when a challenge expires. Redis runs a script alone, so every
//! check in one holds until it has written.

use std::time::Duration;

use ::redis::Script;

use crate::store::{RecordKey, StoreError};

/// Puts a record of any kind if its key is free and its user is under the bound.
///
/// `KEYS[1]` the record, `KEYS[2]` the user's index: a sorted set whose members name each
/// of the user's records (`<kind>:<idempotency key>`, see [`index_member`]) scored by
/// expiry. `ARGV[1]` the encoded record, `ARGV[2]` its TTL in ms, `ARGV[3]` the per-user
/// bound, `ARGV[4]` the record's member in the index.
///
/// Replies `{0}` when the key is held, `{1, ms}` when the user is at the bound (`ms` until
/// their first record expires), `{2}` when the record was put. The index lives as long as
/// its last record: no key outlives the records it counts.
///
/// The checks only read (entries expired by `now` are not counted), so that the `SET` is
/// the script's first write: Redis refuses a script's first write past `maxmemory`, but
/// lets any write through once the script has written, and the store must be refused
/// as full rather than grow past the bound. Expired entries are dropped after the `SET`.
const PUT: &str = r"
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {0}
end
local after_now = string.format('(%d', now)
if redis.call('ZCOUNT', KEYS[2], after_now, '+inf') >= tonumber(ARGV[3]) then
  local first = redis.call('ZRANGEBYSCORE', KEYS[2], after_now, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  return {1, tonumber(first[2]) - now}
end
local expires = now + tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[1], 'PXAT', expires)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('ZADD', KEYS[2], expires, ARGV[4])
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[2], tonumber(last[2]))
return {2}
";

/// Takes a record of any kind and frees its place in the user's bound, in one step: of
/// any number of concurrent takes, one gets the record.
///
/// `KEYS[1]` the record, `KEYS[2]` the user's index; `ARGV[1]` the record's member in the
/// index. Replies the record, or nil. The index then lives as long as its last record
/// left; Redis deletes it with its last member.
const TAKE: &str = r"
local record = redis.call('GETDEL', KEYS[1])
if redis.call('ZREM', KEYS[2], ARGV[1]) == 1 then
  local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
  if last[2] then
    redis.call('PEXPIREAT', KEYS[2], tonumber(last[2]))
  end
end
return record
";

/// Both scripts, hashed once (they are sent by SHA-1, and loaded when Redis lacks them).
#[derive(Debug)]
pub(super) struct Scripts {
    pub(super) put: Script,
    pub(super) take: Script,
}

impl Scripts {
    pub(super) fn new() -> Self {
        Self {
            put: Script::new(PUT),
            take: Script::new(TAKE),
        }
    }
}

/// The member that names the record under `key` in its user's index: its kind and its
/// idempotency key, so that records of several kinds for one action count apart.
pub(super) fn index_member(key: &RecordKey) -> String {
    format!("{}:{}", key.kind.as_str(), key.idempotency_key)
}

/// What [`PUT`]'s reply means.
pub(super) fn put_outcome(reply: &[i64]) -> Result<(), StoreError> {
    match reply {
        [2] => Ok(()),
        [0] => Err(StoreError::Duplicate),
        [1, ms] => Err(StoreError::UserLimit {
            retry_after: Duration::from_millis(u64::try_from(*ms).unwrap_or(0)),
        }),
        _ => Err(StoreError::Backend(format!(
            "unexpected reply from the put script: {reply:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::RecordKind;

    #[test]
    fn index_members_name_the_kind_and_the_key() {
        let member = |kind| index_member(&RecordKey::new(kind, "alice", "k:1"));
        assert_eq!(member(RecordKind::Challenge), "challenge:k:1");
        assert_eq!(member(RecordKind::Resume), "resume:k:1");
        assert_eq!(member(RecordKind::Spent), "spent:k:1");
    }

    #[test]
    fn put_replies_are_read_and_anything_else_is_a_backend_error() {
        assert_eq!(put_outcome(&[2]), Ok(()));
        assert_eq!(put_outcome(&[0]), Err(StoreError::Duplicate));
        assert_eq!(
            put_outcome(&[1, 1500]),
            Err(StoreError::UserLimit {
                retry_after: Duration::from_millis(1500)
            })
        );
        for odd in [&[][..], &[3], &[1], &[2, 2]] {
            assert!(matches!(put_outcome(odd), Err(StoreError::Backend(_))));
        }
    }
}
