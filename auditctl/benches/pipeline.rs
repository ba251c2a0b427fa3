//! The whole pipeline against a bare 4-hop consume-produce chain, both on the embedded
//! broker with the durable storage `auditctl up` uses.
//!
//! 1. Chain: four copies of the stage runtime passing records through
//!    (`audit.raw` → hop 1 → ... → hop 4), in this process on its own broker.
//! 2. Pipeline: `auditctl up` (this package's binary, a child process on free ports
//!    and a fresh data directory: ingestor, tokenizer with the real vault, signer,
//!    indexer, query-api).
//!
//! Each gets the same generated events (someone new in every event, no malformed ones)
//! sent at full speed, and is timed from the first send until the last hop (the
//! indexer) holds every event. Then events are sent to the pipeline at half its rate
//! for 20 s, with one event of a tenant of their own every 100 ms, and each of those
//! is timed from its send until the query-api counts it (freshness). Printed:
//! events/s of both, the pipeline-to-chain ratio (target >= 0.8), freshness p50/p99
//! (target p99 <= 1 s), and the peak resident memory of the `auditctl up` process,
//! which holds every service (target: 256 MiB per service). `-- --events N` sends N
//! (default 200,000; 1,000,000 for the long form); `-- --people-per-tenant N` draws who
//! acts from N people per tenant instead of someone new in every event.

use audit_runtime::topics::Topic;
use std::{
    net::TcpListener,
    process::{Command, Stdio},
    sync::{Arc, atomic::AtomicU64},
    time::{Duration, Instant},
};

use audit_runtime::{
    config::KafkaConfig,
    kafka::producer,
    stage::{Delivery, Partitioning},
};
use audit_traffic::{Generator, TrafficParams};
use rdkafka::producer::{FutureProducer, FutureRecord};
use testkit::{
    bench::{self, Route},
    process::ChildGuard,
};
use tokio_util::sync::CancellationToken;

const HOPS: [&str; 5] = ["audit.raw", "bench.hop1", "bench.hop2", "bench.hop3", "bench.hop4"];
const FRESHNESS_WINDOW: Duration = Duration::from_secs(20);
const MARKER_EVERY: Duration = Duration::from_millis(100);

/// The value of `-- NAME N`, or `default`.
fn flag(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.windows(2).find(|pair| pair[0] == name).map_or(default, |pair| pair[1].parse().expect("a number"))
}

/// Generated traffic of `tenants` tenants, dated so that `count` events (the generator
/// steps 20 ms on average) end about now: the ingestor refuses events dated over an
/// hour ahead.
fn traffic(seed: u64, tenants: usize, count: usize) -> Generator {
    let now = chrono::Utc::now().timestamp_millis();
    Generator::new(TrafficParams {
        tenants,
        malformed_ratio: 0.0,
        duplicate_ratio: 0.0,
        seed,
        start_ms: now - (count as i64 * 20).max(3_600_000),
        people_per_tenant: flag("--people-per-tenant", 0),
    })
}

/// Sends `count` events at full speed; returns when every one is acknowledged.
async fn send_all(kafka: &KafkaConfig, count: usize) {
    let mut generator = traffic(7, 5, count);
    let events = (0..count).map(move |_| {
        let event = generator.next_event();
        (event.key.unwrap_or_default(), event.payload)
    });
    bench::load(kafka, "audit.raw", events).await;
}

/// Polls `metric` at `url` until it reaches `target`; the time that took from `since`.
async fn wait_for_metric(url: &str, metric: &'static str, target: u64, since: Instant) -> Duration {
    let done = Arc::new(AtomicU64::new(0));
    bench::follow_metric(url.to_owned(), metric, done.clone());
    while done.load(std::sync::atomic::Ordering::Acquire) < target {
        assert!(since.elapsed() < Duration::from_secs(3600), "{metric} stayed below {target}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    since.elapsed()
}

async fn chain(count: usize) -> f64 {
    let (_broker, kafka, _storage) = bench::broker().await;
    audit_runtime::topics::ensure(&kafka, &HOPS.map(Topic::named)).await.unwrap();
    let shutdown = CancellationToken::new();
    let last = Arc::new(AtomicU64::new(0));
    let mut hops = Vec::new();
    for pair in HOPS.windows(2) {
        let route = Route {
            input: pair[0],
            output: pair[1],
            partitioning: Partitioning::ByKey,
            delivery: Delivery::Overlapped,
        };
        let done = if pair[1] == HOPS[4] { last.clone() } else { Arc::new(AtomicU64::new(0)) };
        hops.push(tokio::spawn(bench::passthrough(kafka.clone(), route, done, shutdown.clone())));
    }
    tokio::time::sleep(Duration::from_secs(2)).await; // every hop has joined its group
    let started = Instant::now();
    send_all(&kafka, count).await;
    while last.load(std::sync::atomic::Ordering::Acquire) < count as u64 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed();
    shutdown.cancel();
    // The hops commit and leave their groups before their broker goes.
    for hop in hops {
        hop.await.unwrap();
    }
    count as f64 / elapsed.as_secs_f64()
}

/// Free loopback ports for the stack's listeners.
fn free_ports(count: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..count).map(|_| TcpListener::bind("127.0.0.1:0").unwrap()).collect();
    listeners.iter().map(|listener| listener.local_addr().unwrap().port()).collect()
}

/// `auditctl up` on a fresh data directory and free ports.
struct Stack {
    child: ChildGuard,
    broker: String,
    indexer: String,
    query: String,
    data_dir: tempfile::TempDir,
}

async fn start_stack() -> Stack {
    let data_dir = tempfile::tempdir().unwrap();
    let ports = free_ports(10);
    let address = |index: usize| format!("127.0.0.1:{}", ports[index]);
    let flags = [
        "--broker-listen",
        "--ingestor-ops-listen",
        "--tokenizer-ops-listen",
        "--signer-ops-listen",
        "--indexer-ops-listen",
        "--indexer-leaf-listen",
        "--vault-listen",
        "--query-listen",
        "--notifier-listen",
        "--notifier-ops-listen",
    ];
    let mut command = Command::new(env!("CARGO_BIN_EXE_auditctl"));
    command.arg("up").arg("--data-dir").arg(data_dir.path());
    for (index, flag) in flags.iter().enumerate() {
        command.arg(flag).arg(address(index));
    }
    let log = std::fs::File::create(data_dir.path().join("up.log")).unwrap();
    let child = command.stdout(Stdio::null()).stderr(log).spawn().expect("auditctl up starts");
    let stack = Stack {
        child: ChildGuard(child),
        broker: address(0),
        indexer: address(4),
        query: address(7),
        data_dir,
    };
    let client = reqwest::Client::new();
    // Every server but the broker and the indexer's leaf API answers /healthz.
    for (_, port) in ports.iter().enumerate().filter(|(index, _)| ![0, 5].contains(index)) {
        let url = format!("http://127.0.0.1:{port}/healthz");
        let started = Instant::now();
        while !client.get(&url).send().await.is_ok_and(|response| response.status().is_success()) {
            assert!(started.elapsed() < Duration::from_secs(60), "{url} never became ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    stack
}

impl Stack {
    fn kafka(&self) -> KafkaConfig {
        let mut kafka = KafkaConfig::for_bootstrap(&self.broker).unwrap();
        kafka.partitions = bench::PARTITIONS;
        kafka
    }

    fn peak_rss_mib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.0.id())).unwrap();
        let line = status.lines().find(|line| line.starts_with("VmHWM:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() / 1024
    }

    /// User + system CPU time of the stack process so far.
    fn cpu(&self) -> Duration {
        bench::process_cpu_of(&self.child.0.id().to_string())
    }

    fn token(&self, tenant: &str) -> String {
        let output = Command::new(env!("CARGO_BIN_EXE_auditctl"))
            .args(["token", "--tenant", tenant, "--role", "ORG_ADMIN", "--data-dir"])
            .arg(self.data_dir.path())
            .output()
            .unwrap();
        assert!(output.status.success(), "token: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    }
}

/// Sends at `rate` events/s for the freshness window, one marker event of its own
/// tenant every [`MARKER_EVERY`]; returns the markers' send times.
async fn send_at_rate(producer: &FutureProducer, rate: f64, marker: &mut Generator) -> Vec<Instant> {
    let mut background = traffic(11, 5, (rate * FRESHNESS_WINDOW.as_secs_f64()) as usize);
    let mut sent_markers = Vec::new();
    let mut deliveries = Vec::new();
    let started = Instant::now();
    let mut sent = 0_f64;
    let mut next_marker = started;
    while started.elapsed() < FRESHNESS_WINDOW {
        let due = rate * started.elapsed().as_secs_f64();
        while sent < due {
            let event = background.next_event();
            let key = event.key.unwrap_or_default();
            let record = FutureRecord::to("audit.raw").key(&key).payload(&event.payload);
            deliveries.push(producer.send_result(record).map_err(|(error, _)| error).unwrap());
            sent += 1.0;
        }
        if Instant::now() >= next_marker {
            let event = marker.next_event();
            let key = event.key.unwrap_or_default();
            let record = FutureRecord::to("audit.raw").key(&key).payload(&event.payload);
            deliveries.push(producer.send_result(record).map_err(|(error, _)| error).unwrap());
            sent_markers.push(Instant::now());
            next_marker += MARKER_EVERY;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    for delivery in deliveries {
        delivery.await.unwrap().map_err(|(error, _)| error).unwrap();
    }
    sent_markers
}

/// Polls the query-api's count of `tenant`'s records; the instants each count was
/// first seen, until `count` is.
async fn watch_counts(query: String, tenant: String, token: String, count: usize) -> Vec<Instant> {
    let client = reqwest::Client::new();
    let url = format!("http://{query}/scim/{tenant}/v2/AuditRecords?count=0");
    let mut seen: Vec<Instant> = Vec::with_capacity(count);
    let started = Instant::now();
    while seen.len() < count && started.elapsed() < FRESHNESS_WINDOW * 4 {
        let response = client.get(&url).bearer_auth(&token).send().await;
        if let Ok(response) = response
            && let Ok(body) = response.json::<serde_json::Value>().await
            && let Some(total) = body["totalResults"].as_u64()
        {
            let now = Instant::now();
            while seen.len() < total as usize {
                seen.push(now);
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    seen
}

fn percentile(sorted: &[Duration], share: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * share).round() as usize]
}

async fn freshness(stack: &Stack, rate: f64) -> (Duration, Duration, usize) {
    let mut marker = traffic(13, 1, 0);
    let tenant = marker.tenants()[0].clone();
    let watcher = tokio::spawn(watch_counts(
        stack.query.clone(),
        tenant.clone(),
        stack.token(&tenant),
        (FRESHNESS_WINDOW.as_millis() / MARKER_EVERY.as_millis()) as usize,
    ));
    let producer = producer(&stack.kafka()).unwrap();
    let sent = send_at_rate(&producer, rate, &mut marker).await;
    let seen = watcher.await.unwrap();
    let mut latencies: Vec<Duration> =
        sent.iter().zip(&seen).map(|(sent, seen)| seen.saturating_duration_since(*sent)).collect();
    latencies.sort();
    assert!(!latencies.is_empty(), "no marker became searchable");
    (percentile(&latencies, 0.5), percentile(&latencies, 0.99), sent.len() - seen.len().min(sent.len()))
}

/// Events/s end to end, and the stack's CPU time per event meanwhile.
async fn pipeline(count: usize) -> (f64, Duration, Stack) {
    let stack = start_stack().await;
    let (started, cpu_before) = (Instant::now(), stack.cpu());
    send_all(&stack.kafka(), count).await;
    let url = format!("http://{}/metrics", stack.indexer);
    let elapsed = wait_for_metric(&url, "indexer_records_indexed_total ", count as u64, started).await;
    let cpu_per_event = stack.cpu().saturating_sub(cpu_before) / count as u32;
    (count as f64 / elapsed.as_secs_f64(), cpu_per_event, stack)
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}

/// mimalloc, tuned: `audit-alloc` says why.
#[global_allocator]
static ALLOCATOR: audit_alloc::Tuned = audit_alloc::Tuned;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let count = flag("--events", 200_000);
    let people = match flag("--people-per-tenant", 0) {
        0 => "someone new in every event".to_owned(),
        people => format!("{people} people per tenant"),
    };
    println!("whole pipeline, {count} events ({people}) sent at full speed, 2 cores");
    let chain_rate = chain(count).await;
    println!("{:<40} {chain_rate:>10.0} events/s", "bare 4-hop chain");
    let (pipeline_rate, cpu_per_event, stack) = pipeline(count).await;
    println!(
        "{:<40} {pipeline_rate:>10.0} events/s   {} µs of CPU per event in the stack",
        "pipeline (auditctl up)",
        cpu_per_event.as_micros()
    );
    let ratio = pipeline_rate / chain_rate;
    println!("{:<40} {ratio:>10.2}   target >= 0.8 {}", "pipeline / chain", verdict(ratio >= 0.8));
    let (p50, p99, missing) = freshness(&stack, pipeline_rate / 2.0).await;
    println!(
        "{:<40} p50 {:>6} ms  p99 {:>6} ms   target p99 <= 1000 ms {}{}",
        format!("freshness at {:.0} events/s", pipeline_rate / 2.0),
        p50.as_millis(),
        p99.as_millis(),
        verdict(p99 <= Duration::from_secs(1)),
        if missing > 0 { format!(" ({missing} markers never counted)") } else { String::new() },
    );
    let rss = stack.peak_rss_mib();
    println!("{:<40} {rss:>10} MiB (every service in one process)", "peak resident memory");
}
