//! The indexers' leaf API on the wire, and the ownership claims that say which
//! indexer serves which shard.
//!
//! Each indexer serves searches of the shards it owns, which are the `audit.signed`
//! partitions its consumer group gave it. When it is given a partition it publishes a
//! [`Claim`] (keyed by partition, on a compacted topic); the query-api reads the
//! claims, asks each owner for its partitions, and gets back, per partition, whether
//! it is served. A claim can be stale (its indexer died, or the partition moved and
//! the new owner has not claimed it yet): the leaf then says the partition is not its
//! own, and the query-api names the shard as missing rather than count without it.

use serde::{Deserialize, Serialize};

use crate::search::{Found, SearchQuery};

/// Path of a leaf search.
pub const SEARCH_PATH: &str = "/v1/search";

/// The topic of ownership claims (compacted: the latest claim per partition).
pub const OWNERS_TOPIC: &str = "audit.index-owners";

/// A leaf search: the caller's query over the partitions it believes this leaf owns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeafRequest {
    /// The shards to search.
    pub partitions: Vec<i32>,
    /// What to search.
    pub query: SearchQuery,
}

/// A leaf's answer: each asked partition's state, and what the served ones hold. A
/// leaf that cannot serve every asked partition searches none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeafResponse {
    /// One entry per asked partition.
    pub shards: Vec<ShardState>,
    /// The search over the served ones.
    pub found: Found,
}

/// Whether one asked partition was searched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShardState {
    /// The partition.
    pub partition: i32,
    /// Its state on this leaf.
    pub serving: Serving,
}

/// A shard's state on a leaf.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "state")]
pub enum Serving {
    /// Searchable: it holds at least what the group had committed when this leaf
    /// was given the partition.
    Serving,
    /// Given to this leaf, which is reading where its last owner stopped.
    Opening,
    /// Given to this leaf, still reading `audit.signed` up to where its last owner was.
    Rebuilding {
        /// Next offset to index.
        indexed: i64,
        /// Offset the shard must reach to serve.
        target: i64,
    },
    /// Not this leaf's partition.
    NotOwned,
}

/// An indexer's claim of one partition's shard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Claim {
    /// The partition of `audit.signed`.
    pub partition: i32,
    /// Base URL of the owner's leaf API.
    pub leaf: String,
    /// When the owner was given the partition, milliseconds since the epoch: of two
    /// claims of a partition, the later one is its owner's (claims are written after
    /// the assignment, so they may reach the topic out of order).
    pub since_ms: i64,
}

impl Claim {
    /// The claim's Kafka key: its partition, so compaction keeps the latest owner.
    pub fn key(partition: i32) -> String {
        format!("shard-{partition:04}")
    }
}
