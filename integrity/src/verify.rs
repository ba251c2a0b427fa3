//! Verification of signed records: one at a time, a page at a time, and as a chain.
//!
//! A record is `validated` only when its JWS verifies (strictly) under a published
//! key, its payload parses, the envelope agrees with the payload, and, when a stored
//! record is given, that record canonicalizes to exactly the signed bytes. Every
//! refusal names its reason. Batches use Ed25519 batch verification and fall back to
//! single checks to find which record failed.

use std::collections::HashMap;

use audit_schemas::{SignedRecord, TokenizedRecord};
use ed25519_dalek::{Signature, VerifyingKey};

use super::jws::CompactJws;
use super::keys::PublicKeys;
use super::payload::{ChainLink, ParsedPayload, PayloadHash, canonical_payload, payload_hash};

/// Why a record does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// The JWS is not a compact serialization we can read.
    #[error("malformed jws: {detail}")]
    MalformedJws {
        /// What is wrong.
        detail: String,
    },
    /// The header names another algorithm than `EdDSA`.
    #[error("unsupported algorithm {alg}")]
    UnsupportedAlgorithm {
        /// The header's `alg`.
        alg: String,
    },
    /// The header's `kid` is not in the JWK Set.
    #[error("signed by unknown key {kid}")]
    UnknownKey {
        /// The header's `kid`.
        kid: String,
    },
    /// The signature does not verify under the named key.
    #[error("signature does not verify under key {kid}")]
    BadSignature {
        /// The header's `kid`.
        kid: String,
    },
    /// The signed payload is not a record with a chain link.
    #[error("malformed payload: {detail}")]
    MalformedPayload {
        /// What is wrong.
        detail: String,
    },
    /// The envelope (tenant, id, created, sequence) disagrees with the payload.
    #[error("envelope field {field} differs from the signed payload")]
    EnvelopeMismatch {
        /// The first field that differs.
        field: &'static str,
    },
    /// The stored record differs from the signed payload.
    #[error("stored record differs from the signed payload in {}", fields.join(", "))]
    RecordMismatch {
        /// The top-level fields that differ.
        fields: Vec<String>,
    },
}

/// What a verified JWS says.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The key that signed it.
    pub kid: String,
    /// The signed payload.
    pub payload: ParsedPayload,
    /// Its link in the tenant's chain.
    pub link: ChainLink,
    /// Hash of the payload bytes, the next record's `prevHash`.
    pub hash: PayloadHash,
}

/// Verifies records against a set of public keys.
#[derive(Debug, Clone)]
pub struct Verifier {
    keys: PublicKeys,
}

impl Verifier {
    /// A verifier trusting `keys`.
    pub fn new(keys: PublicKeys) -> Verifier {
        Verifier { keys }
    }

    /// Checks the signature of `jws` and parses its payload.
    pub fn verify_jws(&self, jws: &str) -> Result<Verified, Failure> {
        verified(self.verify_signature(jws)?)
    }

    /// Checks the signature of any JWS of ours, whatever its payload.
    pub fn verify_signature<'a>(&'a self, jws: &'a str) -> Result<CompactJws<'a>, Failure> {
        let (parsed, key) = self.parse(jws)?;
        key.verify_strict(parsed.signing_input.as_bytes(), &parsed.signature)
            .map_err(|_| Failure::BadSignature { kid: parsed.header.kid.clone() })?;
        Ok(parsed)
    }

    /// Checks a published message: its JWS, and that its envelope agrees with the payload.
    pub fn verify_envelope(&self, envelope: &SignedRecord) -> Result<Verified, Failure> {
        let verified = self.verify_jws(&envelope.jws)?;
        check_envelope(envelope, &verified)?;
        Ok(verified)
    }

    /// Checks `jws` and that `stored` is exactly the record it signed.
    pub fn verify_stored(&self, stored: &TokenizedRecord, jws: &str) -> Result<Verified, Failure> {
        let verified = self.verify_jws(jws)?;
        check_stored(stored, &verified)?;
        Ok(verified)
    }

    /// Verifies many JWS at once: one batch equation when all are good, single checks
    /// to name the culprits when not. Results are in input order.
    pub fn verify_batch<S: AsRef<str>>(&self, jws: &[S]) -> Vec<Result<Verified, Failure>> {
        self.verify_signatures(jws).into_iter().map(|checked| checked.and_then(verified)).collect()
    }

    /// Checks the signatures of many JWS at once, whatever their payloads, as
    /// [`Verifier::verify_batch`] does; for readers that parse payloads their own way.
    pub fn verify_signatures<'a, S: AsRef<str>>(
        &'a self,
        jws: &'a [S],
    ) -> Vec<Result<CompactJws<'a>, Failure>> {
        let parsed: Vec<Result<(CompactJws<'_>, &VerifyingKey), Failure>> =
            jws.iter().map(|jws| self.parse(jws.as_ref())).collect();
        let good: Vec<&(CompactJws<'_>, &VerifyingKey)> =
            parsed.iter().filter_map(|item| item.as_ref().ok()).collect();
        let messages: Vec<&[u8]> = good.iter().map(|(jws, _)| jws.signing_input.as_bytes()).collect();
        let signatures: Vec<Signature> = good.iter().map(|(jws, _)| jws.signature).collect();
        let keys: Vec<VerifyingKey> = good.iter().map(|(_, key)| **key).collect();
        let all_good = !good.is_empty() && ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok();
        parsed
            .into_iter()
            .map(|item| {
                let (jws, key) = item?;
                if !all_good {
                    key.verify_strict(jws.signing_input.as_bytes(), &jws.signature)
                        .map_err(|_| Failure::BadSignature { kid: jws.header.kid.clone() })?;
                }
                Ok(jws)
            })
            .collect()
    }

    fn parse<'a>(&'a self, jws: &'a str) -> Result<(CompactJws<'a>, &'a VerifyingKey), Failure> {
        let parsed = CompactJws::parse(jws)?;
        let key = self
            .keys
            .get(&parsed.header.kid)
            .ok_or_else(|| Failure::UnknownKey { kid: parsed.header.kid.clone() })?;
        Ok((parsed, key))
    }
}

fn verified(jws: CompactJws<'_>) -> Result<Verified, Failure> {
    let malformed = |detail: String| Failure::MalformedPayload { detail };
    let payload: ParsedPayload =
        serde_json::from_slice(&jws.payload).map_err(|error| malformed(error.to_string()))?;
    let link = payload.link().ok_or_else(|| malformed("prevHash is not a sha-256 in hex".into()))?;
    if (link.sequence == 1) != link.prev_hash.is_none() || link.sequence == 0 {
        return Err(malformed("only sequence 1 has no prevHash".into()));
    }
    Ok(Verified { kid: jws.header.kid, hash: payload_hash(&jws.payload), payload, link })
}

/// Checks that an envelope repeats its payload's fields.
pub fn check_envelope(envelope: &SignedRecord, verified: &Verified) -> Result<(), Failure> {
    let record = &verified.payload.record;
    let field = if envelope.tenant_id != record.tenant_id {
        "tenantId"
    } else if envelope.id != record.id {
        "id"
    } else if envelope.created != record.created {
        "created"
    } else if u64::try_from(envelope.sequence) != Ok(verified.link.sequence) {
        "sequence"
    } else {
        return Ok(());
    };
    Err(Failure::EnvelopeMismatch { field })
}

/// Checks that `stored` canonicalizes to the signed bytes; names the differing fields.
pub fn check_stored(stored: &TokenizedRecord, verified: &Verified) -> Result<(), Failure> {
    if payload_hash(&canonical_payload(stored, verified.link)) == verified.hash {
        return Ok(());
    }
    let stored = serde_json::to_value(stored).unwrap_or_default();
    let signed = serde_json::to_value(&verified.payload.record).unwrap_or_default();
    let mut fields: Vec<String> = match (stored, signed) {
        (serde_json::Value::Object(stored), serde_json::Value::Object(signed)) => stored
            .iter()
            .filter(|(name, value)| signed.get(*name) != Some(value))
            .map(|(name, _)| name.clone())
            .collect(),
        _ => Vec::new(),
    };
    if fields.is_empty() {
        fields.push("encoding".into());
    }
    Err(Failure::RecordMismatch { fields })
}

/// A break in a tenant's chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainFailure {
    /// Records are missing (removed) before this one.
    #[error("tenant {tenant}: sequence {found} follows {previous}, records are missing")]
    Gap {
        /// Tenant.
        tenant: String,
        /// The last sequence seen.
        previous: u64,
        /// This record's sequence.
        found: u64,
    },
    /// A sequence number seen before (a duplicate or a fork).
    #[error("tenant {tenant}: sequence {sequence} appears again")]
    Repeated {
        /// Tenant.
        tenant: String,
        /// The repeated sequence.
        sequence: u64,
    },
    /// A record older than the last one seen (reordered).
    #[error("tenant {tenant}: sequence {found} comes after {previous}, out of order")]
    OutOfOrder {
        /// Tenant.
        tenant: String,
        /// The last sequence seen.
        previous: u64,
        /// This record's sequence.
        found: u64,
    },
    /// `prevHash` is not the hash of the previous record (inserted or altered).
    #[error("tenant {tenant}: sequence {sequence} does not link to the record before it")]
    BrokenLink {
        /// Tenant.
        tenant: String,
        /// This record's sequence.
        sequence: u64,
    },
}

/// Checks chain continuity over verified records given in log order.
///
/// The first record seen of a tenant anchors its chain (a run may start mid-chain);
/// from then on each record must be the next sequence and link to the one before.
#[derive(Debug, Default)]
pub struct ChainChecker {
    heads: HashMap<String, (u64, PayloadHash)>,
}

impl ChainChecker {
    /// Feeds the next record; `Err` names the break, and the record becomes the new head.
    pub fn push(&mut self, verified: &Verified) -> Result<(), ChainFailure> {
        let tenant = &verified.payload.record.tenant_id;
        let link = verified.link;
        let previous = self.heads.insert(tenant.clone(), (link.sequence, verified.hash));
        let Some((previous, previous_hash)) = previous else {
            return Ok(());
        };
        let tenant = tenant.clone();
        if link.sequence == previous {
            return Err(ChainFailure::Repeated { tenant, sequence: previous });
        }
        if link.sequence < previous {
            return Err(ChainFailure::OutOfOrder { tenant, previous, found: link.sequence });
        }
        if link.sequence > previous + 1 {
            return Err(ChainFailure::Gap { tenant, previous, found: link.sequence });
        }
        if link.prev_hash != Some(previous_hash) {
            return Err(ChainFailure::BrokenLink { tenant, sequence: link.sequence });
        }
        Ok(())
    }

    /// The last sequence seen per tenant.
    pub fn heads(&self) -> impl Iterator<Item = (&str, u64)> {
        self.heads.iter().map(|(tenant, (sequence, _))| (tenant.as_str(), *sequence))
    }
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
