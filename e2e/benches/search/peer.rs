//! The peer a team would otherwise build: PostgreSQL holding the same tokenized
//! records (the signed payloads) in a `jsonb` column, a GIN `jsonb_path_ops` index
//! on it and a B-tree on `(tenant, created)`.
//!
//! The server runs with its defaults but `work_mem`, raised for the session.
//!
//! A search is what the query-api answers in one request: the page (`ORDER BY
//! created ... LIMIT 100`, records fetched as text) and the exact total
//! (`count(*)`), run one after the other and timed together. Every statement is
//! prepared once with its values inline, so each runs its own custom plan.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use audit_index::search::Order as SortOrder;
use audit_integrity::CompactJws;
use futures::SinkExt;
use tokio_postgres::{Client, NoTls, Statement};

use crate::queries::{Query, time};
use audit_schemas::SignedRecord;

/// Rows per COPY chunk sent.
const COPY_CHUNK: usize = 5_000;

/// How long each step of the load took.
pub struct LoadTimes {
    /// COPY of every row.
    pub copy: Duration,
    /// GIN and B-tree builds.
    pub indexes: Duration,
    /// `VACUUM ANALYZE`.
    pub vacuum: Duration,
    /// Table plus indexes, bytes.
    pub bytes: i64,
}

/// A connection to a fresh database of the private server.
pub async fn connect() -> Client {
    let url = testkit::postgres::fresh_database().await;
    let (client, connection) = tokio_postgres::connect(&url, NoTls).await.expect("postgres connects");
    tokio::spawn(connection);
    // With the default 4 MB, the bitmap of a common value (Q1's ~150,000 failures) goes
    // lossy and tens of thousands of rows are rechecked; a team would raise it.
    client.batch_execute("SET work_mem = '64MB'").await.expect("work_mem set");
    client
}

/// Creates the table.
pub async fn create(client: &Client) {
    client
        .batch_execute(
            "CREATE TABLE records (tenant text NOT NULL, created timestamptz NOT NULL, id text NOT NULL, record jsonb NOT NULL);
             SET maintenance_work_mem = '2GB'",
        )
        .await
        .expect("table created");
}

/// Copies `records` in, in that order; how long it took.
pub async fn copy_chunk(client: &Client, records: &[SignedRecord]) -> Duration {
    let started = Instant::now();
    copy(client, records).await;
    started.elapsed()
}

/// Builds the indexes, vacuums and analyzes; `copy` is how long the copies took.
pub async fn finish(client: &Client, copy: Duration) -> LoadTimes {
    let started = Instant::now();
    client
        .batch_execute(
            "CREATE INDEX records_record ON records USING gin (record jsonb_path_ops);
             CREATE INDEX records_tenant_created ON records (tenant, created)",
        )
        .await
        .expect("indexes built");
    let indexes = started.elapsed();
    // What autovacuum would do soon after a bulk load anyway (statistics, visibility
    // map for index-only counts); done here so it does not run during the timings.
    let started = Instant::now();
    client.batch_execute("VACUUM ANALYZE records").await.expect("vacuumed and analyzed");
    let vacuum = started.elapsed();
    let size = client.query_one("SELECT pg_total_relation_size('records')", &[]).await.expect("size");
    LoadTimes { copy, indexes, vacuum, bytes: size.get(0) }
}

async fn copy(client: &Client, records: &[SignedRecord]) {
    let sink = client
        .copy_in("COPY records (tenant, created, id, record) FROM STDIN WITH (FORMAT csv)")
        .await
        .expect("copy starts");
    let mut sink = std::pin::pin!(sink);
    let mut buffer = Vec::with_capacity(COPY_CHUNK * 2_048);
    for (n, envelope) in records.iter().enumerate() {
        let payload = CompactJws::parse(&envelope.jws).expect("a signed record parses").payload;
        let json = String::from_utf8(payload).expect("a UTF-8 payload").replace('"', "\"\"");
        let line = format!("{},{},{},\"{json}\"\n", envelope.tenant_id, time(envelope.created), envelope.id);
        buffer.extend_from_slice(line.as_bytes());
        if (n + 1) % COPY_CHUNK == 0 {
            sink.send(VecDeque::from(std::mem::take(&mut buffer))).await.expect("copy chunk");
        }
    }
    if !buffer.is_empty() {
        sink.send(VecDeque::from(buffer)).await.expect("last copy chunk");
    }
    sink.as_mut().finish().await.expect("copy finishes");
}

/// One query prepared for one tenant: its page and its count.
pub struct Prepared {
    page: Statement,
    count: Statement,
}

/// Prepares `query` within `tenant`.
pub async fn prepare(client: &Client, tenant: &str, query: &Query) -> Prepared {
    let (page, count) = statements(tenant, query);
    Prepared {
        page: client.prepare(&page).await.expect("page prepares"),
        count: client.prepare(&count).await.expect("count prepares"),
    }
}

/// The page's and the count's SQL of `query` within `tenant`.
fn statements(tenant: &str, query: &Query) -> (String, String) {
    let scope = format!("tenant = '{tenant}' AND {}", query.sql);
    let order = if query.order == SortOrder::Descending { "DESC" } else { "ASC" };
    let page = format!("SELECT record::text FROM records WHERE {scope} ORDER BY created {order} LIMIT 100");
    (page, format!("SELECT count(*) FROM records WHERE {scope}"))
}

/// One search: the page, then the total. Returns the total.
pub async fn search(client: &Client, prepared: &Prepared) -> usize {
    let rows = client.query(&prepared.page, &[]).await.expect("page");
    let records: usize = rows.iter().map(|row| row.get::<_, &str>(0).len()).sum();
    std::hint::black_box(records);
    let total: i64 = client.query_one(&prepared.count, &[]).await.expect("count").get(0);
    total as usize
}

/// The plans PostgreSQL runs for the page and the count of `query`, with their times
/// and buffers, one line each (so a doubtful figure can be explained).
pub async fn plans(client: &Client, tenant: &str, query: &Query) -> Vec<String> {
    let (page, count) = statements(tenant, query);
    let mut lines = Vec::new();
    for sql in [page, count] {
        let explain = format!("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {sql}");
        let rows = client.query(&explain, &[]).await.expect("explain");
        let plan: Vec<String> = rows.iter().map(|row| row.get::<_, String>(0).trim().to_owned()).collect();
        lines.push(plan.join(" / "));
    }
    lines
}
