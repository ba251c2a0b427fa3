//! Checkpoints: the chain heads of one partition as of an offset of `audit.signed`.
//!
//! Recovery without a checkpoint would read a partition's whole signed log to find
//! every tenant's head; with one it reads from the checkpoint on. A checkpoint is
//! built only from acknowledged output, so it never claims more than the log holds,
//! and it is signed like a record so a forged one is ignored (recovery then reads
//! further back). Losing checkpoints costs recovery time, never correctness.
//!
//! A partition of many tenants has a checkpoint larger than a Kafka message may be
//! (1,000,000 bytes by default), so a checkpoint is written as parts of at most
//! [`PART_BYTES`] of tenants each, and only a checkpoint whose parts are all read is
//! used.

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
    /// Tenant to `[sequence, hex hash]`, sorted. Written as `partHeads` since
    /// checkpoints have parts: a signer built before them requires `heads`, so it skips
    /// these (and reads the log) instead of taking one part for all the tenants, which
    /// would restart the others' chains during a rolling upgrade.
    #[serde(rename = "partHeads", alias = "heads")]
    pub heads: BTreeMap<String, (u64, String)>,
    /// Tenant to its tree's right edge (the frontier's hashes end to end, base64);
    /// a tenant whose chain is broken has none. Absent from checkpoints written
    /// before trees, which recovery does not use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trees: Option<BTreeMap<String, String>>,
    /// This part's index among `parts` (checkpoints written before parts are whole).
    #[serde(default)]
    pub part: u32,
    /// How many parts the checkpoint was written as.
    #[serde(default = "one")]
    pub parts: u32,
}

fn one() -> u32 {
    1
}

/// Most bytes of tenants' entries in one part: sealed (base64 and a signature), a part
/// stays well under the 1,000,000 bytes Kafka takes in one message by default.
pub const PART_BYTES: usize = 400_000;

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
        Checkpoint {
            partition,
            signed_offset,
            input_offset,
            heads: sequences,
            trees: Some(trees),
            part: 0,
            parts: 1,
        }
    }

    /// The checkpoint as parts of at most [`PART_BYTES`] of tenants each, in order.
    pub fn split(self) -> Vec<Checkpoint> {
        let frame = self.clone_frame();
        let mut trees = self.trees.unwrap_or_default();
        let mut parts = vec![frame.clone()];
        let mut bytes = 0;
        for (tenant, head) in self.heads {
            let tree = trees.remove(&tenant);
            let entry = 2 * tenant.len() + head.1.len() + tree.as_ref().map_or(0, String::len) + 32;
            if bytes + entry > PART_BYTES && bytes > 0 {
                parts.push(frame.clone());
                bytes = 0;
            }
            bytes += entry;
            let part = parts.last_mut().expect("one part at least");
            if let (Some(tree), Some(trees)) = (tree, part.trees.as_mut()) {
                trees.insert(tenant.clone(), tree);
            }
            part.heads.insert(tenant, head);
        }
        let count = parts.len() as u32;
        for (index, part) in parts.iter_mut().enumerate() {
            (part.part, part.parts) = (index as u32, count);
        }
        parts
    }

    /// The checkpoint these parts make, when they are all of it and all of one.
    pub fn join(mut parts: Vec<Checkpoint>) -> Option<Checkpoint> {
        parts.sort_by_key(|part| part.part);
        let first = parts.first()?.clone_frame();
        let whole = parts
            .iter()
            .enumerate()
            .all(|(index, part)| part.part == index as u32 && part.same_frame(&first));
        if !whole || parts.len() != first.parts as usize {
            return None;
        }
        let mut joined = Checkpoint { part: 0, parts: 1, heads: BTreeMap::new(), ..first };
        for part in parts {
            joined.heads.extend(part.heads);
            match (&mut joined.trees, part.trees) {
                (Some(trees), Some(more)) => trees.extend(more),
                (trees, _) => *trees = None,
            }
        }
        Some(joined)
    }

    /// The newest checkpoint whose parts are all among `read` (in any order).
    pub fn newest_complete(read: Vec<Checkpoint>) -> Option<Checkpoint> {
        let mut sets: BTreeMap<(i64, u32), Vec<Checkpoint>> = BTreeMap::new();
        for part in read {
            sets.entry((part.signed_offset, part.parts)).or_default().push(part);
        }
        sets.into_values().rev().find_map(Checkpoint::join)
    }

    /// Everything but the tenants, which parts share.
    fn clone_frame(&self) -> Checkpoint {
        Checkpoint {
            partition: self.partition,
            signed_offset: self.signed_offset,
            input_offset: self.input_offset,
            heads: BTreeMap::new(),
            trees: self.trees.as_ref().map(|_| BTreeMap::new()),
            part: self.part,
            parts: self.parts,
        }
    }

    fn same_frame(&self, other: &Checkpoint) -> bool {
        (self.partition, self.signed_offset, self.input_offset, self.parts)
            == (other.partition, other.signed_offset, other.input_offset, other.parts)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A checkpoint of `tenants` tenants, each with a tree edge of two hashes.
    fn checkpoint(tenants: usize, signed_offset: i64) -> Checkpoint {
        let heads = (0..tenants)
            .map(|n| (format!("{n:08x}-0000-4000-8000-{n:012x}"), (3, hex::encode([n as u8; 32]))))
            .collect();
        let trees = (0..tenants)
            .map(|n| (format!("{n:08x}-0000-4000-8000-{n:012x}"), STANDARD.encode([n as u8; 64])))
            .collect();
        Checkpoint {
            partition: 2,
            signed_offset,
            input_offset: Some(9),
            heads,
            trees: Some(trees),
            part: 0,
            parts: 1,
        }
    }

    #[test]
    fn a_checkpoint_of_many_tenants_is_written_in_parts_each_fitting_a_message() {
        let key = SigningKeyPair { kid: "k".into(), key: ed25519_dalek::SigningKey::from_bytes(&[5; 32]) };
        let whole = checkpoint(10_000, 500);
        let parts = whole.clone().split();
        assert!(parts.len() > 1, "10,000 tenants do not fit one message");
        for part in &parts {
            assert!(part.seal(&key).len() < 1_000_000, "a sealed part fits a Kafka message");
        }
        let mut shuffled = parts.clone();
        shuffled.reverse();
        assert_eq!(
            Checkpoint::join(shuffled),
            Some(whole.clone()),
            "the parts make the checkpoint, in any order"
        );
        assert_eq!(Checkpoint::join(parts[1..].to_vec()), None, "a part missing");
        assert_eq!(checkpoint(3, 1).split().len(), 1, "a small checkpoint is one part");
    }

    #[test]
    fn recovery_takes_the_newest_checkpoint_whose_parts_are_all_there() {
        let older = checkpoint(10_000, 500).split();
        let newer = checkpoint(10_000, 900).split();
        // A crash cut the newer one short: the older one is used.
        let read: Vec<Checkpoint> = older.iter().chain(&newer[..newer.len() - 1]).cloned().collect();
        assert_eq!(Checkpoint::newest_complete(read).map(|found| found.signed_offset), Some(500));
        let read: Vec<Checkpoint> = older.into_iter().chain(newer).collect();
        assert_eq!(Checkpoint::newest_complete(read).map(|found| found.signed_offset), Some(900));
        let before_parts =
            r#"{"partition":1,"signedOffset":7,"inputOffset":3,"heads":{"t":[1,"00"]},"trees":{}}"#;
        let old: Checkpoint = serde_json::from_str(before_parts).unwrap();
        assert_eq!((old.part, old.parts), (0, 1), "a checkpoint written before parts is whole");
        assert_eq!(Checkpoint::newest_complete(vec![old]).map(|found| found.signed_offset), Some(7));
        // A signer built before parts requires `heads`: it cannot mistake a part for
        // the whole checkpoint.
        let written = serde_json::to_value(checkpoint(3, 1)).unwrap();
        assert!(written.get("heads").is_none() && written.get("partHeads").is_some(), "{written}");
    }
}
