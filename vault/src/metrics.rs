//! The vault's metrics: `vault_requests_total{endpoint,outcome}`,
//! `vault_request_duration_seconds{endpoint}`, `vault_values_total{operation}`
//! (counted per batch), plus process metrics. Labels are fixed sets: never a tenant,
//! token or value.

use audit_runtime::metrics::{RequestMetrics, service_registry};
use prometheus::{IntCounterVec, Opts, Registry};

use crate::VaultError;

/// Every vault metric.
#[derive(Clone)]
pub struct VaultMetrics {
    requests: RequestMetrics,
    values: IntCounterVec,
}

impl VaultMetrics {
    /// Registers the vault's metrics in a fresh service registry.
    pub fn register() -> Result<(Registry, VaultMetrics), VaultError> {
        let registry = service_registry(crate::SERVICE)?;
        let requests = RequestMetrics::register(crate::SERVICE, &registry)?;
        let values = IntCounterVec::new(
            Opts::new("vault_values_total", "Values handled, by operation"),
            &["operation"],
        )?;
        registry.register(Box::new(values.clone()))?;
        Ok((registry, VaultMetrics { requests, values }))
    }

    /// One finished request.
    pub fn request(&self, endpoint: &'static str, status: u16, seconds: f64) {
        self.requests.request(endpoint, status, seconds);
    }

    /// `count` values went through `operation` (`tokenize`, `lookup`, `match`: tokens
    /// found, `reveal`, `erase`).
    pub fn values(&self, operation: &'static str, count: usize) {
        self.values.with_label_values(&[operation]).inc_by(count as u64);
    }
}
