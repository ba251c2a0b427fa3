//! What the signer's tests share: tokenized input, and reading `audit.signed` back
//! with full verification of every record and chain.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;

use audit_integrity::{ChainChecker, KeyDir, Verifier};
use audit_runtime::config::KafkaConfig;
use audit_schemas::{Action, Codec, SignedRecord, TokenizedRecord, UserRef};
use testkit::kafka::{ReadSpec, read};

/// Tokenized records of `tenants` tenants, ids unique, in a fixed pseudo-random mix.
pub fn records(count: usize, tenants: usize, seed: u64) -> Vec<TokenizedRecord> {
    (0..count)
        .map(|index| {
            let n = (seed ^ index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            TokenizedRecord {
                id: format!("{seed:04}-{index:08}"),
                tenant_id: format!("tenant-{:02}", (n >> 33) as usize % tenants),
                created: 1_700_000_000_000 + index as i64,
                action: Action {
                    action_name: ["login", "createUser", "updateUser", "deleteUser"][index % 4].into(),
                    action_parameters: BTreeMap::from([("ATC".into(), "AT_STDPWD".into())]),
                },
                result: Some("RESPONSE_SUCCESS".into()),
                return_value: None,
                message: Some(format!("event {index} with \"quotes\" and é")),
                host: Some(uuid::Uuid::new_v4().to_string()),
                target_user: Some(UserRef {
                    id: Some(uuid::Uuid::new_v4().to_string()),
                    ..UserRef::default()
                }),
                acting_user: None,
                external_id: Some("IDP-test-company".into()),
                event_id: None,
                tokenized_paths: vec!["host".into(), "targetUserId.id".into()],
            }
        })
        .collect()
}

/// `(key, payload)` messages of `records` for `audit.tokenized`.
pub fn messages(records: &[TokenizedRecord]) -> Vec<(Option<Vec<u8>>, Vec<u8>)> {
    let codec = Codec::<TokenizedRecord>::published("TokenizedRecord").unwrap();
    records
        .iter()
        .map(|record| (Some(record.tenant_id.clone().into_bytes()), codec.encode(record).unwrap()))
        .collect()
}

/// Every signed message, in partition-offset order, read until `expected` arrived and
/// nothing more came for three seconds.
pub async fn read_signed(
    kafka: &KafkaConfig,
    expected: usize,
    timeout: Duration,
) -> Vec<(i32, SignedRecord)> {
    let spec = ReadSpec { topic: "audit.signed", expected, settle: Duration::from_secs(3), timeout };
    let mut read = read(kafka, spec).await;
    read.sort_by_key(|message| (message.partition, message.offset));
    let codec = Codec::<SignedRecord>::published("SignedRecord").unwrap();
    read.iter().map(|message| (message.partition, codec.decode(&message.payload).unwrap())).collect()
}

/// The verifier of the key directory at `dir`.
pub fn verifier(dir: &Path) -> Verifier {
    Verifier::new(KeyDir::open(dir).unwrap().public_keys().unwrap())
}

/// Asserts `signed` holds each of `inputs` exactly once, every record verifies and
/// equals its input, and each tenant's chain runs 1..N without gap, repeat or broken
/// link. Returns the chain length per tenant.
pub fn assert_exactly_once_and_chained(
    signed: &[(i32, SignedRecord)],
    inputs: &[TokenizedRecord],
    verifier: &Verifier,
) -> BTreeMap<String, u64> {
    let by_id: HashMap<&str, &TokenizedRecord> =
        inputs.iter().map(|record| (record.id.as_str(), record)).collect();
    let mut seen: HashMap<&str, u64> = HashMap::new();
    let mut chain = ChainChecker::default();
    let mut first = BTreeMap::new();
    for (partition, envelope) in signed {
        let input =
            by_id.get(envelope.id.as_str()).unwrap_or_else(|| panic!("unknown record {}", envelope.id));
        let verified = verifier
            .verify_stored(input, &envelope.jws)
            .unwrap_or_else(|failure| panic!("{}: {failure}", envelope.id));
        audit_integrity::verify::check_envelope(envelope, &verified).unwrap();
        if let Some(previous) = seen.insert(envelope.id.as_str(), envelope.sequence as u64) {
            panic!(
                "record {} signed twice: sequences {previous} and {} (partition {partition})",
                envelope.id, envelope.sequence
            );
        }
        first.entry(envelope.tenant_id.clone()).or_insert(envelope.sequence);
        chain.push(&verified).unwrap_or_else(|failure| panic!("{failure}"));
    }
    assert_eq!(seen.len(), by_id.len(), "every input signed once ({} missing)", by_id.len() - seen.len());
    assert!(first.values().all(|sequence| *sequence == 1), "every chain starts at 1: {first:?}");
    chain.heads().map(|(tenant, sequence)| (tenant.to_owned(), sequence)).collect()
}
