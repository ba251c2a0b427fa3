//! Integrity of the trail (SPEC section 8): what a signed record is, how it is signed,
//! and how anyone holding the public keys verifies it, alone or as a chain.
//!
//! A record's payload is the RFC 8785 canonical JSON of its tokenized record plus
//! `sequence` (1, 2, 3, ... per tenant) and `prevHash`, the SHA-256 of the tenant's
//! previous payload (absent at sequence 1). The chain links payloads rather than
//! signatures so the links of a batch are computed first and its signatures in
//! parallel; every signature covers its link, so the chain is as strong.
//!
//! - [`payload`]: the canonical payload and its hash.
//! - [`jws`]: compact JWS with `alg` `EdDSA`, built directly on ed25519-dalek because
//!   the payload must be the canonical bytes exactly.
//! - [`keys`]: the signing key directory (rotation, retired keys) and the JWK Set.
//! - [`verify`]: signature, payload and envelope checks, batch verification, chain
//!   continuity, each failure with a precise reason.
//! - [`export`]: the export's lines and their offline check, with a bounded report.
//! - [`merkle`]: RFC 9162 Merkle trees over each tenant's records (the writer's
//!   frontier, inclusion and consistency proofs, their verification).
//! - [`note`]: a tenant's tree head as a C2SP signed-note checkpoint.
//! - [`bundle`]: offline bundles (a run of records, its checkpoint and proofs) and
//!   their check.
//! - [`keyfile`]: private key files, refused when others can read them.
#![warn(missing_docs)]

pub mod bundle;
pub mod export;
pub mod jws;
pub mod keyfile;
pub mod keys;
pub mod merkle;
pub mod note;
pub mod payload;
pub mod verify;

#[cfg(test)]
mod test_support;

pub use export::{ChainMode, ExportCheck, ExportLine, ExportReport, verify_export};
pub use jws::{CompactJws, JwsHeader, Sealed, TenantChain, seal};
pub use keys::{Jwk, Jwks, KeyDir, KeyError, PublicKeys, SigningKeyPair};
pub use payload::{ChainLink, PayloadHash, canonical_payload, payload_hash};
pub use verify::{ChainChecker, ChainFailure, Failure, Verified, Verifier};
