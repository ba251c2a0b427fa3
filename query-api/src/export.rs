//! Exports: a tenant's signed records as JSON lines (`audit_integrity::export`),
//! in chain order, for `auditctl verify` or any other offline check.
//!
//! Lines carry the JWS and the envelope read from its own payload, nothing else; the
//! records stay tokenized (an export reveals no personal data, so it is not an access
//! to the vault). The export is read through the leaves window by window of
//! sequences, up to the tenant's highest sequence when it began (so its count holds
//! whatever arrives meanwhile), and streamed, so memory stays bounded by a window
//! whatever the tenant's size. A record whose payload cannot be read is still
//! exported, with empty envelope fields, so the check names it instead of the export
//! hiding it.

use audit_index::query::Node;
use audit_index::search::{Hit, SearchQuery, Within};
use audit_integrity::CompactJws;
use audit_integrity::export::ExportLine;
use axum::body::Bytes;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::QueryError;
use crate::fanout::Search;

/// Sequences read per leaf search.
const WINDOW: u64 = 1_000;

/// A running export: how many lines will come, and the lines.
pub struct ExportStream {
    /// Lines in the export.
    pub count: u64,
    /// Chunks of lines; an error ends the stream early (the client sees a broken body).
    pub chunks: mpsc::Receiver<Result<Bytes, std::io::Error>>,
}

/// Streams `tenant`'s records matching `node` through `search`.
pub async fn stream<S: Search + 'static>(
    search: S,
    tenant: String,
    node: Node,
) -> Result<ExportStream, QueryError> {
    let base = SearchQuery { head: true, ..SearchQuery::new(tenant, node) };
    let first = search.search(base.clone()).await?;
    let head = first.head.unwrap_or(0);
    let chunks = spawn_lines(search, base, (0, head.saturating_add(1)), None);
    Ok(ExportStream { count: first.total, chunks })
}

/// Streams the lines of the records of `base` with sequences in `[from, to)`, after
/// `prefix` (a bundle's header).
pub fn spawn_lines<S: Search + 'static>(
    search: S,
    base: SearchQuery,
    (mut from, end): (u64, u64),
    prefix: Option<Bytes>,
) -> mpsc::Receiver<Result<Bytes, std::io::Error>> {
    let (sender, chunks) = mpsc::channel(4);
    tokio::spawn(async move {
        if let Some(prefix) = prefix
            && sender.send(Ok(prefix)).await.is_err()
        {
            return;
        }
        while from < end {
            let to = from.saturating_add(WINDOW).min(end);
            let chunk = window(&search, &base, (from, to)).await;
            let failed = chunk.is_err();
            let chunk = chunk.map_err(|error| std::io::Error::other(error.to_string()));
            if sender.send(chunk).await.is_err() || failed {
                return;
            }
            from = to;
        }
    });
    chunks
}

/// The lines of the records with sequences in `[from, to)`, in chain order.
async fn window(
    search: &impl Search,
    base: &SearchQuery,
    (from, to): (u64, u64),
) -> Result<Bytes, QueryError> {
    let mut query = SearchQuery {
        within: Within::Sequences { from, to },
        limit: (to - from) as usize,
        records: true,
        head: false,
        ..base.clone()
    };
    let mut found = search.search(query.clone()).await?;
    if found.total > found.hits.len() as u64 {
        // More records than sequences: a forked chain. Every one is exported.
        query.limit = found.total as usize;
        found = search.search(query).await?;
    }
    let mut hits = found.hits;
    hits.sort_unstable_by_key(|hit| (hit.key.sequence, hit.key.partition, hit.key.created));
    tokio::task::spawn_blocking(move || lines(hits))
        .await
        .map_err(|error| QueryError::Task(error.to_string()))?
}

fn lines(hits: Vec<Hit>) -> Result<Bytes, QueryError> {
    let mut out = Vec::with_capacity(hits.len() * 1_200);
    for hit in hits {
        let jws = hit.jws.unwrap_or_default();
        serde_json::to_writer(&mut out, &line(jws, hit.key.sequence))
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
