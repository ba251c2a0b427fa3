//! Signing and indexing, as the signer and the indexer would: every tenant's records
//! tokenized, sealed and chained in `created` order (tenants split over two threads),
//! then written in arrival order (all tenants interleaved) into [`SHARDS`] shards,
//! each tenant in the shard of its Kafka partition (`partition_for_key`), with one
//! large writer heap and a single commit: the best case of a long-merged index.
//!
//! Records come in chunks of [`crate::dataset::CHUNK`] tenants (so memory holds one
//! chunk, whatever the index's size), each chunk's tenants interleaved by `created`.
//!
//! Guarantee: when [`Writers::finish`] returns, the shards are committed and merged,
//! so the leaves and the floor read exactly what they will be measured on.

use std::path::Path;

use audit_index::document::document;
use audit_index::schema::IndexSchema;
use audit_integrity::{SigningKeyPair, TenantChain};
use audit_runtime::kafka::partition_for_key;
use audit_schemas::SignedRecord;
use tantivy::{Index, IndexWriter};
use tokenizer::Policy;

use crate::dataset::Tenant;
use crate::tokens::{Tokens, apply};

/// Shards (partitions of `audit.signed`).
pub const SHARDS: i32 = 4;
/// Writer heap of each shard: a few large segments per shard.
const HEAP_BYTES: usize = 1_000_000_000;

/// Every tenant tokenized with its `tokens` and sealed, on two threads; the records
/// in the order a live system receives them: all tenants interleaved by `created`
/// (so a tenant's records are spread over the shard and the table, as in
/// production, not stored side by side).
pub fn seal_all(tenants: Vec<Tenant>, tokens: &[Tokens], key: &SigningKeyPair) -> Vec<SignedRecord> {
    let (mut even, mut odd) = (Vec::new(), Vec::new());
    for (index, (tenant, tokens)) in tenants.into_iter().zip(tokens).enumerate() {
        if index % 2 == 0 { even.push((index, tenant, tokens)) } else { odd.push((index, tenant, tokens)) }
    }
    let mut sealed: Vec<(usize, Vec<SignedRecord>)> = std::thread::scope(|scope| {
        let handles = [even, odd].map(|work| {
            scope.spawn(move || {
                work.into_iter()
                    .map(|(index, tenant, tokens)| (index, chain(tenant, tokens, key)))
                    .collect::<Vec<_>>()
            })
        });
        handles.into_iter().flat_map(|handle| handle.join().expect("a sealing thread")).collect()
    });
    sealed.sort_by_key(|(index, _)| *index);
    let mut records: Vec<SignedRecord> = sealed.into_iter().flat_map(|(_, records)| records).collect();
    // Stable: a tenant's records created in the same millisecond keep their sequence order.
    records.sort_by_key(|record| record.created);
    records
}

/// `tenant`'s records tokenized and sealed, each linked to the one before.
fn chain(tenant: Tenant, tokens: &Tokens, key: &SigningKeyPair) -> Vec<SignedRecord> {
    let policy = Policy::default();
    let mut chain = TenantChain::default();
    tenant.records.into_iter().map(|clear| chain.seal(key, &apply(&policy, clear, tokens))).collect()
}

/// The shard of `tenant`.
pub fn shard_of(tenant: &str) -> i32 {
    partition_for_key(tenant.as_bytes(), SHARDS)
}

/// The shards being written: one writer per shard, kept across chunks of records.
pub struct Writers {
    schema: IndexSchema,
    writers: Vec<IndexWriter>,
}

impl Writers {
    /// New shards under `root`.
    pub fn create(root: &Path) -> Writers {
        let schema = IndexSchema::new();
        let writers = (0..SHARDS).map(|shard| writer(root, shard, &schema)).collect();
        Writers { schema, writers }
    }

    /// Adds `records` in that order, each to its tenant's shard: two feeding threads
    /// (shards 0 and 2, 1 and 3).
    pub fn add(&mut self, records: &[SignedRecord]) {
        let schema = &self.schema;
        let (even, odd): (Vec<_>, Vec<_>) =
            self.writers.iter_mut().enumerate().partition(|(shard, _)| shard % 2 == 0);
        std::thread::scope(|scope| {
            for mut writers in [even, odd] {
                scope.spawn(move || {
                    for envelope in records {
                        let shard = shard_of(&envelope.tenant_id) as usize;
                        if let Some((_, writer)) = writers.iter_mut().find(|(mine, _)| *mine == shard) {
                            writer
                                .add_document(document(schema, envelope).expect("indexable"))
                                .expect("added");
                        }
                    }
                });
            }
        });
    }

    /// Commits every shard and waits for merges.
    pub fn finish(self) {
        std::thread::scope(|scope| {
            for mut writer in self.writers {
                scope.spawn(move || {
                    writer.commit().expect("shard commits");
                    writer.wait_merging_threads().expect("merges finish");
                });
            }
        });
    }
}

fn writer(root: &Path, shard: i32, schema: &IndexSchema) -> IndexWriter {
    let dir = root.join(format!("shard-{shard:04}"));
    std::fs::create_dir_all(&dir).expect("shard directory");
    let index = Index::create_in_dir(&dir, schema.schema.clone()).expect("shard created");
    index.writer_with_num_threads(1, HEAP_BYTES).expect("shard writer")
}

/// Bytes of every file under `dir`.
pub fn size_of(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => size_of(&entry.path()),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Segments of each shard under `root`, in shard order.
pub fn segments(root: &Path) -> Vec<usize> {
    (0..SHARDS)
        .map(|shard| {
            let index = Index::open_in_dir(root.join(format!("shard-{shard:04}"))).expect("shard opens");
            index.searchable_segment_ids().map_or(0, |ids| ids.len())
        })
        .collect()
}
