//! The signed payload: canonical JSON of a tokenized record and its chain link.
//!
//! Canonical (RFC 8785) so that anyone can rebuild the exact signed bytes from a
//! stored record: keys sorted by UTF-16 code units, no whitespace, integers only (the
//! record has no floats, and every number stays below 2^53).

use audit_schemas::TokenizedRecord;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// SHA-256 of a canonical payload.
pub type PayloadHash = [u8; 32];

/// A record's place in its tenant's chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainLink {
    /// 1, 2, 3, ... per tenant.
    pub sequence: u64,
    /// Hash of the previous payload; `None` exactly at sequence 1.
    pub prev_hash: Option<PayloadHash>,
}

#[derive(Serialize)]
struct PayloadOut<'a> {
    #[serde(flatten)]
    record: &'a TokenizedRecord,
    sequence: u64,
    #[serde(rename = "prevHash", skip_serializing_if = "Option::is_none")]
    prev_hash: Option<String>,
}

/// The payload as parsed back from a JWS.
#[derive(Debug, Clone, Deserialize)]
pub struct ParsedPayload {
    /// The record the payload holds.
    #[serde(flatten)]
    pub record: TokenizedRecord,
    /// Its sequence number.
    pub sequence: u64,
    /// Hex SHA-256 of the previous payload.
    #[serde(rename = "prevHash")]
    pub prev_hash: Option<String>,
}

impl ParsedPayload {
    /// The link the payload claims, or `None` when `prevHash` is not 64 hex digits.
    pub fn link(&self) -> Option<ChainLink> {
        let prev_hash = match &self.prev_hash {
            None => None,
            Some(text) => {
                let mut hash = [0u8; 32];
                hex::decode_to_slice(text, &mut hash).ok()?;
                Some(hash)
            }
        };
        Some(ChainLink { sequence: self.sequence, prev_hash })
    }
}

/// The canonical payload bytes of `record` at `link`.
pub fn canonical_payload(record: &TokenizedRecord, link: ChainLink) -> Vec<u8> {
    let payload = PayloadOut { record, sequence: link.sequence, prev_hash: link.prev_hash.map(hex::encode) };
    // Strings, integers below 2^53, maps and sequences: canonicalization cannot fail.
    serde_json_canonicalizer::to_vec(&payload).expect("a tokenized record canonicalizes")
}

/// SHA-256 of `payload`, the next record's `prevHash`.
pub fn payload_hash(payload: &[u8]) -> PayloadHash {
    Sha256::digest(payload).into()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use audit_schemas::{Action, UserRef};

    use super::*;

    pub fn record() -> TokenizedRecord {
        TokenizedRecord {
            id: "4f0c3a52-6f5e-4d0e-9a59-2b0f4a1c7e11".into(),
            tenant_id: "tdf1808f3d368517208759".into(),
            created: 1_700_000_000_123,
            action: Action {
                action_name: "createUser".into(),
                action_parameters: BTreeMap::from([
                    ("USN".into(), "tok-1".into()),
                    ("ATC".into(), "x".into()),
                ]),
            },
            result: Some("RESPONSE_SUCCESS".into()),
            return_value: None,
            message: Some("é \u{1F600} \"quoted\"".into()),
            host: Some("tok-2".into()),
            target_user: Some(UserRef { id: Some("tok-3".into()), immutable_id: None, session: None }),
            acting_user: None,
            external_id: None,
            event_id: None,
            tokenized_paths: vec!["host".into()],
        }
    }

    #[test]
    fn payload_is_canonical_and_carries_the_link() {
        let first = canonical_payload(&record(), ChainLink { sequence: 1, prev_hash: None });
        let text = String::from_utf8(first.clone()).unwrap();
        assert!(text.starts_with(r#"{"actingUserId":null,"action":{"actionName":"createUser","actionParameters":{"ATC":"x","USN":"tok-1"}}"#), "{text}");
        assert!(text.contains(r#""sequence":1"#));
        assert!(!text.contains("prevHash"));
        let second =
            canonical_payload(&record(), ChainLink { sequence: 2, prev_hash: Some(payload_hash(&first)) });
        let parsed: ParsedPayload = serde_json::from_slice(&second).unwrap();
        assert_eq!(parsed.record, record());
        assert_eq!(parsed.link(), Some(ChainLink { sequence: 2, prev_hash: Some(payload_hash(&first)) }));
    }

    #[test]
    fn a_reparsed_payload_canonicalizes_to_the_same_bytes() {
        let link = ChainLink { sequence: 7, prev_hash: Some([0xab; 32]) };
        let bytes = canonical_payload(&record(), link);
        let parsed: ParsedPayload = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(canonical_payload(&parsed.record, parsed.link().unwrap()), bytes);
    }
}
