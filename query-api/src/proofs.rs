//! Proofs of a tenant's records against its signed checkpoints: the latest
//! checkpoint, a record's inclusion, the consistency of two trees, and bundles (a run
//! of records with its range proof, for a whole log or a `created` window).
//!
//! Every proof is built from complete subtrees, which the index stores with the
//! records that close them: subtree `(level k, index j)` is entry `k` of the tree
//! hashes of the record of sequence `(j + 1)·2^k`. One leaf search (`Within::Only`)
//! fetches every subtree a proof reads. A proof against the latest checkpoint also
//! rebuilds that checkpoint's root from the index and refuses to answer when the two
//! differ: a proof is served only against a tree the index and the signer agree on.

use std::collections::HashMap;

use audit_auth::Principal;
use audit_index::query::Node;
use audit_index::search::{SearchQuery, Within};
use audit_integrity::CompactJws;
use audit_integrity::bundle::{BUNDLE_FORMAT, BundleHeader, Consistency, Window, encode_hashes};
use audit_integrity::keys::Jwks;
use audit_integrity::merkle::{
    self, Hash, NodeId, ProofError, consistency_nodes, consistency_proof, inclusion_nodes, inclusion_proof,
    range_nodes, range_proof, root_nodes,
};
use axum::body::Bytes;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::QueryError;
use crate::api::{
    BundleRequest, CheckpointBody, ConsistencyBody, ConsistencyOptions, InclusionBody, PageProof,
};
use crate::checkpoints::Latest;
use crate::export::{ExportStream, spawn_lines};
use crate::fanout::Search;
use crate::service::QueryService;

/// Most trees a bundle proves consistency from.
const MAX_KNOWN_SIZES: usize = 16;

impl QueryService {
    /// `tenant`'s latest checkpoint.
    pub fn checkpoint(&self, tenant: &str) -> Result<CheckpointBody, QueryError> {
        let latest = self.checkpoints.latest(tenant).ok_or(QueryError::NoCheckpoint)?;
        Ok(CheckpointBody {
            origin: latest.checkpoint.origin,
            tree_size: latest.checkpoint.size,
            root_hash: STANDARD.encode(latest.checkpoint.root),
            note: latest.note,
            verifier_keys: self.checkpoints.vkeys(tenant),
        })
    }

    /// The inclusion proof of `tenant`'s record `id` in the tree of `tree_size`
    /// (the latest checkpoint's by default).
    pub async fn inclusion(
        &self,
        principal: &Principal,
        id: String,
        tree_size: Option<u64>,
    ) -> Result<InclusionBody, QueryError> {
        let tenant = &principal.tenant;
        let (size, latest) = self.tree(tenant, tree_size)?;
        let query = SearchQuery {
            within: Within::Id(id.clone()),
            limit: 1,
            records: true,
            ..SearchQuery::new(tenant, Node::All)
        };
        let found = self.search.search(query).await?;
        let hit = found.hits.into_iter().next().ok_or(QueryError::NotFound)?;
        let (sequence, jws) = (hit.key.sequence, hit.jws.unwrap_or_default());
        let leaf = CompactJws::parse(&jws).map(|parsed| merkle::leaf_hash(&parsed.payload));
        let leaf = leaf.map_err(|_| QueryError::IndexDisagrees { size })?;
        if sequence == 0 || sequence > size {
            return Err(QueryError::OutsideTree(format!(
                "record {sequence} of the chain is not in the tree of {size} records; ask again after the next checkpoint"
            )));
        }
        let mut nodes = self.subtrees(tenant, inclusion_nodes(sequence - 1, size), (size, &latest)).await?;
        let path = inclusion_proof(sequence - 1, size, &mut nodes).map_err(not_indexed)?;
        Ok(InclusionBody {
            id,
            sequence,
            leaf_index: sequence - 1,
            tree_size: size,
            leaf_hash: STANDARD.encode(leaf),
            audit_path: encode_hashes(&path),
            jws,
            checkpoint: (size == latest.checkpoint.size).then_some(latest.note),
        })
    }

    /// The consistency proof between two of `tenant`'s trees.
    pub async fn consistency(
        &self,
        principal: &Principal,
        options: ConsistencyOptions,
    ) -> Result<ConsistencyBody, QueryError> {
        let tenant = &principal.tenant;
        let (second, latest) = self.tree(tenant, options.second)?;
        let first =
            options.first.ok_or_else(|| QueryError::invalid_value("first (a tree size) is required"))?;
        if first > second {
            return Err(QueryError::OutsideTree(format!("tree {first} is larger than tree {second}")));
        }
        let mut nodes = self.subtrees(tenant, consistency_nodes(first, second), (second, &latest)).await?;
        let proof = consistency_proof(first, second, &mut nodes).map_err(not_indexed)?;
        let checkpoint = (second == latest.checkpoint.size).then_some(latest.note);
        Ok(ConsistencyBody { first, second, proof: encode_hashes(&proof), checkpoint })
    }

    /// A bundle of `tenant`'s records: every one, or a window's with its boundaries.
    pub async fn bundle(
        &self,
        principal: &Principal,
        request: BundleRequest,
    ) -> Result<ExportStream, QueryError> {
        let tenant = &principal.tenant;
        let (size, latest) = self.tree(tenant, None)?;
        let window = window(&request)?;
        if request.known_sizes.len() > MAX_KNOWN_SIZES {
            return Err(QueryError::invalid_value("knownSizes holds at most 16 tree sizes"));
        }
        if let Some(known) = request.known_sizes.iter().find(|known| **known > size) {
            return Err(QueryError::OutsideTree(format!(
                "tree {known} is larger than the latest checkpoint's {size}: that checkpoint was not signed by this trail, or the trail rolled back"
            )));
        }
        let (first, end) = self.run(tenant, window, size).await?;
        let mut ids = Vec::new();
        if first < end {
            ids.extend(range_nodes(first - 1, end - 1, size));
        }
        for known in &request.known_sizes {
            ids.extend(consistency_nodes(*known, size));
        }
        let mut nodes = self.subtrees(tenant, ids, (size, &latest)).await?;
        let proof = if first < end {
            range_proof(first - 1, end - 1, size, &mut nodes).map_err(not_indexed)?
        } else {
            Vec::new()
        };
        let mut consistency = Vec::new();
        for known in &request.known_sizes {
            let proof = consistency_proof(*known, size, &mut nodes).map_err(not_indexed)?;
            consistency.push(Consistency { size: *known, proof: encode_hashes(&proof) });
        }
        let jwks: Jwks = serde_json::from_value(self.keys.jwks().as_ref().clone())
            .map_err(|error| QueryError::Task(error.to_string()))?;
        let header = BundleHeader {
            format: BUNDLE_FORMAT.into(),
            tenant_id: tenant.clone(),
            checkpoint: latest.note,
            keys: jwks,
            window,
            first,
            count: end - first,
            range_proof: encode_hashes(&proof),
            consistency,
        };
        let mut line = serde_json::to_vec(&header).map_err(|error| QueryError::Task(error.to_string()))?;
        line.push(b'\n');
        let base = SearchQuery::new(tenant, Node::All);
        let chunks = spawn_lines(self.search.clone(), base, (first, end), Some(Bytes::from(line)));
        Ok(ExportStream { count: end - first, chunks })
    }

    /// The latest checkpoint of `tenant` and the inclusion proofs of the `records`
    /// (a page's JWS) it covers.
    pub async fn page_proofs(
        &self,
        tenant: &str,
        records: &[String],
    ) -> Result<(String, Vec<PageProof>), QueryError> {
        let (size, latest) = self.tree(tenant, None)?;
        let leaves: Vec<(String, u64, Hash)> = records
            .iter()
            .filter_map(|jws| {
                let payload = CompactJws::parse(jws).ok()?.payload;
                let signed: PageRecord = serde_json::from_slice(&payload).ok()?;
                (signed.sequence >= 1 && signed.sequence <= size)
                    .then(|| (signed.id, signed.sequence - 1, merkle::leaf_hash(&payload)))
            })
            .collect();
        let ids = leaves.iter().flat_map(|(_, index, _)| inclusion_nodes(*index, size)).collect();
        let mut nodes = self.subtrees(tenant, ids, (size, &latest)).await?;
        let mut proofs = Vec::with_capacity(leaves.len());
        for (id, index, leaf) in leaves {
            let path = inclusion_proof(index, size, &mut nodes).map_err(not_indexed)?;
            let (leaf_hash, audit_path) = (STANDARD.encode(leaf), encode_hashes(&path));
            proofs.push(PageProof { id, leaf_index: index, leaf_hash, audit_path });
        }
        Ok((latest.note, proofs))
    }

    /// The tree asked for (the latest checkpoint's by default) and the latest checkpoint.
    fn tree(&self, tenant: &str, asked: Option<u64>) -> Result<(u64, Latest), QueryError> {
        let latest = self.checkpoints.latest(tenant).ok_or(QueryError::NoCheckpoint)?;
        let size = asked.unwrap_or(latest.checkpoint.size);
        if size > latest.checkpoint.size {
            return Err(QueryError::OutsideTree(format!(
                "tree {size} is larger than the latest checkpoint's {}",
                latest.checkpoint.size
            )));
        }
        Ok((size, latest))
    }

    /// Sequences `[first, end)` of the run a bundle holds: the whole tree, or from the
    /// record before the window's first to the one after its last (the boundaries).
    async fn run(&self, tenant: &str, window: Option<Window>, size: u64) -> Result<(u64, u64), QueryError> {
        let Some(window) = window else { return Ok(if size == 0 { (0, 0) } else { (1, size + 1) }) };
        let node = Node::Created { start: window.from, end: window.to };
        let query = SearchQuery {
            within: Within::Sequences { from: 1, to: size + 1 },
            span: true,
            ..SearchQuery::new(tenant, node)
        };
        let found = self.search.search(query).await?;
        Ok(match found.span {
            Some((low, high)) => (low.saturating_sub(1).max(1), high.saturating_add(1).min(size) + 1),
            None => (0, 0),
        })
    }

    /// The subtrees `ids` of `tenant`'s tree, from the records that close them; the
    /// latest checkpoint's root is rebuilt from them and must match.
    async fn subtrees(
        &self,
        tenant: &str,
        mut ids: Vec<NodeId>,
        (size, latest): (u64, &Latest),
    ) -> Result<HashMap<NodeId, Hash>, QueryError> {
        let checked = size == latest.checkpoint.size;
        if checked {
            ids.extend(root_nodes(size));
        }
        let mut sequences: Vec<u64> = ids.iter().map(|id| (id.index + 1) << id.level).collect();
        sequences.sort_unstable();
        sequences.dedup();
        let query = SearchQuery {
            within: Within::Only(sequences.clone()),
            limit: sequences.len(),
            tree: true,
            ..SearchQuery::new(tenant, Node::All)
        };
        let found = if sequences.is_empty() { Default::default() } else { self.search.search(query).await? };
        let mut closing: HashMap<u64, Vec<u8>> = HashMap::new();
        for hit in found.hits {
            let hashes = STANDARD.decode(hit.tree.unwrap_or_default()).unwrap_or_default();
            if closing.insert(hit.key.sequence, hashes).is_some() {
                tracing::error!(
                    tenant,
                    sequence = hit.key.sequence,
                    "two records of one sequence: a forked chain"
                );
                return Err(QueryError::IndexDisagrees { size: latest.checkpoint.size });
            }
        }
        let mut nodes = HashMap::new();
        for id in ids {
            let hashes = closing.get(&((id.index + 1) << id.level));
            let at = usize::from(id.level) * 32;
            if let Some(hash) = hashes.and_then(|hashes| hashes.get(at..at + 32)) {
                nodes.insert(id, hash.try_into().expect("32 bytes"));
            }
        }
        if checked && size > 0 {
            let root = merkle::root(size, &mut nodes).map_err(not_indexed)?;
            if root != latest.checkpoint.root {
                tracing::error!(tenant, size, "the index's subtrees do not give the checkpoint's root");
                return Err(QueryError::IndexDisagrees { size });
            }
        }
        Ok(nodes)
    }
}

/// What a page's proof reads of a signed payload.
#[derive(serde::Deserialize)]
struct PageRecord {
    id: String,
    sequence: u64,
}

/// A subtree the index lacks: its records are not indexed yet.
fn not_indexed(error: ProofError) -> QueryError {
    QueryError::ShardsMissing {
        detail: format!("the index does not hold what the proof needs yet ({error}); retry shortly"),
    }
}

/// The `created` window asked for, in milliseconds.
fn window(request: &BundleRequest) -> Result<Option<Window>, QueryError> {
    if request.from.is_none() && request.to.is_none() {
        return Ok(None);
    }
    let instant = |value: &Option<String>, name: &str, default: i64| match value {
        None => Ok(default),
        Some(text) => chrono::DateTime::parse_from_rfc3339(text)
            .map(|time| time.timestamp_millis())
            .map_err(|_| QueryError::invalid_value(format!("{name} is not an RFC 3339 time"))),
    };
    let window =
        Window { from: instant(&request.from, "from", i64::MIN)?, to: instant(&request.to, "to", i64::MAX)? };
    if window.from >= window.to {
        return Err(QueryError::invalid_value("from must be before to"));
    }
    Ok(Some(window))
}
