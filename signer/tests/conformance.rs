//! Interoperability and rotation: records signed by the signer, before and after a
//! key rotation, verify with an independent JOSE implementation (Python's jwcrypto,
//! OpenSSL underneath) against the published JWK Set, and with our own verifier.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use audit_integrity::KeyDir;
use signer::Config;
use testkit::kafka::{broker, kafka, produce};
use tokio_util::sync::CancellationToken;

/// The interpreter with jwcrypto (`.ci/run` installs it); `AUDIT_TEST_PYTHON` overrides.
fn python() -> String {
    std::env::var("AUDIT_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

fn verify_with_jwcrypto(
    jwks: &serde_json::Value,
    signed: &[(i32, audit_schemas::SignedRecord)],
) -> serde_json::Value {
    let records: Vec<serde_json::Value> = signed
        .iter()
        .map(|(_, record)| serde_json::json!({"tenantId": record.tenant_id, "sequence": record.sequence, "jws": record.jws}))
        .collect();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/conformance.py");
    let mut child = Command::new(python())
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs (install it, and jwcrypto: .ci/run does)");
    let input = serde_json::to_vec(&serde_json::json!({"jwks": jwks, "records": records})).unwrap();
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "jwcrypto refused: {stdout}{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_str(stdout.trim()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_signed_across_a_rotation_verify_with_an_independent_jose_library() {
    let (broker, storage) = broker().await;
    let kafka = kafka(&broker);
    let key_dir = storage.path().join("keys");
    let mut config = Config::defaults_for(&kafka.bootstrap, &key_dir);
    config.stage.kafka = kafka.clone();
    // Verifiers read the published copy, as the query-api does in docker-compose.
    let published = storage.path().join("public-jwks.json");
    config.publish_jwks_file = Some(published.clone());
    let ops = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let shutdown = CancellationToken::new();
    let service = tokio::spawn(signer::run(config, ops, shutdown.clone()));

    let inputs = support::records(400, 5, 7);
    produce(&kafka, "audit.tokenized", &support::messages(&inputs[..200])).await;
    support::read_signed(&kafka, 200, Duration::from_secs(60)).await;
    let rotated = KeyDir::open(&key_dir).unwrap().rotate().unwrap();
    // The signer re-reads its key ring every five seconds.
    tokio::time::sleep(Duration::from_secs(6)).await;
    produce(&kafka, "audit.tokenized", &support::messages(&inputs[200..])).await;
    let signed = support::read_signed(&kafka, 400, Duration::from_secs(60)).await;
    shutdown.cancel();
    service.await.unwrap().unwrap();

    let heads = support::assert_exactly_once_and_chained(&signed, &inputs, &support::verifier(&key_dir));
    assert_eq!(heads.values().sum::<u64>(), 400);
    let last_kid =
        |index: usize| audit_integrity::CompactJws::parse(&signed[index].1.jws).unwrap().header.kid;
    assert!(
        signed.iter().enumerate().any(|(index, _)| last_kid(index) == rotated),
        "records after the rotation use the new key"
    );
    let jwks: serde_json::Value = serde_json::from_slice(&std::fs::read(&published).unwrap()).unwrap();
    let summary = verify_with_jwcrypto(&jwks, &signed);
    assert_eq!(summary["verified"], 400);
    assert_eq!(summary["tenants"], 5);
    assert_eq!(summary["kids"], 2, "records of both keys verified");
}
