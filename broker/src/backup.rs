//! An online copy of the broker's storage, taken while the broker runs.
//!
//! Committed offsets are copied first, then every partition log: a committed offset
//! covers records its consumer already made durable downstream, so the logs copied
//! afterwards hold everything each copied offset covers. Topics are copied in the
//! order the caller gives, downstream first: a record of a later stage was made from
//! records of earlier stages already written, so each topic copied afterwards holds
//! the sources of everything copied before it, and the first stage's topic is the
//! one cut that bounds the whole copy. A log is append-only, so the bytes copied are a
//! prefix of it; a batch being written at that moment is cut off by opening the copy
//! with the broker's own recovery, exactly as after a crash.

use std::{
    fs,
    path::{Path, PathBuf},
};

use crate::{BrokerError, log::PartitionLog};

/// One partition as the copy holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopiedPartition {
    /// Topic name.
    pub topic: String,
    /// Partition number.
    pub partition: i32,
    /// The offset after the last record copied: the copy holds `[0, end_offset)`.
    pub end_offset: i64,
}

/// Copies the storage in `source` (a running broker's `data_dir`) to `target`, which
/// must not exist: the topics named in `first` in that order, then the others; the
/// partitions copied.
pub fn copy_storage(
    source: &Path,
    target: &Path,
    first: &[&str],
) -> Result<Vec<CopiedPartition>, BrokerError> {
    fs::create_dir_all(target.join("topics")).map_err(BrokerError::storage(target))?;
    let offsets = source.join("offsets.jsonl");
    if offsets.exists() {
        copy(&offsets, &target.join("offsets.jsonl"))?;
    }
    let mut copied = Vec::new();
    let mut topic_dirs = sorted_entries(&source.join("topics"))?;
    let rank = |dir: &PathBuf| {
        let name = dir.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
        first.iter().position(|topic| *topic == name).unwrap_or(first.len())
    };
    topic_dirs.sort_by_key(rank);
    for topic_dir in topic_dirs {
        let name = topic_dir.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
        let target_dir = target.join("topics").join(&name);
        fs::create_dir_all(&target_dir).map_err(BrokerError::storage(&target_dir))?;
        for file in sorted_entries(&topic_dir)? {
            let file_name = file.file_name().unwrap_or_default().to_owned();
            copy(&file, &target_dir.join(&file_name))?;
            let Some(partition) = partition_of(&file) else { continue };
            // The broker's recovery cuts a batch that was half written when copied.
            let log = PartitionLog::open(&target_dir.join(&file_name))?;
            copied.push(CopiedPartition { topic: name.clone(), partition, end_offset: log.high_watermark() });
        }
    }
    Ok(copied)
}

/// `NNNNN.log` is partition NNNNN's log.
fn partition_of(path: &Path) -> Option<i32> {
    let name = path.file_name()?.to_str()?;
    name.strip_suffix(".log")?.parse().ok()
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, BrokerError> {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(BrokerError::storage(dir))?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<_, _>>()
        .map_err(BrokerError::storage(dir))?;
    entries.sort();
    Ok(entries)
}

fn copy(from: &Path, to: &Path) -> Result<(), BrokerError> {
    fs::copy(from, to).map_err(BrokerError::storage(from))?;
    Ok(())
}
