//! kill -9 of a notifier mid-stream, alone on SQLite or one of two replicas sharing
//! PostgreSQL: every matching record is still delivered, and a record delivered twice
//! carries the same `webhook-id`, so receivers drop it.

mod support;

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use audit_auth::issuer::{Issuer, TokenSpec};
use serde_json::json;
use support::{receiver, wait_for};
use testkit::kafka::{broker, kafka, produce};
use testkit::process::{ChildGuard, spawn_stage};

/// Records produced, in chunks, over tenants (and so partitions).
const RECORDS: usize = 3_000;
const CHUNK: usize = 500;
const TENANTS: usize = 3;

/// One notifier process: its API address and its guard.
struct Replica {
    listen: String,
    child: ChildGuard,
}

fn start(kafka: &audit_runtime::config::KafkaConfig, dir: &Path, database: &str) -> Replica {
    let listen = {
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        free.local_addr().unwrap().to_string()
    };
    let path = |name: &str| dir.join(name).display().to_string();
    let (key, jwks) = (path("master.key"), path("auth-jwks.json"));
    let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("notifier.log")).unwrap();
    let args = [
        "--listen",
        &listen,
        "--database",
        database,
        "--master-key-file",
        &key,
        "--create-master-key",
        "true",
        "--allow-private-targets",
        "true",
        "--auth-jwks-file",
        &jwks,
        "--delivery-timeout-ms",
        "2000",
    ];
    let child = spawn_stage(env!("CARGO_BIN_EXE_notifier"), kafka, &args, log);
    Replica { listen, child }
}

async fn wait_for_api(http: &reqwest::Client, replica: &Replica) {
    let base = format!("http://{}", replica.listen);
    for _ in 0..200 {
        if http
            .get(format!("{base}/openapi.json"))
            .send()
            .await
            .is_ok_and(|answer| answer.status().is_success())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the notifier did not start");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notifier_killed_mid_stream_still_delivers_every_record() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite:{}", dir.path().join("notifier.db").display());
    killed_mid_stream(&database, 1, &dir).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_postgres_deliver_every_record_when_one_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    killed_mid_stream(&testkit::postgres::fresh_database().await, 2, &dir).await;
}

/// `replicas` notifiers on `database`; the first is killed with -9 mid-stream and
/// started again. Every record reaches its tenant's webhook; a record delivered twice
/// carries the same `webhook-id`.
async fn killed_mid_stream(database: &str, replicas: usize, dir: &tempfile::TempDir) {
    let (broker, _storage) = broker().await;
    let kafka = kafka(&broker);
    let issuer = Issuer::generate();
    std::fs::write(dir.path().join("auth-jwks.json"), serde_json::to_string(&issuer.jwks()).unwrap())
        .unwrap();
    let http = reqwest::Client::new();
    let mut running: Vec<Replica> = (0..replicas).map(|_| start(&kafka, dir.path(), database)).collect();
    for replica in &running {
        wait_for_api(&http, replica).await;
    }
    let (url, received) = receiver(0).await;
    let roles = ["ORG_ADMIN".to_owned()];
    for tenant in (0..TENANTS).map(|index| format!("tenant-{index}")) {
        let token =
            issuer.mint(&TokenSpec { subject: "admin", tenant: &tenant, roles: &roles, ttl_seconds: 600 });
        let created = http
            .post(format!("http://{}/v1/tenants/{tenant}/webhooks", running[0].listen))
            .bearer_auth(&token)
            .json(&json!({"url": url, "events": ["*"], "insecure": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
    }

    let (ids, messages) = testkit::records::signed_messages(RECORDS, TENANTS, "k");
    for (index, chunk) in messages.chunks(CHUNK).enumerate() {
        produce(&kafka, "audit.signed", chunk).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        if index == 2 {
            running[0].child.kill();
            running[0] = start(&kafka, dir.path(), database);
            wait_for_api(&http, &running[0]).await;
        }
    }
    wait_for(&received, RECORDS, Duration::from_secs(90)).await;
    if received.0.lock().unwrap().len() < RECORDS {
        let log = std::fs::read_to_string(dir.path().join("notifier.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        eprintln!("notifier log, newest first:\n{}", tail.join("\n"));
    }
    // Late duplicates would arrive now, if any.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let received = received.0.lock().unwrap().clone();
    let mut arrivals: HashMap<String, usize> = HashMap::new();
    for (headers, body) in &received {
        let id = headers["webhook-id"].to_str().unwrap().to_owned();
        let body: serde_json::Value = serde_json::from_slice(body).unwrap();
        assert_eq!(body["id"], id.as_str(), "a redelivery carries its record's webhook-id");
        *arrivals.entry(id).or_default() += 1;
    }
    let missing: Vec<&String> = ids.iter().filter(|id| !arrivals.contains_key(*id)).take(5).collect();
    assert!(missing.is_empty(), "records never delivered: {missing:?}");
    let repeated = received.len() - arrivals.len();
    println!(
        "{replicas} replicas on {}: {RECORDS} records, {} notifications, {repeated} delivered twice after the kill",
        database.split(':').next().unwrap_or_default(),
        received.len()
    );
    drop(running);
}
