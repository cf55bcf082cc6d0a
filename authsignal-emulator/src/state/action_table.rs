//! The tracked actions, found by (user id, action code, idempotency key) in O(1).
//!
//! Actions are grouped by user because every question asked of them names a user:
//! one lookup, a user's list for `queryUserActions`, and dropping all of a user's at
//! once for `deleteUser`. Each user's records stay in a `Vec` in the order they were
//! tracked, so that listings keep that order explicitly instead of taking whatever order
//! a map iterates in; a map beside it points from (code, key) to a place in the `Vec`.

use std::collections::HashMap;

use super::ActionRecord;

/// Every tracked action of the tenant.
#[derive(Debug, Default)]
pub(crate) struct ActionTable {
    by_user: HashMap<String, UserActions>,
}

/// One user's actions.
#[derive(Debug, Default)]
struct UserActions {
    /// Oldest first. Never shrinks (only a whole user is deleted), so indexes stay good.
    records: Vec<ActionRecord>,
    /// (action code, idempotency key) to the first record with them in `records`.
    index: HashMap<(String, String), usize>,
}

impl UserActions {
    fn position(&self, code: &str, key: &str) -> Option<usize> {
        // The owned key costs two small allocations, not a scan.
        self.index.get(&(code.to_owned(), key.to_owned())).copied()
    }
}

impl ActionTable {
    pub(crate) fn get(&self, user_id: &str, code: &str, key: &str) -> Option<&ActionRecord> {
        let user = self.by_user.get(user_id)?;
        user.position(code, key).map(|at| &user.records[at])
    }

    pub(crate) fn get_mut(
        &mut self,
        user_id: &str,
        code: &str,
        key: &str,
    ) -> Option<&mut ActionRecord> {
        let user = self.by_user.get_mut(user_id)?;
        user.position(code, key).map(|at| &mut user.records[at])
    }

    /// Records an action as the newest of its user's.
    ///
    /// A record whose keys are already taken is still listed, but lookups keep finding
    /// the first one: that is what the emulator did when actions were one `Vec` searched
    /// from the front (a `track` reusing the key of an action made by `claimChallenge`).
    pub(crate) fn push(&mut self, record: ActionRecord) {
        let user = self.by_user.entry(record.user_id.clone()).or_default();
        let at = user.records.len();
        user.index
            .entry((record.code.clone(), record.idempotency_key.clone()))
            .or_insert(at);
        user.records.push(record);
    }

    /// A user's actions, oldest first.
    pub(crate) fn of_user(&self, user_id: &str) -> &[ActionRecord] {
        self.by_user
            .get(user_id)
            .map_or(&[], |user| user.records.as_slice())
    }

    /// Every action of every user, in no particular order across users.
    pub(crate) fn all(&self) -> impl Iterator<Item = &ActionRecord> {
        self.by_user.values().flat_map(|user| user.records.iter())
    }

    /// Forgets every action of a user.
    pub(crate) fn remove_user(&mut self, user_id: &str) {
        self.by_user.remove(user_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Timestamp;
    use authsignal::types::UserActionState;

    fn record(user_id: &str, code: &str, key: &str, state: UserActionState) -> ActionRecord {
        let now = Timestamp::parse_rfc3339("2024-01-01T00:00:00Z").expect("a valid date");
        ActionRecord::new(user_id, code, key, state, now)
    }

    #[test]
    fn finds_by_all_three_keys_and_lists_in_tracking_order() {
        let mut table = ActionTable::default();
        table.push(record("u", "b", "1", UserActionState::Allow));
        table.push(record("u", "a", "1", UserActionState::Block));
        table.push(record("v", "a", "1", UserActionState::ReviewRequired));
        assert_eq!(
            table.get("u", "a", "1").map(|a| a.state.clone()),
            Some(UserActionState::Block)
        );
        assert!(table.get("u", "a", "2").is_none());
        assert!(table.get("w", "a", "1").is_none());
        let codes: Vec<_> = table.of_user("u").iter().map(|a| a.code.as_str()).collect();
        assert_eq!(codes, ["b", "a"]);

        table.remove_user("u");
        assert!(table.of_user("u").is_empty());
        assert!(table.get("v", "a", "1").is_some());
    }

    #[test]
    fn a_repeated_key_is_listed_but_the_first_is_found() {
        let mut table = ActionTable::default();
        table.push(record("u", "a", "1", UserActionState::ChallengeRequired));
        table.push(record("u", "a", "1", UserActionState::Allow));
        assert_eq!(table.of_user("u").len(), 2);
        if let Some(action) = table.get_mut("u", "a", "1") {
            action.failed_attempts = 3;
        }
        assert_eq!(table.of_user("u")[0].failed_attempts, 3);
        assert_eq!(
            table.get("u", "a", "1").map(|a| a.state.clone()),
            Some(UserActionState::ChallengeRequired)
        );
    }
}
