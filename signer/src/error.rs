//! The signer's one error type, named for what stopped it.

use audit_integrity::KeyError;
use audit_runtime::RuntimeError;

/// What can stop the signer.
#[derive(Debug, thiserror::Error)]
pub enum SignerError {
    /// A setting is invalid.
    #[error("invalid setting {name}: {reason}")]
    Config {
        /// Flag name.
        name: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The input, output and checkpoint topics are not co-partitioned.
    #[error("topics are not co-partitioned: {counts}")]
    PartitionMismatch {
        /// Each topic with its partition count.
        counts: String,
    },
    /// The signing keys are unusable.
    #[error(transparent)]
    Keys(#[from] KeyError),
    /// Reading a partition's signed log back failed; the batch is retried.
    #[error("cannot recover partition {partition}: {detail}")]
    Recovery {
        /// The partition.
        partition: i32,
        /// What failed.
        detail: String,
    },
    /// Kafka or the stage runtime failed.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// The schemas could not be loaded.
    #[error(transparent)]
    Schema(#[from] audit_schemas::CodecError),
    /// Metrics could not be registered.
    #[error("metrics registration failed: {0}")]
    Metrics(#[from] prometheus::Error),
}
