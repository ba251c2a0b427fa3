//! Production Kafka, as a third party meets it: every service reaches the broker only
//! through a TLS endpoint whose certificate comes from a private CA, and a consumer
//! built from nothing of ours (Python's confluent-kafka and fastavro, given only the
//! `.avsc` files of `schemas/avro`) reads and decodes every message of
//! `audit.normalized`, `audit.tokenized` and `audit.signed` over the same TLS, and a
//! checker written from the specifications (C2SP signed notes, RFC 9162 roots) checks
//! every checkpoint of `audit.checkpoints` against the JWK Set and the records. A
//! client that trusts another CA gets a clear error instead of a connection.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use support::checks;
use support::stack::{Flags, Stack, Transport};
use support::traffic::{self, SendParams};

const TOPICS: [(&str, &str); 3] = [
    ("audit.normalized", "normalized_record.v1.avsc"),
    ("audit.tokenized", "tokenized_record.v1.avsc"),
    ("audit.signed", "signed_record.v2.avsc"),
];

/// Runs `tests/third_party/{script}` with the broker, the `.avsc` directory, `args` and
/// the stack's client properties; the JSON it prints. Fails the test if it fails.
fn third_party(stack: &Stack, script: &str, args: &[&std::ffi::OsStr]) -> Value {
    let schemas = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/avro");
    let properties: Vec<String> =
        stack.kafka.properties.iter().map(|(key, value)| format!("{key}={value}")).collect();
    let mut all: Vec<&std::ffi::OsStr> = vec![stack.kafka.bootstrap.as_ref(), schemas.as_os_str()];
    all.extend(args);
    all.extend(properties.iter().map(std::ffi::OsStr::new));
    e2e::third_party_script(script, &all)
}

/// What the third-party reader found, per topic.
fn read_as_third_party(stack: &Stack) -> Value {
    third_party(stack, "consume.py", &TOPICS.map(|(topic, _)| std::ffi::OsStr::new(topic)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tls_every_topic_decodes_with_the_avsc_files_alone() {
    let data_dir = tempfile::Builder::new().prefix("third-party-").tempdir().unwrap();
    let stack = Stack::start_over(data_dir.path(), Flags::default(), Transport::Tls).await;
    let params = SendParams {
        events: 3_000,
        rate_per_second: 3_000.0,
        seed: 22,
        malformed_ratio: 0.01,
        duplicate_ratio: 0.0,
    };
    let expected = traffic::send(&stack.kafka, params).await;
    let failures = checks::totals_converge(&stack, &expected, Duration::from_secs(180)).await;
    assert!(failures.is_empty(), "over TLS: {failures:#?}");

    let summary = read_as_third_party(&stack);
    for (topic, schema) in TOPICS {
        let found = &summary[topic];
        assert_eq!(found["distinct_ids"], expected.valid(), "{topic}: {found}");
        assert_eq!(found["schemas"], serde_json::json!([schema]), "{topic}");
    }
    let chains = summary["audit.signed"]["chains"].as_object().unwrap();
    for (tenant, due) in expected.totals() {
        assert_eq!(
            chains[&tenant],
            serde_json::json!([1, due, due]),
            "tenant {tenant}: sequences 1..={due} once each"
        );
    }
    let checked = checkpoints_cover(&stack, &expected.totals(), Duration::from_secs(60)).await;
    assert!(checked["checkpoints"].as_u64().unwrap() >= expected.totals().len() as u64, "{checked}");
    stack.stop().await;
}

/// Runs the third-party checker of checkpoints until each tenant's largest checkpoint
/// covers all of its records (the signer cuts one 10 s after a tenant's last growth);
/// the checker fails the test on any note or root it cannot verify.
async fn checkpoints_cover(stack: &Stack, totals: &BTreeMap<String, usize>, patience: Duration) -> Value {
    let jwks = stack.data_dir.join("keys/signing/jwks.json");
    let started = std::time::Instant::now();
    loop {
        let checked = third_party(stack, "checkpoints.py", &[jwks.as_os_str()]);
        let covered =
            totals.iter().all(|(tenant, due)| checked["largest"][tenant].as_u64() == Some(*due as u64));
        if covered {
            return checked;
        }
        assert!(started.elapsed() < patience, "checkpoints do not cover every record: {checked}");
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_that_trusts_another_ca_stops_with_a_clear_error() {
    let data_dir = tempfile::Builder::new().prefix("wrong-ca-").tempdir().unwrap();
    let stack = Stack::start_over(data_dir.path(), Flags::default(), Transport::Tls).await;
    let other_ca = data_dir.path().join("other-ca.pem");
    std::fs::write(&other_ca, testkit::tls::TestCa::new("someone else's ca").pem()).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_e2e-ingestor"))
        .args(["--kafka", &stack.kafka.bootstrap, "--ops-listen", "127.0.0.1:0"])
        .arg("--kafka-property=security.protocol=ssl")
        .arg(format!("--kafka-property=ssl.ca.location={}", other_ca.display()))
        .output()
        .expect("the ingestor runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stderr}");
    assert!(!output.status.success(), "an untrusted broker is refused");
    assert!(stderr.contains("certificate verify failed"), "the reason is named: {stderr}");
    stack.stop().await;
}
