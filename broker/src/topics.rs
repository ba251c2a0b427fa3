//! The topics this broker holds: each a directory under `topics/` with its identity
//! (`topic.json`) and one log file per partition.
//!
//! A topic's partition count never changes once created; topics are only ever added.
//! Readers waiting for new records park on one [`Notify`] that every append wakes.

use std::{
    collections::HashMap,
    fs,
    path::{Path, PathBuf},
    sync::{Arc, RwLock},
};

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::{error::BrokerError, log::PartitionLog};

/// Longest topic name Kafka allows.
const MAX_NAME_LEN: usize = 249;
/// Most partitions one topic may have here.
const MAX_PARTITIONS: i32 = 1024;

/// A topic and its partitions' logs.
#[derive(Debug)]
pub struct Topic {
    /// Its name.
    pub name: String,
    /// Its id (Kafka's topic id).
    pub id: Uuid,
    /// One log per partition, by partition number.
    pub partitions: Vec<PartitionLog>,
}

impl Topic {
    /// The log of `partition`, if the topic has it.
    pub fn partition(&self, partition: i32) -> Option<&PartitionLog> {
        usize::try_from(partition).ok().and_then(|index| self.partitions.get(index))
    }
}

/// What `topic.json` holds.
#[derive(Debug, Serialize, Deserialize)]
struct Identity {
    id: Uuid,
    partitions: i32,
}

/// Why a topic was not created.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// It exists.
    #[error("topic exists")]
    Exists,
    /// The name is empty, too long, `.`/`..` or has characters Kafka refuses.
    #[error("invalid topic name")]
    InvalidName,
    /// Fewer than one or too many partitions.
    #[error("invalid partition count {0}")]
    InvalidPartitions(i32),
    /// Its files could not be written.
    #[error(transparent)]
    Storage(#[from] BrokerError),
}

/// Every topic of the broker.
#[derive(Debug)]
pub struct Topics {
    dir: PathBuf,
    topics: RwLock<HashMap<String, Arc<Topic>>>,
    /// Woken after every append, for fetches waiting on new records.
    pub appended: Notify,
}

impl Topics {
    /// Opens every topic under `dir/topics`.
    pub fn open(dir: &Path) -> Result<Self, BrokerError> {
        let dir = dir.join("topics");
        fs::create_dir_all(&dir).map_err(BrokerError::storage(&dir))?;
        let mut topics = HashMap::new();
        for entry in fs::read_dir(&dir).map_err(BrokerError::storage(&dir))? {
            let path = entry.map_err(BrokerError::storage(&dir))?.path();
            if !path.join("topic.json").exists() {
                continue;
            }
            let topic = open_topic(&path)?;
            topics.insert(topic.name.clone(), Arc::new(topic));
        }
        Ok(Topics { dir, topics: RwLock::new(topics), appended: Notify::new() })
    }

    /// The topic called `name`.
    pub fn get(&self, name: &str) -> Option<Arc<Topic>> {
        self.topics.read().expect("topics lock").get(name).cloned()
    }

    /// Every topic, by name.
    pub fn all(&self) -> Vec<Arc<Topic>> {
        let mut all: Vec<_> = self.topics.read().expect("topics lock").values().cloned().collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// Creates `name` with `partitions` empty partitions, durably.
    pub fn create(&self, name: &str, partitions: i32) -> Result<Arc<Topic>, CreateError> {
        if !valid_name(name) {
            return Err(CreateError::InvalidName);
        }
        if !(1..=MAX_PARTITIONS).contains(&partitions) {
            return Err(CreateError::InvalidPartitions(partitions));
        }
        let mut topics = self.topics.write().expect("topics lock");
        if topics.contains_key(name) {
            return Err(CreateError::Exists);
        }
        let path = self.dir.join(name);
        let identity = Identity { id: Uuid::new_v4(), partitions };
        write_identity(&path, &identity)?;
        let topic = Arc::new(open_topic(&path)?);
        topics.insert(name.to_owned(), topic.clone());
        Ok(topic)
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name != "."
        && name != ".."
        && name.bytes().all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-'))
}

/// Writes `topic.json` through a temporary file, so a crash leaves the old one or the
/// new one, never half of it.
fn write_identity(path: &Path, identity: &Identity) -> Result<(), BrokerError> {
    fs::create_dir_all(path).map_err(BrokerError::storage(path))?;
    let temporary = path.join("topic.json.tmp");
    let json = serde_json::to_vec_pretty(identity).expect("identity serializes");
    fs::write(&temporary, json).map_err(BrokerError::storage(&temporary))?;
    fs::File::open(&temporary).and_then(|file| file.sync_all()).map_err(BrokerError::storage(&temporary))?;
    fs::rename(&temporary, path.join("topic.json")).map_err(BrokerError::storage(path))?;
    fs::File::open(path).and_then(|dir| dir.sync_all()).map_err(BrokerError::storage(path))
}

fn open_topic(path: &Path) -> Result<Topic, BrokerError> {
    let identity_path = path.join("topic.json");
    let json = fs::read(&identity_path).map_err(BrokerError::storage(&identity_path))?;
    let identity: Identity = serde_json::from_slice(&json)
        .map_err(|error| BrokerError::Damaged { path: identity_path.clone(), detail: error.to_string() })?;
    let name = path
        .file_name()
        .and_then(|name| name.to_str())
        .filter(|name| valid_name(name))
        .ok_or_else(|| BrokerError::Damaged { path: path.to_owned(), detail: "not a topic name".into() })?
        .to_owned();
    let partitions = (0..identity.partitions)
        .map(|partition| PartitionLog::open(&path.join(format!("{partition:05}.log"))))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Topic { name, id: identity.id, partitions })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_topics_come_back_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let id = {
            let topics = Topics::open(dir.path()).unwrap();
            let topic = topics.create("audit.raw", 4).unwrap();
            assert!(matches!(topics.create("audit.raw", 4), Err(CreateError::Exists)));
            topic.id
        };
        let topics = Topics::open(dir.path()).unwrap();
        let topic = topics.get("audit.raw").unwrap();
        assert_eq!((topic.id, topic.partitions.len()), (id, 4));
        assert!(topic.partition(4).is_none() && topic.partition(-1).is_none());
    }

    #[test]
    fn refuses_names_and_counts_kafka_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let topics = Topics::open(dir.path()).unwrap();
        for name in ["", ".", "..", "a/b", "x y", &"n".repeat(250)] {
            assert!(matches!(topics.create(name, 1), Err(CreateError::InvalidName)), "{name}");
        }
        assert!(matches!(topics.create("t", 0), Err(CreateError::InvalidPartitions(0))));
        assert!(topics.all().is_empty());
    }
}
