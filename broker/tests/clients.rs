//! The broker as real Kafka clients (librdkafka) use it: produce, consume in a group,
//! commit, restart on the same directory, share partitions between members.

use std::time::Duration;

use audit_broker::{BrokerParams, EmbeddedBroker};
use rdkafka::{
    ClientConfig, Message, TopicPartitionList,
    admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
    client::DefaultClientContext,
    consumer::{BaseConsumer, CommitMode, Consumer},
    producer::{FutureProducer, FutureRecord},
};

const TOPIC: &str = "events";
const PARTITIONS: i32 = 4;

async fn start(dir: &std::path::Path) -> EmbeddedBroker {
    let params =
        BrokerParams { listen: "127.0.0.1:0".parse().unwrap(), data_dir: dir.to_owned(), advertised: None };
    EmbeddedBroker::start(params).await.expect("broker starts")
}

async fn create_topic(bootstrap: &str) {
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", bootstrap).create().unwrap();
    let topic = NewTopic::new(TOPIC, PARTITIONS, TopicReplication::Fixed(1));
    let results = admin.create_topics(&[topic], &AdminOptions::new()).await.unwrap();
    assert!(results[0].is_ok(), "{results:?}");
    let again = [NewTopic::new(TOPIC, 1, TopicReplication::Fixed(1))];
    let results = admin.create_topics(&again, &AdminOptions::new()).await.unwrap();
    assert!(results[0].is_err(), "a topic is created once");
}

async fn produce(bootstrap: &str, range: std::ops::Range<usize>) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .create()
        .unwrap();
    let deliveries: Vec<_> = range
        .map(|n| {
            let key = format!("key-{}", n % 50);
            let payload = format!("message-{n}");
            producer
                .send_result(FutureRecord::to(TOPIC).key(&key).payload(&payload))
                .map_err(|(e, _)| e)
                .unwrap()
        })
        .collect();
    for delivery in deliveries {
        delivery.await.unwrap().map_err(|(error, _)| error).unwrap();
    }
}

fn consumer(bootstrap: &str, group: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "6000")
        .create()
        .unwrap()
}

/// Polls until `count` messages came or nothing came for a while; returns payloads.
fn drain(consumer: &BaseConsumer, count: usize) -> Vec<String> {
    let mut payloads = Vec::new();
    let mut idle = 0;
    while payloads.len() < count && idle < 100 {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(message)) => {
                idle = 0;
                payloads.push(String::from_utf8(message.payload().unwrap().to_vec()).unwrap());
            }
            Some(Err(error)) => panic!("consumer error: {error}"),
            None => idle += 1,
        }
    }
    payloads
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_and_commits_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path()).await;
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap).await;
    produce(&bootstrap, 0..10_000).await;

    let first = bootstrap.clone();
    let consumed = tokio::task::spawn_blocking(move || {
        let consumer = consumer(&first, "readers");
        consumer.subscribe(&[TOPIC]).unwrap();
        let payloads = drain(&consumer, 6_000);
        consumer.commit_consumer_state(CommitMode::Sync).unwrap();
        payloads.len()
    })
    .await
    .unwrap();
    assert!(consumed >= 6_000);
    broker.stop().await;

    let broker = start(dir.path()).await;
    let bootstrap = broker.bootstrap();
    produce(&bootstrap, 10_000..12_000).await;
    let rest = tokio::task::spawn_blocking(move || {
        let consumer = consumer(&bootstrap, "readers");
        consumer.subscribe(&[TOPIC]).unwrap();
        drain(&consumer, 12_000 - consumed)
    })
    .await
    .unwrap();
    assert_eq!(rest.len(), 12_000 - consumed, "resumed at the committed offsets, nothing lost or repeated");
    assert!(rest.iter().any(|payload| payload == "message-11999"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_shares_partitions_and_hands_them_over_when_a_member_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path()).await;
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap).await;
    produce(&bootstrap, 0..2_000).await;
    tokio::task::spawn_blocking(move || {
        let one = consumer(&bootstrap, "sharing");
        let two = consumer(&bootstrap, "sharing");
        one.subscribe(&[TOPIC]).unwrap();
        two.subscribe(&[TOPIC]).unwrap();
        let assigned = |consumer: &BaseConsumer| consumer.assignment().unwrap().count();
        // Polls return at once while messages wait, so the loops count time, not polls.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::time::Instant::now() < deadline {
            let _ = one.poll(Duration::from_millis(20));
            let _ = two.poll(Duration::from_millis(20));
            if assigned(&one) + assigned(&two) == PARTITIONS as usize
                && assigned(&one) > 0
                && assigned(&two) > 0
            {
                break;
            }
        }
        assert_eq!((assigned(&one), assigned(&two)), (2, 2), "partitions are shared");
        drop(two);
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::time::Instant::now() < deadline {
            let _ = one.poll(Duration::from_millis(20));
            if assigned(&one) == PARTITIONS as usize {
                break;
            }
        }
        assert_eq!(assigned(&one), PARTITIONS as usize, "the leaver's partitions move at once");
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watermarks_and_committed_offsets_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path()).await;
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap).await;
    produce(&bootstrap, 0..1_000).await;
    tokio::task::spawn_blocking(move || {
        let consumer = consumer(&bootstrap, "manual");
        let total: i64 = (0..PARTITIONS)
            .map(|partition| {
                let (low, high) =
                    consumer.fetch_watermarks(TOPIC, partition, Duration::from_secs(5)).unwrap();
                assert_eq!(low, 0);
                high
            })
            .sum();
        assert_eq!(total, 1_000);
        let mut positions = TopicPartitionList::new();
        positions.add_partition_offset(TOPIC, 1, rdkafka::Offset::Offset(7)).unwrap();
        consumer.commit(&positions, CommitMode::Sync).unwrap();
        let mut wanted = TopicPartitionList::new();
        wanted.add_partition(TOPIC, 1);
        wanted.add_partition(TOPIC, 2);
        let committed = consumer.committed_offsets(wanted, Duration::from_secs(5)).unwrap();
        let offsets: Vec<_> = committed.elements().iter().map(|element| element.offset()).collect();
        assert_eq!(offsets, [rdkafka::Offset::Offset(7), rdkafka::Offset::Invalid]);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_directory_serves_one_broker_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let _running = start(dir.path()).await;
    let params = BrokerParams {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_owned(),
        advertised: None,
    };
    let second = EmbeddedBroker::start(params).await;
    assert!(matches!(second, Err(audit_broker::BrokerError::InUse { .. })));
}
