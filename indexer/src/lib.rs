//! The indexer: `audit.signed` → Tantivy shards, one per input partition.

pub mod document;
pub mod error;
pub mod schema;
pub mod shard;

pub use error::IndexerError;
