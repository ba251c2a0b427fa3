use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::*;

/// The test leaves of RFC 6962's reference implementation.
const LEAVES: [&str; 8] =
    ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"];

/// Roots of the trees of the first 1 to 8 of [`LEAVES`].
const ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

fn hash(hex: &str) -> Hash {
    hex::decode(hex).expect("hex").try_into().expect("32 bytes")
}

/// A store of every complete subtree, filled as a writer would: from `append`.
struct Store {
    frontier: Frontier,
    nodes: HashMap<NodeId, Hash>,
    roots: Vec<Hash>,
}

impl Store {
    fn of(leaves: impl IntoIterator<Item = Vec<u8>>) -> Store {
        let mut store = Store { frontier: Frontier::new(), nodes: HashMap::new(), roots: vec![empty_root()] };
        for data in leaves {
            let index = store.frontier.size();
            for (level, node) in store.frontier.append(leaf_hash(&data)).into_iter().enumerate() {
                store.nodes.insert(NodeId { level: level as u8, index: index >> level }, node);
            }
            store.roots.push(store.frontier.root());
        }
        store
    }

    fn numbered(size: u64) -> Store {
        Store::of((0..size).map(|leaf| format!("record {leaf}").into_bytes()))
    }
}

#[test]
fn roots_match_the_reference_vectors() {
    let store = Store::of(LEAVES.iter().map(|leaf| hex::decode(leaf).expect("hex")));
    assert_eq!(store.roots[0], hash("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    for (size, expected) in ROOTS.iter().enumerate() {
        assert_eq!(store.roots[size + 1], hash(expected), "root of {}", size + 1);
        let mut nodes = store.nodes.clone();
        assert_eq!(
            root(size as u64 + 1, &mut nodes),
            Ok(hash(expected)),
            "root of {} from subtrees",
            size + 1
        );
    }
}

#[test]
fn a_known_consistency_proof_is_built_and_checked() {
    let mut store = Store::of(LEAVES.iter().map(|leaf| hex::decode(leaf).expect("hex")));
    let expected: Vec<Hash> = [
        "DrxdNDf74tsVi58Sah0RjjCBgQMdCpSfje3t68VY72o=",
        "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
        "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=",
    ]
    .iter()
    .map(|b64| STANDARD.decode(b64).expect("base64").try_into().expect("32 bytes"))
    .collect();
    assert_eq!(consistency_proof(6, 8, &mut store.nodes), Ok(expected.clone()));
    assert_eq!(verify_consistency((6, &hash(ROOTS[5])), (8, &hash(ROOTS[7])), &expected), Ok(()));
}

#[test]
fn every_inclusion_proof_of_small_trees_verifies() {
    let mut store = Store::numbered(70);
    for size in 1..=70u64 {
        for index in 0..size {
            let proof = inclusion_proof(index, size, &mut store.nodes).expect("a proof");
            let leaf = leaf_hash(format!("record {index}").as_bytes());
            let root = store.roots[size as usize];
            assert_eq!(verify_inclusion(&leaf, (index, size), &proof, &root), Ok(()), "{index} in {size}");
            assert!(verify_inclusion(&leaf, ((index + 1) % size, size), &proof, &root).is_err() || size == 1);
        }
    }
}

#[test]
fn every_consistency_proof_of_small_trees_verifies() {
    let mut store = Store::numbered(70);
    for new in 0..=70u64 {
        for old in 0..=new {
            let proof = consistency_proof(old, new, &mut store.nodes).expect("a proof");
            let (old_root, new_root) = (store.roots[old as usize], store.roots[new as usize]);
            assert_eq!(
                verify_consistency((old, &old_root), (new, &new_root), &proof),
                Ok(()),
                "{old} to {new}"
            );
        }
    }
}

#[test]
fn any_changed_hash_fails_a_proof() {
    let mut store = Store::numbered(37);
    let (index, size) = (11, 37);
    let proof = inclusion_proof(index, size, &mut store.nodes).expect("a proof");
    let leaf = leaf_hash(b"record 11");
    let root = store.roots[37];
    for position in 0..proof.len() {
        let mut forged = proof.clone();
        forged[position][7] ^= 1;
        assert_eq!(verify_inclusion(&leaf, (index, size), &forged, &root), Err(VerifyError::RootMismatch));
    }
    assert_eq!(
        verify_inclusion(&leaf_hash(b"record 12"), (index, size), &proof, &root),
        Err(VerifyError::RootMismatch)
    );
    assert_eq!(verify_inclusion(&leaf, (index, size), &proof[1..], &root), Err(VerifyError::WrongLength));
    let longer = [proof.clone(), vec![[0; 32]]].concat();
    assert_eq!(verify_inclusion(&leaf, (index, size), &longer, &root), Err(VerifyError::WrongLength));
    assert_eq!(
        verify_inclusion(&leaf, (37, 37), &proof, &root),
        Err(VerifyError::OutOfRange { index: 37, size: 37 })
    );

    let proof = consistency_proof(20, 37, &mut store.nodes).expect("a proof");
    let (old, new) = (store.roots[20], store.roots[37]);
    for position in 0..proof.len() {
        let mut forged = proof.clone();
        forged[position][0] ^= 0x80;
        assert!(verify_consistency((20, &old), (37, &new), &forged).is_err(), "hash {position} changed");
    }
    // A fork: another tree of the same size is not a prefix.
    let other = Store::of((0..37).map(|leaf| format!("forked {leaf}").into_bytes()));
    assert_eq!(
        verify_consistency((20, &other.roots[20]), (37, &new), &proof),
        Err(VerifyError::RootMismatch)
    );
    assert_eq!(verify_consistency((20, &old), (20, &other.roots[20]), &[]), Err(VerifyError::RootMismatch));
    assert_eq!(
        verify_consistency((38, &old), (37, &new), &proof),
        Err(VerifyError::OutOfRange { index: 38, size: 37 })
    );
}

#[test]
fn proofs_read_only_the_subtrees_they_list() {
    let store = Store::numbered(1000);
    for (index, size) in [(0, 1), (0, 1000), (999, 1000), (511, 513), (512, 513), (300, 777)] {
        let listed = inclusion_nodes(index, size);
        assert!(listed.len() <= 2 * 64, "{} subtrees", listed.len());
        let mut only: HashMap<NodeId, Hash> = listed.iter().map(|id| (*id, store.nodes[id])).collect();
        let proof = inclusion_proof(index, size, &mut only).expect("the listed subtrees suffice");
        let leaf = leaf_hash(format!("record {index}").as_bytes());
        assert_eq!(verify_inclusion(&leaf, (index, size), &proof, &store.roots[size as usize]), Ok(()));
    }
    for (old, new) in [(1, 2), (6, 8), (500, 1000), (512, 1000), (999, 1000)] {
        let listed = consistency_nodes(old, new);
        let mut only: HashMap<NodeId, Hash> = listed.iter().map(|id| (*id, store.nodes[id])).collect();
        let proof = consistency_proof(old, new, &mut only).expect("the listed subtrees suffice");
        assert_eq!(root(old, &mut only), Ok(store.roots[old as usize]));
        assert_eq!(root(new, &mut only), Ok(store.roots[new as usize]));
        let roots = (&store.roots[old as usize], &store.roots[new as usize]);
        assert_eq!(verify_consistency((old, roots.0), (new, roots.1), &proof), Ok(()));
    }
}

#[test]
fn a_missing_subtree_is_named() {
    let mut store = Store::numbered(8);
    store.nodes.remove(&NodeId { level: 2, index: 1 });
    assert_eq!(
        inclusion_proof(0, 8, &mut store.nodes),
        Err(ProofError::MissingNode(NodeId { level: 2, index: 1 }))
    );
    assert_eq!(inclusion_proof(8, 8, &mut store.nodes), Err(ProofError::OutOfRange { index: 8, size: 8 }));
}

#[test]
fn a_frontier_restored_from_its_parts_continues_the_same_tree() {
    let mut live = Frontier::new();
    for leaf in 0..11u8 {
        live.append(leaf_hash(&[leaf]));
    }
    let mut restored = Frontier::from_parts(live.size(), live.hashes().to_vec()).expect("matching parts");
    assert_eq!(Frontier::from_parts(12, live.hashes().to_vec()), None, "12 has two bits set, 11 three");
    for leaf in 11..40u8 {
        assert_eq!(restored.append(leaf_hash(&[leaf])), live.append(leaf_hash(&[leaf])));
    }
    assert_eq!(restored.root(), live.root());
    assert_eq!(NodeId { level: 3, index: 1 }.last_leaf(), 15);
}

#[test]
fn every_range_of_small_trees_is_proven_and_nothing_else_verifies() {
    let mut store = Store::numbered(40);
    let leaves: Vec<Hash> = (0..40).map(|leaf| leaf_hash(format!("record {leaf}").as_bytes())).collect();
    for size in 1..=40u64 {
        let root = store.roots[size as usize];
        for first in 0..size {
            for end in first + 1..=size {
                let proof = range_proof(first, end, size, &mut store.nodes).expect("a proof");
                assert!(proof.len() <= 2 * 64);
                let run = &leaves[first as usize..end as usize];
                assert_eq!(
                    verify_range(first, run, size, &proof, &root),
                    Ok(()),
                    "[{first}, {end}) of {size}"
                );
                if end - first == 1 {
                    let inclusion = inclusion_proof(first, size, &mut store.nodes).expect("a proof");
                    assert_eq!(proof.len(), inclusion.len(), "a run of one costs an inclusion proof");
                }
                if end - first > 1 {
                    let shorter = &run[..run.len() - 1];
                    assert!(verify_range(first, shorter, size, &proof, &root).is_err(), "a cut run");
                    let mut swapped = run.to_vec();
                    swapped.swap(0, 1);
                    assert!(verify_range(first, &swapped, size, &proof, &root).is_err(), "a reordered run");
                }
            }
        }
    }
}

#[test]
fn a_range_proof_refuses_a_changed_leaf_or_hash_and_reads_only_what_it_lists() {
    let store = Store::numbered(1000);
    let (first, end, size) = (300u64, 420u64, 777u64);
    let mut only: HashMap<NodeId, Hash> =
        range_nodes(first, end, size).iter().map(|id| (*id, store.nodes[id])).collect();
    let proof = range_proof(first, end, size, &mut only).expect("the listed subtrees suffice");
    assert_eq!(root(size, &mut only), Ok(store.roots[size as usize]));
    let root = store.roots[size as usize];
    let mut leaves: Vec<Hash> =
        (first..end).map(|leaf| leaf_hash(format!("record {leaf}").as_bytes())).collect();
    assert_eq!(verify_range(first, &leaves, size, &proof, &root), Ok(()));
    assert!(verify_range(first + 1, &leaves, size, &proof, &root).is_err(), "shifted by one");
    for position in 0..proof.len() {
        let mut forged = proof.clone();
        forged[position][3] ^= 1;
        assert_eq!(verify_range(first, &leaves, size, &forged, &root), Err(VerifyError::RootMismatch));
    }
    assert_eq!(verify_range(first, &leaves, size, &proof[1..], &root), Err(VerifyError::WrongLength));
    leaves[60][0] ^= 1;
    assert_eq!(verify_range(first, &leaves, size, &proof, &root), Err(VerifyError::RootMismatch));
    assert!(matches!(verify_range(700, &leaves, size, &proof, &root), Err(VerifyError::OutOfRange { .. })));
    assert!(matches!(range_proof(5, 5, size, &mut only), Err(ProofError::OutOfRange { .. })));
}
