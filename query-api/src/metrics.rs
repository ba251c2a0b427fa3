//! The query-api's metrics: `query_api_requests_total{endpoint,outcome}`,
//! `query_api_request_duration_seconds{endpoint}`, `query_api_records_total{integrity}`
//! (records returned, counted per page), `query_api_shards` (shards an indexer claimed),
//! `query_api_checkpoints_total{outcome}` (tenants' checkpoints read), plus process
//! metrics. Labels are fixed sets: never a tenant, filter or value.

use audit_runtime::metrics::{RequestMetrics, service_registry};
use prometheus::{IntCounterVec, IntGauge, Opts, Registry};

use crate::QueryError;
use serde_json::Value;

use crate::render::Integrity;

/// Every query-api metric.
#[derive(Clone)]
pub struct QueryMetrics {
    requests: RequestMetrics,
    records: IntCounterVec,
    /// Shards an indexer claimed.
    pub shards: IntGauge,
    /// Checkpoints read from the topic, by outcome.
    pub checkpoints: IntCounterVec,
}

impl QueryMetrics {
    /// Registers the query-api's metrics in a fresh service registry.
    pub fn register() -> Result<(Registry, QueryMetrics), QueryError> {
        let registry = service_registry(crate::SERVICE)?;
        let requests = RequestMetrics::register(crate::SERVICE, &registry)?;
        let records = IntCounterVec::new(
            Opts::new("query_api_records_total", "Records returned, by integrity status"),
            &["integrity"],
        )?;
        let shards = IntGauge::new("query_api_shards", "Index shards an indexer claimed")?;
        registry.register(Box::new(records.clone()))?;
        let checkpoints = IntCounterVec::new(
            Opts::new(
                "query_api_checkpoints_total",
                "Tenants' checkpoints read, by outcome (read, waiting for its key, fork, refused)",
            ),
            &["outcome"],
        )?;
        registry.register(Box::new(shards.clone()))?;
        registry.register(Box::new(checkpoints.clone()))?;
        Ok((registry, QueryMetrics { requests, records, shards, checkpoints }))
    }

    /// One finished request.
    pub fn request(&self, endpoint: &'static str, status: u16, seconds: f64) {
        self.requests.request(endpoint, status, seconds);
    }

    /// A page of records (SCIM resources) went out.
    pub fn records(&self, resources: &[Value]) {
        for integrity in [Integrity::Validated, Integrity::Tainted, Integrity::Unverified] {
            let status = integrity.as_str();
            let count = resources.iter().filter(|resource| resource["integrityStatus"] == status).count();
            if count > 0 {
                self.records.with_label_values(&[status]).inc_by(count as u64);
            }
        }
    }
}
