//! The signer killed without warning, again and again, while records stream in:
//! afterwards `audit.signed` holds every record exactly once, and every tenant's
//! chain runs 1..N with every link intact.

mod support;

use audit_runtime::topics::Topic;
use std::time::{Duration, Instant};

use audit_runtime::config::KafkaConfig;
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use testkit::kafka::{PARTITIONS, broker, kafka, produce};
use testkit::process::{ChildGuard, spawn_stage};

const RECORDS: usize = 20_000;
const KILLS: usize = 6;

fn spawn_signer(kafka: &KafkaConfig, key_dir: &std::path::Path, log: std::fs::File) -> ChildGuard {
    let args = ["--key-dir", key_dir.to_str().unwrap(), "--create-key", "true", "--batch-max-records", "300"];
    let tuning = ["--checkpoint-records", "700", "--dedupe-window", "5000", "--sign-threads", "1"];
    spawn_stage(env!("CARGO_BIN_EXE_signer"), kafka, &[&args[..], &tuning[..]].concat(), log)
}

/// Messages in `audit.signed` per the brokers' watermarks.
async fn signed_count(kafka: &KafkaConfig) -> i64 {
    let bootstrap = kafka.bootstrap.clone();
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer =
            ClientConfig::new().set("bootstrap.servers", &bootstrap).create().unwrap();
        (0..PARTITIONS)
            .map(|partition| {
                consumer
                    .fetch_watermarks("audit.signed", partition, Duration::from_secs(10))
                    .map_or(0, |(_, high)| high)
            })
            .sum()
    })
    .await
    .unwrap()
}

/// Waits until the signer has signed more than `before`, so the kill lands mid-stream.
async fn wait_for_progress(kafka: &KafkaConfig, before: i64) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let now = signed_count(kafka).await;
        if now > before || Instant::now() > deadline {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signer_killed_at_random_moments_signs_every_record_once_in_unbroken_chains() {
    let (broker, storage) = broker().await;
    let kafka = kafka(&broker);
    let key_dir = storage.path().join("keys");
    let inputs = support::records(RECORDS, 9, 42);
    let mut messages = support::messages(&inputs);
    // Upstream redeliveries: some records come again shortly after (same id).
    for index in (500..RECORDS).step_by(97) {
        messages.insert(index + 3, messages[index - 40].clone());
    }
    audit_runtime::topics::ensure(
        &kafka,
        &["audit.tokenized", "audit.signed", "audit.signer-checkpoints"].map(Topic::named),
    )
    .await
    .unwrap();
    let feeder = {
        let kafka = kafka.clone();
        tokio::spawn(async move {
            for chunk in messages.chunks(400) {
                produce(&kafka, "audit.tokenized", chunk).await;
                tokio::time::sleep(Duration::from_millis(700)).await;
            }
        })
    };

    let mut signed_before = 0;
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for run in 0..KILLS {
        let log = std::fs::File::create(storage.path().join(format!("signer-{run}.log"))).unwrap();
        let mut signer = spawn_signer(&kafka, &key_dir, log);
        let progressed = wait_for_progress(&kafka, signed_before).await;
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        tokio::time::sleep(Duration::from_millis(seed % 1500)).await;
        signer.kill();
        signed_before = signed_count(&kafka).await;
        eprintln!("run {run}: progress seen at {progressed} signed, killed at {signed_before}");
    }
    feeder.await.unwrap();
    assert!(signed_before < RECORDS as i64, "the kills happened while records were still coming");

    let log = std::fs::File::create(storage.path().join("signer-last.log")).unwrap();
    let last = spawn_signer(&kafka, &key_dir, log);
    let signed = support::read_signed(&kafka, RECORDS, Duration::from_secs(180)).await;
    if signed.len() < RECORDS {
        // The signers' own account is the only clue to a stall once the test is gone.
        for run in (0..KILLS).map(|run| run.to_string()).chain(["last".to_owned()]) {
            let log = std::fs::read_to_string(storage.path().join(format!("signer-{run}.log")));
            let log = log.unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            eprintln!("signer-{run}.log, last lines first:\n{}", tail.join("\n"));
        }
    }
    assert!(last.terminate().success(), "SIGTERM stops the signer cleanly");
    let heads = support::assert_exactly_once_and_chained(&signed, &inputs, &support::verifier(&key_dir));
    let total: u64 = heads.values().sum();
    assert_eq!(total, RECORDS as u64);
    eprintln!("crash test: {RECORDS} records, {KILLS} kills, chains {heads:?}");
}
