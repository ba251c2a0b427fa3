//! A signed record as a Tantivy document (pure).
//!
//! The record is the JWS payload itself, parsed once: the index holds exactly what was
//! signed. Every string leaf becomes a keyword term at its dotted path (maps such as
//! `action.actionParameters` and `return_value` included, so each event code is
//! searchable); `null`s are absent, which is what `pr` tests.

use audit_integrity::CompactJws;
use audit_schemas::SignedRecord;
use serde_json::Value;
use tantivy::TantivyDocument;

use crate::schema::{IndexSchema, keyword_term};

/// Why a signed message cannot be indexed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unindexable {
    /// The JWS does not parse.
    #[error("malformed jws: {0}")]
    Jws(String),
    /// The payload is not a JSON object with the envelope's id and tenant.
    #[error("payload does not match its envelope: {0}")]
    Payload(&'static str),
}

/// Builds the document of `envelope`.
pub fn document(schema: &IndexSchema, envelope: &SignedRecord) -> Result<TantivyDocument, Unindexable> {
    let jws = CompactJws::parse(&envelope.jws).map_err(|failure| Unindexable::Jws(failure.to_string()))?;
    let payload: Value =
        serde_json::from_slice(&jws.payload).map_err(|_| Unindexable::Payload("not json"))?;
    let Value::Object(record) = &payload else { return Err(Unindexable::Payload("not an object")) };
    if record.get("id").and_then(Value::as_str) != Some(envelope.id.as_str()) {
        return Err(Unindexable::Payload("id"));
    }
    if record.get("tenantId").and_then(Value::as_str) != Some(envelope.tenant_id.as_str()) {
        return Err(Unindexable::Payload("tenantId"));
    }
    let mut document = TantivyDocument::default();
    document.add_text(schema.tenant, &envelope.tenant_id);
    document.add_text(schema.id, &envelope.id);
    document.add_i64(schema.created, envelope.created);
    for term in crate::buckets::document_terms(&envelope.tenant_id, envelope.created) {
        document.add_text(schema.buckets, term);
    }
    document.add_u64(schema.sequence, envelope.sequence as u64);
    document.add_text(schema.jws, &envelope.jws);
    if !envelope.tree_hashes.is_empty() {
        document.add_bytes(schema.tree, &envelope.tree_hashes.concat());
    }
    if let Some(message) = record.get("message").and_then(Value::as_str) {
        document.add_text(schema.message, message);
    }
    let mut path = String::new();
    for (name, value) in record {
        add_keywords(schema, &mut document, &mut path, name, value);
    }
    Ok(document)
}

fn add_keywords(
    schema: &IndexSchema,
    document: &mut TantivyDocument,
    path: &mut String,
    name: &str,
    value: &Value,
) {
    let parent_len = path.len();
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(name);
    match value {
        Value::String(text) => document.add_text(schema.keyword, keyword_term(path, text)),
        Value::Object(children) => {
            for (child, value) in children {
                add_keywords(schema, document, path, child, value);
            }
        }
        Value::Array(items) => {
            for item in items.iter().filter_map(Value::as_str) {
                document.add_text(schema.keyword, keyword_term(path, item));
            }
        }
        // Numbers (created, sequence) have their own fields; nulls are absent.
        Value::Number(_) | Value::Bool(_) | Value::Null => {}
    }
    path.truncate(parent_len);
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use audit_integrity::{ChainLink, SigningKeyPair, keys::thumbprint, seal};
    use audit_schemas::{Action, TokenizedRecord, UserRef};
    use ed25519_dalek::SigningKey;
    use tantivy::schema::Value as _;

    use super::*;

    fn envelope() -> SignedRecord {
        let key = SigningKey::from_bytes(&[5; 32]);
        let key = SigningKeyPair { kid: thumbprint(&key.verifying_key()), key };
        let record = TokenizedRecord {
            id: "r-1".into(),
            tenant_id: "t-1".into(),
            created: 1_700_000_000_123,
            action: Action {
                action_name: "createUser".into(),
                action_parameters: BTreeMap::from([("ATC".into(), "AT_STDPWD".into())]),
            },
            result: Some("RESPONSE_SUCCESS".into()),
            return_value: None,
            message: Some("password reset".into()),
            host: Some("tok-host".into()),
            target_user: Some(UserRef { id: Some("tok-user".into()), immutable_id: None, session: None }),
            acting_user: None,
            external_id: Some("IDP-test-company".into()),
            event_id: None,
            tokenized_paths: vec!["host".into()],
        };
        seal(&key, &record, ChainLink { sequence: 3, prev_hash: Some([1; 32]) }).envelope
    }

    #[test]
    fn every_string_leaf_is_a_keyword_at_its_lowercase_path() {
        let schema = IndexSchema::new();
        let document = document(&schema, &envelope()).unwrap();
        let keywords: Vec<&str> =
            document.get_all(schema.keyword).filter_map(|value| value.as_str()).collect();
        for expected in [
            "action.actionname=createUser",
            "action.actionparameters.atc=AT_STDPWD",
            "result=RESPONSE_SUCCESS",
            "targetuserid.id=tok-user",
            "host=tok-host",
            "externalid=IDP-test-company",
            "message=password reset",
            "tokenizedpaths=host",
            "id=r-1",
            "tenantid=t-1",
        ] {
            assert!(keywords.contains(&expected), "{expected} missing from {keywords:?}");
        }
        assert!(!keywords.iter().any(|keyword| keyword.starts_with("actinguserid")), "nulls are absent");
        assert!(
            !keywords.iter().any(|keyword| keyword.starts_with("sequence")),
            "numbers have their own fields"
        );
    }

    #[test]
    fn the_tree_hashes_are_stored_end_to_end() {
        let schema = IndexSchema::new();
        let mut signed = envelope();
        assert!(document(&schema, &signed).unwrap().get_first(schema.tree).is_none(), "none to store");
        signed.tree_hashes = vec![[1; 32], [2; 32]];
        let document = document(&schema, &signed).unwrap();
        let stored = document.get_first(schema.tree).and_then(|value| value.as_bytes()).unwrap();
        assert_eq!(stored, [[1u8; 32], [2; 32]].concat());
    }

    #[test]
    fn an_envelope_that_disagrees_with_its_payload_is_not_indexed() {
        let schema = IndexSchema::new();
        let mut tampered = envelope();
        tampered.id = "r-2".into();
        assert_eq!(document(&schema, &tampered).unwrap_err(), Unindexable::Payload("id"));
        tampered = envelope();
        tampered.jws = "x".into();
        assert!(matches!(document(&schema, &tampered), Err(Unindexable::Jws(_))));
    }
}
