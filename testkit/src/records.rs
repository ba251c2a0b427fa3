//! Signed records as a signer would publish them, for the tests of what reads
//! `audit.signed` (indexer, reindex, search).

use std::collections::{BTreeMap, HashMap};

use audit_integrity::{SigningKeyPair, TenantChain, keys::thumbprint};
use audit_schemas::{Action, Codec, SignedRecord, TokenizedRecord};
use ed25519_dalek::SigningKey;

/// Kafka messages as `(key, value)`.
pub type Messages = Vec<(Option<Vec<u8>>, Vec<u8>)>;

/// The key the records are signed with (fixed, so tests can verify them).
pub fn signing_key() -> SigningKeyPair {
    let key = SigningKey::from_bytes(&[11; 32]);
    SigningKeyPair { kid: thumbprint(&key.verifying_key()), key }
}

/// The JWK Set publishing [`signing_key`], as the signer's `jwks.json` would.
pub fn jwks() -> serde_json::Value {
    let key = signing_key();
    let jwk = audit_integrity::keys::Jwk::ed25519(&key.kid, &key.key.verifying_key());
    serde_json::json!({ "keys": [jwk] })
}

/// `count` signed records over `tenants` tenants, chained per tenant, ids
/// `{prefix}-{index:06}`, as `audit.signed` messages keyed by tenant.
pub fn signed_messages(count: usize, tenants: usize, prefix: &str) -> (Vec<String>, Messages) {
    let key = signing_key();
    let codec = Codec::<SignedRecord>::published("SignedRecord").expect("the published schemas load");
    let mut chains: HashMap<String, TenantChain> = HashMap::new();
    let (mut ids, mut messages) = (Vec::new(), Vec::new());
    for index in 0..count {
        let tenant = format!("tenant-{}", index % tenants);
        let record = record(&tenant, &format!("{prefix}-{index:06}"), index);
        let envelope = chains.entry(tenant.clone()).or_default().seal(&key, &record);
        ids.push(record.id.clone());
        messages.push((Some(tenant.into_bytes()), codec.encode(&envelope).expect("a signed record encodes")));
    }
    (ids, messages)
}

fn record(tenant: &str, id: &str, index: usize) -> TokenizedRecord {
    TokenizedRecord {
        id: id.to_owned(),
        tenant_id: tenant.to_owned(),
        created: 1_700_000_000_000 + index as i64,
        action: Action {
            action_name: ["login", "createUser", "updateUser", "deleteUser"][index % 4].into(),
            action_parameters: BTreeMap::from([("ATC".into(), "AT_STDPWD".into())]),
        },
        result: Some(["RESPONSE_SUCCESS", "RESPONSE_FAILURE"][index % 2].into()),
        return_value: None,
        message: Some(format!("user logged in from site {}", index % 7)),
        host: Some(format!("tok-{index}")),
        target_user: None,
        acting_user: None,
        external_id: Some("IDP-test-company".into()),
        event_id: None,
        tokenized_paths: vec!["host".into()],
    }
}
