//! Proofs through the API: each tenant's latest checkpoint, inclusion proofs of its
//! records, consistency between two of its trees and bundles (whole and windowed),
//! checked here with `audit-integrity` and by a Python implementation of RFC 9162 and
//! C2SP written from the specifications (`tests/third_party/proofs.py`); refusals as
//! SCIM errors.

mod query_support;
use query_support as support;

use std::path::Path;

use audit_integrity::CompactJws;
use audit_integrity::PublicKeys;
use audit_integrity::bundle::{Trusted, decode_hashes, verify_bundle};
use audit_integrity::merkle::{Hash, leaf_hash, verify_consistency, verify_inclusion};
use audit_integrity::note::{Checkpoint, DEFAULT_TRAIL_NAME, origin};
use serde_json::{Value, json};

async fn get(stack: &support::Stack, tenant: &str, path: &str) -> (u16, Value) {
    let url = format!("{}/scim/{tenant}/v2/AuditRecords/{path}", stack.base);
    let response = stack.http.get(url).bearer_auth(stack.admin(tenant)).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn bundle(stack: &support::Stack, tenant: &str, body: Value) -> String {
    let url = format!("{}/scim/{tenant}/v2/AuditRecords/.bundle", stack.base);
    let response = stack.http.post(url).bearer_auth(stack.admin(tenant)).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

fn hashes(value: &Value) -> Vec<Hash> {
    let encoded: Vec<String> = serde_json::from_value(value.clone()).unwrap();
    decode_hashes(&encoded).unwrap()
}

fn base64_hash(value: &Value) -> Hash {
    decode_hashes(&[value.as_str().unwrap().to_owned()]).unwrap()[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proofs_from_the_api_verify_here_and_in_an_independent_implementation() {
    let stack = support::start().await;
    let (status, body) = get(&stack, "t3", ".checkpoint").await;
    assert_eq!(
        (status, body["detail"].as_str().unwrap_or_default().starts_with("no checkpoint")),
        (404, true),
        "{body}"
    );

    let (leaves, roots) = stack.tree("t1").await;
    let size = roots.len() as u64 - 1;
    let older = size / 2;
    stack.publish_checkpoints("t1", &[older, size, older], &roots).await;
    let latest = get(&stack, "t1", ".checkpoint").await.1;
    assert_eq!(latest["treeSize"], size, "{latest}: the largest, whatever the order");
    assert_eq!(base64_hash(&latest["rootHash"]), roots[size as usize]);
    assert!(latest["verifierKeys"][0].as_str().unwrap().starts_with("audit-trail.local/t1+"));

    let mut inclusions = Vec::new();
    for clear in stack.of("t1") {
        let id = &clear.record.id;
        let (status, proof) = get(&stack, "t1", &format!("{id}/.proof")).await;
        assert_eq!(status, 200, "{proof}");
        let (index, tree) = (proof["leafIndex"].as_u64().unwrap(), proof["treeSize"].as_u64().unwrap());
        let leaf = leaf_hash(&CompactJws::parse(proof["jws"].as_str().unwrap()).unwrap().payload);
        assert_eq!(base64_hash(&proof["leafHash"]), leaf);
        let path = hashes(&proof["auditPath"]);
        assert_eq!(verify_inclusion(&leaf, (index, tree), &path, &roots[size as usize]), Ok(()), "{id}");
        inclusions.push(proof);
    }
    let first_id = &stack.of("t1")[0].record.id;
    let (status, small) = get(&stack, "t1", &format!("{first_id}/.proof?treeSize={older}")).await;
    assert_eq!(status, 200, "{small}");
    assert!(small.get("checkpoint").is_none(), "not the latest checkpoint's tree");
    let leaf = leaf_hash(&CompactJws::parse(small["jws"].as_str().unwrap()).unwrap().payload);
    let path = hashes(&small["auditPath"]);
    let sequence = small["sequence"].as_u64().unwrap();
    assert_eq!(verify_inclusion(&leaf, (sequence - 1, older), &path, &roots[older as usize]), Ok(()));

    let (status, consistency) = get(&stack, "t1", &format!(".consistency?first={older}")).await;
    assert_eq!(status, 200, "{consistency}");
    let proof = hashes(&consistency["proof"]);
    let (old_root, new_root) = (&roots[older as usize], &roots[size as usize]);
    assert_eq!(verify_consistency((older, old_root), (size, new_root), &proof), Ok(()));

    let page = stack
        .search("t1", json!({"count": 30, "proofs": true, "filter": "result eq RESPONSE_SUCCESS"}))
        .await;
    assert_eq!(page["checkpoint"], latest["note"]);
    let proofs = page["proofs"].as_array().unwrap();
    assert_eq!(proofs.len(), page["Resources"].as_array().unwrap().len());
    for (proof, resource) in proofs.iter().zip(page["Resources"].as_array().unwrap()) {
        assert_eq!(proof["id"], resource["id"]);
        let index = proof["leafIndex"].as_u64().unwrap();
        let leaf = base64_hash(&proof["leafHash"]);
        assert_eq!(leaf, leaves[index as usize], "the leaf of the record's own payload");
        let path = hashes(&proof["auditPath"]);
        assert_eq!(verify_inclusion(&leaf, (index, size), &path, &roots[size as usize]), Ok(()));
    }

    let keys = PublicKeys::from_jwks_file(&stack.signing_jwks).unwrap();
    let saved = [Checkpoint { origin: origin(DEFAULT_TRAIL_NAME, "t1"), size: older, root: *old_root }];
    let whole = bundle(&stack, "t1", json!({"knownSizes": [older]})).await;
    let report = verify_bundle(whole.as_bytes(), &Trusted { keys: &keys, saved: &saved }).unwrap();
    assert!(report.is_valid(), "{report:?}");
    assert_eq!((report.records, report.consistent), (size, 1));
    let created: Vec<i64> = stack.of("t1").iter().map(|clear| clear.record.created).collect();
    let (from, to) = (created[10], created[20]);
    let window = json!({"from": rfc3339(from), "to": rfc3339(to)});
    let windowed = bundle(&stack, "t1", window).await;
    let report = verify_bundle(windowed.as_bytes(), &Trusted { keys: &keys, saved: &[] }).unwrap();
    assert!(report.is_valid(), "{report:?}");
    let expected = created.iter().filter(|created| (from..to).contains(*created)).count() as u64;
    assert_eq!(report.in_window, expected);

    let dir = tempfile::tempdir().unwrap();
    let input = json!({
        "jwks": serde_json::from_str::<Value>(&std::fs::read_to_string(&stack.signing_jwks).unwrap()).unwrap(),
        "origin": origin(DEFAULT_TRAIL_NAME, "t1"),
        "checkpoint": latest["note"],
        "older": {"size": older, "root": latest_root(old_root)},
        "inclusions": inclusions,
        "consistency": consistency,
    });
    std::fs::write(dir.path().join("proofs.json"), input.to_string()).unwrap();
    std::fs::write(dir.path().join("whole.bundle"), &whole).unwrap();
    std::fs::write(dir.path().join("window.bundle"), &windowed).unwrap();
    let checked = python(&[
        &dir.path().join("proofs.json"),
        &dir.path().join("whole.bundle"),
        &dir.path().join("window.bundle"),
    ]);
    assert_eq!(checked["inclusions"], stack.of("t1").len(), "{checked}");
    assert_eq!(checked["consistency"], 1, "{checked}");
    assert_eq!(checked["bundles"], json!([size, report_count(&windowed)]), "{checked}");

    refusals(&stack, older, size).await;
}

/// What the API refuses, as SCIM errors.
async fn refusals(stack: &support::Stack, older: u64, size: u64) {
    let id = &stack.of("t1")[0].record.id;
    let cases: Vec<(String, u16, &str)> = vec![
        (format!("{id}/.proof?treeSize={}", size + 1), 400, "larger than the latest checkpoint"),
        (format!("{id}/.proof?treeSize=abc"), 400, "treeSize"),
        ("no-such-record/.proof".to_owned(), 404, "record not found"),
        (format!(".consistency?first={size}&second={older}"), 400, "larger than tree"),
        (".consistency".to_owned(), 400, "first"),
    ];
    for (path, status, detail) in cases {
        let (found, body) = get(stack, "t1", &path).await;
        assert_eq!(found, status, "{path}: {body}");
        assert!(body["detail"].as_str().unwrap().contains(detail), "{path}: {body}");
        assert_eq!(body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error");
    }
    let url = format!("{}/scim/t1/v2/AuditRecords/.checkpoint", stack.base);
    let other = stack.http.get(url).bearer_auth(stack.admin("t2")).send().await.unwrap();
    assert_eq!(other.status(), 403, "another tenant's token");
    let url = format!("{}/scim/t1/v2/AuditRecords/.bundle", stack.base);
    for (body, detail) in [
        (json!({"from": "2030-01-01T00:00:00Z", "to": "2020-01-01T00:00:00Z"}), "from must be before to"),
        (json!({"from": "yesterday"}), "RFC 3339"),
        (json!({"knownSizes": [size + 5]}), "larger than the latest checkpoint"),
    ] {
        let response = stack.http.post(&url).bearer_auth(stack.admin("t1")).json(&body).send().await.unwrap();
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.unwrap();
        assert!(body["detail"].as_str().unwrap().contains(detail), "{body}");
    }
    let trail: Value = stack
        .http
        .get(format!("{}/.well-known/audit-trail", stack.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(trail["trailName"], DEFAULT_TRAIL_NAME);
}

fn report_count(bundle: &str) -> usize {
    bundle.lines().count() - 1
}

fn latest_root(root: &Hash) -> String {
    audit_integrity::bundle::encode_hashes(&[*root]).remove(0)
}

fn rfc3339(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis).unwrap().to_rfc3339()
}

/// Runs `tests/third_party/proofs.py` on `files`; the JSON it prints.
fn python(files: &[&Path]) -> Value {
    let files: Vec<&std::ffi::OsStr> = files.iter().map(|file| file.as_os_str()).collect();
    e2e::third_party_script("proofs.py", &files)
}
