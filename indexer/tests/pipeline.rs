//! The indexer through the real broker: every signed record searchable about a second
//! after it is produced, exactly once whatever crashed when, bad input in the DLQ.

use audit_runtime::topics::Topic;
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use audit_runtime::config::KafkaConfig;
use indexer::read::{all_records, open_shards};
use indexer::schema::IndexSchema;
use tantivy::collector::Count;
use tantivy::query::TermQuery;
use tantivy::schema::IndexRecordOption;
use tantivy::{ReloadPolicy, Term};
use testkit::kafka::{ReadSpec, broker, kafka, produce, read};
use testkit::process::{ChildGuard, spawn_stage};
use tokio_util::sync::CancellationToken;

fn signed(count: usize, tenants: usize, prefix: &str) -> (Vec<String>, testkit::records::Messages) {
    testkit::records::signed_messages(count, tenants, prefix)
}

/// Waits until the shards under `root` hold `expected` live documents.
async fn wait_for_count(root: &Path, expected: usize, timeout: Duration) -> usize {
    let deadline = Instant::now() + timeout;
    loop {
        let count = all_records(root).map(|records| records.len()).unwrap_or(0);
        if count >= expected || Instant::now() > deadline {
            return count;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Asserts every id is indexed exactly once and nothing else is.
fn assert_exactly_once(root: &Path, ids: &[String]) {
    let records = all_records(root).unwrap();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for record in &records {
        *seen.entry(record.id.as_str()).or_default() += 1;
    }
    let repeated: Vec<_> = seen.iter().filter(|(_, count)| **count > 1).take(5).collect();
    assert!(repeated.is_empty(), "records indexed more than once: {repeated:?}");
    let missing: Vec<_> = ids.iter().filter(|id| !seen.contains_key(id.as_str())).take(5).collect();
    assert!(missing.is_empty(), "records missing from the index: {missing:?}");
    assert_eq!(records.len(), ids.len());
}

fn config(kafka: &KafkaConfig, root: &Path) -> indexer::Config {
    let credential = audit_auth::service::ServiceCredential::generate("query-api");
    let mut config = indexer::Config::defaults_for(&kafka.bootstrap, root, &credential);
    config.stage.kafka = kafka.clone();
    config.leaf.listen = "127.0.0.1:0".parse().unwrap();
    config
}

/// Milliseconds from producing each of `count` records to finding it by id.
async fn freshness(kafka: &KafkaConfig, root: &Path, count: usize) -> Vec<u128> {
    let schema = IndexSchema::new();
    let (ids, messages) = signed(count, 3, "fresh");
    let mut latencies = Vec::new();
    for (id, message) in ids.iter().zip(messages) {
        let started = Instant::now();
        produce(kafka, "audit.signed", &[message]).await;
        let term = Term::from_field_text(schema.id, id);
        loop {
            let found: usize = open_shards(root)
                .unwrap()
                .iter()
                .map(|(_, index)| {
                    let reader =
                        index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into().unwrap();
                    let query = TermQuery::new(term.clone(), IndexRecordOption::Basic);
                    reader.searcher().search(&query, &Count).unwrap()
                })
                .sum();
            if found == 1 {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(30), "record {id} became searchable");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        latencies.push(started.elapsed().as_millis());
    }
    latencies.sort_unstable();
    latencies
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_become_searchable_once_and_bad_input_goes_to_the_dlq() {
    let (broker, storage) = broker().await;
    let kafka = kafka(&broker);
    let root = storage.path().join("index");
    let (ids, messages) = signed(3_000, 5, "r");
    produce(&kafka, "audit.signed", &messages).await;
    produce(&kafka, "audit.signed", &[(Some(b"tenant-0".to_vec()), b"not avro".to_vec())]).await;
    let ops = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let shutdown = CancellationToken::new();
    let service = tokio::spawn(indexer::run(config(&kafka, &root), ops, shutdown.clone()));
    assert_eq!(wait_for_count(&root, ids.len(), Duration::from_secs(90)).await, ids.len());
    let latencies = freshness(&kafka, &root, 40).await;
    println!(
        "freshness (produce to searchable, commit every 0.25 s): p50 {} ms, p99 {} ms",
        latencies[latencies.len() / 2],
        latencies[latencies.len() * 99 / 100]
    );
    shutdown.cancel();
    service.await.unwrap().unwrap();

    let dlq = read(
        &kafka,
        ReadSpec {
            topic: "audit.dlq",
            expected: 1,
            settle: Duration::ZERO,
            timeout: Duration::from_secs(30),
        },
    )
    .await;
    assert_eq!(dlq[0].headers.get("dlq.code").map(String::as_str), Some("undecodable"));

    // A restart resumes after each shard's commit: nothing is indexed twice.
    let ops = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let shutdown = CancellationToken::new();
    let service = tokio::spawn(indexer::run(config(&kafka, &root), ops, shutdown.clone()));
    let (more, messages) = signed(500, 5, "after-restart");
    produce(&kafka, "audit.signed", &messages).await;
    let total = ids.len() + 40 + more.len();
    assert_eq!(wait_for_count(&root, total, Duration::from_secs(60)).await, total);
    shutdown.cancel();
    service.await.unwrap().unwrap();
    let fresh: Vec<String> = (0..40).map(|index| format!("fresh-{index:06}")).collect();
    assert_exactly_once(&root, &[ids, fresh, more].concat());
}

fn spawn_indexer(kafka: &KafkaConfig, root: &Path, log: std::fs::File) -> ChildGuard {
    let credential = audit_auth::service::ServiceCredential::generate("query-api").declaration();
    let args = [
        "--index-dir",
        root.to_str().unwrap(),
        "--commit-interval-ms",
        "300",
        "--batch-max-records",
        "500",
        "--leaf-listen",
        "127.0.0.1:0",
        "--leaf-credentials",
        &credential,
    ];
    spawn_stage(env!("CARGO_BIN_EXE_indexer"), kafka, &args, log)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_indexer_killed_again_and_again_holds_every_record_exactly_once() {
    let (broker, storage) = broker().await;
    let kafka = kafka(&broker);
    let root = storage.path().join("index");
    let (ids, messages) = signed(20_000, 9, "crash");
    audit_runtime::topics::ensure(&kafka, &[Topic::trail("audit.signed")]).await.unwrap();
    let feeder = {
        let kafka = kafka.clone();
        tokio::spawn(async move {
            for chunk in messages.chunks(500) {
                produce(&kafka, "audit.signed", chunk).await;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
    };
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for run in 0..4 {
        let log = std::fs::File::create(storage.path().join(format!("indexer-{run}.log"))).unwrap();
        let mut indexer = spawn_indexer(&kafka, &root, log);
        let before = all_records(&root).map(|records| records.len()).unwrap_or(0);
        wait_for_count(&root, before + 1, Duration::from_secs(60)).await;
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        tokio::time::sleep(Duration::from_millis(seed % 2_000)).await;
        indexer.kill();
        eprintln!("run {run}: killed with {} records indexed", all_records(&root).unwrap().len());
    }
    feeder.await.unwrap();
    let log = std::fs::File::create(storage.path().join("indexer-last.log")).unwrap();
    let last = spawn_indexer(&kafka, &root, log);
    assert_eq!(wait_for_count(&root, ids.len(), Duration::from_secs(120)).await, ids.len());
    // A moment for any duplicate to surface at the next commit.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(last.terminate().success(), "SIGTERM stops the indexer cleanly");
    assert_exactly_once(&root, &ids);
}
