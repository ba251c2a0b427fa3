//! The indexer's flags and env variables (`--flag` ↔ `AUDIT_FLAG`), validated once.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use audit_runtime::config::{KafkaArgs, KafkaConfig};
use audit_service::telemetry::LogArgs;
use clap::{ArgAction, Parser};

use crate::IndexerError;
use crate::shard::WriterBudget;

/// Command line of the indexer.
#[derive(Debug, Clone, Parser)]
#[command(name = "indexer", version, about = "Indexes signed records into Tantivy shards")]
pub struct IndexerArgs {
    /// Kafka settings.
    #[command(flatten)]
    pub kafka: KafkaArgs,
    /// Log settings.
    #[command(flatten)]
    pub log: LogArgs,
    /// Topic of signed records.
    #[arg(long, env = "AUDIT_INPUT_TOPIC", default_value = "audit.signed")]
    pub input_topic: String,
    /// Dead-letter topic for messages that cannot be indexed.
    #[arg(long, env = "AUDIT_DLQ_TOPIC", default_value = "audit.dlq")]
    pub dlq_topic: String,
    /// Consumer group shared by all indexer instances.
    #[arg(long, env = "AUDIT_GROUP_ID", default_value = "audit-indexer")]
    pub group_id: String,
    /// Address of the `/metrics` and `/healthz` server.
    #[arg(long, env = "AUDIT_OPS_LISTEN", default_value = "127.0.0.1:9104")]
    pub ops_listen: SocketAddr,
    /// Directory of the shards, one per partition (`shard-0000`, ...).
    #[arg(long, env = "AUDIT_INDEX_DIR", default_value = "data/index")]
    pub index_dir: PathBuf,
    /// Longest time, in milliseconds, between commits: a record is searchable at most
    /// about this long (plus the commit) after it arrives.
    #[arg(long, env = "AUDIT_COMMIT_INTERVAL_MS", default_value_t = 250)]
    pub commit_interval_ms: u64,
    /// Indexing memory per shard, in megabytes (15 at least).
    #[arg(long, env = "AUDIT_SHARD_HEAP_MB", default_value_t = 32)]
    pub shard_heap_mb: usize,
    /// Create missing topics at start (needs the right to create topics).
    #[arg(long, env = "AUDIT_CREATE_TOPICS", default_value_t = true, action = ArgAction::Set)]
    pub create_topics: bool,
}

/// Validated indexer settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Kafka settings.
    pub kafka: KafkaConfig,
    /// Input topic.
    pub input_topic: String,
    /// DLQ topic.
    pub dlq_topic: String,
    /// Consumer group.
    pub group_id: String,
    /// Ops server address.
    pub ops_listen: SocketAddr,
    /// Shard directory.
    pub index_dir: PathBuf,
    /// Commit cadence.
    pub commit_interval: Duration,
    /// Writer memory and threads per shard.
    pub budget: WriterBudget,
    /// Create missing topics at start.
    pub create_topics: bool,
}

impl IndexerArgs {
    /// Checks every value once.
    pub fn validate(&self) -> Result<Config, IndexerError> {
        let invalid = |name, reason: &str| IndexerError::Config { name, reason: reason.into() };
        if self.input_topic.is_empty() || self.input_topic == self.dlq_topic {
            return Err(invalid("input-topic", "topics must be non-empty and distinct"));
        }
        if !(10..=600_000).contains(&self.commit_interval_ms) {
            return Err(invalid("commit-interval-ms", "expected 10 to 600000"));
        }
        if !(15..=4096).contains(&self.shard_heap_mb) {
            return Err(invalid("shard-heap-mb", "expected 15 to 4096"));
        }
        Ok(Config {
            kafka: self.kafka.validate()?,
            input_topic: self.input_topic.clone(),
            dlq_topic: self.dlq_topic.clone(),
            group_id: self.group_id.clone(),
            ops_listen: self.ops_listen,
            index_dir: self.index_dir.clone(),
            commit_interval: Duration::from_millis(self.commit_interval_ms),
            budget: WriterBudget { heap_bytes: self.shard_heap_mb * 1_000_000, threads: 1 },
            create_topics: self.create_topics,
        })
    }
}

impl Config {
    /// The defaults against the broker at `bootstrap` with shards under `index_dir`
    /// (what `auditctl up` runs).
    pub fn defaults_for(bootstrap: &str, index_dir: &std::path::Path) -> Config {
        let index_dir = index_dir.to_string_lossy();
        let args = IndexerArgs::parse_from(["indexer", "--kafka", bootstrap, "--index-dir", &index_dir]);
        args.validate().expect("default settings are valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_name_their_flag() {
        let config = Config::defaults_for("127.0.0.1:9092", std::path::Path::new("/tmp/index"));
        assert_eq!(config.commit_interval, Duration::from_millis(250));
        let args = IndexerArgs::parse_from(["indexer", "--shard-heap-mb", "1"]);
        assert!(matches!(args.validate(), Err(IndexerError::Config { name: "shard-heap-mb", .. })));
    }
}
