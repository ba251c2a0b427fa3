//! The tokenizer's one error type, named for what stopped it.

use audit_runtime::RuntimeError;

/// What can stop the tokenizer.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    /// A setting is invalid.
    #[error("invalid setting {name}: {reason}")]
    Config {
        /// Flag name.
        name: &'static str,
        /// What is wrong.
        reason: String,
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
