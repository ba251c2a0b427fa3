//! Ingestor throughput against a bare consume-produce loop on the same broker.
//!
//! One embedded broker (its durable storage, as `auditctl up` runs it) holds the same
//! raw events for every run; each run reads all of `audit.raw` with its own consumer
//! group and writes to its own topic, and is timed until its output topic holds every
//! record. Printed: records/s of (1) a bare rdkafka loop, (2) the stage runtime passing
//! records through, (3) the ingestor, and the ingestor-to-bare ratio.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use audit_runtime::{
    config::KafkaConfig,
    kafka::{consumer_config, producer},
    stage::{Delivery, Partitioning},
};
use audit_traffic::{Generator, TrafficParams};
use futures::StreamExt;
use rdkafka::{
    Message,
    consumer::{Consumer, StreamConsumer},
    producer::{FutureRecord, Producer},
};
use testkit::bench;
use tokio_util::sync::CancellationToken;

const RECORDS: usize = 100_000;

/// mimalloc, tuned: `audit-alloc` says why.
#[global_allocator]
static ALLOCATOR: audit_alloc::Tuned = audit_alloc::Tuned;

#[tokio::main]
async fn main() {
    let (broker, kafka, _storage) = bench::broker().await;
    let bytes = load_raw(&kafka).await;
    println!(
        "input: {RECORDS} raw events, {:.0} bytes on average, {} partitions",
        bytes as f64 / RECORDS as f64,
        bench::PARTITIONS
    );

    let bare =
        bench::timed(&kafka, "bench.bare", RECORDS, |done, stop| bare_loop(kafka.clone(), done, stop)).await;
    let route = bench::Route {
        input: "audit.raw",
        output: "bench.passthrough",
        partitioning: Partitioning::ByKey,
        delivery: Delivery::BeforeNextBatch,
    };
    let runtime = bench::timed(&kafka, route.output, RECORDS, |done, stop| {
        bench::passthrough(kafka.clone(), route, done, stop)
    })
    .await;
    let ingest =
        bench::timed(&kafka, "bench.normalized", RECORDS, |done, stop| ingestor(kafka.clone(), done, stop))
            .await;
    bench::report("bare rdkafka consume-produce", bare);
    bench::report("stage runtime, pass-through", runtime);
    bench::report("ingestor", ingest);
    println!("ratio ingestor / bare: {:.2} (target >= 0.8)", ingest / bare);
    println!("ratio ingestor / runtime pass-through: {:.2}", ingest / runtime);
    broker.stop().await;
}

/// Generated raw events into `audit.raw`; returns their total size in bytes.
async fn load_raw(kafka: &KafkaConfig) -> usize {
    let mut generator = Generator::new(TrafficParams {
        tenants: 50,
        malformed_ratio: 0.0,
        duplicate_ratio: 0.0,
        seed: 1,
        start_ms: chrono::Utc::now().timestamp_millis() - 86_400_000,
        people_per_tenant: 0,
    });
    let events: Vec<(Vec<u8>, Vec<u8>)> = (0..RECORDS)
        .map(|_| generator.next_event())
        .map(|event| (event.key.unwrap_or_default(), event.payload))
        .collect();
    let bytes = events.iter().map(|(_, payload)| payload.len()).sum();
    bench::load(kafka, "audit.raw", events.into_iter()).await;
    bytes
}

/// Consumes and re-produces without any bookkeeping; done once all are consumed and
/// a flush has returned, i.e. every record is acknowledged.
async fn bare_loop(kafka: KafkaConfig, done: Arc<AtomicU64>, shutdown: CancellationToken) {
    let consumer: StreamConsumer = consumer_config(&kafka, "bench-bare").create().unwrap();
    consumer.subscribe(&["audit.raw"]).unwrap();
    let producer = producer(&kafka).unwrap();
    let mut stream = consumer.stream();
    let mut consumed = 0;
    while let Some(received) = tokio::select! {
        received = stream.next() => received,
        () = shutdown.cancelled() => None,
    } {
        let Ok(message) = received else { continue };
        let mut record =
            FutureRecord::<[u8], [u8]>::to("bench.bare").payload(message.payload().unwrap_or_default());
        record.key = message.key();
        while let Err((_, returned)) = producer.send_result(record) {
            record = returned;
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        consumed += 1;
        if consumed == RECORDS {
            let producer = producer.clone();
            tokio::task::spawn_blocking(move || producer.flush(Duration::from_secs(60)))
                .await
                .unwrap()
                .unwrap();
            done.store(consumed as u64, Ordering::Release);
        }
    }
    // Closing a client blocks on the broker, which shares this runtime.
    drop(stream);
    tokio::task::spawn_blocking(move || drop(consumer)).await.unwrap();
}

/// The ingestor as it runs in production; progress read from its own `/metrics`.
async fn ingestor(kafka: KafkaConfig, done: Arc<AtomicU64>, shutdown: CancellationToken) {
    let mut config = ingestor::Config::defaults_for(&kafka.bootstrap);
    config.stage.kafka = kafka;
    config.stage.group_id = "bench-ingestor".into();
    config.stage.topics.output = Some("bench.normalized".into());
    let ops = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let metrics_url = format!("http://{}/metrics", ops.local_addr().unwrap());
    bench::follow_metric(metrics_url, "ingestor_records_produced_total ", done);
    ingestor::run(config, ops, shutdown).await.unwrap();
}
