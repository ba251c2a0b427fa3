//! The ingestor's metrics: the stage runtime's set under the `ingestor_` prefix
//! (`ingestor_records_consumed_total`, `ingestor_records_rejected_total{code}`,
//! `ingestor_records_skipped_total{reason="duplicate_event_id"}`, ...) plus process
//! metrics.

use audit_runtime::metrics::{StageMetrics, service_registry};
use prometheus::Registry;

use crate::{IngestorError, SERVICE};

/// The service registry and the stage metrics registered in it.
pub fn register() -> Result<(Registry, StageMetrics), IngestorError> {
    let registry = service_registry(SERVICE).map_err(IngestorError::Metrics)?;
    let metrics = StageMetrics::register(SERVICE, &registry).map_err(IngestorError::Metrics)?;
    Ok((registry, metrics))
}
