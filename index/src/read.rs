//! Reading the shards back: every record a directory of shards holds, for tests,
//! `auditctl reindex` checks and operators. Searching is the query-api's.

use std::path::Path;

use audit_integrity::CompactJws;
use tantivy::schema::Value;
use tantivy::{DocAddress, Index, ReloadPolicy, TantivyDocument};

use crate::IndexError;
use crate::schema::IndexSchema;

/// One indexed record: its id and JWS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Indexed {
    /// Partition of the shard holding it.
    pub partition: i32,
    /// Record id, from the signed payload.
    pub id: String,
    /// The stored JWS.
    pub jws: String,
}

/// Every live document of every shard under `root`.
pub fn all_records(root: &Path) -> Result<Vec<Indexed>, IndexError> {
    let schema = IndexSchema::new();
    let mut records = Vec::new();
    for (partition, index) in open_shards(root)? {
        let index_error = |source| IndexError::Index { partition, source };
        let reader =
            index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into().map_err(index_error)?;
        let searcher = reader.searcher();
        for (ordinal, segment) in searcher.segment_readers().iter().enumerate() {
            for doc in 0..segment.max_doc() {
                if segment.is_deleted(doc) {
                    continue;
                }
                let document: TantivyDocument =
                    searcher.doc(DocAddress::new(ordinal as u32, doc)).map_err(index_error)?;
                let jws = document.get_first(schema.jws).and_then(|value| value.as_str()).unwrap_or_default();
                let id = record_id(jws).unwrap_or_default();
                records.push(Indexed { partition, id, jws: jws.to_owned() });
            }
        }
    }
    Ok(records)
}

fn record_id(jws: &str) -> Option<String> {
    let payload: serde_json::Value = serde_json::from_slice(&CompactJws::parse(jws).ok()?.payload).ok()?;
    payload.get("id")?.as_str().map(str::to_owned)
}

/// The shards under `root` by partition.
pub fn open_shards(root: &Path) -> Result<Vec<(i32, Index)>, IndexError> {
    let entries = match std::fs::read_dir(root) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(IndexError::Io { path: root.to_owned(), source }),
    };
    let mut shards = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(partition) = name.to_str().and_then(|name| name.strip_prefix("shard-")?.parse::<i32>().ok())
        else {
            continue;
        };
        let index =
            Index::open_in_dir(entry.path()).map_err(|source| IndexError::Index { partition, source })?;
        shards.push((partition, index));
    }
    shards.sort_by_key(|(partition, _)| *partition);
    Ok(shards)
}
