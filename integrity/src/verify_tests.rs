//! Tamper tests: each kind of change to a signed run is detected with its reason.

use audit_schemas::{SignedRecord, TokenizedRecord};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::*;
use crate::keys::SigningKeyPair;
use crate::test_support::{key, record, verifier};
use crate::{ChainLink, seal};

/// A chain of `count` records of one tenant, signed by `signer`.
fn chain(signer: &SigningKeyPair, tenant: &str, count: u64) -> Vec<(TokenizedRecord, SignedRecord)> {
    let mut prev_hash = None;
    (1..=count)
        .map(|sequence| {
            let record = record(tenant, sequence);
            let sealed = seal(signer, &record, ChainLink { sequence, prev_hash });
            prev_hash = Some(sealed.hash);
            (record, sealed.envelope)
        })
        .collect()
}

/// Verifies every envelope and the chain; the reasons of the first failure, if any.
fn check(verifier: &Verifier, run: &[SignedRecord]) -> Result<(), String> {
    let mut chain = ChainChecker::default();
    for envelope in run {
        let verified = verifier.verify_envelope(envelope).map_err(|failure| failure.to_string())?;
        chain.push(&verified).map_err(|failure| failure.to_string())?;
    }
    Ok(())
}

fn envelopes(run: &[(TokenizedRecord, SignedRecord)]) -> Vec<SignedRecord> {
    run.iter().map(|(_, envelope)| envelope.clone()).collect()
}

fn replace_payload(jws: &str, edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let parts: Vec<&str> = jws.split('.').collect();
    let mut payload: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    edit(&mut payload);
    let payload = URL_SAFE_NO_PAD.encode(serde_json_canonicalizer::to_vec(&payload).unwrap());
    format!("{}.{payload}.{}", parts[0], parts[2])
}

#[test]
fn an_untouched_run_verifies() {
    let signer = key(1);
    let run = envelopes(&chain(&signer, "t1", 5));
    assert_eq!(check(&verifier(&[&signer]), &run), Ok(()));
}

#[test]
fn every_tampering_is_detected_with_its_reason() {
    let signer = key(1);
    let stranger = key(2);
    let verifier = verifier(&[&signer]);
    let good = envelopes(&chain(&signer, "t1", 5));
    type Tamper = Box<dyn Fn(&mut Vec<SignedRecord>)>;
    let cases: Vec<(&str, Tamper, &str)> = vec![
        ("changed envelope field", Box::new(|run| run[2].created += 1), "envelope field created differs"),
        (
            "changed envelope tenant",
            Box::new(|run| run[2].tenant_id = "t2".into()),
            "envelope field tenantId differs",
        ),
        (
            "changed payload",
            Box::new(|run| {
                run[2].jws =
                    replace_payload(&run[2].jws, |payload| payload["result"] = "RESPONSE_FAILURE".into());
            }),
            "signature does not verify",
        ),
        (
            "swapped signature",
            Box::new(|run| {
                let other = run[3].jws.rsplit_once('.').unwrap().1.to_owned();
                run[2].jws = format!("{}.{other}", run[2].jws.rsplit_once('.').unwrap().0);
            }),
            "signature does not verify",
        ),
        (
            "removed record",
            Box::new(|run| {
                run.remove(2);
            }),
            "sequence 4 follows 2, records are missing",
        ),
        ("reordered records", Box::new(|run| run.swap(2, 3)), "sequence 4 follows 2"),
        ("duplicated record", Box::new(|run| run.insert(3, run[2].clone())), "sequence 3 appears again"),
        (
            "inserted record by an unknown key",
            Box::new(move |run| {
                let forged =
                    seal(&stranger, &record("t1", 9), ChainLink { sequence: 3, prev_hash: Some([0; 32]) });
                run.insert(2, forged.envelope);
            }),
            "signed by unknown key",
        ),
        (
            "unsupported algorithm",
            Box::new(|run| {
                let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","kid":"x"}"#);
                run[1].jws = format!("{header}.{}", run[1].jws.split_once('.').unwrap().1);
            }),
            "unsupported algorithm none",
        ),
    ];
    for (name, tamper, expected) in cases {
        let mut run = good.clone();
        tamper(&mut run);
        let failure = check(&verifier, &run).expect_err(name);
        assert!(failure.contains(expected), "{name}: {failure}");
    }
}

#[test]
fn a_record_signed_in_place_of_another_breaks_the_link() {
    let signer = key(1);
    let mut run = envelopes(&chain(&signer, "t1", 4));
    // A validly signed record with the right sequence but a made-up predecessor.
    run[2] = seal(&signer, &record("t1", 3), ChainLink { sequence: 3, prev_hash: Some([7; 32]) }).envelope;
    let failure = check(&verifier(&[&signer]), &run).unwrap_err();
    assert!(failure.contains("sequence 3 does not link"), "{failure}");
}

#[test]
fn an_edited_stored_record_names_the_fields_that_differ() {
    let signer = key(1);
    let run = chain(&signer, "t1", 2);
    let verifier = verifier(&[&signer]);
    let (mut stored, envelope) = run[1].clone();
    assert!(verifier.verify_stored(&stored, &envelope.jws).is_ok());
    stored.result = Some("RESPONSE_FAILURE".into());
    stored.host = None;
    let failure = verifier.verify_stored(&stored, &envelope.jws).unwrap_err();
    assert_eq!(failure, Failure::RecordMismatch { fields: vec!["host".into(), "result".into()] });
}

#[test]
fn batches_verify_and_name_the_bad_ones() {
    let signer = key(1);
    let verifier = verifier(&[&signer]);
    let mut jws: Vec<String> =
        envelopes(&chain(&signer, "t1", 6)).into_iter().map(|envelope| envelope.jws).collect();
    assert!(verifier.verify_batch(&jws).iter().all(Result::is_ok));
    jws[4] = replace_payload(&jws[4], |payload| payload["host"] = "tok-x".into());
    let results = verifier.verify_batch(&jws);
    let bad: Vec<usize> =
        results.iter().enumerate().filter(|(_, result)| result.is_err()).map(|(index, _)| index).collect();
    assert_eq!(bad, vec![4]);
}

#[test]
fn interleaved_tenants_chain_independently_and_rotation_keeps_verifying() {
    let old = key(1);
    let new = key(3);
    let verifier = verifier(&[&old, &new]);
    let first = chain(&old, "a", 3);
    let before = envelopes(&first);
    let last_hash = verifier.verify_envelope(before.last().unwrap()).unwrap().hash;
    let after = seal(&new, &record("a", 4), ChainLink { sequence: 4, prev_hash: Some(last_hash) }).envelope;
    let other = envelopes(&chain(&new, "b", 2));
    let run = vec![
        before[0].clone(),
        other[0].clone(),
        before[1].clone(),
        before[2].clone(),
        other[1].clone(),
        after,
    ];
    assert_eq!(check(&verifier, &run), Ok(()));
}
