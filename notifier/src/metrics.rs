//! The notifier's metrics: the stage runtime's set under the `notifier_` prefix plus
//! deliveries. Labels are bounded (an outcome at most), never a tenant or a URL.

use std::sync::Arc;

use audit_runtime::metrics::{RequestMetrics, StageMetrics, service_registry};
use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry};

use crate::NotifierError;

/// Service name: metric prefix, log field, DLQ `dlq.stage`.
pub const SERVICE: &str = "notifier";

/// What the notifier measures beyond the stage runtime.
#[derive(Clone)]
pub struct NotifierMetrics {
    /// The stage runtime's metrics.
    pub stage: Arc<StageMetrics>,
    /// Deliveries queued (one per matching webhook and record).
    pub queued: IntCounter,
    /// Attempts by outcome: `delivered`, `retry`, `dead`, `gone`.
    pub attempts: IntCounterVec,
    /// Time from a delivery's first queueing to its success.
    pub latency: Histogram,
    /// Deliveries waiting for an attempt (the retry queue), in the whole database.
    pub pending: IntGauge,
    /// Deliveries in the dead letters, in the whole database.
    pub dead: IntGauge,
    /// Management API requests by endpoint and status.
    pub requests: Arc<RequestMetrics>,
}

/// The service registry and the notifier's metrics in it.
pub fn register() -> Result<(Registry, NotifierMetrics), NotifierError> {
    let registry = service_registry(SERVICE)?;
    let stage = Arc::new(StageMetrics::register(SERVICE, &registry)?);
    let requests = Arc::new(RequestMetrics::register(SERVICE, &registry)?);
    let metrics = NotifierMetrics {
        stage,
        requests,
        queued: IntCounter::with_opts(
            Opts::new("deliveries_queued_total", "deliveries queued").namespace(SERVICE),
        )?,
        attempts: IntCounterVec::new(
            Opts::new("delivery_attempts_total", "delivery attempts by outcome").namespace(SERVICE),
            &["outcome"],
        )?,
        latency: Histogram::with_opts(
            HistogramOpts::new("delivery_latency_seconds", "from queued to delivered")
                .namespace(SERVICE)
                .buckets(prometheus::exponential_buckets(0.005, 2.0, 16)?),
        )?,
        pending: IntGauge::with_opts(
            Opts::new("deliveries_pending", "deliveries waiting for an attempt").namespace(SERVICE),
        )?,
        dead: IntGauge::with_opts(
            Opts::new("dead_letters", "deliveries in the dead letters").namespace(SERVICE),
        )?,
    };
    registry.register(Box::new(metrics.pending.clone()))?;
    registry.register(Box::new(metrics.dead.clone()))?;
    registry.register(Box::new(metrics.queued.clone()))?;
    registry.register(Box::new(metrics.attempts.clone()))?;
    registry.register(Box::new(metrics.latency.clone()))?;
    Ok((registry, metrics))
}
