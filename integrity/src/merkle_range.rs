//! Range proofs: that a run of consecutive leaves is exactly leaves `[first, first +
//! n)` of a tree, in one proof.
//!
//! The proof is the hashes of the largest subtrees of RFC 9162's split that lie wholly
//! outside the run, left to right. The verifier rebuilds the root from the run's leaves
//! and those hashes, so every leaf of the run is proven at once, with at most two
//! hashes per level of the tree: a run of ten thousand records costs about as much
//! proof as one record. A run of one leaf is an inclusion proof with its hashes in
//! another order.
//!
//! A run proven this way has nothing missing, added or reordered between its ends,
//! which is what a window of records needs to be complete.

use super::{Hash, Nodes, ProofError, Recorder, VerifyError, node_hash, range, split};

/// The range proof of leaves `[first, end)` in the tree of `size` leaves.
pub fn range_proof(first: u64, end: u64, size: u64, nodes: &mut impl Nodes) -> Result<Vec<Hash>, ProofError> {
    if first >= end || end > size {
        return Err(ProofError::OutOfRange { index: end.max(first + 1) - 1, size });
    }
    let mut proof = Vec::new();
    outside((first, end), (0, size), nodes, &mut proof)?;
    Ok(proof)
}

/// The subtrees [`range_proof`] and the tree's root read.
pub fn range_nodes(first: u64, end: u64, size: u64) -> Vec<super::NodeId> {
    let mut recorder = Recorder::default();
    let _ = range_proof(first, end, size, &mut recorder);
    let _ = super::root(size, &mut recorder);
    recorder.asked.into_iter().collect()
}

/// Pushes the hashes of the subtrees of `[start, end)` outside `run`.
fn outside(
    run: (u64, u64),
    (start, end): (u64, u64),
    nodes: &mut impl Nodes,
    out: &mut Vec<Hash>,
) -> Result<(), ProofError> {
    if end <= run.0 || start >= run.1 {
        out.push(range(start, end, nodes)?);
        return Ok(());
    }
    if start >= run.0 && end <= run.1 {
        return Ok(());
    }
    let middle = start + split(end - start);
    outside(run, (start, middle), nodes, out)?;
    outside(run, (middle, end), nodes, out)
}

/// Checks that `leaves` are leaves `[first, first + leaves.len())` of the tree of
/// `size` leaves whose root is `root`.
pub fn verify_range(
    first: u64,
    leaves: &[Hash],
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), VerifyError> {
    let end = first + leaves.len() as u64;
    if leaves.is_empty() || end > size {
        return Err(VerifyError::OutOfRange { index: end.max(first + 1) - 1, size });
    }
    let mut hashes = proof.iter();
    let run = Run { first, end, leaves };
    let rebuilt = run.rebuild((0, size), &mut hashes)?;
    if hashes.next().is_some() {
        return Err(VerifyError::WrongLength);
    }
    if rebuilt == *root { Ok(()) } else { Err(VerifyError::RootMismatch) }
}

/// The leaves being proven.
struct Run<'a> {
    first: u64,
    end: u64,
    leaves: &'a [Hash],
}

impl Run<'_> {
    /// The hash of `[start, end)`: from the run's leaves inside it, the proof outside.
    fn rebuild<'p>(
        &self,
        (start, end): (u64, u64),
        proof: &mut impl Iterator<Item = &'p Hash>,
    ) -> Result<Hash, VerifyError> {
        if end <= self.first || start >= self.end {
            return proof.next().copied().ok_or(VerifyError::WrongLength);
        }
        if end - start == 1 {
            return Ok(self.leaves[(start - self.first) as usize]);
        }
        let middle = start + split(end - start);
        let left = self.rebuild((start, middle), proof)?;
        let right = self.rebuild((middle, end), proof)?;
        Ok(node_hash(&left, &right))
    }
}
