//! The last backup as Prometheus metrics, in a text file that node_exporter's textfile
//! collector serves: when it finished, how long it took, how large it is. An alert on
//! the timestamp's age catches backups that stopped running.

use std::path::Path;

use anyhow::Context;
use prometheus::{Encoder, Gauge, Registry, TextEncoder};

use crate::manifest::Manifest;

/// Writes the metrics of `manifest`'s backup to `path` (through a rename, so the
/// collector never reads half a file).
pub fn write(path: &Path, manifest: &Manifest) -> anyhow::Result<()> {
    let registry = Registry::new();
    let finished = chrono::DateTime::parse_from_rfc3339(&manifest.created).context("the manifest's time")?;
    let gauges = [
        (
            "auditctl_backup_last_success_timestamp_seconds",
            "When the last backup finished",
            finished.timestamp() as f64,
        ),
        ("auditctl_backup_last_duration_seconds", "How long the last backup took", manifest.seconds),
        ("auditctl_backup_last_size_bytes", "Bytes in the last backup", manifest.bytes() as f64),
    ];
    for (name, help, value) in gauges {
        let gauge = Gauge::new(name, help)?;
        gauge.set(value);
        registry.register(Box::new(gauge))?;
    }
    let mut text = Vec::new();
    TextEncoder::new().encode(&registry.gather(), &mut text)?;
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, text).with_context(|| format!("writing {}", temporary.display()))?;
    std::fs::rename(&temporary, path).with_context(|| format!("writing {}", path.display()))
}
