//! The vault's metrics: `vault_requests_total{endpoint,outcome}`,
//! `vault_request_duration_seconds{endpoint}`, `vault_values_total{operation}`
//! (counted per batch), plus process metrics. Labels are fixed sets: never a tenant,
//! token or value.

use audit_core::metrics::service_registry;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

use crate::VaultError;

/// Every vault metric.
#[derive(Clone)]
pub struct VaultMetrics {
    requests: IntCounterVec,
    duration: HistogramVec,
    values: IntCounterVec,
}

impl VaultMetrics {
    /// Registers the vault's metrics in a fresh service registry.
    pub fn register() -> Result<(Registry, VaultMetrics), VaultError> {
        let registry = service_registry(crate::SERVICE)?;
        let requests = IntCounterVec::new(
            Opts::new("vault_requests_total", "API requests by endpoint and outcome class"),
            &["endpoint", "outcome"],
        )?;
        let buckets = vec![0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0];
        let duration = HistogramVec::new(
            HistogramOpts::new("vault_request_duration_seconds", "API request latency").buckets(buckets),
            &["endpoint"],
        )?;
        let values = IntCounterVec::new(
            Opts::new("vault_values_total", "Values handled, by operation"),
            &["operation"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(values.clone()))?;
        Ok((registry, VaultMetrics { requests, duration, values }))
    }

    /// One finished request.
    pub fn request(&self, endpoint: &'static str, status: u16, seconds: f64) {
        let outcome = match status {
            200..=299 => "2xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        self.requests.with_label_values(&[endpoint, outcome]).inc();
        self.duration.with_label_values(&[endpoint]).observe(seconds);
    }

    /// `count` values went through `operation` (`tokenize`, `lookup`, `match`: tokens
    /// found, `reveal`, `erase`).
    pub fn values(&self, operation: &'static str, count: usize) {
        self.values.with_label_values(&[operation]).inc_by(count as u64);
    }
}
