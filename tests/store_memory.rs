//! The store conformance suite (`tests/store_suite/`) against `MemoryStore`: the
//! reference that every shared store must behave like.

mod store_suite;

use std::sync::Arc;

use axum_authsignal::store::{MemoryStore, PendingChallengeStore};
use store_suite::{Instances, Subject};

/// Every instance is one `MemoryStore`, shared (as within one process).
struct Memory;

impl Subject for Memory {
    async fn open(&self, per_user: usize, instances: usize) -> Instances {
        let store: Arc<dyn PendingChallengeStore> =
            Arc::new(MemoryStore::builder().per_user(per_user).build());
        vec![store; instances]
    }
}

store_conformance!(Some(Memory));
