//! The connection [`RedisStore`](super::RedisStore) sends through: one server or a cluster.

use ::redis::aio::{ConnectionLike, ConnectionManager};
use ::redis::{Cmd, Pipeline, RedisFuture, Value};

/// A cheap handle, cloned for each operation: both kinds multiplex every caller over
/// their connections and reconnect by themselves.
#[derive(Clone)]
pub(super) enum Connection {
    /// One server (or a primary behind a proxy), through a [`ConnectionManager`].
    Single(ConnectionManager),
    /// Redis Cluster: commands follow their keys' slots, and `MOVED` / `ASK` redirects.
    #[cfg(feature = "redis-cluster")]
    Cluster(::redis::cluster_async::ClusterConnection),
}

impl Connection {
    pub(super) fn topology(&self) -> &'static str {
        match self {
            Connection::Single(_) => "single",
            #[cfg(feature = "redis-cluster")]
            Connection::Cluster(_) => "cluster",
        }
    }
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Connection::Single(connection) => connection.req_packed_command(cmd),
            #[cfg(feature = "redis-cluster")]
            Connection::Cluster(connection) => connection.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Connection::Single(connection) => connection.req_packed_commands(cmd, offset, count),
            #[cfg(feature = "redis-cluster")]
            Connection::Cluster(connection) => connection.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::Single(connection) => connection.get_db(),
            #[cfg(feature = "redis-cluster")]
            Connection::Cluster(connection) => connection.get_db(),
        }
    }
}
