//! kill -9 of the notifier mid-stream: every matching record is still delivered, and
//! a record delivered twice carries the same `webhook-id`, so receivers drop it.

mod support;

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use audit_auth::issuer::{Issuer, TokenSpec};
use serde_json::json;
use support::{receiver, wait_for};
use testkit::kafka::{broker, kafka, produce};
use testkit::process::{ChildGuard, spawn_stage};

/// Records produced, in chunks.
const RECORDS: usize = 3_000;
const CHUNK: usize = 500;

fn start(kafka: &audit_runtime::config::KafkaConfig, dir: &Path, listen: &str) -> ChildGuard {
    let path = |name: &str| dir.join(name).display().to_string();
    let (database, key, jwks) = (path("notifier.db"), path("master.key"), path("auth-jwks.json"));
    let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("notifier.log")).unwrap();
    let args = [
        "--listen",
        listen,
        "--database",
        &database,
        "--master-key-file",
        &key,
        "--create-master-key",
        "true",
        "--allow-private-targets",
        "true",
        "--auth-jwks-file",
        &jwks,
    ];
    spawn_stage(env!("CARGO_BIN_EXE_notifier"), kafka, &args, log)
}

async fn wait_for_api(http: &reqwest::Client, base: &str) {
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
    let (broker, _storage) = broker().await;
    let kafka = kafka(&broker);
    let dir = tempfile::tempdir().unwrap();
    let issuer = Issuer::generate();
    std::fs::write(dir.path().join("auth-jwks.json"), serde_json::to_string(&issuer.jwks()).unwrap())
        .unwrap();
    let listen = {
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        free.local_addr().unwrap().to_string()
    };
    let (base, http) = (format!("http://{listen}"), reqwest::Client::new());
    let mut notifier = start(&kafka, dir.path(), &listen);
    wait_for_api(&http, &base).await;
    let (url, received) = receiver(0).await;
    let roles = ["ORG_ADMIN".to_owned()];
    let token =
        issuer.mint(&TokenSpec { subject: "admin", tenant: "tenant-0", roles: &roles, ttl_seconds: 600 });
    let created = http
        .post(format!("{base}/v1/tenants/tenant-0/webhooks"))
        .bearer_auth(&token)
        .json(&json!({"url": url, "events": ["*"], "insecure": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);

    let (ids, messages) = testkit::records::signed_messages(RECORDS, 1, "k");
    for (index, chunk) in messages.chunks(CHUNK).enumerate() {
        produce(&kafka, "audit.signed", chunk).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        if index == 2 {
            notifier.kill();
            notifier = start(&kafka, dir.path(), &listen);
            wait_for_api(&http, &base).await;
        }
    }
    wait_for(&received, RECORDS, Duration::from_secs(90)).await;
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
        "{RECORDS} records, {} notifications, {repeated} delivered twice after the kill",
        received.len()
    );
    drop(notifier);
}
