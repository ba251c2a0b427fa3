//! The chain state of one input partition: each tenant's head (last sequence,
//! payload hash and Merkle tree), the last input offset signed, and a window of
//! recent record ids.
//!
//! Pure and deterministic: [`PartitionChains::decide`] says whether an input is new,
//! already signed (its offset is covered) or a duplicate of a recent record (same
//! id, redelivered upstream), and [`PartitionChains::link`] hands out the next link.
//! Recovery rebuilds the same state from the partition's signed tail with
//! [`PartitionChains::observe`], so a restarted signer continues every chain exactly
//! where the published log ends.
//!
//! A tenant's tree has one leaf per record, in sequence order; it is known only while
//! the chain is whole (a record that does not continue its chain, read back from a
//! damaged log, leaves the tenant without a tree, so no checkpoint ever vouches for a
//! broken chain). Tenants whose tree grew are remembered until drained, for the
//! checkpoints ([`crate::treehead`]).

use std::collections::{HashMap, HashSet};

use audit_integrity::merkle::{Frontier, Hash};
use audit_integrity::{ChainLink, PayloadHash};
use audit_runtime::recent::RecentSet;
use sha2::{Digest, Sha256};

/// A tenant's last signed record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// Its sequence number.
    pub sequence: u64,
    /// Its payload hash.
    pub hash: PayloadHash,
    /// The tenant's tree up to it, unless the chain is broken.
    pub tree: Option<Frontier>,
}

/// A record given its place: sequence, payload hash and leaf hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Linked {
    /// Its sequence number.
    pub sequence: u64,
    /// Its payload hash (the next record's `prevHash`).
    pub hash: PayloadHash,
    /// Its leaf in the tenant's tree.
    pub leaf: Hash,
}

/// What to do with an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Sign it.
    Sign,
    /// Its offset is covered by the signed log: a redelivery after a crash or rebalance.
    AlreadySigned,
    /// A recent record had the same id: an upstream redelivery.
    Duplicate,
}

/// Chain state of one partition.
#[derive(Debug, Clone, Default)]
pub struct PartitionChains {
    heads: HashMap<String, Head>,
    last_input_offset: Option<i64>,
    recent: RecentSet<[u8; 16]>,
    grown: HashSet<String>,
}

impl PartitionChains {
    /// Empty state remembering up to `window` record ids.
    pub fn new(window: usize) -> PartitionChains {
        PartitionChains { recent: RecentSet::new(window), ..PartitionChains::default() }
    }

    /// Whether the input at `offset` with record `id` must be signed.
    pub fn decide(&self, offset: i64, id: &str) -> Decision {
        if self.last_input_offset.is_some_and(|last| offset <= last) {
            Decision::AlreadySigned
        } else if self.recent.contains(&id_digest(id)) {
            Decision::Duplicate
        } else {
            Decision::Sign
        }
    }

    /// Marks the input at `offset` as handled without a record (a duplicate).
    pub fn pass(&mut self, offset: i64) {
        self.last_input_offset = Some(self.last_input_offset.map_or(offset, |last| last.max(offset)));
    }

    /// The link of the tenant's next record.
    pub fn link(&self, tenant: &str) -> ChainLink {
        match self.heads.get(tenant) {
            Some(head) => ChainLink { sequence: head.sequence + 1, prev_hash: Some(head.hash) },
            None => ChainLink { sequence: 1, prev_hash: None },
        }
    }

    /// Records that `id` was signed for `tenant` as `linked` (given by [`Self::link`]),
    /// from the input at `offset`; returns the tree hashes its leaf closes.
    pub fn signed(&mut self, tenant: &str, id: &str, linked: Linked, offset: i64) -> Vec<Hash> {
        let closed = self.extend(tenant, linked);
        self.recent.insert(id_digest(id));
        self.pass(offset);
        closed
    }

    /// Moves `tenant`'s head to `linked`, its tree with it when `linked` continues it.
    /// The tenant's name is copied only the first time it is seen (this runs per record).
    fn extend(&mut self, tenant: &str, linked: Linked) -> Vec<Hash> {
        if !self.heads.contains_key(tenant) {
            let first = Head { sequence: 0, hash: [0; 32], tree: Some(Frontier::new()) };
            self.heads.insert(tenant.to_owned(), first);
        }
        let head = self.heads.get_mut(tenant).expect("inserted above");
        let continues = head.sequence + 1 == linked.sequence;
        let mut tree = head.tree.take().filter(|tree| continues && tree.size() == head.sequence);
        let closed = tree.as_mut().map(|tree| tree.append(linked.leaf)).unwrap_or_default();
        *head = Head { sequence: linked.sequence, hash: linked.hash, tree };
        if !self.grown.contains(tenant) {
            self.grown.insert(tenant.to_owned());
        }
        closed
    }

    /// Replays a record read back from the signed log; `false` when it does not
    /// continue its tenant's chain (a fork or gap in the log, worth an alarm).
    pub fn observe(&mut self, tenant: &str, id: &str, linked: Linked, input_offset: Option<i64>) -> bool {
        let continues =
            self.heads.get(tenant).is_none_or(|previous| previous.sequence + 1 == linked.sequence);
        let newer = self.heads.get(tenant).is_none_or(|previous| linked.sequence > previous.sequence);
        if newer {
            self.extend(tenant, linked);
        }
        self.recent.insert(id_digest(id));
        if let Some(offset) = input_offset {
            self.pass(offset);
        }
        continues
    }

    /// Remembers an id read back from before the checkpoint (for duplicates only).
    pub fn remember(&mut self, id: &str) {
        self.recent.insert(id_digest(id));
    }

    /// Restores heads from a checkpoint.
    pub fn restore(&mut self, heads: impl IntoIterator<Item = (String, Head)>, input_offset: Option<i64>) {
        self.heads.extend(heads);
        if let Some(offset) = input_offset {
            self.pass(offset);
        }
    }

    /// Every tenant's head, for a checkpoint.
    pub fn heads(&self) -> impl Iterator<Item = (&str, &Head)> {
        self.heads.iter().map(|(tenant, head)| (tenant.as_str(), head))
    }

    /// The trees that grew since the last call, each with its tenant.
    pub fn drain_grown(&mut self) -> Vec<(String, Frontier)> {
        let grown = std::mem::take(&mut self.grown);
        grown
            .into_iter()
            .filter_map(|tenant| {
                let tree = self.heads.get(&tenant)?.tree.clone()?;
                Some((tenant, tree))
            })
            .collect()
    }

    /// The last input offset covered by the signed log.
    pub fn last_input_offset(&self) -> Option<i64> {
        self.last_input_offset
    }
}

/// 128 bits of SHA-256: ids of any shape in fixed space, collisions out of reach.
fn id_digest(id: &str) -> [u8; 16] {
    let digest = Sha256::digest(id.as_bytes());
    digest[..16].try_into().expect("sha-256 has 32 bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(sequence: u64) -> Linked {
        Linked { sequence, hash: [sequence as u8; 32], leaf: [sequence as u8 + 100; 32] }
    }

    fn restored(sequence: u64) -> Head {
        let mut tree = Frontier::new();
        for leaf in 1..=sequence {
            tree.append(head(leaf).leaf);
        }
        Head { sequence, hash: [sequence as u8; 32], tree: Some(tree) }
    }

    #[test]
    fn chains_advance_per_tenant() {
        let mut chains = PartitionChains::new(10);
        assert_eq!(chains.link("a"), ChainLink { sequence: 1, prev_hash: None });
        chains.signed("a", "r1", head(1), 0);
        chains.signed("b", "r2", head(1), 1);
        chains.signed("a", "r3", head(2), 2);
        assert_eq!(chains.link("a"), ChainLink { sequence: 3, prev_hash: Some([2; 32]) });
        assert_eq!(chains.link("b"), ChainLink { sequence: 2, prev_hash: Some([1; 32]) });
        assert_eq!(chains.last_input_offset(), Some(2));
    }

    #[test]
    fn covered_offsets_and_recent_ids_are_not_signed_again() {
        let mut chains = PartitionChains::new(2);
        chains.signed("a", "r1", head(1), 5);
        assert_eq!(chains.decide(5, "other"), Decision::AlreadySigned);
        assert_eq!(chains.decide(4, "other"), Decision::AlreadySigned);
        assert_eq!(chains.decide(6, "r1"), Decision::Duplicate);
        assert_eq!(chains.decide(6, "r2"), Decision::Sign);
        chains.signed("a", "r2", head(2), 6);
        chains.signed("a", "r3", head(3), 7);
        assert_eq!(chains.decide(8, "r1"), Decision::Sign, "evicted from a window of 2");
        assert_eq!(chains.decide(8, "r2"), Decision::Duplicate);
    }

    #[test]
    fn observing_the_log_rebuilds_the_same_state_and_flags_forks() {
        let mut live = PartitionChains::new(10);
        let mut recovered = PartitionChains::new(10);
        for (offset, (tenant, sequence)) in [("a", 1), ("b", 1), ("a", 2)].into_iter().enumerate() {
            live.signed(tenant, &format!("r{offset}"), head(sequence), offset as i64);
            assert!(recovered.observe(tenant, &format!("r{offset}"), head(sequence), Some(offset as i64)));
        }
        assert_eq!(recovered.link("a"), live.link("a"));
        assert_eq!(recovered.decide(2, "x"), Decision::AlreadySigned);
        assert_eq!(recovered.decide(3, "r1"), Decision::Duplicate);
        assert!(!recovered.observe("a", "r9", head(2), Some(3)), "a second sequence 2 is a fork");
        assert!(!recovered.observe("a", "r10", head(5), Some(4)), "3 and 4 are missing");
        assert_eq!(recovered.link("a").sequence, 6);
    }

    #[test]
    fn restored_heads_continue_the_chain() {
        let mut chains = PartitionChains::new(10);
        chains.restore([("a".to_owned(), restored(41))], Some(99));
        assert_eq!(chains.link("a").sequence, 42);
        assert_eq!(chains.decide(99, "x"), Decision::AlreadySigned);
        assert_eq!(chains.decide(100, "x"), Decision::Sign);
    }

    #[test]
    fn trees_grow_with_their_chains_and_report_what_grew() {
        let mut chains = PartitionChains::new(10);
        assert_eq!(chains.signed("a", "r1", head(1), 0), vec![head(1).leaf]);
        chains.signed("b", "r2", head(1), 1);
        let closed = chains.signed("a", "r3", head(2), 2);
        assert_eq!(closed.len(), 2, "the second leaf closes the subtree of the first two");
        let mut grown = chains.drain_grown();
        grown.sort_by(|left, right| left.0.cmp(&right.0));
        assert_eq!(
            grown.iter().map(|(tenant, tree)| (tenant.as_str(), tree.size())).collect::<Vec<_>>(),
            [("a", 2), ("b", 1)]
        );
        assert_eq!(grown[0].1, restored(2).tree.unwrap());
        assert!(chains.drain_grown().is_empty(), "drained");
    }

    #[test]
    fn a_broken_chain_has_no_tree() {
        let mut recovered = PartitionChains::new(10);
        assert!(recovered.observe("a", "r1", head(1), Some(0)));
        assert!(!recovered.observe("a", "r5", head(5), Some(1)), "2 to 4 are missing");
        assert_eq!(recovered.signed("a", "r6", head(6), 2), Vec::<Hash>::new(), "no tree, no tree hashes");
        assert!(recovered.drain_grown().is_empty(), "no checkpoint vouches for a broken chain");
        assert_eq!(recovered.link("a").sequence, 7, "the chain itself continues");
    }
}
