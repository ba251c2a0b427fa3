//! The indexer's metrics: the stage runtime's set under the `indexer_` prefix
//! (`indexer_records_consumed_total`, `indexer_records_rejected_total{code}`,
//! `indexer_consumer_lag_records{topic,partition}`) plus indexing figures. Labels are
//! bounded: a partition number at most, never a tenant.

use audit_runtime::metrics::{StageMetrics, service_registry};
use prometheus::{
    Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

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
    /// Leaf searches answered, by outcome (`ok`, `error`).
    pub leaf_searches: IntCounterVec,
    /// Time to answer a leaf search.
    pub leaf_duration: Histogram,
    /// Shards owned whose rebuild has not reached their last owner's position.
    pub shards_rebuilding: IntGauge,
    /// Shards owned (served or being rebuilt).
    pub shards_owned: IntGauge,
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
        leaf_searches: IntCounterVec::new(
            Opts::new("leaf_searches_total", "leaf searches answered, by outcome").namespace(SERVICE),
            &["outcome"],
        )?,
        leaf_duration: Histogram::with_opts(
            HistogramOpts::new("leaf_search_duration_seconds", "time to answer a leaf search")
                .namespace(SERVICE)
                .buckets(prometheus::exponential_buckets(0.0002, 2.0, 14)?),
        )?,
        shards_rebuilding: IntGauge::with_opts(
            Opts::new("shards_rebuilding", "owned shards not yet at their last owner's position")
                .namespace(SERVICE),
        )?,
        shards_owned: IntGauge::with_opts(
            Opts::new("shards_owned", "shards of partitions this indexer holds").namespace(SERVICE),
        )?,
    };
    registry.register(Box::new(metrics.shards_owned.clone()))?;
    registry.register(Box::new(metrics.leaf_searches.clone()))?;
    registry.register(Box::new(metrics.leaf_duration.clone()))?;
    registry.register(Box::new(metrics.shards_rebuilding.clone()))?;
    registry.register(Box::new(metrics.indexed.clone()))?;
    registry.register(Box::new(metrics.commit_duration.clone()))?;
    registry.register(Box::new(metrics.shard_bytes.clone()))?;
    Ok((registry, metrics))
}
