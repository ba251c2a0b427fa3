//! Why the ingestor stopped.

use audit_runtime::RuntimeError;
use audit_schemas::CodecError;

/// What can stop the ingestor.
#[derive(Debug, thiserror::Error)]
pub enum IngestorError {
    /// A setting is invalid or the Kafka runtime failed.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// The record schema could not be loaded.
    #[error("record schema unavailable: {0}")]
    Schema(#[from] CodecError),
    /// Metrics could not be registered.
    #[error("metrics registration failed: {0}")]
    Metrics(prometheus::Error),
}
