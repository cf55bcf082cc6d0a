//! The store conformance suite (`store::suite`) against `MemoryStore`: the
//! reference that every shared store must behave like.

use std::sync::Arc;

use axum_authsignal::store::suite::{Instances, Subject};
use axum_authsignal::store::{MemoryStore, PendingChallengeStore};

/// Every instance is one `MemoryStore`, shared (as within one process).
struct Memory;

impl Subject for Memory {
    async fn open(&self, per_user: usize, instances: usize) -> Instances {
        let store: Arc<dyn PendingChallengeStore> =
            Arc::new(MemoryStore::builder().per_user(per_user).build());
        vec![store; instances]
    }

    /// Measured: a take split into a look-up and a removal lets a second thread through on
    /// about one key in two thousand.
    fn racing_keys(&self) -> usize {
        20_000
    }
}

store_conformance!(Some(Memory));
