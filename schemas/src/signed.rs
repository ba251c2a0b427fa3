//! Rust shape of `audit.trail.SignedRecord` (topic `audit.signed`, the public tap).
//!
//! The envelope repeats the payload's tenant, id, created and sequence so consumers
//! can route and order without parsing the JWS; a verifier checks they agree with the
//! signed payload. Field names and order follow `avro/signed_record.v1.avsc`.

use serde::{Deserialize, Serialize};

use crate::binary::{Datum, DecodeError, Reader, write_long, write_string};

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
}

impl Datum for SignedRecord {
    fn write(&self, out: &mut Vec<u8>) {
        write_string(out, &self.tenant_id);
        write_string(out, &self.id);
        write_long(out, self.created);
        write_long(out, self.sequence);
        write_string(out, &self.jws);
    }

    fn read(input: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(SignedRecord {
            tenant_id: input.string()?,
            id: input.string()?,
            created: input.long()?,
            sequence: input.long()?,
            jws: input.string()?,
        })
    }
}
