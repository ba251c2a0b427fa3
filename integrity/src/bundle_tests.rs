use std::collections::HashMap;

use super::*;
use crate::TenantChain;
use crate::keys::Jwk;
use crate::merkle::{NodeId, consistency_proof, range_proof};
use crate::test_support::{key, record};

const TENANT: &str = "acme";
const ORIGIN: &str = "trail.test/acme";

/// A tenant's signed log as the index holds it: records and their subtrees.
struct Log {
    records: Vec<SignedRecord>,
    nodes: HashMap<NodeId, Hash>,
    roots: Vec<Hash>,
}

impl Log {
    fn new(size: u64, salt: &str) -> Log {
        let signer = key(1);
        let mut chain = TenantChain::default();
        let mut log = Log { records: Vec::new(), nodes: HashMap::new(), roots: vec![chain.tree().root()] };
        for n in 1..=size {
            let mut input = record(TENANT, n);
            input.message = Some(format!("{salt} {n}"));
            let signed = chain.seal(&signer, &input);
            for (level, hash) in signed.tree_hashes.iter().enumerate() {
                log.nodes.insert(NodeId { level: level as u8, index: (n - 1) >> level }, *hash);
            }
            log.roots.push(chain.tree().root());
            log.records.push(signed);
        }
        log
    }

    fn checkpoint(&self, size: u64) -> Checkpoint {
        Checkpoint { origin: ORIGIN.into(), size, root: self.roots[size as usize] }
    }

    /// The bundle of sequences `[first, last]` against the checkpoint of `size`.
    fn bundle(&mut self, (first, last): (u64, u64), size: u64, window: Option<Window>) -> Bundle {
        let proof = range_proof(first - 1, last, size, &mut self.nodes).expect("a range proof");
        let header = BundleHeader {
            format: BUNDLE_FORMAT.into(),
            tenant_id: TENANT.into(),
            checkpoint: self.checkpoint(size).sign(&key(1).key),
            keys: jwks(),
            window,
            first,
            count: last - first + 1,
            range_proof: encode_hashes(&proof),
            consistency: Vec::new(),
        };
        let lines = self.records[(first - 1) as usize..last as usize]
            .iter()
            .map(|record| serde_json::to_string(&ExportLine::<Value>::new(record.clone(), None)).unwrap())
            .collect();
        Bundle { header, lines }
    }
}

struct Bundle {
    header: BundleHeader,
    lines: Vec<String>,
}

impl Bundle {
    fn check(&self, saved: &[Checkpoint]) -> BundleReport {
        let text =
            [vec![serde_json::to_string(&self.header).unwrap()], self.lines.clone()].concat().join("\n");
        let keys = PublicKeys::from_jwks(&jwks()).unwrap();
        verify_bundle(text.as_bytes(), &Trusted { keys: &keys, saved }).unwrap()
    }
}

fn jwks() -> Jwks {
    let pair = key(1);
    Jwks { keys: vec![Jwk::ed25519(&pair.kid, &pair.key.verifying_key())] }
}

fn fails_with(report: &BundleReport, words: &str) {
    assert!(!report.is_valid(), "expected a failure with {words:?}");
    assert!(
        report.failures.iter().any(|failure| failure.contains(words)),
        "{words:?} not in {:?}",
        report.failures
    );
}

#[test]
fn a_whole_log_and_a_window_verify() {
    let mut log = Log::new(50, "a");
    let report = log.bundle((1, 50), 50, None).check(&[]);
    assert!(report.is_valid(), "{:?}", report.failures);
    assert_eq!((report.records, report.in_window, report.tree_size), (50, 50, 50));
    // Records are created 1_700_000_000_000 + n: the window [20, 30] with its two boundaries.
    let window = Window { from: 1_700_000_000_020, to: 1_700_000_000_031 };
    let report = log.bundle((19, 31), 50, Some(window)).check(&[]);
    assert!(report.is_valid(), "{:?}", report.failures);
    assert_eq!((report.records, report.in_window), (13, 11));
}

#[test]
fn every_tampering_of_the_records_is_named() {
    let mut log = Log::new(40, "a");
    let bundle = || Log::new(40, "a").bundle((1, 40), 40, None);
    let mut edited = bundle();
    edited.lines[9] = edited.lines[9].replace("\"created\":1700000000010", "\"created\":1700000000099");
    fails_with(&edited.check(&[]), "envelope field created differs");
    let mut forged = bundle();
    let other = Log::new(40, "b");
    forged.lines[9] =
        serde_json::to_string(&ExportLine::<Value>::new(other.records[9].clone(), None)).unwrap();
    fails_with(&forged.check(&[]), "not leaves 1..40 of the checkpoint");
    let mut deleted = bundle();
    deleted.lines.remove(20);
    let report = deleted.check(&[]);
    fails_with(&report, "sequence 22 where 21 was expected");
    assert_eq!(
        report.failures.iter().filter(|failure| failure.contains("was expected")).count(),
        1,
        "{report:?}"
    );
    let mut reordered = bundle();
    reordered.lines.swap(5, 6);
    fails_with(&reordered.check(&[]), "sequence 7 where 6 was expected");
    let mut inserted = bundle();
    inserted.lines.insert(3, inserted.lines[2].clone());
    fails_with(&inserted.check(&[]), "sequence 3 where 4 was expected");
    let mut cut = bundle();
    cut.lines.truncate(35);
    fails_with(&cut.check(&[]), "35 records where the header announces 40");
    // A tail cut by someone who also rebuilt the header and its proof.
    let rebuilt = log.bundle((1, 35), 40, None);
    fails_with(&rebuilt.check(&[]), "the records end at sequence 35 but the checkpoint covers 40");
    let mut resigned = log.bundle((1, 35), 35, None);
    resigned.header.checkpoint = resigned.header.checkpoint.replacen("\n35\n", "\n36\n", 1);
    fails_with(&resigned.check(&[]), "checkpoint refused");
}

#[test]
fn a_window_cut_inside_itself_is_named() {
    let mut log = Log::new(50, "a");
    let window = Window { from: 1_700_000_000_020, to: 1_700_000_000_031 };
    fails_with(&log.bundle((22, 31), 50, Some(window)).check(&[]), "starts inside the window at sequence 22");
    fails_with(&log.bundle((19, 28), 50, Some(window)).check(&[]), "ends inside the window at sequence 28");
    assert!(
        log.bundle((45, 50), 50, Some(Window { from: 1_700_000_000_046, to: i64::MAX }))
            .check(&[])
            .is_valid()
    );
}

#[test]
fn saved_checkpoints_catch_forks_replays_and_split_views() {
    let mut log = Log::new(60, "a");
    let mut forked = Log::new(60, "b");
    let mut bundle = log.bundle((1, 60), 60, None);
    let proof = consistency_proof(30, 60, &mut log.nodes).unwrap();
    bundle.header.consistency.push(Consistency { size: 30, proof: encode_hashes(&proof) });
    let report = bundle.check(&[log.checkpoint(30), log.checkpoint(60)]);
    assert!(report.is_valid(), "{:?}", report.failures);
    assert_eq!(report.consistent, 2);

    fails_with(&bundle.check(&[forked.checkpoint(60)]), "a fork: two checkpoints of 60 records");
    fails_with(
        &bundle.check(&[forked.checkpoint(30)]),
        "not an extension of the saved one of 30: a split view",
    );
    fails_with(&bundle.check(&[log.checkpoint(20)]), "no consistency proof from the saved checkpoint of 20");
    let old = log.bundle((1, 50), 50, None);
    fails_with(&old.check(&[log.checkpoint(60)]), "an old checkpoint replayed");
    let other = Checkpoint { origin: "trail.test/other".into(), ..forked.checkpoint(60) };
    assert!(bundle.check(&[other]).is_valid(), "another tenant's checkpoint says nothing");
    let _ = forked.bundle((1, 1), 1, None);
}
