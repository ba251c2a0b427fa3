//! Partitions moving between signer instances mid-stream: a second instance joins,
//! then the first leaves. Each new owner of a partition continues its chains from the
//! signed log; nothing is lost, signed twice or forked.

mod support;

use std::time::Duration;

use audit_schemas::TokenizedRecord;
use signer::{Config, SignerError};
use testkit::kafka::{broker, kafka, produce};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

struct Instance {
    stop: CancellationToken,
    task: JoinHandle<Result<(), SignerError>>,
    ops: std::net::SocketAddr,
}

impl Instance {
    async fn start(config: &Config) -> Instance {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let ops = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let task = tokio::spawn(signer::run(config.clone(), listener, stop.clone()));
        Instance { stop, task, ops }
    }

    async fn metric(&self, name: &str) -> f64 {
        let body = reqwest::get(format!("http://{}/metrics", self.ops)).await.unwrap().text().await.unwrap();
        body.lines().find_map(|line| line.strip_prefix(name)?.trim().parse().ok()).unwrap_or(0.0)
    }

    async fn stop(self) {
        self.stop.cancel();
        self.task.await.unwrap().unwrap();
    }
}

/// Writes `records` in small chunks over several seconds, so rebalances happen mid-stream.
fn slow_feed(kafka: &audit_runtime::config::KafkaConfig, records: &[TokenizedRecord]) -> JoinHandle<()> {
    let (kafka, messages) = (kafka.clone(), support::messages(records));
    tokio::spawn(async move {
        for chunk in messages.chunks(100) {
            produce(&kafka, "audit.tokenized", chunk).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_joining_and_leaving_mid_stream_keep_every_chain_whole() {
    let (broker, storage) = broker().await;
    let kafka = kafka(&broker);
    let mut config = Config::defaults_for(&kafka.bootstrap, &storage.path().join("keys"));
    config.stage.kafka = kafka.clone();
    config.stage.kafka.batch_max_records = 200;
    config.checkpoints.records = 300;
    let inputs = support::records(6_000, 11, 3);
    let thirds: Vec<&[TokenizedRecord]> = inputs.chunks(2_000).collect();

    let first = Instance::start(&config).await;
    produce(&kafka, "audit.tokenized", &support::messages(thirds[0])).await;
    support::read_signed(&kafka, 2_000, Duration::from_secs(60)).await;

    // A second instance joins while records flow: partitions are split between the two.
    let second = Instance::start(&config).await;
    let feed = slow_feed(&kafka, thirds[1]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while second.metric("signer_recoveries_total").await < 1.0 {
        assert!(tokio::time::Instant::now() < deadline, "the second instance got partitions");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    feed.await.unwrap();
    support::read_signed(&kafka, 4_000, Duration::from_secs(60)).await;
    let second_recoveries = second.metric("signer_recoveries_total").await;
    assert!(first.metric("signer_recoveries_total").await > 4.0, "the first recovered its partitions again");

    // The first leaves while records flow: its partitions move to the second.
    let feed = slow_feed(&kafka, thirds[2]);
    tokio::time::sleep(Duration::from_secs(2)).await;
    first.stop().await;
    feed.await.unwrap();
    let signed = support::read_signed(&kafka, 6_000, Duration::from_secs(90)).await;
    assert!(second.metric("signer_recoveries_total").await > second_recoveries, "the second took over");
    second.stop().await;

    let verifier = support::verifier(&storage.path().join("keys"));
    let heads = support::assert_exactly_once_and_chained(&signed, &inputs, &verifier);
    assert_eq!(heads.len(), 11);
}
