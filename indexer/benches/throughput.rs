//! Indexer throughput against the stage runtime passing the same records through on
//! one embedded broker, and against a bare Tantivy add + commit loop over the same
//! documents; index bytes per record; freshness (produce to searchable) at half of the
//! peak rate (the slower of the indexer and the broker's pass-through).
//!
//! Input: 100,000 signed records (about 1 KB each) over 50 tenants, as the signer
//! publishes them.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use audit_runtime::config::KafkaConfig;
use audit_runtime::stage::{Delivery, Partitioning};
use audit_schemas::{Codec, SignedRecord};
use indexer::schema::IndexSchema;
use rdkafka::producer::FutureRecord;
use tantivy::collector::Count;
use tantivy::query::TermQuery;
use tantivy::schema::IndexRecordOption;
use tantivy::{Index, ReloadPolicy, Term};
use testkit::bench;
use tokio_util::sync::CancellationToken;

const RECORDS: usize = 100_000;
const TENANTS: usize = 50;

/// mimalloc, tuned: `audit-alloc` says why.
#[global_allocator]
static ALLOCATOR: audit_alloc::Tuned = audit_alloc::Tuned;

#[tokio::main]
async fn main() {
    let (broker, kafka, _storage) = bench::broker().await;
    let (_, messages) = testkit::records::signed_messages(RECORDS, TENANTS, "bench");
    let bytes: usize = messages.iter().map(|(_, payload)| payload.len()).sum();
    println!(
        "input: {RECORDS} signed records, {} bytes on average, {TENANTS} tenants, {} partitions",
        bytes / RECORDS,
        bench::PARTITIONS
    );
    let bare = bare_tantivy(&messages);
    let loaded = messages.clone().into_iter().map(|(key, payload)| (key.unwrap_or_default(), payload));
    bench::load(&kafka, "audit.signed", loaded).await;

    let route = bench::Route {
        input: "audit.signed",
        output: "bench.passthrough",
        partitioning: Partitioning::ByKey,
        delivery: Delivery::BeforeNextBatch,
    };
    let runtime = bench::timed(&kafka, route.output, RECORDS, |done, stop| {
        bench::passthrough(kafka.clone(), route, done, stop)
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("index");
    let indexed = bench::timed(&kafka, "bench.unused", RECORDS, |done, stop| {
        indexer(kafka.clone(), root.clone(), (done, stop))
    })
    .await;
    let index_bytes = directory_bytes(&root);

    bench::report("stage runtime, pass-through", runtime);
    bench::report("indexer (0.25 s commits)", indexed);
    bench::report("bare tantivy add + commit, 1 thread", bare);
    println!("ratio indexer / runtime pass-through: {:.2} (target >= 0.8)", indexed / runtime);
    println!("ratio indexer / bare tantivy: {:.2}", indexed / bare);
    println!(
        "index size: {:.0} bytes per record ({} bytes in all)",
        index_bytes as f64 / RECORDS as f64,
        index_bytes
    );

    // Half of peak: the peak is the slower of the indexer and the broker's own
    // consume-and-produce rate, since the load generator produces on the same broker.
    let rate = (indexed.min(runtime) / 2.0) as usize;
    let (p50, p99) = freshness_under_load(&kafka, &root, rate).await;
    println!(
        "freshness at {rate} records/s (half of peak): p50 {p50} ms, p99 {p99} ms (target p99 <= 1000 ms)"
    );
    drop(broker);
}

/// Runs the indexer over `audit.signed` into `root`, reporting indexed documents.
async fn indexer(
    kafka: KafkaConfig,
    root: std::path::PathBuf,
    (done, stop): (Arc<AtomicU64>, CancellationToken),
) {
    let credential = audit_auth::service::ServiceCredential::generate("query-api");
    let mut config = indexer::Config::defaults_for(&kafka.bootstrap, &root, &credential);
    config.leaf.listen = "127.0.0.1:0".parse().unwrap();
    config.stage.kafka = kafka;
    config.stage.group_id = format!("bench-indexer-{}", uuid_like());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let metrics_url = format!("http://{}/metrics", listener.local_addr().unwrap());
    bench::follow_metric(metrics_url, "indexer_records_indexed_total", done);
    indexer::run(config, listener, stop).await.unwrap();
}

fn uuid_like() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
}

/// Documents per second of one thread adding every record to a fresh index and
/// committing once, as the floor of what indexing costs.
fn bare_tantivy(messages: &testkit::records::Messages) -> f64 {
    let schema = IndexSchema::new();
    let codec = Codec::<SignedRecord>::published("SignedRecord").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let index = Index::create_in_dir(dir.path(), schema.schema.clone()).unwrap();
    let mut writer: tantivy::IndexWriter = index.writer_with_num_threads(1, 64_000_000).unwrap();
    let started = Instant::now();
    for (_, payload) in messages {
        let envelope = codec.decode(payload).unwrap();
        writer.add_document(indexer::document::document(&schema, &envelope).unwrap()).unwrap();
    }
    writer.commit().unwrap();
    messages.len() as f64 / started.elapsed().as_secs_f64()
}

fn directory_bytes(root: &std::path::Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(root).unwrap().flatten() {
        let path = entry.path();
        total += if path.is_dir() {
            directory_bytes(&path)
        } else {
            entry.metadata().map_or(0, |meta| meta.len())
        };
    }
    total
}

/// Produces at `rate` records/s for ten seconds while the indexer runs, and measures
/// produce-to-searchable of every hundredth record, checked while producing.
async fn freshness_under_load(kafka: &KafkaConfig, root: &std::path::Path, rate: usize) -> (u128, u128) {
    let stop = CancellationToken::new();
    let service =
        tokio::spawn(indexer(kafka.clone(), root.to_owned(), (Arc::new(AtomicU64::new(0)), stop.clone())));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (ids, messages) = testkit::records::signed_messages(rate * 10, TENANTS, "fresh");
    let pending: Pending = Arc::new(Mutex::new((HashMap::new(), false)));
    let checker = tokio::task::spawn_blocking({
        let (root, pending) = (root.to_owned(), pending.clone());
        move || check_searchable(&root, &pending)
    });
    let producer = audit_runtime::kafka::producer(kafka).unwrap();
    let per_tick = (rate / 10).max(1);
    let started = Instant::now();
    for (tick, chunk) in messages.chunks(per_tick).enumerate() {
        tokio::time::sleep_until((started + Duration::from_millis(100 * tick as u64)).into()).await;
        for (index, (key, payload)) in chunk.iter().enumerate() {
            let record =
                FutureRecord::<[u8], [u8]>::to("audit.signed").key(key.as_deref().unwrap()).payload(payload);
            let _ = producer.send_result(record);
            let global = tick * per_tick + index;
            if global.is_multiple_of(100) {
                pending.lock().unwrap().0.insert(ids[global].clone(), Instant::now());
            }
        }
    }
    pending.lock().unwrap().1 = true;
    let latencies = checker.await.unwrap();
    stop.cancel();
    service.await.unwrap();
    (latencies[latencies.len() / 2], latencies[latencies.len() * 99 / 100])
}

/// Sampled ids with their send time, and whether the producer is done.
type Pending = Arc<Mutex<(HashMap<String, Instant>, bool)>>;

fn check_searchable(root: &std::path::Path, pending: &Pending) -> Vec<u128> {
    let schema = IndexSchema::new();
    let readers: Vec<tantivy::IndexReader> = indexer::read::open_shards(root)
        .unwrap()
        .into_iter()
        .map(|(_, index)| index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into().unwrap())
        .collect();
    let mut latencies = Vec::new();
    let mut generations = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        for reader in &readers {
            reader.reload().unwrap();
        }
        // Only a new commit can make a record searchable: query once per commit, so
        // the checker does not take the CPU the indexer is measured on.
        let current: Vec<u64> =
            readers.iter().map(|reader| reader.searcher().generation().generation_id()).collect();
        let mut guard = pending.lock().unwrap();
        let (waiting, produced) = &mut *guard;
        if current != generations {
            generations = current;
            let searchers: Vec<tantivy::Searcher> =
                readers.iter().map(tantivy::IndexReader::searcher).collect();
            waiting.retain(|id, sent| {
                let query = TermQuery::new(Term::from_field_text(schema.id, id), IndexRecordOption::Basic);
                let found: usize =
                    searchers.iter().map(|searcher| searcher.search(&query, &Count).unwrap()).sum();
                if found > 0 {
                    latencies.push(sent.elapsed().as_millis());
                }
                found == 0
            });
        }
        if (*produced && waiting.is_empty()) || Instant::now() > deadline {
            assert!(waiting.is_empty(), "{} sampled records never became searchable", waiting.len());
            break;
        }
        drop(guard);
        std::thread::sleep(Duration::from_millis(5));
    }
    latencies.sort_unstable();
    latencies
}
