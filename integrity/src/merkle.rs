//! RFC 9162 Merkle trees over a tenant's records: leaf `i` is the tenant's record of
//! sequence `i + 1`, hashed from its signed payload.
//!
//! Three parts, each usable alone:
//! - [`Frontier`]: the tree as a writer keeps it (one hash per complete subtree on
//!   its right edge, at most 64), appending a leaf and reporting the subtrees that
//!   leaf completes, which is all a store needs to answer every proof later.
//! - Proof building ([`inclusion_proof`], [`consistency_proof`], [`root`]) from
//!   complete subtrees read through [`Nodes`]; [`inclusion_nodes`] and
//!   [`consistency_nodes`] list what a proof will read, so a remote store is asked
//!   once.
//! - Proof checking ([`verify_inclusion`], [`verify_consistency`]): RFC 9162's
//!   algorithms (sections 2.1.3.2 and 2.1.4.2), needing nothing but hashes.
//! - Range proofs ([`range_proof`], [`verify_range`]): a run of consecutive leaves
//!   proven at once, for windows and bundles.
//!
//! Guarantee: the proofs built here verify against the roots [`Frontier::root`] gives
//! for the same leaves, and every proof of RFC 9162 for those leaves verifies here.

use std::collections::{BTreeSet, HashMap};

use sha2::{Digest, Sha256};

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// The hash of a leaf holding `data` (RFC 9162: `SHA-256(0x00 || data)`).
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0u8]);
    hasher.update(data);
    hasher.finalize().into()
}

/// The hash of an inner node (RFC 9162: `SHA-256(0x01 || left || right)`).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([1u8]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// The root of the empty tree: the hash of nothing.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// A complete subtree: the `2^level` leaves from `index << level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    /// Height above the leaves (0: a leaf).
    pub level: u8,
    /// Position among the subtrees of that height, from the left.
    pub index: u64,
}

impl NodeId {
    /// The last leaf of the subtree: appending it completes the subtree.
    pub fn last_leaf(&self) -> u64 {
        ((self.index + 1) << self.level) - 1
    }
}

/// A tree as its writer keeps it: its size and the complete subtrees of its right
/// edge, largest (leftmost) first, one per bit set in the size.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    hashes: Vec<Hash>,
}

impl Frontier {
    /// The empty tree.
    pub fn new() -> Frontier {
        Frontier::default()
    }

    /// A frontier from what [`Frontier::hashes`] gave; `None` when the count of
    /// hashes does not match the size.
    pub fn from_parts(size: u64, hashes: Vec<Hash>) -> Option<Frontier> {
        (hashes.len() == size.count_ones() as usize).then_some(Frontier { size, hashes })
    }

    /// Leaves in the tree.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The right edge's complete subtrees, largest first.
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// Appends a leaf; returns the hashes of the subtrees it completes, from the
    /// leaf itself (level 0) upwards: entry `k` is the subtree of level `k` ending
    /// at this leaf.
    pub fn append(&mut self, leaf: Hash) -> Vec<Hash> {
        let mut completed = vec![leaf];
        let mut node = leaf;
        let mut level = 0;
        while self.size >> level & 1 == 1 {
            let left = self.hashes.pop().expect("one hash per bit set in the size");
            node = node_hash(&left, &node);
            completed.push(node);
            level += 1;
        }
        self.hashes.push(node);
        self.size += 1;
        completed
    }

    /// The root hash of the tree.
    pub fn root(&self) -> Hash {
        let mut hashes = self.hashes.iter().rev();
        let Some(last) = hashes.next() else { return empty_root() };
        hashes.fold(*last, |right, left| node_hash(left, &right))
    }
}

/// Where proofs read complete subtrees from.
pub trait Nodes {
    /// The hash of the complete subtree `id`, if known.
    fn node(&mut self, id: NodeId) -> Option<Hash>;
}

impl Nodes for HashMap<NodeId, Hash> {
    fn node(&mut self, id: NodeId) -> Option<Hash> {
        self.get(&id).copied()
    }
}

/// Why a proof could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The store does not hold a subtree the proof needs.
    #[error("subtree {} of level {} is not stored", .0.index, .0.level)]
    MissingNode(NodeId),
    /// The leaf or tree asked for is outside the tree.
    #[error("no proof for leaf {index} of a tree of {size}")]
    OutOfRange {
        /// The leaf, or the older tree's size.
        index: u64,
        /// The tree's size.
        size: u64,
    },
}

/// The root of the tree's first `size` leaves.
pub fn root(size: u64, nodes: &mut impl Nodes) -> Result<Hash, ProofError> {
    if size == 0 { Ok(empty_root()) } else { range(0, size, nodes) }
}

/// The inclusion proof of leaf `index` in the tree of `size` leaves (RFC 9162
/// `PATH`), the hashes nearest the leaf first.
pub fn inclusion_proof(index: u64, size: u64, nodes: &mut impl Nodes) -> Result<Vec<Hash>, ProofError> {
    if index >= size {
        return Err(ProofError::OutOfRange { index, size });
    }
    let mut proof = Vec::new();
    path(index, (0, size), nodes, &mut proof)?;
    Ok(proof)
}

/// The consistency proof from the tree of `old` leaves to the tree of `new` (RFC 9162
/// `PROOF`); empty when `old` is 0 or equals `new`.
pub fn consistency_proof(old: u64, new: u64, nodes: &mut impl Nodes) -> Result<Vec<Hash>, ProofError> {
    if old > new {
        return Err(ProofError::OutOfRange { index: old, size: new });
    }
    let mut proof = Vec::new();
    if old > 0 && old < new {
        subproof(old, (0, new), Complete::Yes, nodes, &mut proof)?;
    }
    Ok(proof)
}

/// The subtrees [`inclusion_proof`] reads.
pub fn inclusion_nodes(index: u64, size: u64) -> Vec<NodeId> {
    let mut recorder = Recorder::default();
    let _ = inclusion_proof(index, size, &mut recorder);
    recorder.asked.into_iter().collect()
}

/// The subtrees [`root`] reads.
pub fn root_nodes(size: u64) -> Vec<NodeId> {
    let mut recorder = Recorder::default();
    let _ = root(size, &mut recorder);
    recorder.asked.into_iter().collect()
}

/// The subtrees [`consistency_proof`] and the two [`root`]s read.
pub fn consistency_nodes(old: u64, new: u64) -> Vec<NodeId> {
    let mut recorder = Recorder::default();
    let _ = consistency_proof(old, new, &mut recorder);
    let _ = root(old, &mut recorder);
    let _ = root(new, &mut recorder);
    recorder.asked.into_iter().collect()
}

/// Answers every subtree with zeros, remembering which were asked.
#[derive(Default)]
struct Recorder {
    asked: BTreeSet<NodeId>,
}

impl Nodes for Recorder {
    fn node(&mut self, id: NodeId) -> Option<Hash> {
        self.asked.insert(id);
        Some([0; 32])
    }
}

/// RFC 9162 `MTH` of the leaves `[start, end)`, from complete subtrees.
fn range(start: u64, end: u64, nodes: &mut impl Nodes) -> Result<Hash, ProofError> {
    let width = end - start;
    if width.is_power_of_two() && start.is_multiple_of(width) {
        let id = NodeId { level: width.trailing_zeros() as u8, index: start >> width.trailing_zeros() };
        return nodes.node(id).ok_or(ProofError::MissingNode(id));
    }
    let split = start + split(width);
    Ok(node_hash(&range(start, split, nodes)?, &range(split, end, nodes)?))
}

/// The largest power of two below `width` (which is at least 2).
fn split(width: u64) -> u64 {
    1 << (63 - (width - 1).leading_zeros())
}

fn path(
    index: u64,
    (start, end): (u64, u64),
    nodes: &mut impl Nodes,
    out: &mut Vec<Hash>,
) -> Result<(), ProofError> {
    if end - start == 1 {
        return Ok(());
    }
    let middle = start + split(end - start);
    if index < middle {
        path(index, (start, middle), nodes, out)?;
        out.push(range(middle, end, nodes)?);
    } else {
        path(index, (middle, end), nodes, out)?;
        out.push(range(start, middle, nodes)?);
    }
    Ok(())
}

/// Whether the subtree being proven is a whole subtree of the older tree (RFC 9162's
/// flag `b`), whose hash the verifier already has.
#[derive(Clone, Copy)]
enum Complete {
    Yes,
    No,
}

fn subproof(
    old: u64,
    (start, end): (u64, u64),
    complete: Complete,
    nodes: &mut impl Nodes,
    out: &mut Vec<Hash>,
) -> Result<(), ProofError> {
    if old == end {
        if matches!(complete, Complete::No) {
            out.push(range(start, end, nodes)?);
        }
        return Ok(());
    }
    let middle = start + split(end - start);
    if old <= middle {
        subproof(old, (start, middle), complete, nodes, out)?;
        out.push(range(middle, end, nodes)?);
    } else {
        subproof(old, (middle, end), Complete::No, nodes, out)?;
        out.push(range(start, middle, nodes)?);
    }
    Ok(())
}

/// Why a proof does not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The leaf is not in a tree of that size, or the older tree is the larger.
    #[error("leaf or tree {index} is outside a tree of {size}")]
    OutOfRange {
        /// The leaf, or the older tree's size.
        index: u64,
        /// The tree's size.
        size: u64,
    },
    /// The proof has too many or too few hashes for the sizes.
    #[error("the proof has the wrong number of hashes")]
    WrongLength,
    /// The proof leads to another root.
    #[error("the proof leads to another root")]
    RootMismatch,
}

/// Checks that `leaf` is leaf `index` of the tree of `size` leaves whose root is
/// `root` (RFC 9162, section 2.1.3.2).
pub fn verify_inclusion(
    leaf: &Hash,
    (index, size): (u64, u64),
    proof: &[Hash],
    root: &Hash,
) -> Result<(), VerifyError> {
    if index >= size {
        return Err(VerifyError::OutOfRange { index, size });
    }
    let (mut position, mut last) = (index, size - 1);
    let mut hash = *leaf;
    for sibling in proof {
        if last == 0 {
            return Err(VerifyError::WrongLength);
        }
        if position & 1 == 1 || position == last {
            hash = node_hash(sibling, &hash);
            while position & 1 == 0 && position != 0 {
                position >>= 1;
                last >>= 1;
            }
        } else {
            hash = node_hash(&hash, sibling);
        }
        position >>= 1;
        last >>= 1;
    }
    if last != 0 {
        return Err(VerifyError::WrongLength);
    }
    if hash == *root { Ok(()) } else { Err(VerifyError::RootMismatch) }
}

/// Checks that the tree of `old.0` leaves with root `old.1` is a prefix of the tree
/// of `new.0` leaves with root `new.1` (RFC 9162, section 2.1.4.2).
pub fn verify_consistency(old: (u64, &Hash), new: (u64, &Hash), proof: &[Hash]) -> Result<(), VerifyError> {
    let ((old_size, old_root), (new_size, new_root)) = (old, new);
    if old_size > new_size {
        return Err(VerifyError::OutOfRange { index: old_size, size: new_size });
    }
    if old_size == new_size || old_size == 0 {
        if !proof.is_empty() {
            return Err(VerifyError::WrongLength);
        }
        let same = old_size == 0 || old_root == new_root;
        return if same { Ok(()) } else { Err(VerifyError::RootMismatch) };
    }
    let Some((first, rest)) = proof.split_first() else { return Err(VerifyError::WrongLength) };
    // A power-of-two older tree is a whole subtree: the verifier starts from its root.
    let (start, rest) = if old_size.is_power_of_two() { (old_root, proof) } else { (first, rest) };
    let (mut position, mut last) = (old_size - 1, new_size - 1);
    while position & 1 == 1 {
        position >>= 1;
        last >>= 1;
    }
    let (mut old_hash, mut new_hash) = (*start, *start);
    for sibling in rest {
        if last == 0 {
            return Err(VerifyError::WrongLength);
        }
        if position & 1 == 1 || position == last {
            old_hash = node_hash(sibling, &old_hash);
            new_hash = node_hash(sibling, &new_hash);
            while position & 1 == 0 && position != 0 {
                position >>= 1;
                last >>= 1;
            }
        } else {
            new_hash = node_hash(&new_hash, sibling);
        }
        position >>= 1;
        last >>= 1;
    }
    if last != 0 {
        return Err(VerifyError::WrongLength);
    }
    if old_hash == *old_root && new_hash == *new_root { Ok(()) } else { Err(VerifyError::RootMismatch) }
}

#[path = "merkle_range.rs"]
mod range_proof;
pub use range_proof::{range_nodes, range_proof, verify_range};

#[cfg(test)]
#[path = "merkle_tests.rs"]
mod tests;
