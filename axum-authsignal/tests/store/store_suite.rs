//! One test per check of the store conformance suite (`axum_authsignal::store::suite`,
//! feature `store-suite`), so that each behaviour passes or fails on its own: the same
//! public suite a store written elsewhere calls, run here against `MemoryStore`
//! (`memory.rs`), `RedisStore` on one server (`on_redis.rs`) and on Redis Cluster
//! (`on_redis_cluster.rs`).

/// One test per check of the suite, for the subject `$subject` (an expression of type
/// `Option<impl Subject>`, `None` to skip).
#[macro_export]
macro_rules! store_conformance {
    ($subject:expr) => {
        $crate::store_conformance!(@tests $subject;
            a_record_is_taken_once,
            records_expire,
            a_record_is_found_only_under_its_user_and_kind,
            the_per_user_bound_refuses_that_user_only,
            the_per_user_bound_counts_every_kind,
            a_key_cannot_be_put_twice,
            concurrent_takes_yield_one_record,
            concurrent_puts_never_overshoot_the_user_bound,
            records_come_back_whole,
        );
    };
    (@tests $subject:expr; $($name:ident,)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some(subject) = $subject else { return };
                axum_authsignal::store::suite::$name(&subject).await;
            }
        )*
    };
}
