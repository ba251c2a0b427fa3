//! A partition with thousands of tenants: its recovery checkpoint (every tenant's head
//! and tree edge) is larger than one Kafka message may be, yet it is written, and a
//! new owner of the partition recovers from it instead of reading the partition's
//! whole signed log, then continues every chain.

mod support;

use std::time::Duration;

use audit_schemas::TokenizedRecord;
use signer::{Config, SignerError};
use testkit::kafka::{broker, kafka, produce};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const TENANTS: usize = 16_000;
/// Records per tenant before the restart: three, so each tree edge holds two hashes.
const BEFORE: usize = 3;

/// `per_tenant` records of each tenant, tenant ids as long as UUIDs.
fn records(per_tenant: usize, round: usize) -> Vec<TokenizedRecord> {
    let template = support::records(1, 1, 7).remove(0);
    (0..per_tenant * TENANTS)
        .map(|index| TokenizedRecord {
            id: format!("r{round}-{index:08}"),
            tenant_id: format!("{:08x}-0000-4000-8000-{:012x}", index % TENANTS, index % TENANTS),
            created: 1_700_000_000_000 + index as i64,
            ..template.clone()
        })
        .collect()
}

async fn start(config: &Config) -> (CancellationToken, JoinHandle<Result<(), SignerError>>, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ops = listener.local_addr().unwrap().to_string();
    let stop = CancellationToken::new();
    let task = tokio::spawn(signer::run(config.clone(), listener, stop.clone()));
    (stop, task, ops)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_of_thousands_of_tenants_recovers_from_its_checkpoint() {
    let (broker, storage) = broker().await;
    let kafka = kafka(&broker);
    let mut config = Config::defaults_for(&kafka.bootstrap, &storage.path().join("keys"));
    config.stage.kafka = kafka.clone();
    config.dedupe_window = 1_000;
    config.checkpoints.records = 1_000;
    let before = records(BEFORE, 0);
    let (stop, task, _) = start(&config).await;
    produce(&kafka, "audit.tokenized", &support::messages(&before)).await;
    support::read_signed(&kafka, before.len(), Duration::from_secs(120)).await;
    stop.cancel();
    task.await.unwrap().unwrap();

    let after = records(1, 1);
    let (stop, task, ops) = start(&config).await;
    produce(&kafka, "audit.tokenized", &support::messages(&after)).await;
    let signed = support::read_signed(&kafka, before.len() + after.len(), Duration::from_secs(120)).await;
    let recovered = testkit::up::metric(&ops, "signer_recovery_records_total").await.unwrap_or(0.0);
    stop.cancel();
    task.await.unwrap().unwrap();

    let inputs: Vec<TokenizedRecord> = before.into_iter().chain(after).collect();
    let heads = support::assert_exactly_once_and_chained(
        &signed,
        &inputs,
        &support::verifier(&storage.path().join("keys")),
    );
    assert_eq!(heads.len(), TENANTS);
    assert!(heads.values().all(|sequence| *sequence == BEFORE as u64 + 1), "every chain continued");
    // With the checkpoints, a recovery reads only what follows them (at least the
    // dedupe window); without, all 48,000 records before the restart.
    assert!(recovered < (BEFORE * TENANTS / 4) as f64, "recovery read {recovered} signed records");
}
