//! A shard: the Tantivy index of one input partition, and the Kafka offset its last
//! commit covers.
//!
//! The offset lives in the commit itself (Tantivy's commit payload), so index content
//! and position can never disagree: after a crash the shard reopens at its last
//! commit and the indexer resumes reading right after the offset it names. Adds are
//! upserts by record id (delete the id's term, add the document), so replaying
//! records an older commit already holds leaves one document per record. A shard
//! written with an older schema is derived data like any other: it is deleted and
//! rebuilt from the topic, as a node does when it takes a partition over.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tantivy::directory::MmapDirectory;
use tantivy::{Index, IndexWriter, TantivyDocument, Term};

use crate::error::IndexerError;
use crate::schema::IndexSchema;

/// What a commit covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Position {
    partition: i32,
    /// Last input offset included.
    offset: i64,
}

/// Memory and threads of a shard's writer.
#[derive(Debug, Clone, Copy)]
pub struct WriterBudget {
    /// Indexing heap per shard, bytes (Tantivy needs at least 15 MB per thread).
    pub heap_bytes: usize,
    /// Indexing threads per shard.
    pub threads: usize,
}

/// One open shard with its writer.
pub struct Shard {
    partition: i32,
    dir: PathBuf,
    writer: IndexWriter,
    id_field: tantivy::schema::Field,
    committed: Option<i64>,
    pending: Option<i64>,
}

/// Deletes the shard in `dir`, written with an older schema, and creates an empty one
/// in its place, once its writer lock shows no other process is writing it.
fn replace_older(dir: &Path, partition: i32, schema: &IndexSchema) -> Result<Index, IndexerError> {
    let index_error = |source| IndexerError::Index { partition, source };
    let older = Index::open_in_dir(dir).map_err(index_error)?;
    let lock = older.writer::<TantivyDocument>(15_000_000).map_err(|source| match source {
        tantivy::TantivyError::LockFailure(..) => IndexerError::ShardBusy { partition },
        other => index_error(other),
    })?;
    drop(lock);
    drop(older);
    tracing::warn!(partition, "shard written with an older schema: deleted, rebuilt from the topic");
    let io = |source| IndexerError::Io { path: dir.to_path_buf(), source };
    std::fs::remove_dir_all(dir).map_err(io)?;
    std::fs::create_dir_all(dir).map_err(io)?;
    Index::create_in_dir(dir, schema.schema.clone()).map_err(index_error)
}

/// The directory of `partition`'s shard under `root`.
pub fn shard_dir(root: &Path, partition: i32) -> PathBuf {
    root.join(format!("shard-{partition:04}"))
}

impl Shard {
    /// Opens (or creates) the shard of `partition` under `root`.
    pub fn open(
        root: &Path,
        partition: i32,
        schema: &IndexSchema,
        budget: WriterBudget,
    ) -> Result<Shard, IndexerError> {
        let dir = shard_dir(root, partition);
        let index_error = |source| IndexerError::Index { partition, source };
        std::fs::create_dir_all(&dir).map_err(|source| IndexerError::Io { path: dir.clone(), source })?;
        let directory = MmapDirectory::open(&dir).map_err(|error| index_error(error.into()))?;
        let index = match Index::open_or_create(directory, schema.schema.clone()) {
            Err(tantivy::TantivyError::SchemaError(_)) => replace_older(&dir, partition, schema)?,
            opened => opened.map_err(index_error)?,
        };
        let committed = read_position(&index, partition)?;
        let writer =
            index.writer_with_num_threads(budget.threads, budget.heap_bytes).map_err(
                |source| match source {
                    tantivy::TantivyError::LockFailure(..) => IndexerError::ShardBusy { partition },
                    other => index_error(other),
                },
            )?;
        Ok(Shard { partition, dir, writer, id_field: schema.id, committed, pending: None })
    }

    /// A reader of the shard, moved to new commits by whoever holds it.
    pub fn reader(&self) -> Result<tantivy::IndexReader, IndexerError> {
        let reader = self.writer.index().reader_builder().reload_policy(tantivy::ReloadPolicy::Manual);
        reader.try_into().map_err(|source| IndexerError::Index { partition: self.partition, source })
    }

    /// The last input offset the shard's commit holds.
    pub fn committed_offset(&self) -> Option<i64> {
        self.committed
    }

    /// Adds (or replaces) the document of record `id`, read at input `offset`.
    pub fn upsert(&mut self, offset: i64, id: &str, document: TantivyDocument) -> Result<(), IndexerError> {
        self.writer.delete_term(Term::from_field_text(self.id_field, id));
        self.writer
            .add_document(document)
            .map_err(|source| IndexerError::Index { partition: self.partition, source })?;
        self.pending = Some(offset);
        Ok(())
    }

    /// Moves the position past an input that yields no document.
    pub fn pass(&mut self, offset: i64) {
        self.pending = Some(self.pending.map_or(offset, |pending| pending.max(offset)));
    }

    /// Whether anything awaits a commit.
    pub fn is_dirty(&self) -> bool {
        self.pending.is_some_and(|pending| Some(pending) > self.committed)
    }

    /// Commits pending documents with their position; returns the offset now covered.
    pub fn commit(&mut self) -> Result<Option<i64>, IndexerError> {
        let Some(offset) = self.pending.filter(|_| self.is_dirty()) else { return Ok(self.committed) };
        let payload = serde_json::to_string(&Position { partition: self.partition, offset })
            .expect("a position serializes");
        let index_error = |source| IndexerError::Index { partition: self.partition, source };
        let mut prepared = self.writer.prepare_commit().map_err(index_error)?;
        prepared.set_payload(&payload);
        prepared.commit().map_err(index_error)?;
        self.committed = Some(offset);
        Ok(self.committed)
    }

    /// Bytes the shard takes on disk.
    pub fn size_bytes(&self) -> u64 {
        std::fs::read_dir(&self.dir)
            .map(|entries| {
                entries.filter_map(|entry| entry.ok()?.metadata().ok()).map(|meta| meta.len()).sum()
            })
            .unwrap_or(0)
    }

    /// The index, for readers.
    #[cfg(test)]
    pub fn index(&self) -> &Index {
        self.writer.index()
    }

    /// Deletes every document (the next commit makes it so) and forgets the position.
    pub fn clear(&mut self) -> Result<(), IndexerError> {
        self.writer
            .delete_all_documents()
            .map_err(|source| IndexerError::Index { partition: self.partition, source })?;
        self.committed = None;
        self.pending = None;
        Ok(())
    }

    /// Drops uncommitted work and releases the writer's lock.
    pub fn close(mut self) -> Result<(), IndexerError> {
        let _ = self.writer.rollback();
        self.writer
            .wait_merging_threads()
            .map_err(|source| IndexerError::Index { partition: self.partition, source })
    }
}

fn read_position(index: &Index, partition: i32) -> Result<Option<i64>, IndexerError> {
    let metas = index.load_metas().map_err(|source| IndexerError::Index { partition, source })?;
    let Some(payload) = metas.payload else { return Ok(None) };
    let position: Position = serde_json::from_str(&payload)
        .map_err(|error| IndexerError::CorruptShard { partition, detail: error.to_string() })?;
    if position.partition != partition {
        let detail = format!("holds partition {}", position.partition);
        return Err(IndexerError::CorruptShard { partition, detail });
    }
    Ok(Some(position.offset))
}

#[cfg(test)]
mod tests {
    use tantivy::collector::Count;
    use tantivy::query::AllQuery;

    use super::*;

    const BUDGET: WriterBudget = WriterBudget { heap_bytes: 15_000_000, threads: 1 };

    fn doc(schema: &IndexSchema, id: &str) -> TantivyDocument {
        let mut document = TantivyDocument::default();
        document.add_text(schema.id, id);
        document.add_text(schema.tenant, "t");
        document
    }

    fn count(shard: &Shard) -> usize {
        shard.index().reader().unwrap().searcher().search(&AllQuery, &Count).unwrap()
    }

    #[test]
    fn a_commit_carries_its_offset_and_uncommitted_work_is_lost_on_reopen() {
        let root = tempfile::tempdir().unwrap();
        let schema = IndexSchema::new();
        let mut shard = Shard::open(root.path(), 3, &schema, BUDGET).unwrap();
        assert_eq!(shard.committed_offset(), None);
        shard.upsert(10, "a", doc(&schema, "a")).unwrap();
        shard.upsert(11, "b", doc(&schema, "b")).unwrap();
        assert_eq!(shard.commit().unwrap(), Some(11));
        shard.upsert(12, "c", doc(&schema, "c")).unwrap();
        drop(shard); // a crash: no commit
        let shard = Shard::open(root.path(), 3, &schema, BUDGET).unwrap();
        assert_eq!(shard.committed_offset(), Some(11));
        assert_eq!(count(&shard), 2);
    }

    #[test]
    fn replayed_records_replace_their_document() {
        let root = tempfile::tempdir().unwrap();
        let schema = IndexSchema::new();
        let mut shard = Shard::open(root.path(), 0, &schema, BUDGET).unwrap();
        shard.upsert(0, "a", doc(&schema, "a")).unwrap();
        shard.commit().unwrap();
        shard.upsert(0, "a", doc(&schema, "a")).unwrap();
        shard.upsert(1, "a", doc(&schema, "a")).unwrap();
        shard.upsert(2, "b", doc(&schema, "b")).unwrap();
        shard.commit().unwrap();
        assert_eq!(count(&shard), 2);
    }

    #[test]
    fn a_shard_of_an_older_schema_is_replaced_by_an_empty_one_to_rebuild() {
        let root = tempfile::tempdir().unwrap();
        let dir = shard_dir(root.path(), 2);
        std::fs::create_dir_all(&dir).unwrap();
        let mut older = tantivy::schema::Schema::builder();
        let id = older.add_text_field("id", tantivy::schema::STRING);
        let index = Index::create_in_dir(&dir, older.build()).unwrap();
        let mut writer = index.writer::<TantivyDocument>(15_000_000).unwrap();
        writer.add_document(tantivy::doc!(id => "old")).unwrap();
        writer.commit().unwrap();
        let held = index.writer::<TantivyDocument>(15_000_000);
        drop(writer);
        drop(held);

        let schema = IndexSchema::new();
        let mut shard = Shard::open(root.path(), 2, &schema, BUDGET).unwrap();
        assert_eq!(shard.committed_offset(), None, "read again from the topic's start");
        assert_eq!(count(&shard), 0);
        shard.upsert(0, "a", doc(&schema, "a")).unwrap();
        assert_eq!(shard.commit().unwrap(), Some(0));
    }

    #[test]
    fn a_shard_of_another_partition_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let schema = IndexSchema::new();
        let mut shard = Shard::open(root.path(), 1, &schema, BUDGET).unwrap();
        shard.pass(5);
        shard.commit().unwrap();
        shard.close().unwrap();
        std::fs::rename(shard_dir(root.path(), 1), shard_dir(root.path(), 2)).unwrap();
        assert!(matches!(
            Shard::open(root.path(), 2, &schema, BUDGET),
            Err(IndexerError::CorruptShard { .. })
        ));
    }
}
