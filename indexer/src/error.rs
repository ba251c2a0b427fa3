//! The indexer's one error type, named for what stopped it.

use std::path::PathBuf;

use audit_runtime::RuntimeError;

/// What can stop the indexer.
#[derive(Debug, thiserror::Error)]
pub enum IndexerError {
    /// A setting is invalid.
    #[error("invalid setting {name}: {reason}")]
    Config {
        /// Flag name.
        name: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A shard directory could not be created or read.
    #[error("shard directory {path}: {source}")]
    Io {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Tantivy failed on a shard.
    #[error("index of partition {partition}: {source}")]
    Index {
        /// The shard's partition.
        partition: i32,
        /// Tantivy's error.
        source: tantivy::TantivyError,
    },
    /// A shard's commit does not say what it covers, or covers another partition.
    #[error("shard of partition {partition} is unusable ({detail}): reindex it")]
    CorruptShard {
        /// The shard's partition.
        partition: i32,
        /// What is wrong.
        detail: String,
    },
    /// Reading the signed topic back failed (reindex).
    #[error("cannot read the signed topic: {detail}")]
    TopicRead {
        /// What failed.
        detail: String,
    },
    /// Another writer (a running indexer) holds the shard.
    #[error("shard of partition {partition} is in use by another writer (is an indexer running?)")]
    ShardBusy {
        /// The shard's partition.
        partition: i32,
    },
    /// Kafka or the runtime failed.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// The schemas could not be loaded.
    #[error(transparent)]
    Schema(#[from] audit_schemas::CodecError),
    /// Metrics could not be registered.
    #[error("metrics registration failed: {0}")]
    Metrics(#[from] prometheus::Error),
}
