//! `auditctl reindex` as an operator runs it: after the shards are lost, rebuilding
//! them from `audit.signed` gives back the same documents.

use std::process::Command;
use std::time::Duration;

use indexer::read::all_records;
use testkit::kafka::{broker, kafka, produce};
use tokio_util::sync::CancellationToken;

fn snapshot(root: &std::path::Path) -> Vec<(i32, String, String)> {
    let mut records: Vec<_> = all_records(root)
        .unwrap()
        .into_iter()
        .map(|record| (record.partition, record.id, record.jws))
        .collect();
    records.sort();
    records
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_shards_are_rebuilt_with_the_same_documents() {
    let (broker, storage) = broker().await;
    let kafka = kafka(&broker);
    let data_dir = storage.path().join("data");
    let root = data_dir.join("index");
    let (ids, messages) = testkit::records::signed_messages(3_000, 6, "re");
    produce(&kafka, "audit.signed", &messages).await;
    let credential = audit_auth::service::ServiceCredential::generate("query-api");
    let mut config = indexer::Config::defaults_for(&kafka.bootstrap, &root, &credential);
    config.stage.kafka = kafka.clone();
    config.leaf.listen = "127.0.0.1:0".parse().unwrap();
    let ops = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let shutdown = CancellationToken::new();
    let service = tokio::spawn(indexer::run(config, ops, shutdown.clone()));
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while all_records(&root).map(|records| records.len()).unwrap_or(0) < ids.len() {
        assert!(std::time::Instant::now() < deadline, "the indexer indexed everything");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    shutdown.cancel();
    service.await.unwrap().unwrap();
    let before = snapshot(&root);
    assert_eq!(before.len(), ids.len());

    std::fs::remove_dir_all(&root).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_auditctl"))
        .args(["reindex", "--kafka", &kafka.bootstrap, "--data-dir", data_dir.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("3000 records indexed"), "{stdout}");
    assert_eq!(snapshot(&root), before, "the same documents in the same shards");
}
