//! Webhook delivery on one embedded broker: deliveries per second to a local receiver
//! against records consumed by the notifier, then a healthy target's latency (record
//! written → notification received, p50/p99) at a steady rate, alone and while another
//! webhook of every tenant hangs.
//!
//! Input: signed records over 10 tenants as the signer publishes them; every tenant
//! has a webhook taking every event type. `AUDIT_BENCH_RECORDS` sets the throughput
//! run's size (default 50,000).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use audit_auth::issuer::{Issuer, TokenSpec};
use clap::Parser;
use serde_json::json;
use testkit::bench;
use tokio_util::sync::CancellationToken;

const TENANTS: usize = 10;
/// Records and rate of each latency run.
const STEADY_RECORDS: usize = 5_000;
const STEADY_RATE: usize = 1_000;

/// mimalloc, tuned: `audit-alloc` says why.
#[global_allocator]
static ALLOCATOR: audit_alloc::Tuned = audit_alloc::Tuned;

/// First arrival of each `webhook-id` at the healthy receiver.
type Arrivals = Arc<Mutex<HashMap<String, Instant>>>;

#[tokio::main]
async fn main() {
    let records: usize =
        std::env::var("AUDIT_BENCH_RECORDS").ok().and_then(|n| n.parse().ok()).unwrap_or(50_000);
    let (_broker, kafka, _storage) = bench::broker().await;
    let notifier = Notifier::start(&kafka.bootstrap).await;
    let (healthy, arrivals) = healthy_receiver().await;
    for tenant in 0..TENANTS {
        notifier.register(&format!("tenant-{tenant}"), &healthy).await;
    }
    println!(
        "{records} signed records over {TENANTS} tenants, {} partitions, one webhook per tenant",
        bench::PARTITIONS
    );

    let (_, messages) = testkit::records::signed_messages(records, TENANTS, "throughput");
    let started = Instant::now();
    let consumed = tokio::spawn(notifier.consumed_after(records as u64, started));
    let loaded = messages.into_iter().map(|(key, payload)| (key.unwrap_or_default(), payload));
    bench::load(&kafka, "audit.signed", loaded).await;
    wait_for(&arrivals, records, Duration::from_secs(600)).await;
    let delivered = started.elapsed();
    let consumed = consumed.await.unwrap();
    println!(
        "consumed: {records} records in {:.1} s ({:.0}/s); delivered: {records} notifications in {:.1} s ({:.0}/s, {:.2} of consumption)",
        consumed.as_secs_f64(),
        records as f64 / consumed.as_secs_f64(),
        delivered.as_secs_f64(),
        records as f64 / delivered.as_secs_f64(),
        consumed.as_secs_f64() / delivered.as_secs_f64(),
    );

    let alone = steady(&kafka, &arrivals, "alone").await;
    println!("healthy target alone at {STEADY_RATE}/s: {alone}");
    let hanging = hanging_receiver().await;
    for tenant in 0..TENANTS {
        notifier.register(&format!("tenant-{tenant}"), &hanging).await;
    }

    let beside = steady(&kafka, &arrivals, "beside").await;
    println!("healthy target while another webhook of every tenant hangs: {beside}");
    notifier.shutdown.cancel();
}

/// Writes [`STEADY_RECORDS`] records at [`STEADY_RATE`] per second in tenths of a
/// second; the latency from each write to its arrival.
async fn steady(kafka: &audit_runtime::config::KafkaConfig, arrivals: &Arrivals, prefix: &str) -> String {
    let before = arrivals.lock().unwrap().len();
    let (ids, messages) = testkit::records::signed_messages(STEADY_RECORDS, TENANTS, prefix);
    let mut written = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let chunk = STEADY_RATE / 10;
    for (index, batch) in messages.chunks(chunk).enumerate() {
        tick.tick().await;
        let sent = Instant::now();
        let loaded = batch.iter().cloned().map(|(key, payload)| (key.unwrap_or_default(), payload));
        bench::load(kafka, "audit.signed", loaded).await;
        for id in &ids[index * chunk..(index * chunk + batch.len())] {
            written.insert(id.clone(), sent);
        }
    }

    wait_for(arrivals, before + STEADY_RECORDS, Duration::from_secs(120)).await;
    let arrived = arrivals.lock().unwrap();
    let mut latencies: Vec<Duration> = written
        .iter()
        .filter_map(|(id, sent)| arrived.get(id).map(|at| at.saturating_duration_since(*sent)))
        .collect();
    latencies.sort();
    let at = |quantile: f64| latencies[((latencies.len() - 1) as f64 * quantile) as usize].as_millis();
    format!("{} of {STEADY_RECORDS} arrived, p50 {} ms, p99 {} ms", latencies.len(), at(0.5), at(0.99))
}

async fn wait_for(arrivals: &Arrivals, count: usize, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    let mut reported = Instant::now();
    while arrivals.lock().unwrap().len() < count && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if reported.elapsed() > Duration::from_secs(5) {
            eprintln!("{} of {count} arrived", arrivals.lock().unwrap().len());
            reported = Instant::now();
        }
    }
}

/// A receiver on loopback noting when each notification first arrived.
async fn healthy_receiver() -> (String, Arrivals) {
    let arrivals = Arrivals::default();
    let log = arrivals.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap| {
            let log = log.clone();
            async move {
                let now = Instant::now();
                let id = headers.get("webhook-id").and_then(|id| id.to_str().ok()).unwrap_or_default();
                log.lock().unwrap().entry(id.to_owned()).or_insert(now);
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    (serve(app).await, arrivals)
}

/// A receiver on loopback that takes requests and never answers.
async fn hanging_receiver() -> String {
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(|| async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            axum::http::StatusCode::NO_CONTENT
        }),
    );
    serve(app).await
}

async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// The notifier through `run()`, as `main` runs it.
struct Notifier {
    base: String,
    ops: String,
    issuer: Issuer,
    shutdown: CancellationToken,
    _dir: tempfile::TempDir,
}

impl Notifier {
    async fn start(bootstrap: &str) -> Notifier {
        let dir = tempfile::tempdir().unwrap();
        let issuer = Issuer::generate();
        let jwks = dir.path().join("auth-jwks.json");
        std::fs::write(&jwks, serde_json::to_string(&issuer.jwks()).unwrap()).unwrap();
        let ops = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string();
        let config = notifier::NotifierArgs::parse_from([
            "notifier".to_owned(),
            format!("--kafka={bootstrap}"),
            format!("--partitions={}", bench::PARTITIONS),
            format!("--database=sqlite:{}", dir.path().join("notifier.db").display()),
            format!("--master-key-file={}", dir.path().join("master.key").display()),
            "--create-master-key=true".to_owned(),
            "--allow-private-targets=true".to_owned(),
            format!("--auth-jwks-file={}", jwks.display()),
            format!("--ops-listen={ops}"),
        ])
        .validate()
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let shutdown = CancellationToken::new();
        tokio::spawn(notifier::run(config, listener, shutdown.clone()));
        Notifier { base, ops: format!("http://{ops}"), issuer, shutdown, _dir: dir }
    }

    async fn register(&self, tenant: &str, url: &str) {
        let roles = ["ORG_ADMIN".to_owned()];
        let token =
            self.issuer.mint(&TokenSpec { subject: "bench", tenant, roles: &roles, ttl_seconds: 3600 });
        let client = reqwest::Client::new();
        for _ in 0..100 {
            let answer = client
                .post(format!("{}/v1/tenants/{tenant}/webhooks", self.base))
                .bearer_auth(&token)
                .json(&json!({"url": url, "events": ["*"], "insecure": true}))
                .send()
                .await;
            if answer.is_ok_and(|answer| answer.status() == 201) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the notifier did not register a webhook");
    }

    /// How long after `started` the notifier had consumed `count` records.
    fn consumed_after(&self, count: u64, started: Instant) -> impl Future<Output = Duration> + use<> {
        let metrics = format!("{}/metrics", self.ops);
        async move {
            let client = reqwest::Client::new();
            loop {
                let text = match client.get(&metrics).send().await {
                    Ok(answer) => answer.text().await.unwrap_or_default(),
                    Err(_) => String::new(),
                };
                let consumed = text
                    .lines()
                    .find_map(|line| line.strip_prefix("notifier_records_consumed_total "))
                    .and_then(|value| value.trim().parse::<f64>().ok())
                    .unwrap_or(0.0);
                if consumed as u64 >= count {
                    return started.elapsed();
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}
