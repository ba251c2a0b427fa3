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
    /// 1 while records wait and the group's committed offsets do not move.
    pub stalled: prometheus::IntGauge,
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
            stalled: prometheus::IntGauge::with_opts(opts(
                "stalled",
                "1 while input records wait and the group's committed offsets do not move",
            ))?,
        };
        registry.register(Box::new(metrics.records_consumed.clone()))?;
        registry.register(Box::new(metrics.records_produced.clone()))?;
        registry.register(Box::new(metrics.records_rejected.clone()))?;
        registry.register(Box::new(metrics.records_skipped.clone()))?;
        registry.register(Box::new(metrics.batch_duration.clone()))?;
        registry.register(Box::new(metrics.consumer_lag.clone()))?;
        registry.register(Box::new(metrics.batch_retries.clone()))?;
        registry.register(Box::new(metrics.stalled.clone()))?;
        Ok(metrics)
    }
}

/// Request counters and latency of an HTTP service: `<service>_requests_total{endpoint,
/// outcome}` (outcome `2xx`/`4xx`/`5xx`) and `<service>_request_duration_seconds{endpoint}`.
#[derive(Clone)]
pub struct RequestMetrics {
    requests: IntCounterVec,
    duration: prometheus::HistogramVec,
}

impl RequestMetrics {
    /// Registers `service`'s request metrics in `registry`.
    pub fn register(service: &str, registry: &Registry) -> Result<RequestMetrics, prometheus::Error> {
        let requests = IntCounterVec::new(
            Opts::new(format!("{service}_requests_total"), "API requests by endpoint and outcome class"),
            &["endpoint", "outcome"],
        )?;
        let buckets = vec![0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0, 5.0];
        let duration = prometheus::HistogramVec::new(
            HistogramOpts::new(format!("{service}_request_duration_seconds"), "API request latency")
                .buckets(buckets),
            &["endpoint"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        Ok(RequestMetrics { requests, duration })
    }

    /// One finished request to `endpoint`.
    pub fn request(&self, endpoint: &'static str, status: u16, seconds: f64) {
        let outcome = match status {
            200..=299 => "2xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        self.requests.with_label_values(&[endpoint, outcome]).inc();
        self.duration.with_label_values(&[endpoint]).observe(seconds);
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
