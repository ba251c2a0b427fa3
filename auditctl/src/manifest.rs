//! The manifest of a backup: every file with its size and SHA-256, the partitions and
//! offsets the trail covers, and the digests of the master keys kept apart.
//!
//! `auditctl restore` refuses a backup whose files do not match it, naming the file,
//! before it writes anything.

use std::{
    io::Read,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, bail};
use audit_broker::backup::CopiedPartition;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::backup_heads::ChainHead;

/// The manifest's file name in a backup directory.
pub const FILE_NAME: &str = "manifest.json";

/// One file of the backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Path relative to the backup directory.
    pub path: String,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256 of the contents, hex.
    pub sha256: String,
}

impl FileEntry {
    /// The entry of the file at `path`, named `relative`.
    pub fn of(relative: &Path, path: &Path) -> anyhow::Result<FileEntry> {
        let mut file = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; 1 << 20];
        let mut bytes = 0u64;
        loop {
            let read = file.read(&mut buffer).with_context(|| format!("reading {}", path.display()))?;
            if read == 0 {
                break;
            }
            hasher.update(&buffer[..read]);
            bytes += read as u64;
        }
        let path = relative.display().to_string();
        Ok(FileEntry { path, bytes, sha256: hex::encode(hasher.finalize()) })
    }
}

/// A partition of the trail and how far the backup holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionEntry {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// The backup holds offsets `[0, end_offset)`.
    pub end_offset: i64,
}

impl From<CopiedPartition> for PartitionEntry {
    fn from(copied: CopiedPartition) -> PartitionEntry {
        PartitionEntry { topic: copied.topic, partition: copied.partition, end_offset: copied.end_offset }
    }
}

/// The trail a backup holds: its partitions' ends and its tenants' chain heads.
#[derive(Debug, Clone, Default)]
pub struct Trail {
    /// Each partition and how far the backup holds it.
    pub partitions: Vec<PartitionEntry>,
    /// Each tenant's last record.
    pub chains: Vec<ChainHead>,
}

/// What a backup holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Layout version of the manifest.
    pub format: u32,
    /// When the backup finished, RFC 3339.
    pub created: String,
    /// How long it took, in seconds.
    pub seconds: f64,
    /// Every file, sorted by path.
    pub files: Vec<FileEntry>,
    /// The trail's partitions and the offsets they reach.
    pub partitions: Vec<PartitionEntry>,
    /// Where each tenant's chain ends in the backup.
    pub chains: Vec<ChainHead>,
    /// The master keys, kept apart: their names and digests, to check them at restore.
    pub master_keys: Vec<FileEntry>,
    /// Why the index is not in the backup.
    pub index: String,
}

impl Manifest {
    /// A manifest of `files` and `partitions`, finished now.
    pub fn new(trail: Trail, files: Vec<FileEntry>, master_keys: Vec<FileEntry>, took: Duration) -> Manifest {
        Manifest {
            format: 1,
            created: chrono::Utc::now().to_rfc3339(),
            seconds: took.as_secs_f64(),
            files,
            partitions: trail.partitions,
            chains: trail.chains,
            master_keys,
            index: "not included: the indexer rebuilds it from audit.signed when it starts without one"
                .into(),
        }
    }

    /// Writes it into the backup directory `dir`.
    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        std::fs::write(dir.join(FILE_NAME), text).context("writing the manifest")
    }

    /// The manifest of the backup in `dir`.
    pub fn read(dir: &Path) -> anyhow::Result<Manifest> {
        let path = dir.join(FILE_NAME);
        let text = std::fs::read(&path).with_context(|| format!("{} has no manifest", dir.display()))?;
        serde_json::from_slice(&text).with_context(|| format!("{} is not a backup manifest", path.display()))
    }

    /// Fails on the first file of the manifest missing, resized or changed in `dir`,
    /// and on a file the manifest does not list.
    pub fn check(&self, dir: &Path) -> anyhow::Result<()> {
        for expected in &self.files {
            let path = dir.join(&expected.path);
            if !path.is_file() {
                bail!("the backup is incomplete: {} is missing", expected.path);
            }
            let found = FileEntry::of(Path::new(&expected.path), &path)?;
            if found != *expected {
                bail!(
                    "the backup is damaged: {} differs from the manifest (sha256 {})",
                    expected.path,
                    found.sha256
                );
            }
        }
        for found in paths(dir)? {
            let found = found.display().to_string();
            if !self.files.iter().any(|expected| expected.path == found) {
                bail!("the backup holds {found}, which its manifest does not list");
            }
        }
        Ok(())
    }

    /// Total bytes of the files.
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|file| file.bytes).sum()
    }

    /// One paragraph for the operator.
    pub fn summary(&self, dir: &Path) -> String {
        let records = |topic: &str| -> i64 {
            self.partitions.iter().filter(|entry| entry.topic == topic).map(|entry| entry.end_offset).sum()
        };
        format!(
            "backup in {}: {} files, {:.1} MB in {:.1} s; audit.raw up to {} events, audit.signed {} records, {} tenants' chains; {}",
            dir.display(),
            self.files.len(),
            self.bytes() as f64 / 1e6,
            self.seconds,
            records("audit.raw"),
            records("audit.signed"),
            self.chains.len(),
            self.index
        )
    }
}

/// Every file under `dir` but the manifest, sorted by path.
pub fn describe(dir: &Path) -> anyhow::Result<Vec<FileEntry>> {
    paths(dir)?.iter().map(|relative| FileEntry::of(relative, &dir.join(relative))).collect()
}

/// The paths, relative to `dir`, of every file under it but the manifest, sorted.
fn paths(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut paths = Vec::new();
    walk(dir, Path::new(""), &mut paths)?;
    paths.sort();
    Ok(paths)
}

fn walk(root: &Path, relative: &Path, paths: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let dir: PathBuf = root.join(relative);
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let name = relative.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            walk(root, &name, paths)?;
        } else if name != Path::new(FILE_NAME) {
            paths.push(name);
        }
    }
    Ok(())
}
