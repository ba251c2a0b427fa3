//! The tokenizer's metrics: the stage runtime's set under the `tokenizer_` prefix
//! (`tokenizer_records_consumed_total`, `tokenizer_records_rejected_total{code}`,
//! `tokenizer_batch_retries_total` (vault unavailable), ...) plus process metrics.

use audit_runtime::metrics::{StageMetrics, service_registry};
use prometheus::Registry;

use crate::{SERVICE, TokenizerError};

/// The service registry and the stage metrics registered in it.
pub fn register() -> Result<(Registry, StageMetrics), TokenizerError> {
    let registry = service_registry(SERVICE)?;
    let metrics = StageMetrics::register(SERVICE, &registry)?;
    Ok((registry, metrics))
}
