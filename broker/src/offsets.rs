//! Consumer groups' committed offsets, durable in one append-only file of JSON lines
//! (`offsets.jsonl`), the newest line per (group, topic, partition) winning.
//!
//! A commit is answered only once its lines are on disk (`fdatasync`), so a consumer
//! never resumes behind what the broker told it was committed. The file is rewritten
//! with only the live entries when it opens and whenever it has grown to several times
//! their number.

use std::{
    collections::HashMap,
    fs::{self, File, OpenOptions},
    io::{BufRead, BufReader, Write},
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use serde::{Deserialize, Serialize};
use tracing::warn;

use crate::error::BrokerError;

/// One committed position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commit {
    /// Consumer group.
    pub group: String,
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// The next offset the group reads.
    pub offset: i64,
    /// The client's metadata string.
    pub metadata: Option<String>,
}

type Key = (String, String, i32);

#[derive(Debug)]
struct Journal {
    file: File,
    lines: usize,
}

/// Every group's committed offsets.
#[derive(Debug)]
pub struct CommittedOffsets {
    path: PathBuf,
    live: Mutex<HashMap<Key, Commit>>,
    file: Arc<Mutex<Journal>>,
}

/// Rewrite the file once it holds this many times more lines than live entries.
const COMPACT_RATIO: usize = 4;
/// ... and at least this many lines.
const COMPACT_MIN_LINES: usize = 10_000;

impl CommittedOffsets {
    /// Reads `dir/offsets.jsonl` (a torn last line from a crash is skipped) and
    /// compacts it.
    pub fn open(dir: &Path) -> Result<Self, BrokerError> {
        let path = dir.join("offsets.jsonl");
        let mut live = HashMap::new();
        if path.exists() {
            let reader = BufReader::new(File::open(&path).map_err(BrokerError::storage(&path))?);
            for (number, line) in reader.lines().enumerate() {
                let line = line.map_err(BrokerError::storage(&path))?;
                match serde_json::from_str::<Commit>(&line) {
                    Ok(commit) => {
                        live.insert(key(&commit), commit);
                    }
                    Err(error) => warn!(line = number + 1, %error, "skipping an unreadable offset commit"),
                }
            }
        }
        let file = rewrite(&path, live.values())?;
        Ok(CommittedOffsets {
            path,
            file: Arc::new(Mutex::new(Journal { file, lines: live.len() })),
            live: Mutex::new(live),
        })
    }

    /// Writes `commits` durably, then makes them visible to [`Self::get`].
    pub async fn commit(&self, commits: Vec<Commit>) -> Result<(), BrokerError> {
        if commits.is_empty() {
            return Ok(());
        }
        let mut lines = Vec::new();
        for commit in &commits {
            serde_json::to_writer(&mut lines, commit).expect("commits serialize");
            lines.push(b'\n');
        }
        let file = self.file.clone();
        let path = self.path.clone();
        let count = commits.len();
        tokio::task::spawn_blocking(move || append(&file, &path, &lines, count))
            .await
            .expect("offset commit does not panic")?;
        let snapshot = self.record(commits);
        if let Some(snapshot) = snapshot {
            let (file, path) = (self.file.clone(), self.path.clone());
            tokio::task::spawn_blocking(move || compact(&file, &path, &snapshot))
                .await
                .expect("compaction does not panic")?;
        }
        Ok(())
    }

    /// Makes `commits` visible; returns every live entry when the file is due for a
    /// rewrite.
    fn record(&self, commits: Vec<Commit>) -> Option<Vec<Commit>> {
        let mut live = self.live.lock().expect("offsets lock");
        for commit in commits {
            live.insert(key(&commit), commit);
        }
        let handle = self.file.lock().expect("offsets file lock");
        (handle.lines > COMPACT_MIN_LINES && handle.lines > COMPACT_RATIO * live.len())
            .then(|| live.values().cloned().collect())
    }

    /// The committed position of one partition.
    pub fn get(&self, group: &str, topic: &str, partition: i32) -> Option<Commit> {
        self.live.lock().expect("offsets lock").get(&(group.to_owned(), topic.to_owned(), partition)).cloned()
    }

    /// Every committed position of `group`.
    pub fn of_group(&self, group: &str) -> Vec<Commit> {
        let live = self.live.lock().expect("offsets lock");
        let mut commits: Vec<Commit> =
            live.values().filter(|commit| commit.group == group).cloned().collect();
        commits.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
        commits
    }
}

fn key(commit: &Commit) -> Key {
    (commit.group.clone(), commit.topic.clone(), commit.partition)
}

fn append(file: &Mutex<Journal>, path: &Path, lines: &[u8], count: usize) -> Result<(), BrokerError> {
    let mut handle = file.lock().expect("offsets file lock");
    handle.file.write_all(lines).map_err(BrokerError::storage(path))?;
    handle.file.sync_data().map_err(BrokerError::storage(path))?;
    handle.lines += count;
    Ok(())
}

fn compact(file: &Mutex<Journal>, path: &Path, snapshot: &[Commit]) -> Result<(), BrokerError> {
    let mut handle = file.lock().expect("offsets file lock");
    handle.file = rewrite(path, snapshot.iter())?;
    handle.lines = snapshot.len();
    Ok(())
}

/// Writes `commits` to a new file that replaces `path` atomically; returns it open for
/// appending.
fn rewrite<'a>(path: &Path, commits: impl Iterator<Item = &'a Commit>) -> Result<File, BrokerError> {
    let temporary = path.with_extension("jsonl.tmp");
    let mut file = File::create(&temporary).map_err(BrokerError::storage(&temporary))?;
    for commit in commits {
        serde_json::to_writer(&mut file, commit).expect("commits serialize");
        file.write_all(b"\n").map_err(BrokerError::storage(&temporary))?;
    }
    file.sync_all().map_err(BrokerError::storage(&temporary))?;
    fs::rename(&temporary, path).map_err(BrokerError::storage(path))?;
    if let Some(dir) = path.parent() {
        File::open(dir).and_then(|dir| dir.sync_all()).map_err(BrokerError::storage(dir))?;
    }
    OpenOptions::new().append(true).open(path).map_err(BrokerError::storage(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(group: &str, partition: i32, offset: i64) -> Commit {
        Commit { group: group.into(), topic: "t".into(), partition, offset, metadata: None }
    }

    #[tokio::test]
    async fn the_newest_commit_wins_and_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        {
            let offsets = CommittedOffsets::open(dir.path()).unwrap();
            offsets.commit(vec![commit("a", 0, 10), commit("a", 1, 5)]).await.unwrap();
            offsets.commit(vec![commit("a", 0, 20), commit("b", 0, 1)]).await.unwrap();
            assert_eq!(offsets.get("a", "t", 0).unwrap().offset, 20);
        }
        let mut file = OpenOptions::new().append(true).open(dir.path().join("offsets.jsonl")).unwrap();
        file.write_all(b"{\"group\":\"a\",\"top").unwrap();
        let offsets = CommittedOffsets::open(dir.path()).unwrap();
        let of_a: Vec<(i32, i64)> = offsets.of_group("a").iter().map(|c| (c.partition, c.offset)).collect();
        assert_eq!(of_a, [(0, 20), (1, 5)]);
        assert!(offsets.get("a", "t", 2).is_none());
        let lines = fs::read_to_string(dir.path().join("offsets.jsonl")).unwrap().lines().count();
        assert_eq!(lines, 3, "compacted on open");
    }

    #[tokio::test]
    async fn compacts_when_grown() {
        let dir = tempfile::tempdir().unwrap();
        let offsets = CommittedOffsets::open(dir.path()).unwrap();
        for offset in 0..(COMPACT_MIN_LINES as i64 / 100 + 2) {
            offsets.commit((0..100).map(|partition| commit("g", partition, offset)).collect()).await.unwrap();
        }
        let lines = fs::read_to_string(dir.path().join("offsets.jsonl")).unwrap().lines().count();
        assert!(lines < COMPACT_MIN_LINES, "{lines} lines");
        assert_eq!(offsets.get("g", "t", 99).unwrap().offset, COMPACT_MIN_LINES as i64 / 100 + 1);
    }
}
