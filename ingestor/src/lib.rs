//! The ingestor: `audit.raw` (JSON) → validate, normalize → `audit.normalized` (Avro,
//! keyed by tenant); everything invalid → `audit.dlq` with its reason and original bytes.
//!
//! [`run`] is what `main` and the tests call; the stage logic lives in `stage` and
//! `validate` and is tested without Kafka. [`normalize`] is the validation as a pure
//! function, for tools that make normalized records from raw events (benchmarks).

mod config;
mod error;
mod limits;
mod metrics;
mod stage;
mod validate;

use std::sync::Arc;

use audit_runtime::stage::run_service;
use audit_schemas::Codec;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::{Config, IngestorArgs};
pub use error::IngestorError;
pub use limits::Limits;
pub use validate::normalize;

/// Service name: metric prefix, log field, DLQ `dlq.stage`.
pub const SERVICE: &str = "ingestor";

/// Runs the ingestor until `shutdown`, serving `/metrics` and `/healthz` on `ops_listener`.
pub async fn run(
    config: Config,
    ops_listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), IngestorError> {
    let (registry, metrics) = metrics::register()?;
    let codec = Codec::published("NormalizedRecord")?;
    let stage = stage::IngestStage::new(config.limits.clone(), config.dedupe_window, codec);
    let params = config.stage.params(SERVICE, Arc::new(metrics));
    Ok(run_service(stage, params, (ops_listener, registry), shutdown).await?)
}
