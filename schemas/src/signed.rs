//! Rust shape of `audit.trail.SignedRecord` (topic `audit.signed`, the public tap).
//!
//! The envelope repeats the payload's tenant, id, created and sequence so consumers
//! can route and order without parsing the JWS; a verifier checks they agree with the
//! signed payload. Field names and order follow `avro/signed_record.v2.avsc`; the
//! tree hashes are derived data (a proof built from them is checked against a signed
//! checkpoint), so they ride beside the JWS, not in it.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::binary::{Datum, DecodeError, Reader, write_bytes, write_long, write_string};

/// A SHA-256 hash of the tenant's Merkle tree.
pub type TreeHash = [u8; 32];

/// One signed record as published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedRecord {
    /// Tenant the record belongs to.
    #[serde(rename = "tenantId")]
    pub tenant_id: String,
    /// Record id.
    pub id: String,
    /// Milliseconds since the Unix epoch, UTC.
    pub created: i64,
    /// Position in the tenant's chain, from 1.
    pub sequence: i64,
    /// JWS compact serialization carrying the canonical payload.
    pub jws: String,
    /// The complete subtrees of the tenant's Merkle tree this record's leaf closes,
    /// from the leaf hash upward; empty in records signed before checkpoints.
    #[serde(rename = "treeHashes", default, serialize_with = "concatenated", deserialize_with = "split")]
    pub tree_hashes: Vec<TreeHash>,
}

/// Avro's `bytes`: the hashes end to end.
fn concatenated<S: Serializer>(hashes: &[TreeHash], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_bytes(&hashes.concat())
}

fn split<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<TreeHash>, D::Error> {
    let bytes: Vec<u8> = Deserialize::deserialize(deserializer)?;
    hashes(&bytes).map_err(|error| serde::de::Error::custom(error.to_string()))
}

/// 32-byte hashes end to end, split.
fn hashes(bytes: &[u8]) -> Result<Vec<TreeHash>, DecodeError> {
    if !bytes.len().is_multiple_of(32) || bytes.len() > 32 * 64 {
        return Err(DecodeError::new("tree hashes are not whole 32-byte hashes"));
    }
    Ok(bytes.chunks_exact(32).map(|hash| hash.try_into().expect("32 bytes")).collect())
}

impl Datum for SignedRecord {
    fn write(&self, out: &mut Vec<u8>) {
        write_string(out, &self.tenant_id);
        write_string(out, &self.id);
        write_long(out, self.created);
        write_long(out, self.sequence);
        write_string(out, &self.jws);
        write_bytes(out, &self.tree_hashes.concat());
    }

    fn read(input: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(SignedRecord {
            tenant_id: input.string()?,
            id: input.string()?,
            created: input.long()?,
            sequence: input.long()?,
            jws: input.string()?,
            tree_hashes: hashes(input.bytes()?)?,
        })
    }
}
