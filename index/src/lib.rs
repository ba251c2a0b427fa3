//! The audit record index as the indexer writes it and the query-api reads it.
//!
//! Both sides build on these definitions only, so a field or term the indexer writes
//! is exactly the one the query-api looks up.
//!
//! # Layout
//! - [`schema`]: the fields; every attribute as a `path=value` keyword.
//! - [`document`]: a signed record as a document, from its signed payload (pure).
//! - [`buckets`]: tenant-scoped time buckets of `created`, and how a time range is
//!   covered by them.
//! - [`query`]: a search condition ([`query::Node`]) and its tenant-scoped Tantivy
//!   query; time ranges read through the buckets.
//! - [`search`]: one search over a set of shards, ordered by a stable key, with its
//!   exact total: what a leaf runs.
//! - [`leaf`]: the indexers' leaf API on the wire and the shard ownership claims the
//!   query-api routes by.
//! - [`read`]: the shard directories and every record they hold (tests, checks).

pub mod buckets;
pub mod document;
pub mod leaf;
pub mod query;
pub mod read;
pub mod schema;
pub mod search;

use std::path::PathBuf;

/// Reading a directory of shards failed.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// The directory could not be listed.
    #[error("cannot read index directory {path}: {source}")]
    Io {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The condition cannot run.
    #[error(transparent)]
    Condition(#[from] query::ConditionError),
    /// Tantivy failed on a shard.
    #[error("shard {partition}: {source}")]
    Index {
        /// The shard's partition.
        partition: i32,
        /// Tantivy's error.
        source: tantivy::TantivyError,
    },
}
