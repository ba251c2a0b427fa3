//! JWS compact serialization (RFC 7515) with `alg` `EdDSA` (RFC 8037).
//!
//! Signing writes the header and payload bytes given, nothing re-serialized, so the
//! signed payload is exactly the canonical bytes. Parsing accepts only `EdDSA` with a
//! `kid`: the algorithm is never chosen by the token beyond that.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Signer, SigningKey};
use serde::{Deserialize, Serialize};

use super::verify::Failure;

/// The protected header of a record's JWS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwsHeader {
    /// Always `EdDSA`.
    pub alg: String,
    /// Key id in the JWK Set.
    pub kid: String,
}

/// Signs `payload` with `key` under `kid`: `b64(header).b64(payload).b64(signature)`.
pub fn sign(key: &SigningKey, kid: &str, payload: &[u8]) -> String {
    let header = JwsHeader { alg: "EdDSA".into(), kid: kid.into() };
    let header = serde_json_canonicalizer::to_vec(&header).expect("a header canonicalizes");
    let mut jws = String::with_capacity((header.len() + payload.len()) * 4 / 3 + 100);
    URL_SAFE_NO_PAD.encode_string(header, &mut jws);
    jws.push('.');
    URL_SAFE_NO_PAD.encode_string(payload, &mut jws);
    let signature: Signature = key.sign(jws.as_bytes());
    jws.push('.');
    URL_SAFE_NO_PAD.encode_string(signature.to_bytes(), &mut jws);
    jws
}

/// A parsed compact JWS, not yet verified.
#[derive(Debug, Clone)]
pub struct CompactJws<'a> {
    /// The protected header.
    pub header: JwsHeader,
    /// The decoded payload.
    pub payload: Vec<u8>,
    /// `b64(header).b64(payload)`, what the signature covers.
    pub signing_input: &'a str,
    /// The signature.
    pub signature: Signature,
}

impl<'a> CompactJws<'a> {
    /// Splits and decodes `jws`; fails with the reason it is malformed.
    pub fn parse(jws: &'a str) -> Result<CompactJws<'a>, Failure> {
        let malformed = |detail: &str| Failure::MalformedJws { detail: detail.to_owned() };
        let (signing_input, signature) = jws.rsplit_once('.').ok_or_else(|| malformed("not three parts"))?;
        let (header, payload) = signing_input.split_once('.').ok_or_else(|| malformed("not three parts"))?;
        if payload.contains('.') {
            return Err(malformed("more than three parts"));
        }
        let header = URL_SAFE_NO_PAD.decode(header).map_err(|_| malformed("header is not base64url"))?;
        let header: JwsHeader =
            serde_json::from_slice(&header).map_err(|_| malformed("header is not {alg, kid}"))?;
        if header.alg != "EdDSA" {
            return Err(Failure::UnsupportedAlgorithm { alg: header.alg });
        }
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| malformed("payload is not base64url"))?;
        let signature =
            URL_SAFE_NO_PAD.decode(signature).map_err(|_| malformed("signature is not base64url"))?;
        let signature =
            Signature::from_slice(&signature).map_err(|_| malformed("signature is not 64 bytes"))?;
        Ok(CompactJws { header, payload, signing_input, signature })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_then_parse_gives_back_header_and_payload() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let jws = sign(&key, "k1", br#"{"a":1}"#);
        let parsed = CompactJws::parse(&jws).unwrap();
        assert_eq!(parsed.header, JwsHeader { alg: "EdDSA".into(), kid: "k1".into() });
        assert_eq!(parsed.payload, br#"{"a":1}"#);
        assert!(
            key.verifying_key().verify_strict(parsed.signing_input.as_bytes(), &parsed.signature).is_ok()
        );
        let header = URL_SAFE_NO_PAD.decode(jws.split('.').next().unwrap()).unwrap();
        assert_eq!(header, br#"{"alg":"EdDSA","kid":"k1"}"#);
    }

    #[test]
    fn malformed_tokens_are_named() {
        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","kid":"k"}"#);
        let cases: Vec<(String, &str)> = vec![
            ("abc".into(), "not three parts"),
            ("a.b.c.d".into(), "more than three parts"),
            ("!!.e30.AA".into(), "header is not base64url"),
            (format!("{}.e30.AA", URL_SAFE_NO_PAD.encode("{}")), "header is not {alg, kid}"),
            (format!("{none_header}.e30.AA"), "unsupported"),
            (format!("{}.e30.AA", URL_SAFE_NO_PAD.encode(br#"{"alg":"EdDSA","kid":"k"}"#)), "not 64 bytes"),
        ];
        for (jws, expected) in cases {
            let failure = CompactJws::parse(&jws).unwrap_err().to_string();
            assert!(failure.contains(expected), "{jws}: {failure}");
        }
    }
}

/// A record signed at its place in the chain.
#[derive(Debug, Clone)]
pub struct Sealed {
    /// The message published on `audit.signed`.
    pub envelope: audit_schemas::SignedRecord,
    /// Hash of its payload, the next record's `prevHash`.
    pub hash: super::PayloadHash,
}

/// Signs `record` at `link` with the active key, outside any tree (its envelope has no
/// tree hashes): a record alone, or a forged one in tests.
pub fn seal(
    key: &super::SigningKeyPair,
    record: &audit_schemas::TokenizedRecord,
    link: super::ChainLink,
) -> Sealed {
    let payload = super::canonical_payload(record, link);
    let hash = super::payload_hash(&payload);
    let envelope = audit_schemas::SignedRecord {
        tenant_id: record.tenant_id.clone(),
        id: record.id.clone(),
        created: record.created,
        sequence: link.sequence as i64,
        jws: sign(&key.key, &key.kid, &payload),
        tree_hashes: Vec::new(),
    };
    Sealed { envelope, hash }
}

/// One tenant's chain and Merkle tree as a single writer extends them: the tools and
/// tests that sign records (the signer keeps the same state per partition).
#[derive(Debug, Clone, Default)]
pub struct TenantChain {
    last: Option<(u64, super::PayloadHash)>,
    tree: crate::merkle::Frontier,
}

impl TenantChain {
    /// The next record's link.
    pub fn link(&self) -> super::ChainLink {
        match self.last {
            Some((sequence, hash)) => super::ChainLink { sequence: sequence + 1, prev_hash: Some(hash) },
            None => super::ChainLink { sequence: 1, prev_hash: None },
        }
    }

    /// Signs `record` as the tenant's next one, with the tree hashes its leaf closes.
    pub fn seal(
        &mut self,
        key: &super::SigningKeyPair,
        record: &audit_schemas::TokenizedRecord,
    ) -> audit_schemas::SignedRecord {
        let link = self.link();
        let payload = super::canonical_payload(record, link);
        let hash = super::payload_hash(&payload);
        self.last = Some((link.sequence, hash));
        audit_schemas::SignedRecord {
            tenant_id: record.tenant_id.clone(),
            id: record.id.clone(),
            created: record.created,
            sequence: link.sequence as i64,
            jws: sign(&key.key, &key.kid, &payload),
            tree_hashes: self.tree.append(crate::merkle::leaf_hash(&payload)),
        }
    }

    /// The tree so far.
    pub fn tree(&self) -> &crate::merkle::Frontier {
        &self.tree
    }
}
