//! A real Kafka-protocol broker for tests (the embedded one, on a free loopback port),
//! raw traffic into it, and readers of whole topics and committed offsets.

use std::{collections::HashMap, time::Duration};

use audit_broker::{BrokerParams, EmbeddedBroker};
use audit_runtime::{
    config::KafkaConfig,
    kafka::producer,
    topics::{Topic, ensure},
};
use audit_traffic::{Generator, RawEvent, TrafficParams};
use rdkafka::{
    ClientConfig, Message, Offset, TopicPartitionList,
    consumer::{BaseConsumer, Consumer},
    message::Headers,
    producer::FutureRecord,
};

pub const PARTITIONS: i32 = 4;

/// A broker on a free loopback port with its durable storage in a temporary directory,
/// as `auditctl up` runs it.
pub async fn broker() -> (EmbeddedBroker, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let params = BrokerParams {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_owned(),
        advertised: None,
    };
    (EmbeddedBroker::start(params).await.expect("embedded broker starts"), dir)
}

pub fn kafka(broker: &EmbeddedBroker) -> KafkaConfig {
    let mut config = KafkaConfig::for_bootstrap(&broker.bootstrap()).unwrap();
    config.partitions = PARTITIONS;
    config.session_timeout = Duration::from_secs(6);
    config
}

/// Generates `count` events and writes them to `audit.raw`.
pub async fn produce_raw(kafka: &KafkaConfig, params: TrafficParams, count: usize) -> Vec<RawEvent> {
    let mut generator = Generator::new(params);
    let events: Vec<RawEvent> = (0..count).map(|_| generator.next_event()).collect();
    let messages: Vec<(Option<Vec<u8>>, Vec<u8>)> =
        events.iter().map(|event| (event.key.clone(), event.payload.clone())).collect();
    produce(kafka, "audit.raw", &messages).await;
    events
}

/// Writes `(key, payload)` messages to `topic` (created if missing) and waits for
/// every acknowledgement.
pub async fn produce(kafka: &KafkaConfig, topic: &str, messages: &[(Option<Vec<u8>>, Vec<u8>)]) {
    ensure(kafka, &[Topic::named(topic)]).await.unwrap();
    let producer = producer(kafka).unwrap();
    let mut deliveries = Vec::with_capacity(messages.len());
    for (key, payload) in messages {
        let mut record = FutureRecord::<[u8], [u8]>::to(topic).payload(payload);
        record.key = key.as_deref();
        deliveries.push(producer.send_result(record).map_err(|(error, _)| error).unwrap());
    }
    for delivery in deliveries {
        delivery.await.unwrap().map_err(|(error, _)| error).unwrap();
    }
}

pub fn traffic(seed: u64, malformed_ratio: f64, duplicate_ratio: f64) -> TrafficParams {
    TrafficParams {
        tenants: 7,
        malformed_ratio,
        duplicate_ratio,
        seed,
        start_ms: chrono::Utc::now().timestamp_millis() - 86_400_000,
        people_per_tenant: 0,
    }
}

/// One message read back from a topic.
#[derive(Debug, Clone)]
pub struct Read {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub payload: Vec<u8>,
    pub headers: HashMap<String, String>,
}

/// How much of a topic to read.
#[derive(Debug, Clone)]
pub struct ReadSpec {
    pub topic: &'static str,
    /// Stop once this many messages arrived...
    pub expected: usize,
    /// ...and then none for this long (zero: stop at once).
    pub settle: Duration,
    /// Give up after this long.
    pub timeout: Duration,
}

/// Reads `topic` from the beginning until `expected` messages arrived and then no
/// more for two seconds, or until `timeout`; returns everything read.
pub async fn read_topic(
    kafka: &KafkaConfig,
    topic: &'static str,
    expected: usize,
    timeout: Duration,
) -> Vec<Read> {
    read(kafka, ReadSpec { topic, expected, settle: Duration::from_secs(2), timeout }).await
}

/// Reads per `spec`.
pub async fn read(kafka: &KafkaConfig, spec: ReadSpec) -> Vec<Read> {
    let bootstrap = kafka.bootstrap.clone();
    tokio::task::spawn_blocking(move || read_blocking(&bootstrap, &spec)).await.unwrap()
}

fn read_blocking(bootstrap: &str, spec: &ReadSpec) -> Vec<Read> {
    let (topic, expected, settle) = (spec.topic, spec.expected, spec.settle);
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("reader-{}", uuid::Uuid::new_v4()))
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut partitions = TopicPartitionList::new();
    for partition in 0..PARTITIONS {
        partitions.add_partition_offset(topic, partition, Offset::Beginning).unwrap();
    }
    consumer.assign(&partitions).unwrap();
    let deadline = std::time::Instant::now() + spec.timeout;
    let mut last_message = std::time::Instant::now();
    let mut read = Vec::new();
    while std::time::Instant::now() < deadline {
        if read.len() >= expected && last_message.elapsed() >= settle {
            break;
        }
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(message)) => {
                last_message = std::time::Instant::now();
                read.push(Read {
                    partition: message.partition(),
                    offset: message.offset(),
                    key: message.key().map(<[u8]>::to_vec),
                    payload: message.payload().unwrap_or_default().to_vec(),
                    headers: headers_of(&message),
                });
            }
            Some(Err(error)) => eprintln!("reader: {error}"),
            None => {}
        }
    }
    read
}

fn headers_of(message: &rdkafka::message::BorrowedMessage<'_>) -> HashMap<String, String> {
    let Some(headers) = message.headers() else { return HashMap::new() };
    headers
        .iter()
        .map(|header| {
            let value = header.value.map(|value| String::from_utf8_lossy(value).into_owned());
            (header.key.to_owned(), value.unwrap_or_default())
        })
        .collect()
}

/// Committed offsets of `group` on `topic`, and the topic's end offsets as found by
/// reading it.
pub async fn committed_and_end(
    kafka: &KafkaConfig,
    group: &str,
    topic: &'static str,
) -> (Vec<i64>, Vec<i64>) {
    let spec =
        ReadSpec { topic, expected: 1, settle: Duration::from_secs(2), timeout: Duration::from_secs(30) };
    let everything = read(kafka, spec).await;
    let mut ends = vec![0i64; PARTITIONS as usize];
    for message in &everything {
        let end = &mut ends[message.partition as usize];
        *end = (*end).max(message.offset + 1);
    }
    let bootstrap = kafka.bootstrap.clone();
    let group = group.to_owned();
    let committed = tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("group.id", &group)
            .create()
            .unwrap();
        let mut partitions = TopicPartitionList::new();
        for partition in 0..PARTITIONS {
            partitions.add_partition(topic, partition);
        }
        let committed = consumer.committed_offsets(partitions, Duration::from_secs(10)).unwrap();
        committed.elements().iter().map(|element| element.offset().to_raw().unwrap_or(-1)).collect()
    })
    .await
    .unwrap();
    (committed, ends)
}
