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

/// The payload with its members declared in RFC 8785 order (keys sorted by UTF-16
/// code units; all of these are ASCII, so byte order is that order). serde_json then
/// writes canonical JSON directly: its string escapes and integers are RFC 8785's, and
/// `BTreeMap` keys come sorted, which is canonical order when they are ASCII.
#[derive(Serialize)]
struct Canonical<'a> {
    #[serde(rename = "actingUserId")]
    acting_user: Option<CanonicalUser<'a>>,
    action: CanonicalAction<'a>,
    created: i64,
    #[serde(rename = "eventId")]
    event_id: &'a Option<String>,
    #[serde(rename = "externalId")]
    external_id: &'a Option<String>,
    host: &'a Option<String>,
    id: &'a str,
    message: &'a Option<String>,
    #[serde(rename = "prevHash", skip_serializing_if = "Option::is_none")]
    prev_hash: Option<String>,
    result: &'a Option<String>,
    return_value: &'a Option<std::collections::BTreeMap<String, String>>,
    sequence: u64,
    #[serde(rename = "targetUserId")]
    target_user: Option<CanonicalUser<'a>>,
    #[serde(rename = "tenantId")]
    tenant_id: &'a str,
    #[serde(rename = "tokenizedPaths")]
    tokenized_paths: &'a [String],
}

#[derive(Serialize)]
struct CanonicalAction<'a> {
    #[serde(rename = "actionName")]
    action_name: &'a str,
    #[serde(rename = "actionParameters")]
    action_parameters: &'a std::collections::BTreeMap<String, String>,
}

#[derive(Serialize)]
struct CanonicalUser<'a> {
    id: &'a Option<String>,
    #[serde(rename = "immutableId")]
    immutable_id: &'a Option<String>,
    session: Option<CanonicalSession<'a>>,
}

#[derive(Serialize)]
struct CanonicalSession<'a> {
    #[serde(rename = "authenticationMethod")]
    authentication_method: &'a Option<String>,
    id: &'a Option<String>,
}

impl<'a> Canonical<'a> {
    fn new(record: &'a TokenizedRecord, link: ChainLink) -> Canonical<'a> {
        let user = |user: &'a Option<audit_schemas::UserRef>| {
            user.as_ref().map(|user| CanonicalUser {
                id: &user.id,
                immutable_id: &user.immutable_id,
                session: user.session.as_ref().map(|session| CanonicalSession {
                    authentication_method: &session.authentication_method,
                    id: &session.id,
                }),
            })
        };
        Canonical {
            acting_user: user(&record.acting_user),
            action: CanonicalAction {
                action_name: &record.action.action_name,
                action_parameters: &record.action.action_parameters,
            },
            created: record.created,
            event_id: &record.event_id,
            external_id: &record.external_id,
            host: &record.host,
            id: &record.id,
            message: &record.message,
            prev_hash: link.prev_hash.map(hex::encode),
            result: &record.result,
            return_value: &record.return_value,
            sequence: link.sequence,
            target_user: user(&record.target_user),
            tenant_id: &record.tenant_id,
            tokenized_paths: &record.tokenized_paths,
        }
    }
}

/// Whether every map key is ASCII, so `BTreeMap` order is canonical order.
fn ascii_keys(record: &TokenizedRecord) -> bool {
    let ascii = |map: &std::collections::BTreeMap<String, String>| map.keys().all(|key| key.is_ascii());
    ascii(&record.action.action_parameters) && record.return_value.as_ref().is_none_or(ascii)
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
    let payload = Canonical::new(record, link);
    // Strings, integers below 2^53, maps and sequences: serialization cannot fail.
    if ascii_keys(record) {
        serde_json::to_vec(&payload).expect("a tokenized record serializes")
    } else {
        // Non-ASCII map keys sort by UTF-16 code units, which BTreeMap does not do.
        serde_json_canonicalizer::to_vec(&payload).expect("a tokenized record canonicalizes")
    }
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

    /// The reference: the generic RFC 8785 canonicalizer over the serde shape.
    fn reference(record: &TokenizedRecord, link: ChainLink) -> Vec<u8> {
        #[derive(Serialize)]
        struct Flat<'a> {
            #[serde(flatten)]
            record: &'a TokenizedRecord,
            sequence: u64,
            #[serde(rename = "prevHash", skip_serializing_if = "Option::is_none")]
            prev_hash: Option<String>,
        }
        let flat = Flat { record, sequence: link.sequence, prev_hash: link.prev_hash.map(hex::encode) };
        serde_json_canonicalizer::to_vec(&flat).unwrap()
    }

    #[test]
    fn the_direct_writer_matches_the_reference_canonicalizer_byte_for_byte() {
        let awkward = [
            "",
            "plain",
            "é\u{1F600}\u{10FFFF}",
            "\"quoted\" \\ /slash",
            "\u{0}\u{1f}\u{7f}\t\n\r\u{8}\u{c}",
            "\u{2028}\u{fffd}",
        ];
        let ascii = ["ATC", "USN", "a", "Z", "_x", "0"];
        let unicode = ["ATC", "\u{e9}t\u{e9}", "\u{1F600}", "\u{ffff}", "Z"];
        let cases = awkward.iter().flat_map(|text| [(text, &ascii[..]), (text, &unicode[..])]);
        for (index, (text, keys)) in cases.enumerate() {
            let mut record = record();
            record.message = Some((*text).to_owned());
            record.host = (index % 2 == 0).then(|| text.repeat(3));
            record.action.action_parameters =
                keys.iter().map(|key| ((*key).to_owned(), (*text).to_owned())).collect();
            record.return_value =
                (index % 3 == 0).then(|| BTreeMap::from([("k".to_owned(), (*text).to_owned())]));
            record.acting_user = (index % 4 < 2).then(|| UserRef {
                id: Some((*text).to_owned()),
                immutable_id: None,
                session: Some(audit_schemas::Session { id: Some("s".into()), authentication_method: None }),
            });
            record.tokenized_paths = vec![(*text).to_owned(), "host".into()];
            for link in [
                ChainLink { sequence: 1, prev_hash: None },
                ChainLink { sequence: 9_007_199_254_740_991, prev_hash: Some([0xfe; 32]) },
            ] {
                assert_eq!(
                    String::from_utf8(canonical_payload(&record, link)).unwrap(),
                    String::from_utf8(reference(&record, link)).unwrap(),
                    "case {index}"
                );
            }
        }
    }

    #[test]
    fn a_reparsed_payload_canonicalizes_to_the_same_bytes() {
        let link = ChainLink { sequence: 7, prev_hash: Some([0xab; 32]) };
        let bytes = canonical_payload(&record(), link);
        let parsed: ParsedPayload = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(canonical_payload(&parsed.record, parsed.link().unwrap()), bytes);
    }
}
