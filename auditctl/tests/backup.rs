//! `auditctl backup` taken while events flow into `auditctl up`, then `restore` into a
//! wiped data directory: the restored stack holds every event the backup covers
//! (exactly once, the index rebuilt), and goes on signing new ones. A backup with a
//! file changed or missing, or without its master keys, is refused before anything
//! is written.

mod support;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use support::{free_port, metric, start_stack, tempfile_dir, terminate, wait_for};

fn auditctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_auditctl")).args(args).output().expect("auditctl runs")
}

fn produce(broker: &str, count: &str, seed: &str, rate: &str) -> Output {
    auditctl(&["produce", "--kafka", broker, "--count", count, "--seed", seed, "--rate", rate])
}

fn restore(from: &Path, data_dir: &Path, keys: Option<&Path>) -> Output {
    let mut args =
        vec!["restore", "--from", from.to_str().unwrap(), "--data-dir", data_dir.to_str().unwrap()];
    if let Some(keys) = keys {
        args.extend(["--master-keys-from", keys.to_str().unwrap()]);
    }
    auditctl(&args)
}

/// Refused, with `reason` on stderr, and nothing written.
fn assert_refused(output: &Output, reason: &str, data_dir: &Path) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(reason), "{stderr} should say {reason}");
    assert!(!data_dir.exists(), "a refused restore writes nothing");
}

async fn wait_indexed(ops: &str, count: f64) {
    wait_for(&format!("{count} indexed records"), Duration::from_secs(180), async || {
        metric(ops, "indexer_records_consumed_total").await == Some(count)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(metric(ops, "indexer_records_consumed_total").await, Some(count), "no record twice");
}

/// The restored tenant's records reveal their clear values and validate.
fn revealed_and_validated(stack: &support::Stack, data_dir: &Path, tenant: &str, head: i64) {
    let data = data_dir.to_str().unwrap();
    let args = [
        "search",
        "--tenant",
        tenant,
        "--url",
        &stack.query,
        "--data-dir",
        data,
        "--verify",
        "--count",
        "100",
    ];
    let found = auditctl(&args);
    assert!(found.status.success(), "{}", String::from_utf8_lossy(&found.stderr));
    let page: serde_json::Value = serde_json::from_slice(&found.stdout).unwrap();
    assert!(page["totalResults"].as_i64().unwrap() >= head, "{}", page["totalResults"]);
    let records = page["Resources"].as_array().unwrap();
    assert!(records.iter().all(|record| record["integrityStatus"] == "validated"), "every record validates");
    let clear = records.iter().filter(|record| record.to_string().contains('@')).count();
    assert!(clear > 0, "tokens reveal their clear values after the restore");
}

/// The tenant's export, new records included, verifies as one unbroken chain.
fn chain_continues(stack: &support::Stack, data_dir: &Path, tenant: &str, head: i64) {
    let (data, file) = (data_dir.to_str().unwrap(), data_dir.join("export.jsonl"));
    let file = file.to_str().unwrap();
    let exported =
        auditctl(&["export", "--tenant", tenant, "--url", &stack.query, "--data-dir", data, "--out", file]);
    assert!(exported.status.success(), "{}", String::from_utf8_lossy(&exported.stderr));
    let verified = auditctl(&["verify", file, "--data-dir", data]);
    let report = String::from_utf8_lossy(&verified.stdout);
    assert!(verified.status.success() && report.contains("no breaks"), "{report}");
    let records = std::fs::read_to_string(file).unwrap().lines().count() as i64;
    assert!(records > head, "new records continue the chain past its head {head}: {records}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_events_flow_restores_every_event_it_covers() {
    let data_dir = tempfile_dir();
    let (backup, keys) = (data_dir.with_extension("backup"), data_dir.with_extension("keys"));
    let metrics = data_dir.with_extension("prom");
    let broker_port = free_port();
    let stack = start_stack(&data_dir, broker_port);
    let before = produce(&stack.broker, "2000", "5", "0");
    assert!(before.status.success(), "{}", String::from_utf8_lossy(&before.stderr));
    wait_indexed(&stack.indexer_ops, 2_000.0).await;
    let broker = stack.broker.clone();
    // The same seed again: its first 2,000 events repeat the ones above (dropped as
    // producer duplicates), the next 3,000 are new events of the same tenants.
    let flowing = std::thread::spawn(move || produce(&broker, "5000", "5", "2000"));
    let ops = stack.ingestor_ops.clone();
    wait_for("events flowing", Duration::from_secs(60), async || {
        metric(&ops, "ingestor_records_consumed_total").await.is_some_and(|consumed| consumed >= 4_300.0)
    })
    .await;
    let data = data_dir.to_str().unwrap();
    let taken = auditctl(&[
        "backup",
        "--data-dir",
        data,
        "--to",
        backup.to_str().unwrap(),
        "--master-keys-to",
        keys.to_str().unwrap(),
        "--metrics-file",
        metrics.to_str().unwrap(),
    ]);
    assert!(taken.status.success(), "{}", String::from_utf8_lossy(&taken.stderr));
    eprintln!("{}", String::from_utf8_lossy(&taken.stdout));
    assert!(flowing.join().unwrap().status.success());
    terminate(stack);

    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(backup.join("manifest.json")).unwrap()).unwrap();
    let covered: i64 = manifest["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["topic"] == "audit.raw")
        .map(|entry| entry["end_offset"].as_i64().unwrap())
        .sum();
    assert!((4_300..7_000).contains(&covered), "the backup covers what was sent before it: {covered}");
    // Every distinct event in the backup's audit.raw becomes one record.
    let distinct = covered - 2_000;
    let signed: i64 = manifest["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["topic"] == "audit.signed")
        .map(|entry| entry["end_offset"].as_i64().unwrap())
        .sum();
    assert!(signed >= 2_000, "the trail of what was indexed is in the backup: {signed}");
    let heads = manifest["chains"].as_array().unwrap();
    let chained: i64 = heads.iter().map(|head| head["sequence"].as_i64().unwrap()).sum();
    assert_eq!(chained, signed, "each tenant's chain runs 1..head in the backup: {heads:?}");
    assert!(!backup.join("vault/master.key").exists(), "the master key is kept apart");
    let exposition = std::fs::read_to_string(&metrics).unwrap();
    for name in ["last_success_timestamp_seconds", "last_duration_seconds", "last_size_bytes"] {
        assert!(exposition.contains(&format!("auditctl_backup_{name} ")), "{exposition}");
    }
    std::fs::remove_dir_all(&data_dir).unwrap();

    let victim = backup.join("vault/vault.db");
    let original = std::fs::read(&victim).unwrap();
    let mut changed = original.clone();
    *changed.last_mut().unwrap() ^= 1;
    std::fs::write(&victim, &changed).unwrap();
    assert_refused(&restore(&backup, &data_dir, Some(&keys)), "vault/vault.db differs", &data_dir);
    std::fs::remove_file(&victim).unwrap();
    assert_refused(&restore(&backup, &data_dir, Some(&keys)), "vault/vault.db is missing", &data_dir);
    std::fs::write(&victim, &original).unwrap();
    assert_refused(&restore(&backup, &data_dir, None), "without its master keys", &data_dir);

    let restored = restore(&backup, &data_dir, Some(&keys));
    assert!(restored.status.success(), "{}", String::from_utf8_lossy(&restored.stderr));
    eprintln!("{}", String::from_utf8_lossy(&restored.stdout));
    let stack = start_stack(&data_dir, broker_port);
    wait_indexed(&stack.indexer_ops, distinct as f64).await;
    // Events in the backup's audit.raw but not yet signed when it was taken are signed
    // after the restore, continuing their tenants' chains past the backed-up heads.
    let head = heads.iter().max_by_key(|head| head["sequence"].as_i64()).unwrap();
    let (tenant, sequence) = (head["tenant"].as_str().unwrap(), head["sequence"].as_i64().unwrap());
    revealed_and_validated(&stack, &data_dir, tenant, sequence);
    chain_continues(&stack, &data_dir, tenant, sequence);
    terminate(stack);
    for dir in [&data_dir, &backup, &keys] {
        std::fs::remove_dir_all(dir).unwrap();
    }
    std::fs::remove_file(&metrics).unwrap();
}
