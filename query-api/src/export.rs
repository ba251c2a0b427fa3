//! Exports: a tenant's signed records as JSON lines (`audit_integrity::export`),
//! in chain order, for `auditctl verify` or any other offline check.
//!
//! Lines carry the JWS and the envelope read from its own payload, nothing else; the
//! records stay tokenized (an export reveals no personal data, so it is not an access
//! to the vault). Lines are produced on the blocking pool in chunks and streamed, so
//! memory stays bounded by a chunk whatever the tenant's size. A record whose payload
//! cannot be read is still exported, with empty envelope fields, so the check names
//! it instead of the export hiding it.

use audit_integrity::CompactJws;
use audit_integrity::export::ExportLine;
use axum::body::Bytes;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::QueryError;
use crate::search::{Export, Stored};

/// Records per streamed chunk.
const CHUNK: usize = 256;

/// A running export: how many lines will come, and the lines.
pub struct ExportStream {
    /// Lines in the export.
    pub count: usize,
    /// Chunks of lines; an error ends the stream early (the client sees a broken body).
    pub chunks: mpsc::Receiver<Result<Bytes, std::io::Error>>,
}

/// Streams `export` from a blocking task.
pub fn stream(export: Export) -> ExportStream {
    let count = export.records.len();
    let (sender, chunks) = mpsc::channel(4);
    tokio::task::spawn_blocking(move || {
        for records in export.records.chunks(CHUNK) {
            let chunk = lines(&export, records).map_err(|error| std::io::Error::other(error.to_string()));
            let failed = chunk.is_err();
            if sender.blocking_send(chunk).is_err() || failed {
                return;
            }
        }
    });
    ExportStream { count, chunks }
}

fn lines(export: &Export, records: &[Stored]) -> Result<Bytes, QueryError> {
    let mut out = Vec::with_capacity(records.len() * 1_200);
    for stored in records {
        let jws = export.jws(stored)?;
        serde_json::to_writer(&mut out, &line(jws, stored.sequence))
            .map_err(|error| QueryError::Task(error.to_string()))?;
        out.push(b'\n');
    }
    Ok(Bytes::from(out))
}

fn line(jws: String, sequence: u64) -> ExportLine {
    let payload: Option<Value> =
        CompactJws::parse(&jws).ok().and_then(|parsed| serde_json::from_slice(&parsed.payload).ok());
    let field = |name: &str| payload.as_ref().and_then(|payload| payload.get(name).cloned());
    ExportLine {
        tenant_id: field("tenantId").and_then(|value| value.as_str().map(str::to_owned)).unwrap_or_default(),
        id: field("id").and_then(|value| value.as_str().map(str::to_owned)).unwrap_or_default(),
        created: field("created").and_then(|value| value.as_i64()).unwrap_or_default(),
        sequence: sequence as i64,
        jws,
        record: None,
    }
}
