//! Tokenizer throughput against the stage runtime passing the same records through, on
//! one embedded broker (memory storage), with a real vault (SQLite) in process.
//!
//! Two inputs of 100,000 normalized records each, made from generated traffic:
//! - unique: someone new acts in every event, so nearly every personal value is
//!   distinct and the tokenizer's cache never helps (the worst case);
//! - recurring: 200 people and 8 clients per tenant act, a few of them in most events,
//!   as in a deployment of 10,000 users (the common case).
//!
//! Over each input the tokenizer runs twice: first with an empty vault (values are new
//! and inserted), then with a fresh group and an empty cache (the vault knows every
//! value). Both the pass-through and the tokenizer process a batch while the broker
//! acknowledges the previous one (`Delivery::Overlapped`). Printed: records/s of each
//! loop, the ratios to the pass-through over the same input (target >= 0.7), the
//! process's CPU per record in each loop, and how many values the vault was asked to
//! find (the tokenizer's cache misses) and to create (found nowhere).

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

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

/// One generated input and what its loops measured.
struct Traffic {
    name: &'static str,
    topic: &'static str,
    passthrough: &'static str,
    people_per_tenant: usize,
}

const TRAFFICS: [Traffic; 2] = [
    Traffic {
        name: "unique",
        topic: "audit.normalized",
        passthrough: "bench.passthrough.unique",
        people_per_tenant: 0,
    },
    Traffic {
        name: "recurring",
        topic: "bench.normalized.recurring",
        passthrough: "bench.passthrough.recurring",
        people_per_tenant: 200,
    },
];

/// Records per second and process CPU of one loop.
type Measured = (f64, Duration);

#[tokio::main]
async fn main() {
    let (broker, kafka) = bench::broker().await;
    let dir = tempfile::tempdir().unwrap();
    let credential = ServiceCredential::generate("tokenizer");
    let vault_url = start_vault(&kafka, &credential, &dir).await;
    let mut rows = Vec::new();
    for traffic in &TRAFFICS {
        let bytes = load_normalized(&kafka, traffic).await;
        println!(
            "input {}: {RECORDS} normalized records, {:.0} bytes on average, {} partitions",
            traffic.name,
            bytes as f64 / RECORDS as f64,
            bench::PARTITIONS
        );
        let vault = Vault { url: vault_url.clone(), credential: credential.clone() };
        let before = vault_values(&vault_url).await;
        let measured = measure(&kafka, traffic, &vault).await;
        let after = vault_values(&vault_url).await;
        rows.push((traffic.name, measured, (after.0 - before.0, after.1 - before.1)));
    }
    for (name, [runtime, new, known], (find, create)) in &rows {
        report(name, *runtime, *new, *known);
        println!(
            "{name}: values the vault was asked to find (cache misses): {find}, to create (found nowhere): {create}"
        );
    }
    broker.stop().await;
}

/// The pass-through, then the tokenizer with new values, then with known ones.
async fn measure(kafka: &KafkaConfig, traffic: &Traffic, vault: &Vault) -> [Measured; 3] {
    let route = bench::Route {
        input: traffic.topic,
        output: traffic.passthrough,
        partitioning: Partitioning::ByKey,
        delivery: Delivery::Overlapped,
    };
    let runtime = bench::with_cpu(bench::timed(kafka, route.output, RECORDS, |done, stop| {
        bench::passthrough(kafka.clone(), route, done, stop)
    }))
    .await;
    let mut tokenized = Vec::new();
    // The second run starts with a fresh group and cache: the vault knows every value
    // now, as it does in steady state.
    for run in ["new", "known"] {
        let output = format!("bench.tokenized.{}.{run}", traffic.name);
        let loop_params = Loop { input: traffic.topic, output: output.clone() };
        tokenized.push(
            bench::with_cpu(bench::timed(kafka, &output, RECORDS, |done, stop| {
                tokenizer(kafka.clone(), vault.clone(), loop_params, (done, stop))
            }))
            .await,
        );
    }
    [runtime, tokenized[0], tokenized[1]]
}

fn report(traffic: &str, runtime: Measured, new: Measured, known: Measured) {
    bench::report(&format!("{traffic}: stage runtime, pass-through"), runtime.0);
    bench::report(&format!("{traffic}: tokenizer, every value new"), new.0);
    bench::report(&format!("{traffic}: tokenizer, values known to the vault"), known.0);
    println!(
        "{traffic}: ratio tokenizer / runtime pass-through: {:.2} new values, {:.2} known values (target >= 0.7)",
        new.0 / runtime.0,
        known.0 / runtime.0
    );
    let per_record = |cpu: Duration| cpu.as_secs_f64() * 1e6 / RECORDS as f64;
    println!(
        "{traffic}: process CPU per record (broker, vault and loop together): pass-through {:.1} µs, \
         every value new {:.1} µs, known values {:.1} µs",
        per_record(runtime.1),
        per_record(new.1),
        per_record(known.1)
    );
}

/// How many values the vault was asked to find and to create so far.
async fn vault_values(vault_url: &str) -> (u64, u64) {
    let metrics = reqwest::get(format!("{vault_url}/metrics")).await.unwrap().text().await.unwrap();
    let values = |operation: &str| {
        let line = format!("vault_values_total{{operation=\"{operation}\"}} ");
        metrics
            .lines()
            .find_map(|row| row.strip_prefix(&line))
            .map_or(0, |count| count.trim().parse().expect("a counter is a number"))
    };
    (values("find"), values("tokenize"))
}

/// Generated traffic, normalized as the ingestor does, into the traffic's topic.
async fn load_normalized(kafka: &KafkaConfig, traffic: &Traffic) -> usize {
    let mut generator = Generator::new(TrafficParams {
        tenants: 50,
        malformed_ratio: 0.0,
        duplicate_ratio: 0.0,
        seed: 7,
        start_ms: chrono::Utc::now().timestamp_millis() - 86_400_000,
        people_per_tenant: traffic.people_per_tenant,
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
            record.id = format!("bench-{}-{n}", traffic.name);
            (record.tenant_id.clone().into_bytes(), codec.encode(&record).unwrap())
        })
        .collect();
    let bytes = records.iter().map(|(_, payload)| payload.len()).sum();
    bench::load(kafka, traffic.topic, records.into_iter()).await;
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

/// Where the vault listens and how the tokenizer authenticates to it.
#[derive(Clone)]
struct Vault {
    url: String,
    credential: ServiceCredential,
}

/// What one tokenizer loop reads and writes.
struct Loop {
    input: &'static str,
    output: String,
}

/// The tokenizer as it runs in production; progress read from its own `/metrics`.
async fn tokenizer(
    kafka: KafkaConfig,
    vault: Vault,
    topics: Loop,
    (done, shutdown): (Arc<AtomicU64>, CancellationToken),
) {
    let mut config = tokenizer::Config::defaults_for(&kafka.bootstrap, &vault.url, &vault.credential);
    config.kafka = kafka;
    // A group per loop: each one reads its input from the start.
    config.group_id = format!("bench-{}", topics.output);
    config.topics.input = topics.input.into();
    config.topics.output = topics.output;
    let ops = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    bench::follow_metric(
        format!("http://{}/metrics", ops.local_addr().unwrap()),
        "tokenizer_records_produced_total ",
        done,
    );
    tokenizer::run(config, ops, shutdown).await.unwrap();
}
