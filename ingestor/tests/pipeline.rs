//! End-to-end tests of the ingestor through a real Kafka-protocol broker.

use testkit::kafka as support;

use std::{
    collections::{HashMap, HashSet},
    process::{Command, Stdio},
    time::Duration,
};

use audit_runtime::dlq::header;
use audit_schemas::{Codec, NormalizedRecord};
use audit_traffic::RawEvent;
use support::{ReadSpec, broker, committed_and_end, kafka, produce_raw, read, read_topic, traffic};
use testkit::process::ChildGuard;
use tokio_util::sync::CancellationToken;

/// Every input is in the output, and all copies of one input carry one id.
fn assert_every_event_with_one_id(events: &[RawEvent], records: &[(Vec<u8>, NormalizedRecord)]) {
    let mut ids_by_event: HashMap<String, HashSet<String>> = HashMap::new();
    for (_, record) in records {
        ids_by_event.entry(record.event_id.clone().unwrap()).or_default().insert(record.id.clone());
    }
    for event in events {
        let ids = ids_by_event.get(event.event_id.as_deref().unwrap()).expect("every input is in the output");
        assert_eq!(ids.len(), 1, "a redelivered input keeps its id");
    }
}

fn decode_all(reads: &[support::Read]) -> Vec<(Vec<u8>, NormalizedRecord)> {
    let codec = Codec::<NormalizedRecord>::published("NormalizedRecord").unwrap();
    reads.iter().map(|read| (read.key.clone().unwrap(), codec.decode(&read.payload).unwrap())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valid_events_arrive_once_and_malformed_ones_reach_the_dlq_with_their_reason() {
    let (broker, _storage) = broker().await;
    let kafka = kafka(&broker);
    let mut config = ingestor::Config::defaults_for(&kafka.bootstrap);
    config.stage.kafka = kafka.clone();
    let ops = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ops_addr = ops.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let service = tokio::spawn(ingestor::run(config, ops, shutdown.clone()));

    let events = produce_raw(&kafka, traffic(42, 0.05, 0.0), 10_000).await;
    let valid: Vec<_> = events.iter().filter(|event| event.malformed.is_none()).collect();
    let malformed: Vec<_> = events.iter().filter(|event| event.malformed.is_some()).collect();
    assert!((400..600).contains(&malformed.len()), "about 5% malformed: {}", malformed.len());

    let normalized = read_topic(&kafka, "audit.normalized", valid.len(), Duration::from_secs(90)).await;
    let dlq = read_topic(&kafka, "audit.dlq", malformed.len(), Duration::from_secs(30)).await;
    assert_eq!(normalized.len(), valid.len(), "each valid event exactly once");
    assert_eq!(dlq.len(), malformed.len(), "each malformed event in the dlq");

    let records = decode_all(&normalized);
    let by_event: HashMap<String, &(Vec<u8>, NormalizedRecord)> =
        records.iter().map(|entry| (entry.1.event_id.clone().unwrap(), entry)).collect();
    for event in &valid {
        let raw: serde_json::Value = serde_json::from_slice(&event.payload).unwrap();
        let (key, record) = by_event[event.event_id.as_deref().unwrap()];
        assert_eq!(key, raw["tenantId"].as_str().unwrap().as_bytes(), "keyed by tenant");
        assert_eq!(record.tenant_id, raw["tenantId"]);
        assert_eq!(record.action.action_name, raw["action"]["actionName"]);
        assert_eq!(record.host.as_deref(), raw["host"].as_str());
        let created = chrono::DateTime::parse_from_rfc3339(raw["created"].as_str().unwrap()).unwrap();
        assert_eq!(record.created, created.timestamp_millis());
    }
    let ids: HashSet<&str> = records.iter().map(|(_, record)| record.id.as_str()).collect();
    assert_eq!(ids.len(), records.len(), "ids are unique");

    let mut expected: Vec<(&[u8], &str)> =
        malformed.iter().map(|event| (event.payload.as_slice(), event.malformed.unwrap())).collect();
    let mut got: Vec<(&[u8], &str)> =
        dlq.iter().map(|read| (read.payload.as_slice(), read.headers[header::CODE].as_str())).collect();
    expected.sort();
    got.sort();
    assert_eq!(got, expected, "original bytes and reason of every malformed event");
    assert!(dlq.iter().all(|read| read.headers[header::SOURCE_TOPIC] == "audit.raw"));
    assert!(dlq.iter().all(|read| read.headers.contains_key(header::SOURCE_OFFSET)));

    let health = reqwest::get(format!("http://{ops_addr}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    let metrics = reqwest::get(format!("http://{ops_addr}/metrics")).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("ingestor_records_consumed_total 10000"), "{metrics}");

    shutdown.cancel();
    service.await.unwrap().unwrap();
    let (committed, ends) = committed_and_end(&kafka, "audit-ingestor", "audit.raw").await;
    assert_eq!(committed, ends, "a graceful stop commits everything it handled");
}

fn spawn_ingestor(bootstrap: &str) -> ChildGuard {
    let child = Command::new(env!("CARGO_BIN_EXE_ingestor"))
        .args(["--kafka", bootstrap, "--ops-listen", "127.0.0.1:0", "--session-timeout-ms", "6000"])
        .args(["--partitions", &support::PARTITIONS.to_string(), "--batch-max-records", "500"])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("ingestor binary starts");
    ChildGuard(child)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_ingestor_loses_nothing_and_duplicates_keep_their_id() {
    let (broker, _storage) = broker().await;
    let kafka = kafka(&broker);
    let mut first = spawn_ingestor(&kafka.bootstrap);
    let mut events = produce_raw(&kafka, traffic(7, 0.0, 0.0), 10_000).await;

    // Kill without warning once part of the stream is through.
    let spec = ReadSpec {
        topic: "audit.normalized",
        expected: 3_000,
        settle: Duration::ZERO,
        timeout: Duration::from_secs(60),
    };
    let partial = read(&kafka, spec).await;
    first.kill();
    assert!(partial.len() >= 3_000, "the ingestor made progress before the kill");
    // More traffic arrives while it is down.
    events.extend(produce_raw(&kafka, traffic(8, 0.0, 0.0), 10_000).await);

    let second = spawn_ingestor(&kafka.bootstrap);
    let normalized = read_topic(&kafka, "audit.normalized", events.len(), Duration::from_secs(120)).await;
    let records = decode_all(&normalized);
    assert_every_event_with_one_id(&events, &records);
    eprintln!(
        "crash test: {} inputs, {} outputs, {} redelivered",
        events.len(),
        records.len(),
        records.len() - events.len()
    );

    assert!(second.terminate().success(), "SIGTERM stops the ingestor cleanly");
    let (committed, ends) = committed_and_end(&kafka, "audit-ingestor", "audit.raw").await;
    assert_eq!(committed, ends, "offsets committed on SIGTERM");
}

async fn start_in_process(
    kafka: &audit_runtime::config::KafkaConfig,
) -> (CancellationToken, tokio::task::JoinHandle<Result<(), ingestor::IngestorError>>) {
    let mut config = ingestor::Config::defaults_for(&kafka.bootstrap);
    config.stage.kafka = kafka.clone();
    config.stage.kafka.batch_max_records = 300;
    let ops = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let shutdown = CancellationToken::new();
    (shutdown.clone(), tokio::spawn(ingestor::run(config, ops, shutdown)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_added_and_removed_mid_stream_share_the_work_without_loss() {
    let (broker, _storage) = broker().await;
    let kafka = kafka(&broker);
    let (stop_first, first) = start_in_process(&kafka).await;
    let mut events = produce_raw(&kafka, traffic(11, 0.0, 0.0), 8_000).await;
    let spec = ReadSpec {
        topic: "audit.normalized",
        expected: 2_000,
        settle: Duration::ZERO,
        timeout: Duration::from_secs(60),
    };
    read(&kafka, spec).await;

    // A second member joins (rebalance), more traffic, then the first leaves (rebalance).
    let (stop_second, second) = start_in_process(&kafka).await;
    events.extend(produce_raw(&kafka, traffic(12, 0.0, 0.0), 8_000).await);
    stop_first.cancel();
    first.await.unwrap().unwrap();

    let normalized = read_topic(&kafka, "audit.normalized", events.len(), Duration::from_secs(120)).await;
    let records = decode_all(&normalized);
    assert_every_event_with_one_id(&events, &records);
    eprintln!("rebalance test: {} inputs, {} outputs", events.len(), records.len());
    stop_second.cancel();
    second.await.unwrap().unwrap();
    let (committed, ends) = committed_and_end(&kafka, "audit-ingestor", "audit.raw").await;
    assert_eq!(committed, ends);
}
