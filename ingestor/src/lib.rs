//! The ingestor: `audit.raw` (JSON) → validate, normalize → `audit.normalized` (Avro,
//! keyed by tenant); everything invalid → `audit.dlq` with its reason and original bytes.
//!
//! [`run`] is what `main` and the tests call; the stage logic lives in [`stage`] and
//! [`validate`] and is tested without Kafka.

pub mod config;
pub mod error;
pub mod limits;
pub mod metrics;
pub mod stage;
pub mod validate;

use std::sync::Arc;

use audit_core::{
    kafka::ensure_topics,
    ops::{self, Health, OpsState},
    stage::{StageParams, run_stage},
};
use audit_schemas::Codec;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::{Config, IngestorArgs};
pub use error::IngestorError;

/// Service name: metric prefix, log field, DLQ `dlq.stage`.
pub const SERVICE: &str = "ingestor";

/// Runs the ingestor until `shutdown`, serving `/metrics` and `/healthz` on `ops_listener`.
pub async fn run(
    config: Config,
    ops_listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), IngestorError> {
    let (registry, metrics) = metrics::register()?;
    let health = Health::default();
    let ops_shutdown = CancellationToken::new();
    let ops_state = OpsState { registry, health: health.clone() };
    let ops_server = tokio::spawn(ops::serve(ops_listener, ops_state, ops_shutdown.clone()));

    let topics = &config.topics;
    if config.create_topics {
        ensure_topics(&config.kafka, &[&topics.input, &topics.output, &topics.dlq]).await?;
    }
    let codec = Codec::published("NormalizedRecord")?;
    let stage = stage::IngestStage::new(config.limits.clone(), config.dedupe_window, codec);
    let params = StageParams {
        service: SERVICE,
        group_id: config.group_id.clone(),
        topics: config.topics.clone(),
        kafka: config.kafka.clone(),
        metrics: Arc::new(metrics),
        health,
    };
    let result = run_stage(stage, params, shutdown).await;
    // Metrics stay scrapable while the stage drains; the ops server stops last.
    ops_shutdown.cancel();
    let _ = ops_server.await;
    Ok(result?)
}
