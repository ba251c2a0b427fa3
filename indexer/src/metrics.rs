//! The indexer's metrics: the stage runtime's set under the `indexer_` prefix
//! (`indexer_records_consumed_total`, `indexer_records_rejected_total{code}`,
//! `indexer_consumer_lag_records{topic,partition}`) plus indexing figures. Labels are
//! bounded: a partition number at most, never a tenant.

use audit_runtime::metrics::{StageMetrics, service_registry};
use prometheus::{Histogram, HistogramOpts, IntCounter, IntGaugeVec, Opts, Registry};

use crate::IndexerError;

/// Service name: metric prefix, log field, DLQ `dlq.stage`.
pub const SERVICE: &str = "indexer";

/// What the indexer measures beyond the stage runtime.
#[derive(Clone)]
pub struct IndexerMetrics {
    /// The stage runtime's metrics.
    pub stage: std::sync::Arc<StageMetrics>,
    /// Documents added (replays included).
    pub indexed: IntCounter,
    /// Time to commit the dirty shards.
    pub commit_duration: Histogram,
    /// Bytes on disk per shard.
    pub shard_bytes: IntGaugeVec,
}

/// The service registry and the indexer's metrics in it.
pub fn register() -> Result<(Registry, IndexerMetrics), IndexerError> {
    let registry = service_registry(SERVICE)?;
    let stage = std::sync::Arc::new(StageMetrics::register(SERVICE, &registry)?);
    let metrics = IndexerMetrics {
        stage,
        indexed: IntCounter::with_opts(
            Opts::new("records_indexed_total", "documents added").namespace(SERVICE),
        )?,
        commit_duration: Histogram::with_opts(
            HistogramOpts::new("commit_duration_seconds", "time to commit the dirty shards")
                .namespace(SERVICE)
                .buckets(prometheus::exponential_buckets(0.001, 2.0, 14)?),
        )?,
        shard_bytes: IntGaugeVec::new(
            Opts::new("shard_size_bytes", "bytes on disk per shard").namespace(SERVICE),
            &["partition"],
        )?,
    };
    registry.register(Box::new(metrics.indexed.clone()))?;
    registry.register(Box::new(metrics.commit_duration.clone()))?;
    registry.register(Box::new(metrics.shard_bytes.clone()))?;
    Ok((registry, metrics))
}
