//! What a third party's receiver sees: notifications over HTTPS to a target whose
//! certificate comes from a private CA (`--webhook-ca-file`), each checked by
//! independent libraries (Python's `standardwebhooks` and jwcrypto; `.ci/run` installs
//! them) against the webhook's secret and key and the published JWK Set.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};
use support::{Request, https_receiver, start_with, wait_for};
use testkit::kafka::{broker, kafka, produce};

/// The interpreter with the libraries; `AUDIT_TEST_PYTHON` overrides.
fn python() -> String {
    std::env::var("AUDIT_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Runs `receiver_check.py` on what a receiver got; its summary.
fn check_independently(webhook: &Value, requests: &[Request]) -> Value {
    let requests: Vec<Value> = requests
        .iter()
        .map(|(headers, body)| {
            let headers: serde_json::Map<String, Value> = headers
                .iter()
                .map(|(name, value)| (name.to_string(), json!(value.to_str().unwrap())))
                .collect();
            json!({"headers": headers, "body": String::from_utf8(body.clone()).unwrap()})
        })
        .collect();
    let input = json!({
        "secret": webhook["secret"],
        "apiKey": webhook["apiKey"],
        "jwks": testkit::records::jwks(),
        "requests": requests,
    });
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/receiver_check.py");
    let mut child = Command::new(python())
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs (with standardwebhooks and jwcrypto: .ci/run installs them)");
    child.stdin.take().unwrap().write_all(&serde_json::to_vec(&input).unwrap()).unwrap();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "refused: {stdout}{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_str(stdout.trim()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_over_https_verify_with_independent_libraries() {
    let (broker, _storage) = broker().await;
    let kafka = kafka(&broker);
    let (url, received, ca) = https_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca).unwrap();
    let notifier = start_with(&kafka.bootstrap, &[&format!("--webhook-ca-file={}", ca_file.display())]).await;
    // https, so no `insecure`; tenant-1 gets every third record of 300.
    let (status, webhook) = notifier.create("tenant-1", json!({"url": url, "events": ["*"]})).await;
    assert_eq!(status, StatusCode::CREATED, "{webhook}");

    let (_, messages) = testkit::records::signed_messages(300, 3, "s");
    produce(&kafka, "audit.signed", &messages).await;
    wait_for(&received, 100, Duration::from_secs(60)).await;
    let requests = received.0.lock().unwrap().clone();
    let summary = check_independently(&webhook, &requests);
    println!("independently verified: {summary}");
    assert_eq!(summary["ids"], 100, "every record of the tenant arrived, each verified");

    // The same target without the CA: its certificate is not trusted, nothing is sent.
    let untrusting = start_with(&kafka.bootstrap, &["--group-id=untrusting"]).await;
    let (status, other) = untrusting.create("tenant-1", json!({"url": url, "events": ["*"]})).await;
    assert_eq!(status, StatusCode::CREATED, "{other}");
    let ping =
        format!("{}/v1/tenants/tenant-1/webhooks/{}/ping", untrusting.base, other["id"].as_str().unwrap());
    let pinged: Value = untrusting
        .http
        .post(ping)
        .bearer_auth(untrusting.token("tenant-1", "ORG_ADMIN"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(pinged["delivered"], false, "{pinged}");
    assert!(pinged["status"].is_null(), "no answer without a trusted certificate: {pinged}");
    untrusting.stop().await;
    notifier.stop().await;
}
