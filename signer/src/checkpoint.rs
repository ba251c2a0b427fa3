//! Checkpoints: the chain heads of one partition as of an offset of `audit.signed`.
//!
//! Recovery without a checkpoint would read a partition's whole signed log to find
//! every tenant's head; with one it reads from the checkpoint on. A checkpoint is
//! built only from acknowledged output, so it never claims more than the log holds,
//! and it is signed like a record so a forged one is ignored (recovery then reads
//! further back). Losing checkpoints costs recovery time, never correctness.

use std::collections::BTreeMap;

use audit_integrity::merkle::Frontier;
use audit_integrity::{SigningKeyPair, Verifier, jws};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::chain::Head;

/// Heads of one partition as of `signed_offset`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Partition of `audit.signed` (and of the input).
    pub partition: i32,
    /// Last offset of `audit.signed` the heads include.
    #[serde(rename = "signedOffset")]
    pub signed_offset: i64,
    /// Last input offset that offset covers.
    #[serde(rename = "inputOffset")]
    pub input_offset: Option<i64>,
    /// Tenant to `[sequence, hex hash]`, sorted.
    pub heads: BTreeMap<String, (u64, String)>,
    /// Tenant to its tree's right edge (the frontier's hashes end to end, base64);
    /// a tenant whose chain is broken has none. Absent from checkpoints written
    /// before trees, which recovery does not use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trees: Option<BTreeMap<String, String>>,
}

impl Checkpoint {
    /// A checkpoint of `heads`.
    pub fn new<'a>(
        partition: i32,
        offsets: (i64, Option<i64>),
        heads: impl Iterator<Item = (&'a str, &'a Head)>,
    ) -> Checkpoint {
        let (mut sequences, mut trees) = (BTreeMap::new(), BTreeMap::new());
        for (tenant, head) in heads {
            sequences.insert(tenant.to_owned(), (head.sequence, hex::encode(head.hash)));
            if let Some(tree) = &head.tree {
                trees.insert(tenant.to_owned(), STANDARD.encode(tree.hashes().concat()));
            }
        }
        let (signed_offset, input_offset) = offsets;
        Checkpoint { partition, signed_offset, input_offset, heads: sequences, trees: Some(trees) }
    }

    /// Whether it holds the tenants' trees (written since trees exist).
    pub fn has_trees(&self) -> bool {
        self.trees.is_some()
    }

    /// The checkpoint as a JWS signed with `key`.
    pub fn seal(&self, key: &SigningKeyPair) -> String {
        let payload = serde_json_canonicalizer::to_vec(self).expect("a checkpoint canonicalizes");
        jws::sign(&key.key, &key.kid, &payload)
    }

    /// Verifies and parses a sealed checkpoint; `None` when it is not one of ours.
    pub fn open(sealed: &[u8], verifier: &Verifier) -> Option<Checkpoint> {
        let text = std::str::from_utf8(sealed).ok()?;
        let parsed = verifier.verify_signature(text).ok()?;
        serde_json::from_slice(&parsed.payload).ok()
    }

    /// The heads as chain state.
    pub fn heads(&self) -> impl Iterator<Item = (String, Head)> + '_ {
        self.heads.iter().filter_map(|(tenant, (sequence, hash))| {
            let mut bytes = [0u8; 32];
            hex::decode_to_slice(hash, &mut bytes).ok()?;
            let tree = self.trees.as_ref().and_then(|trees| frontier(trees.get(tenant)?, *sequence));
            Some((tenant.clone(), Head { sequence: *sequence, hash: bytes, tree }))
        })
    }
}

/// The frontier of a tree of `size` leaves from its hashes end to end, base64.
fn frontier(encoded: &str, size: u64) -> Option<Frontier> {
    let bytes = STANDARD.decode(encoded).ok()?;
    if !bytes.len().is_multiple_of(32) {
        return None;
    }
    let hashes = bytes.chunks_exact(32).map(|hash| hash.try_into().expect("32 bytes")).collect();
    Frontier::from_parts(size, hashes)
}
