//! A stall cannot hide, and no batch blocks a stage. The tokenizer (`tokenizer::run`,
//! as `main` runs it) against a vault that is down makes no progress while records
//! wait, so `/healthz` answers 503 `stalled` with the reason and `tokenizer_stalled` is
//! 1; once the vault is up on the same address, every record goes through and the
//! service reports itself ready again. A batch whose values the vault refuses in one
//! call (over its 20,000) is split until each part passes.

use e2e::VaultParams;
use std::{collections::BTreeMap, time::Duration};

use audit_auth::service::ServiceCredential;
use audit_schemas::{Action, Codec, NormalizedRecord};
use clap::Parser;
use testkit::kafka::{ReadSpec, broker, kafka, produce, read};
use tokio_util::sync::CancellationToken;

const RECORDS: usize = 200;

fn record(n: usize) -> NormalizedRecord {
    NormalizedRecord {
        id: format!("stall-{n}"),
        tenant_id: format!("t{}", n % 3),
        created: 1_700_000_000_000 + n as i64,
        action: Action {
            action_name: "createUser".into(),
            action_parameters: BTreeMap::from([("USN".into(), format!("user-{n}"))]),
        },
        result: Some("RESPONSE_SUCCESS".into()),
        return_value: None,
        message: None,
        host: Some(format!("10.{}.{}.{}", n / 65536, (n / 256) % 256, n % 256)),
        target_user: Some(audit_schemas::UserRef {
            id: Some(format!("user{n}@example.com")),
            immutable_id: Some(n.to_string()),
            session: None,
        }),
        acting_user: None,
        external_id: None,
        event_id: None,
    }
}

async fn produce_records(kafka: &audit_runtime::config::KafkaConfig, count: usize) {
    let codec = Codec::<NormalizedRecord>::published("NormalizedRecord").unwrap();
    let messages: Vec<(Option<Vec<u8>>, Vec<u8>)> = (0..count)
        .map(record)
        .map(|r| (Some(r.tenant_id.clone().into_bytes()), codec.encode(&r).unwrap()))
        .collect();
    produce(kafka, "audit.normalized", &messages).await;
}

async fn start_vault(
    listener: tokio::net::TcpListener,
    bootstrap: &str,
    credential: &ServiceCredential,
    dir: &std::path::Path,
) {
    let params = VaultParams {
        bootstrap,
        dir,
        database: None,
        credentials: &[credential],
        auth_jwks: None,
        listener: Some(listener),
        shutdown: CancellationToken::new(),
    };
    e2e::start_vault(params).await;
}

/// Where the tokenizer finds its vault.
struct VaultAt<'a> {
    address: std::net::SocketAddr,
    credential: &'a ServiceCredential,
}

/// Runs the tokenizer with `flags`; returns its ops address, its shutdown and its task.
async fn start_tokenizer(
    bootstrap: &str,
    vault: VaultAt<'_>,
    flags: &[&str],
) -> (String, CancellationToken, tokio::task::JoinHandle<Result<(), tokenizer::TokenizerError>>) {
    let mut args = vec![
        "tokenizer".to_owned(),
        format!("--kafka={bootstrap}"),
        format!("--vault-url=http://{}", vault.address),
        format!("--vault-credential={}", vault.credential.expose()),
    ];
    args.extend(flags.iter().map(|flag| (*flag).to_owned()));
    let config = tokenizer::TokenizerArgs::parse_from(args).validate().unwrap();
    let ops = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ops_address = ops.local_addr().unwrap().to_string();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(tokenizer::run(config, ops, shutdown.clone()));
    (ops_address, shutdown, task)
}

/// `/healthz` status and body, and the stalled gauge, of the service at `ops`.
async fn health(ops: &str) -> (u16, serde_json::Value, String) {
    let response = reqwest::get(format!("http://{ops}/healthz")).await.unwrap();
    let status = response.status().as_u16();
    let body = response.json().await.unwrap();
    let metrics = reqwest::get(format!("http://{ops}/metrics")).await.unwrap().text().await.unwrap();
    let gauge =
        metrics.lines().find(|line| line.starts_with("tokenizer_stalled ")).unwrap_or_default().to_owned();
    (status, body, gauge)
}

/// Waits until `/healthz` reports `wanted` (a status word); returns its HTTP status,
/// body and the gauge line.
async fn wait_for_health(ops: &str, wanted: &str) -> (u16, serde_json::Value, String) {
    for _ in 0..300 {
        let (status, body, gauge) = health(ops).await;
        if body["status"] == wanted {
            return (status, body, gauge);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("healthz never reported {wanted}: {:?}", health(ops).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_is_reported_and_ends_when_the_cause_goes() {
    let dir = tempfile::tempdir().unwrap();
    let (broker, _broker_dir) = broker().await;
    let bootstrap = broker.bootstrap();
    let kafka = kafka(&broker);
    produce_records(&kafka, RECORDS).await;

    // The vault's address is reserved, then left unserved: connections are refused.
    let vault_address = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let credential = ServiceCredential::generate("tokenizer");
    let vault = VaultAt { address: vault_address, credential: &credential };
    let (ops_address, shutdown, tokenizer) =
        start_tokenizer(&bootstrap, vault, &["--stall-timeout-ms=2000"]).await;

    let (status, body, gauge) = wait_for_health(&ops_address, "stalled").await;
    assert_eq!(status, 503);
    let reason = body["reason"].as_str().unwrap();
    assert!(reason.contains("audit.normalized") && reason.contains("partitions"), "{reason}");
    assert_eq!(gauge, "tokenizer_stalled 1");

    start_vault(
        tokio::net::TcpListener::bind(vault_address).await.unwrap(),
        &bootstrap,
        &credential,
        dir.path(),
    )
    .await;
    let spec = ReadSpec {
        topic: "audit.tokenized",
        expected: RECORDS,
        settle: Duration::from_secs(1),
        timeout: Duration::from_secs(60),
    };
    let tokenized = read(&kafka, spec).await;
    assert_eq!(tokenized.len(), RECORDS, "every record went through once the vault was up");
    let (status, _, gauge) = wait_for_health(&ops_address, "ready").await;
    assert_eq!(status, 200);
    assert_eq!(gauge, "tokenizer_stalled 0");

    shutdown.cancel();
    tokenizer.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_over_the_vaults_limit_is_split_not_retried_forever() {
    // Each record carries three new values (user, immutable id, host): one create call
    // for 8,000 records would carry 24,000 values, over the vault's 20,000.
    const BIG: usize = 8_000;
    let dir = tempfile::tempdir().unwrap();
    let (broker, _broker_dir) = broker().await;
    let bootstrap = broker.bootstrap();
    let kafka = kafka(&broker);
    produce_records(&kafka, BIG).await;
    let credential = ServiceCredential::generate("tokenizer");
    let vault = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let vault_address = vault.local_addr().unwrap();
    start_vault(vault, &bootstrap, &credential, dir.path()).await;
    let vault = VaultAt { address: vault_address, credential: &credential };
    let batch = format!("--batch-max-records={BIG}");
    let (ops_address, shutdown, tokenizer) =
        start_tokenizer(&bootstrap, vault, &[&batch, "--batch-max-wait-ms=2000"]).await;

    let spec = ReadSpec {
        topic: "audit.tokenized",
        expected: BIG,
        settle: Duration::from_secs(1),
        timeout: Duration::from_secs(120),
    };
    let tokenized = read(&kafka, spec).await;
    assert_eq!(tokenized.len(), BIG, "every record tokenized, none sent to the DLQ");
    let metrics = reqwest::get(format!("http://{ops_address}/metrics")).await.unwrap().text().await.unwrap();
    assert!(!metrics.contains("tokenizer_records_rejected_total{"), "nothing rejected:\n{metrics}");
    let vault_metrics =
        reqwest::get(format!("http://{vault_address}/metrics")).await.unwrap().text().await.unwrap();
    let refused = r#"vault_requests_total{endpoint="tokenize",outcome="4xx"}"#;
    assert!(
        vault_metrics.contains(refused),
        "the whole batch was asked for and refused first:\n{vault_metrics}"
    );
    shutdown.cancel();
    tokenizer.await.unwrap().unwrap();
}
