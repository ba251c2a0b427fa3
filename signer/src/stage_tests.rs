//! The signing stage without Kafka: an in-memory chain log stands in for the signed
//! topic's tail and the checkpoint topic.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use audit_integrity::CompactJws;
use audit_integrity::merkle::{Frontier, leaf_hash};
use audit_integrity::note::{NoteKey, open};

use audit_integrity::{ChainChecker, Verifier};
use audit_runtime::kafka::partition_for_key;
use audit_runtime::stage::{Acknowledged, InputMessage, Outcome, Stage};
use audit_schemas::{Action, Codec, SignedRecord, TokenizedRecord};

use super::*;
use crate::chain::{Head, PartitionChains};
use crate::config::CheckpointPolicy;
use crate::keys::{KeyCreation, SignerKeys};
use crate::log::{ChainLog, Recovered};
use crate::treehead::{TreeHeadPolicy, TreeHeads};

const PARTITIONS: i32 = 4;

#[derive(Clone, Default)]
struct MemoryLog {
    preset: Arc<Mutex<HashMap<i32, PartitionChains>>>,
    recoveries: Arc<Mutex<Vec<i32>>>,
    checkpoints: Arc<Mutex<Vec<(i32, String)>>>,
    fail: Arc<Mutex<bool>>,
}

impl ChainLog for MemoryLog {
    async fn recover(&self, partition: i32, _verifier: &Verifier) -> Result<Recovered, String> {
        if *self.fail.lock().unwrap() {
            return Err("broker unavailable".into());
        }
        self.recoveries.lock().unwrap().push(partition);
        let chains =
            self.preset.lock().unwrap().remove(&partition).unwrap_or_else(|| PartitionChains::new(100));
        Ok(Recovered { chains, scanned: 0, anomalies: 0 })
    }

    fn checkpoint(&self, partition: i32, sealed: String) {
        self.checkpoints.lock().unwrap().push((partition, sealed));
    }
}

struct Fixture {
    stage: SignStage<MemoryLog>,
    log: MemoryLog,
    verifier: Verifier,
    tree_heads: TreeHeads,
    _keys: tempfile::TempDir,
}

fn fixture(checkpoint_records: u64) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let keys = SignerKeys::load(dir.path().join("keys"), KeyCreation::CreateMissing, None).unwrap();
    let verifier = keys.verifier();
    let log = MemoryLog::default();
    let tree_heads = TreeHeads::default();
    let (_, _, metrics) = crate::metrics::register().unwrap();
    let stage = SignStage::new(SignParams {
        log: log.clone(),
        keys,
        partitions: PARTITIONS,
        checkpoints: CheckpointPolicy { records: checkpoint_records, interval: Duration::from_secs(3600) },
        sign_threads: 2,
        tree_heads: tree_heads.clone(),
        metrics,
    })
    .unwrap();
    Fixture { stage, log, verifier, tree_heads, _keys: dir }
}

fn record(tenant: &str, id: &str) -> TokenizedRecord {
    TokenizedRecord {
        id: id.into(),
        tenant_id: tenant.into(),
        created: 1_700_000_000_000,
        action: Action { action_name: "login".into(), action_parameters: BTreeMap::new() },
        result: Some("RESPONSE_SUCCESS".into()),
        return_value: None,
        message: None,
        host: None,
        target_user: None,
        acting_user: None,
        external_id: None,
        event_id: None,
        tokenized_paths: vec![],
    }
}

/// An input of `tenant` at `offset` of the tenant's partition.
fn input(tenant: &str, id: &str, offset: i64) -> InputMessage {
    let payload =
        Codec::<TokenizedRecord>::published("TokenizedRecord").unwrap().encode(&record(tenant, id)).unwrap();
    InputMessage {
        topic: "audit.tokenized".into(),
        partition: partition_for_key(tenant.as_bytes(), PARTITIONS),
        offset,
        key: Some(tenant.as_bytes().to_vec()),
        payload: Some(payload),
        timestamp_ms: None,
    }
}

fn signed(outcome: &Outcome) -> SignedRecord {
    let Outcome::Forward(records) = outcome else { panic!("expected a signed record, got {outcome:?}") };
    Codec::<SignedRecord>::published("SignedRecord").unwrap().decode(&records[0].payload).unwrap()
}

#[tokio::test]
async fn records_are_signed_in_per_tenant_chains_that_verify() {
    let mut fixture = fixture(1000);
    let batch: Vec<InputMessage> =
        (0..600).map(|n| input(["t-a", "t-b", "t-c"][n % 3], &format!("r{n}"), n as i64)).collect();
    let outcomes = fixture.stage.process(&batch).await.unwrap();
    let mut checker = ChainChecker::default();
    for outcome in &outcomes {
        let envelope = signed(outcome);
        let verified = fixture.verifier.verify_envelope(&envelope).unwrap();
        checker.push(&verified).unwrap();
    }
    let mut heads: Vec<(&str, u64)> = checker.heads().collect();
    heads.sort();
    assert_eq!(heads, vec![("t-a", 200), ("t-b", 200), ("t-c", 200)]);
}

#[tokio::test]
async fn covered_offsets_and_redelivered_ids_are_skipped() {
    let mut fixture = fixture(1000);
    let first = fixture.stage.process(&[input("t-a", "r1", 10), input("t-a", "r2", 11)]).await.unwrap();
    assert_eq!(signed(&first[1]).sequence, 2);
    let again = fixture
        .stage
        .process(&[input("t-a", "r2", 11), input("t-a", "r2", 12), input("t-a", "r3", 13)])
        .await
        .unwrap();
    assert_eq!(again[0], Outcome::Skip { reason: "already_signed" });
    assert_eq!(again[1], Outcome::Skip { reason: "duplicate" });
    assert_eq!(signed(&again[2]).sequence, 3);
}

#[tokio::test]
async fn records_that_would_fork_a_chain_are_rejected_with_a_reason() {
    let mut fixture = fixture(1000);
    let mut wrong_key = input("t-a", "r1", 0);
    wrong_key.key = Some(b"t-b".to_vec());
    let mut wrong_partition = input("t-a", "r2", 0);
    wrong_partition.partition = (wrong_partition.partition + 1) % PARTITIONS;
    let mut garbage = input("t-a", "r3", 1);
    garbage.payload = Some(b"{}".to_vec());
    let outcomes = fixture.stage.process(&[wrong_key, wrong_partition, garbage]).await.unwrap();
    let codes: Vec<&str> = outcomes
        .iter()
        .map(|outcome| match outcome {
            Outcome::Reject(rejection) => rejection.code,
            other => panic!("expected a rejection, got {other:?}"),
        })
        .collect();
    assert_eq!(codes, vec!["tenant_key_mismatch", "tenant_partition_mismatch", "undecodable"]);
}

#[tokio::test]
async fn a_recovered_partition_continues_its_chains() {
    let mut fixture = fixture(1000);
    let partition = partition_for_key(b"t-a", PARTITIONS);
    let mut recovered = PartitionChains::new(100);
    recovered.restore([("t-a".to_owned(), Head { sequence: 41, hash: [7; 32], tree: None })], Some(99));
    fixture.log.preset.lock().unwrap().insert(partition, recovered);
    let outcomes = fixture.stage.process(&[input("t-a", "old", 99), input("t-a", "new", 100)]).await.unwrap();
    assert_eq!(outcomes[0], Outcome::Skip { reason: "already_signed" });
    let verified = fixture.verifier.verify_envelope(&signed(&outcomes[1])).unwrap();
    assert_eq!(verified.link.sequence, 42);
    assert_eq!(verified.link.prev_hash, Some([7; 32]));
}

#[tokio::test]
async fn a_failed_recovery_is_transient_and_a_rebalance_recovers_again() {
    let mut fixture = fixture(1000);
    *fixture.log.fail.lock().unwrap() = true;
    assert!(fixture.stage.process(&[input("t-a", "r1", 0)]).await.is_err());
    *fixture.log.fail.lock().unwrap() = false;
    fixture.stage.process(&[input("t-a", "r1", 0)]).await.unwrap();
    fixture.stage.process(&[input("t-a", "r2", 1)]).await.unwrap();
    assert_eq!(fixture.log.recoveries.lock().unwrap().len(), 1);
    fixture.stage.on_rebalance();
    fixture.stage.process(&[input("t-a", "r3", 2)]).await.unwrap();
    assert_eq!(fixture.log.recoveries.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn checkpoints_follow_acknowledged_output_and_verify() {
    let mut fixture = fixture(3);
    let partition = partition_for_key(b"t-a", PARTITIONS);
    let batch: Vec<InputMessage> = (0..4).map(|n| input("t-a", &format!("r{n}"), n)).collect();
    fixture.stage.process(&batch).await.unwrap();
    assert!(fixture.log.checkpoints.lock().unwrap().is_empty(), "nothing before acknowledgement");
    let acknowledged = Acknowledged { last_output_offsets: BTreeMap::from([(partition, 57)]) };
    fixture.stage.on_delivered(&acknowledged);
    let checkpoints = fixture.log.checkpoints.lock().unwrap().clone();
    assert_eq!(checkpoints.len(), 1);
    let checkpoint = Checkpoint::open(checkpoints[0].1.as_bytes(), &fixture.verifier).unwrap();
    assert_eq!(
        (checkpoint.partition, checkpoint.signed_offset, checkpoint.input_offset),
        (partition, 57, Some(3))
    );
    assert_eq!(checkpoint.heads["t-a"].0, 4);
    let (_, head) = checkpoint.heads().find(|(tenant, _)| tenant == "t-a").unwrap();
    assert_eq!(head.tree.map(|tree| tree.size()), Some(4), "the tree is recovered with the chain");
}

#[tokio::test]
async fn records_carry_their_tree_hashes_and_acknowledged_trees_are_checkpointed() {
    let mut fixture = fixture(1000);
    let partition = partition_for_key(b"t-a", PARTITIONS);
    let batch: Vec<InputMessage> = (0..5).map(|n| input("t-a", &format!("r{n}"), n)).collect();
    let outcomes = fixture.stage.process(&batch).await.unwrap();
    let mut tree = Frontier::new();
    for outcome in &outcomes {
        let envelope = signed(outcome);
        let payload = CompactJws::parse(&envelope.jws).unwrap().payload;
        assert_eq!(envelope.tree_hashes, tree.append(leaf_hash(&payload)), "record {}", envelope.sequence);
    }
    let policy =
        TreeHeadPolicy { records: 5, interval: Duration::from_secs(60), trail_name: "audit.test".into() };
    let due = |everything| fixture.tree_heads.due(&policy, Instant::now(), everything);
    assert!(due(true).is_empty(), "nothing before acknowledgement");
    fixture.stage.on_delivered(&Acknowledged { last_output_offsets: BTreeMap::from([(partition, 4)]) });
    let cuts = due(false);
    assert_eq!(cuts.len(), 1, "five records are due");
    let public = fixture.stage.params.keys.signing_key().key.verifying_key();
    let opened = open(&cuts[0].note, &[NoteKey::new("audit.test/t-a", public)]).unwrap();
    assert_eq!((opened.size, opened.root), (5, tree.root()));
}
