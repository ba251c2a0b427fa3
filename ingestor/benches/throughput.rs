//! Ingestor throughput against a bare consume-produce loop on the same broker.
//!
//! One embedded broker (memory storage) holds the same raw events for every run; each
//! run reads all of `audit.raw` with its own consumer group and writes to its own
//! topic, and is timed until its output topic holds every record. Printed: records/s
//! of (1) a bare rdkafka loop, (2) the stage runtime passing records through, (3) the
//! ingestor, and the ingestor-to-bare ratio.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use audit_broker::{BrokerParams, EmbeddedBroker, Storage};
use audit_core::{
    config::KafkaConfig,
    kafka::{consumer_config, ensure_topics, producer},
    metrics::StageMetrics,
    ops::Health,
    stage::{InputMessage, Outcome, OutputRecord, Stage, StageParams, Topics, TransientError, run_stage},
    traffic::{Generator, TrafficParams},
};
use futures::StreamExt;
use rdkafka::{
    Message,
    consumer::{Consumer, StreamConsumer},
    producer::{FutureRecord, Producer},
};
use tokio_util::sync::CancellationToken;

const RECORDS: usize = 100_000;

#[tokio::main]
async fn main() {
    let broker = EmbeddedBroker::start(BrokerParams {
        listen: "127.0.0.1:0".parse().unwrap(),
        storage: Storage::Memory,
    })
    .await
    .expect("broker starts");
    let mut kafka = KafkaConfig::for_bootstrap(&broker.bootstrap()).unwrap();
    kafka.partitions = 4;
    // Every run uses a fresh group: no predecessor to wait out.
    kafka.join_delay = Duration::ZERO;
    let bytes = load_raw(&kafka).await;
    println!(
        "input: {RECORDS} raw events, {:.0} bytes on average, 4 partitions",
        bytes as f64 / RECORDS as f64
    );

    let bare = timed(&kafka, "bench.bare", |done| bare_loop(kafka.clone(), done)).await;
    let runtime = timed(&kafka, "bench.passthrough", |done| passthrough(kafka.clone(), done)).await;
    let ingest = timed(&kafka, "bench.normalized", |done| ingestor(kafka.clone(), done)).await;
    report("bare rdkafka consume-produce", bare);
    report("stage runtime, pass-through", runtime);
    report("ingestor", ingest);
    println!("ratio ingestor / bare: {:.2} (target >= 0.8)", ingest / bare);
    println!("ratio ingestor / runtime pass-through: {:.2}", ingest / runtime);
    broker.stop().await;
}

fn report(name: &str, records_per_second: f64) {
    println!("{name:<32} {records_per_second:>10.0} records/s");
}

async fn load_raw(kafka: &KafkaConfig) -> usize {
    ensure_topics(kafka, &["audit.raw"]).await.unwrap();
    let producer = producer(kafka).unwrap();
    let mut generator = Generator::new(TrafficParams {
        tenants: 50,
        malformed_ratio: 0.0,
        duplicate_ratio: 0.0,
        seed: 1,
        start_ms: chrono::Utc::now().timestamp_millis() - 86_400_000,
    });
    let (mut deliveries, mut bytes, mut failed) = (Vec::with_capacity(RECORDS), 0, 0);
    for _ in 0..RECORDS {
        let event = generator.next_event();
        bytes += event.payload.len();
        let mut record = FutureRecord::<[u8], [u8]>::to("audit.raw").payload(&event.payload);
        record.key = event.key.as_deref();
        loop {
            match producer.send_result(record) {
                Ok(delivery) => break deliveries.push(delivery),
                Err((_queue_full, returned)) => {
                    record = returned;
                    failed += count_failed(deliveries.drain(..)).await;
                }
            }
        }
    }
    failed += count_failed(deliveries.drain(..)).await;
    assert_eq!(failed, 0, "every raw event is acknowledged");
    bytes
}

async fn count_failed(deliveries: impl Iterator<Item = rdkafka::producer::DeliveryFuture>) -> usize {
    let mut failed = 0;
    for delivery in deliveries {
        if let Ok(Err((error, _))) | Err(error) =
            delivery.await.map_err(|_| rdkafka::error::KafkaError::Canceled)
        {
            failed += 1;
            if failed == 1 {
                eprintln!("  delivery failed: {error}");
            }
        }
    }
    failed
}

/// Runs `work` until it reports every record acknowledged on its output topic;
/// returns records per second. (Watermarks are not used: tansu under-reports them.)
async fn timed<W, F>(kafka: &KafkaConfig, output: &str, work: W) -> f64
where
    W: FnOnce(Arc<AtomicU64>) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    ensure_topics(kafka, &[output, "audit.dlq"]).await.unwrap();
    let acknowledged = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let task = tokio::spawn(work(acknowledged.clone()));
    while acknowledged.load(Ordering::Acquire) < RECORDS as u64 {
        assert!(started.elapsed() < Duration::from_secs(600), "{output} did not fill within 10 minutes");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    task.abort();
    RECORDS as f64 / elapsed
}

/// Consumes and re-produces without any bookkeeping; done once all are consumed and
/// a flush has returned, i.e. every record is acknowledged.
async fn bare_loop(kafka: KafkaConfig, done: Arc<AtomicU64>) {
    let consumer: StreamConsumer = consumer_config(&kafka, "bench-bare").create().unwrap();
    consumer.subscribe(&["audit.raw"]).unwrap();
    let producer = producer(&kafka).unwrap();
    let mut stream = consumer.stream();
    let mut consumed = 0;
    while let Some(received) = stream.next().await {
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
}

struct PassThrough;

impl Stage for PassThrough {
    async fn process(&mut self, batch: &[InputMessage]) -> Result<Vec<Outcome>, TransientError> {
        let forward = |message: &InputMessage| {
            let key = message.key.clone().unwrap_or_default();
            let payload = message.payload.clone().unwrap_or_default();
            Outcome::Forward(vec![OutputRecord { key, payload }])
        };
        Ok(batch.iter().map(forward).collect())
    }
}

async fn passthrough(kafka: KafkaConfig, done: Arc<AtomicU64>) {
    let registry = prometheus::Registry::new();
    let metrics = Arc::new(StageMetrics::register("passthrough", &registry).unwrap());
    let produced = metrics.records_produced.clone();
    tokio::spawn(async move {
        loop {
            done.store(produced.get(), Ordering::Release);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    let params = StageParams {
        service: "passthrough",
        group_id: "bench-passthrough".into(),
        topics: Topics {
            input: "audit.raw".into(),
            output: "bench.passthrough".into(),
            dlq: "audit.dlq".into(),
        },
        kafka,
        metrics,
        health: Health::default(),
    };
    run_stage(PassThrough, params, CancellationToken::new()).await.unwrap();
}

/// The ingestor as it runs in production; progress read from its own `/metrics`.
async fn ingestor(kafka: KafkaConfig, done: Arc<AtomicU64>) {
    let mut config = ingestor::Config::defaults_for(&kafka.bootstrap);
    config.kafka = kafka;
    config.group_id = "bench-ingestor".into();
    config.topics.output = "bench.normalized".into();
    let ops = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let metrics_url = format!("http://{}/metrics", ops.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            if let Some(produced) = produced_so_far(&metrics_url).await {
                done.store(produced, Ordering::Release);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    ingestor::run(config, ops, CancellationToken::new()).await.unwrap();
}

async fn produced_so_far(metrics_url: &str) -> Option<u64> {
    let body = reqwest::get(metrics_url).await.ok()?.text().await.ok()?;
    body.lines().find_map(|line| line.strip_prefix("ingestor_records_produced_total ")?.parse().ok())
}
