//! Prometheus metrics of the stage runtime.
//!
//! Names are `<service>_<noun>_<unit|total>`; labels are bounded (reason codes,
//! topic, partition), never a tenant or user value. Counters move once per batch.
//! Each service owns its [`Registry`], so several services can share a process.

use prometheus::{
    Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry,
    process_collector::ProcessCollector,
};

/// Counters and gauges every stage exports.
#[derive(Clone)]
pub struct StageMetrics {
    /// Input records read.
    pub records_consumed: IntCounter,
    /// Output records acknowledged by the broker.
    pub records_produced: IntCounter,
    /// Inputs sent to the DLQ, by reason code.
    pub records_rejected: IntCounterVec,
    /// Inputs that needed no output (e.g. duplicates), by reason.
    pub records_skipped: IntCounterVec,
    /// Time from a batch's first record to its offsets being stored.
    pub batch_duration: Histogram,
    /// Records between the committed position and the partition's end.
    pub consumer_lag: IntGaugeVec,
    /// Batches the stage asked to retry.
    pub batch_retries: IntCounter,
}

impl StageMetrics {
    /// Creates the metrics of `service` and registers them in `registry`.
    pub fn register(service: &str, registry: &Registry) -> Result<Self, prometheus::Error> {
        let opts = |name: &str, help: &str| Opts::new(name, help).namespace(service);
        let metrics = StageMetrics {
            records_consumed: IntCounter::with_opts(opts("records_consumed_total", "input records read"))?,
            records_produced: IntCounter::with_opts(opts(
                "records_produced_total",
                "output records acknowledged by the broker",
            ))?,
            records_rejected: IntCounterVec::new(
                opts("records_rejected_total", "inputs sent to the dead-letter topic"),
                &["code"],
            )?,
            records_skipped: IntCounterVec::new(
                opts("records_skipped_total", "inputs that needed no output"),
                &["reason"],
            )?,
            batch_duration: Histogram::with_opts(
                HistogramOpts::new("batch_duration_seconds", "time to process and deliver a batch")
                    .namespace(service)
                    .buckets(prometheus::exponential_buckets(0.001, 2.0, 14)?),
            )?,
            consumer_lag: IntGaugeVec::new(
                opts("consumer_lag_records", "records not yet consumed, per partition"),
                &["topic", "partition"],
            )?,
            batch_retries: IntCounter::with_opts(opts(
                "batch_retries_total",
                "batches retried after a transient failure",
            ))?,
        };
        registry.register(Box::new(metrics.records_consumed.clone()))?;
        registry.register(Box::new(metrics.records_produced.clone()))?;
        registry.register(Box::new(metrics.records_rejected.clone()))?;
        registry.register(Box::new(metrics.records_skipped.clone()))?;
        registry.register(Box::new(metrics.batch_duration.clone()))?;
        registry.register(Box::new(metrics.consumer_lag.clone()))?;
        registry.register(Box::new(metrics.batch_retries.clone()))?;
        Ok(metrics)
    }
}

/// A registry with the process collector (CPU, memory, file descriptors) of `service`.
pub fn service_registry(service: &str) -> Result<Registry, prometheus::Error> {
    let registry = Registry::new();
    registry.register(Box::new(ProcessCollector::new(std::process::id() as i32, service)))?;
    Ok(registry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_service_noun_unit() {
        let registry = Registry::new();
        let metrics = StageMetrics::register("ingestor", &registry).unwrap();
        metrics.records_rejected.with_label_values(&["invalid_json"]).inc_by(3);
        metrics.consumer_lag.with_label_values(&["audit.raw", "0"]).set(5);
        let names: Vec<String> = registry.gather().iter().map(|family| family.name().to_owned()).collect();
        assert!(names.contains(&"ingestor_records_rejected_total".to_owned()), "{names:?}");
        assert!(names.contains(&"ingestor_consumer_lag_records".to_owned()), "{names:?}");
    }
}
