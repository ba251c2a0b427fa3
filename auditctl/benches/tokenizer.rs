//! Tokenizer throughput against the stage runtime passing the same records through, on
//! one embedded broker (memory storage), with a real vault (SQLite) in process.
//!
//! The input is 100,000 normalized records made from generated traffic, where most
//! personal values are unique. The tokenizer runs twice: first with an empty vault
//! (every value is new and inserted), then with a fresh group and cache over the same
//! records (the vault knows every value). Both the pass-through and the tokenizer
//! process a batch while the broker acknowledges the previous one (`Delivery::Overlapped`).
//! Printed: records/s of each loop, the ratios
//! to the pass-through (target >= 0.7), the process's CPU per record in each loop, and
//! how many values the vault was asked to find (the tokenizer's cache misses) and to
//! create (found nowhere).

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use audit_core::auth::issuer::Issuer;
use audit_core::auth::service::ServiceCredential;
use audit_core::config::KafkaConfig;
use audit_core::stage::{Delivery, Partitioning};
use audit_core::traffic::{Generator, TrafficParams};
use audit_schemas::{Codec, NormalizedRecord};
use clap::Parser;
use ingestor::limits::Limits;
use testkit::bench;
use tokio_util::sync::CancellationToken;

const RECORDS: usize = 100_000;

#[tokio::main]
async fn main() {
    let (broker, kafka) = bench::broker().await;
    let bytes = load_normalized(&kafka).await;
    println!(
        "input: {RECORDS} normalized records, {:.0} bytes on average, {} partitions",
        bytes as f64 / RECORDS as f64,
        bench::PARTITIONS
    );

    let dir = tempfile::tempdir().unwrap();
    let credential = ServiceCredential::generate("tokenizer");
    let vault_url = start_vault(&kafka, &credential, &dir).await;
    let route = bench::Route {
        input: "audit.normalized",
        output: "bench.passthrough",
        partitioning: Partitioning::ByKey,
        delivery: Delivery::Overlapped,
    };
    let (runtime, runtime_cpu) =
        bench::with_cpu(bench::timed(&kafka, route.output, RECORDS, |done, stop| {
            bench::passthrough(kafka.clone(), route, done, stop)
        }))
        .await;
    let (tokenize, tokenize_cpu) =
        bench::with_cpu(bench::timed(&kafka, "bench.tokenized", RECORDS, |done, stop| {
            tokenizer(kafka.clone(), vault_url.clone(), credential.clone(), (done, stop))
        }))
        .await;
    // Again over the same records with a fresh group and cache: the vault knows every
    // value now, as it does in steady state, where users, hosts and addresses recur.
    let (warm, warm_cpu) =
        bench::with_cpu(bench::timed(&kafka, "bench.tokenized.warm", RECORDS, |done, stop| {
            tokenizer(kafka.clone(), vault_url.clone(), credential.clone(), (done, stop))
        }))
        .await;
    bench::report("stage runtime, pass-through", runtime);
    bench::report("tokenizer, every value new", tokenize);
    bench::report("tokenizer, values known to the vault", warm);
    println!(
        "ratio tokenizer / runtime pass-through: {:.2} new values, {:.2} known values (target >= 0.7)",
        tokenize / runtime,
        warm / runtime
    );
    let per_record = |cpu: std::time::Duration| cpu.as_secs_f64() * 1e6 / RECORDS as f64;
    println!(
        "process CPU per record (broker, vault and loop together): pass-through {:.1} µs, \
         every value new {:.1} µs, known values {:.1} µs",
        per_record(runtime_cpu),
        per_record(tokenize_cpu),
        per_record(warm_cpu)
    );
    let metrics = reqwest::get(format!("{vault_url}/metrics")).await.unwrap().text().await.unwrap();
    let values = |operation: &str| {
        let line = format!("vault_values_total{{operation=\"{operation}\"}}");
        metrics
            .lines()
            .find(|row| row.starts_with(&line))
            .and_then(|row| row.rsplit(' ').next())
            .unwrap_or("0")
    };
    println!(
        "values the vault was asked to find (cache misses): {}, to create (found nowhere): {}",
        values("find"),
        values("tokenize")
    );
    broker.stop().await;
}

/// Generated traffic, normalized as the ingestor does, into `audit.normalized`.
async fn load_normalized(kafka: &KafkaConfig) -> usize {
    let mut generator = Generator::new(TrafficParams {
        tenants: 50,
        malformed_ratio: 0.0,
        duplicate_ratio: 0.0,
        seed: 7,
        start_ms: chrono::Utc::now().timestamp_millis() - 86_400_000,
    });
    let limits = Limits {
        max_message_bytes: 65_536,
        min_created_ms: Limits::earliest_plausible_ms(),
        max_future_skew_ms: 3_600_000,
    };
    let codec = Codec::<NormalizedRecord>::published("NormalizedRecord").unwrap();
    let records: Vec<(Vec<u8>, Vec<u8>)> = (0..RECORDS)
        .map(|n| {
            let event = generator.next_event();
            let mut record =
                ingestor::validate::normalize(&event.payload, &limits).expect("generated events are valid");
            record.id = format!("bench-{n}");
            (record.tenant_id.clone().into_bytes(), codec.encode(&record).unwrap())
        })
        .collect();
    let bytes = records.iter().map(|(_, payload)| payload.len()).sum();
    bench::load(kafka, "audit.normalized", records.into_iter()).await;
    bytes
}

async fn start_vault(kafka: &KafkaConfig, credential: &ServiceCredential, dir: &tempfile::TempDir) -> String {
    let jwks = dir.path().join("jwks.json");
    std::fs::write(&jwks, serde_json::to_string(&Issuer::generate().jwks()).unwrap()).unwrap();
    let config = vault::VaultArgs::parse_from([
        "vault".to_owned(),
        format!("--kafka={}", kafka.bootstrap),
        format!("--database=sqlite:{}", dir.path().join("vault.db").display()),
        format!("--master-key-file={}", dir.path().join("master.key").display()),
        "--create-master-key=true".to_owned(),
        format!("--auth-jwks-file={}", jwks.display()),
        format!("--service-credentials={}", credential.expose()),
    ])
    .validate()
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(vault::run(config, listener, CancellationToken::new()));
    url
}

/// The tokenizer as it runs in production; progress read from its own `/metrics`.
async fn tokenizer(
    kafka: KafkaConfig,
    vault_url: String,
    credential: ServiceCredential,
    (done, shutdown): (Arc<AtomicU64>, CancellationToken),
) {
    static RUNS: AtomicU64 = AtomicU64::new(0);
    let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut config = tokenizer::Config::defaults_for(&kafka.bootstrap, &vault_url, &credential);
    config.kafka = kafka;
    // A group and an output per run: the second run reads everything again.
    config.group_id = format!("bench-tokenizer-{run}");
    config.topics.output = if run == 0 { "bench.tokenized".into() } else { "bench.tokenized.warm".into() };
    let ops = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    bench::follow_metric(
        format!("http://{}/metrics", ops.local_addr().unwrap()),
        "tokenizer_records_produced_total ",
        done,
    );
    tokenizer::run(config, ops, shutdown).await.unwrap();
}
