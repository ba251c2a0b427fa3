//! The signer's metrics: the stage runtime's set under the `signer_` prefix
//! (`signer_records_produced_total`, `signer_records_skipped_total{reason}` with
//! `already_signed` and `duplicate`, ...) plus recovery and checkpoint figures (`signer_tree_checkpoints_total{outcome}`: the
//! tenants' signed checkpoints). No
//! label carries a tenant.

use audit_runtime::metrics::{StageMetrics, service_registry};
use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, Opts, Registry};

use crate::{SERVICE, SignerError};

/// What the signer measures beyond the stage runtime.
#[derive(Clone)]
pub struct SignerMetrics {
    /// Partition recoveries from the signed log.
    pub recoveries: IntCounter,
    /// Time to recover one partition.
    pub recovery_duration: Histogram,
    /// Signed records read back during recoveries.
    pub recovery_records: IntCounter,
    /// Records read back that did not continue their chain (a fork or gap in the log).
    pub chain_anomalies: IntCounter,
    /// Checkpoints written, by outcome.
    pub checkpoints: IntCounterVec,
    /// Signed checkpoints of tenants' trees written, by outcome.
    pub tree_checkpoints: IntCounterVec,
    /// Time to sign a batch (canonicalize, hash, sign).
    pub sign_duration: Histogram,
}

impl SignerMetrics {
    fn register(registry: &Registry) -> Result<SignerMetrics, prometheus::Error> {
        let opts = |name: &str, help: &str| Opts::new(name, help).namespace(SERVICE);
        let histogram = |name: &str, help: &str| {
            Histogram::with_opts(
                HistogramOpts::new(name, help)
                    .namespace(SERVICE)
                    .buckets(prometheus::exponential_buckets(0.001, 2.0, 14).expect("valid buckets")),
            )
        };
        let metrics = SignerMetrics {
            recoveries: IntCounter::with_opts(opts(
                "recoveries_total",
                "partitions recovered from the signed log",
            ))?,
            recovery_duration: histogram("recovery_duration_seconds", "time to recover one partition")?,
            recovery_records: IntCounter::with_opts(opts(
                "recovery_records_total",
                "signed records read back",
            ))?,
            chain_anomalies: IntCounter::with_opts(opts(
                "chain_anomalies_total",
                "signed records read back that do not continue their chain",
            ))?,
            checkpoints: IntCounterVec::new(opts("checkpoints_total", "checkpoints written"), &["outcome"])?,
            tree_checkpoints: IntCounterVec::new(
                opts("tree_checkpoints_total", "signed checkpoints of tenants' trees written"),
                &["outcome"],
            )?,
            sign_duration: histogram("sign_duration_seconds", "time to sign one batch")?,
        };
        registry.register(Box::new(metrics.recoveries.clone()))?;
        registry.register(Box::new(metrics.recovery_duration.clone()))?;
        registry.register(Box::new(metrics.recovery_records.clone()))?;
        registry.register(Box::new(metrics.chain_anomalies.clone()))?;
        registry.register(Box::new(metrics.checkpoints.clone()))?;
        registry.register(Box::new(metrics.tree_checkpoints.clone()))?;
        registry.register(Box::new(metrics.sign_duration.clone()))?;
        Ok(metrics)
    }
}

/// The service registry with the stage metrics and the signer's own.
pub fn register() -> Result<(Registry, StageMetrics, SignerMetrics), SignerError> {
    let registry = service_registry(SERVICE)?;
    let stage = StageMetrics::register(SERVICE, &registry)?;
    let signer = SignerMetrics::register(&registry)?;
    Ok((registry, stage, signer))
}
