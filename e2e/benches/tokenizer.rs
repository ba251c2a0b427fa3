//! Tokenizer throughput against the stage runtime passing the same records through, on
//! one embedded broker (its durable storage, as `auditctl up` runs it), with a real
//! vault (SQLite) in process.
//!
//! Two inputs of 100,000 normalized records each, made from generated traffic:
//! - unique: someone new acts in every event, so nearly every personal value is
//!   distinct and the tokenizer's cache never helps (the worst case);
//! - recurring: 200 people and 8 clients per tenant act, a few of them in most events,
//!   as in a deployment of 10,000 users (the common case).
//!
//! Over each input the tokenizer runs first with an empty vault (values are new and
//! inserted), then [`ROUNDS`] times with a fresh group and an empty cache (the vault
//! knows every value), each round after a pass-through over the same input: one run
//! of a loop on two shared cores varies by about 20%, so the medians are compared.
//! Both the pass-through and the tokenizer process a batch while the broker
//! acknowledges the previous one (`Delivery::Overlapped`). Printed, from each loop's
//! first output on: records/s, the ratios to the pass-through (target >= 0.7), the
//! process's CPU per record, and how many values the vault was asked to find (the
//! tokenizer's cache misses) and to create (found nowhere).

use e2e::VaultParams;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use audit_auth::service::ServiceCredential;
use audit_runtime::config::KafkaConfig;
use audit_runtime::stage::{Delivery, Partitioning};
use audit_schemas::{Codec, NormalizedRecord};
use audit_traffic::{Generator, TrafficParams};
use ingestor::Limits;
use testkit::bench::{self, Steady};
use tokio_util::sync::CancellationToken;

const RECORDS: usize = 100_000;

/// One generated input.
struct Traffic {
    name: &'static str,
    topic: &'static str,
    people_per_tenant: usize,
}

const TRAFFICS: [Traffic; 2] = [
    Traffic { name: "unique", topic: "audit.normalized", people_per_tenant: 0 },
    Traffic { name: "recurring", topic: "bench.normalized.recurring", people_per_tenant: 200 },
];

/// Rounds of the pass-through and of the tokenizer over known values.
const ROUNDS: usize = 5;

/// What the loops over one input measured.
struct Measured {
    passthrough: Vec<Steady>,
    new: Steady,
    known: Vec<Steady>,
    /// Values the vault was asked to find and to create.
    values: (u64, u64),
}

/// mimalloc, tuned: `audit-alloc` says why.
#[global_allocator]
static ALLOCATOR: audit_alloc::Tuned = audit_alloc::Tuned;

#[tokio::main]
async fn main() {
    let (broker, kafka, _storage) = bench::broker().await;
    let dir = tempfile::tempdir().unwrap();
    let credential = ServiceCredential::generate("tokenizer");
    let vault = Vault { url: start_vault(&kafka, &credential, &dir).await, credential };
    let mut rows = Vec::new();
    for traffic in &TRAFFICS {
        let bytes = load_normalized(&kafka, traffic).await;
        println!(
            "input {}: {RECORDS} normalized records, {:.0} bytes on average, {} partitions",
            traffic.name,
            bytes as f64 / RECORDS as f64,
            bench::PARTITIONS
        );
        rows.push((traffic.name, measure(&kafka, traffic, &vault).await));
    }
    for (name, measured) in &rows {
        report(name, measured);
    }
    broker.stop().await;
}

/// The tokenizer with new values, then rounds of the pass-through and the tokenizer
/// with known values.
async fn measure(kafka: &KafkaConfig, traffic: &Traffic, vault: &Vault) -> Measured {
    let before = vault_values(&vault.url).await;
    let new = tokenizer_loop(kafka, traffic, vault, "new".into()).await;
    let mut passthrough = Vec::with_capacity(ROUNDS);
    let mut known = Vec::with_capacity(ROUNDS);
    for round in 0..ROUNDS {
        // A topic (and so a group) per round; leaked, as a loop's future must own it.
        let output: &'static str = format!("bench.passthrough.{}.{round}", traffic.name).leak();
        let route = bench::Route {
            input: traffic.topic,
            output,
            partitioning: Partitioning::ByKey,
            delivery: Delivery::Overlapped,
        };
        passthrough.push(
            bench::steady(kafka, output, RECORDS, |done, stop| {
                bench::passthrough(kafka.clone(), route, done, stop)
            })
            .await,
        );
        // A fresh group and cache: the vault knows every value, as in steady state.
        known.push(tokenizer_loop(kafka, traffic, vault, format!("known.{round}")).await);
    }
    let after = vault_values(&vault.url).await;
    Measured { passthrough, new, known, values: (after.0 - before.0, after.1 - before.1) }
}

async fn tokenizer_loop(kafka: &KafkaConfig, traffic: &Traffic, vault: &Vault, run: String) -> Steady {
    let output = format!("bench.tokenized.{}.{run}", traffic.name);
    let topics = Loop { input: traffic.topic, output: output.clone() };
    bench::steady(kafka, &output, RECORDS, |done, stop| {
        tokenizer(kafka.clone(), vault.clone(), topics, (done, stop))
    })
    .await
}

fn report(traffic: &str, measured: &Measured) {
    let passthrough = median(&measured.passthrough);
    let known = median(&measured.known);
    let rates = |runs: &[Steady]| runs.iter().map(|run| format!("{:.0}", run.per_second)).collect::<Vec<_>>();
    let cpu = |run: &Steady| run.cpu_per_record.as_secs_f64() * 1e6;
    bench::report(&format!("{traffic}: stage runtime, pass-through"), passthrough.per_second);
    bench::report(&format!("{traffic}: tokenizer, every value new"), measured.new.per_second);
    bench::report(&format!("{traffic}: tokenizer, values known to the vault"), known.per_second);
    println!(
        "{traffic}: rounds: pass-through {}, known values {} records/s",
        rates(&measured.passthrough).join(" / "),
        rates(&measured.known).join(" / ")
    );
    let ratios: Vec<String> = measured
        .known
        .iter()
        .zip(&measured.passthrough)
        .map(|(known, passthrough)| format!("{:.2}", known.per_second / passthrough.per_second))
        .collect();
    println!(
        "{traffic}: ratio tokenizer / runtime pass-through: {:.2} new values, {:.2} known values \
         (medians; rounds {}) (target >= 0.7)",
        measured.new.per_second / passthrough.per_second,
        known.per_second / passthrough.per_second,
        ratios.join(" / ")
    );
    println!(
        "{traffic}: process CPU per record (broker, vault and loop together): pass-through {:.1} µs, \
         every value new {:.1} µs, known values {:.1} µs",
        cpu(&passthrough),
        cpu(&measured.new),
        cpu(&known)
    );
    let (find, create) = measured.values;
    println!(
        "{traffic}: values the vault was asked to find (cache misses): {find}, to create (found nowhere): {create}"
    );
}

/// The run of median rate.
fn median(runs: &[Steady]) -> Steady {
    let mut sorted = runs.to_vec();
    sorted.sort_by(|a, b| a.per_second.total_cmp(&b.per_second));
    sorted[sorted.len() / 2]
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
                ingestor::normalize(&event.payload, &limits).expect("generated events are valid");
            record.id = format!("bench-{}-{n}", traffic.name);
            (record.tenant_id.clone().into_bytes(), codec.encode(&record).unwrap())
        })
        .collect();
    let bytes = records.iter().map(|(_, payload)| payload.len()).sum();
    bench::load(kafka, traffic.topic, records.into_iter()).await;
    bytes
}

async fn start_vault(kafka: &KafkaConfig, credential: &ServiceCredential, dir: &tempfile::TempDir) -> String {
    let params = VaultParams {
        bootstrap: &kafka.bootstrap,
        dir: dir.path(),
        database: None,
        credentials: &[credential],
        auth_jwks: None,
        listener: None,
        shutdown: CancellationToken::new(),
    };
    e2e::start_vault(params).await
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
    config.stage.kafka = kafka;
    // A group per loop: each one reads its input from the start.
    config.stage.group_id = format!("bench-{}", topics.output);
    config.stage.topics.input = topics.input.into();
    config.stage.topics.output = Some(topics.output);
    let ops = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    bench::follow_metric(
        format!("http://{}/metrics", ops.local_addr().unwrap()),
        "tokenizer_records_produced_total ",
        done,
    );
    tokenizer::run(config, ops, shutdown).await.unwrap();
}
