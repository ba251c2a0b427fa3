//! The indexer's flags and env variables (`--flag` ↔ `AUDIT_FLAG`), validated once.

use audit_service::explicit::parse_explicit;
use std::path::PathBuf;
use std::time::Duration;

use audit_runtime::stage::{StageArgs, StageConfig, StageDefaults, TopicKinds};
use audit_runtime::topics::TopicKind;
use audit_service::telemetry::LogArgs;
use clap::Parser;

use crate::IndexerError;
use crate::shard::WriterBudget;

/// The indexer's defaults for the flags every consumer shares.
/// What this service's topics hold.
const KINDS: TopicKinds = TopicKinds { input: TopicKind::Trail, output: TopicKind::Trail };

const DEFAULTS: StageDefaults = StageDefaults {
    input_topic: "audit.signed",
    output_topic: None,
    group_id: "audit-indexer",
    ops_listen: "127.0.0.1:9104",
};

/// Command line of the indexer.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "indexer",
    version,
    about = "Indexes signed records into Tantivy shards",
    mut_args(DEFAULTS.apply())
)]
pub struct IndexerArgs {
    /// Kafka, topics, group, ops server.
    #[command(flatten)]
    pub stage: StageArgs,
    /// Log settings.
    #[command(flatten)]
    pub log: LogArgs,
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
}

/// Validated indexer settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Kafka, topics (no output), group, ops server.
    pub stage: StageConfig,
    /// Shard directory.
    pub index_dir: PathBuf,
    /// Commit cadence.
    pub commit_interval: Duration,
    /// Writer memory and threads per shard.
    pub budget: WriterBudget,
}

impl IndexerArgs {
    /// Checks every value once.
    pub fn validate(&self) -> Result<Config, IndexerError> {
        let invalid = |name, reason: &str| IndexerError::Config { name, reason: reason.into() };
        if !(10..=600_000).contains(&self.commit_interval_ms) {
            return Err(invalid("commit-interval-ms", "expected 10 to 600000"));
        }
        if !(15..=4096).contains(&self.shard_heap_mb) {
            return Err(invalid("shard-heap-mb", "expected 15 to 4096"));
        }
        Ok(Config {
            stage: self.stage.validate(None, KINDS)?,
            index_dir: self.index_dir.clone(),
            commit_interval: Duration::from_millis(self.commit_interval_ms),
            budget: WriterBudget { heap_bytes: self.shard_heap_mb * 1_000_000, threads: 1 },
        })
    }
}

impl Config {
    /// The defaults against the broker at `bootstrap` with shards under `index_dir`
    /// (what `auditctl up` runs).
    pub fn defaults_for(bootstrap: &str, index_dir: &std::path::Path) -> Config {
        let index_dir = index_dir.to_string_lossy();
        let args =
            parse_explicit::<IndexerArgs, _, _>(["indexer", "--kafka", bootstrap, "--index-dir", &index_dir])
                .expect("the defaults parse");
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
        assert_eq!(config.stage.topics.input, "audit.signed");
        assert_eq!(config.stage.topics.output, None, "a sink forwards nothing");
        assert!(IndexerArgs::try_parse_from(["indexer", "--output-topic", "x"]).is_err());
        let args = IndexerArgs::parse_from(["indexer", "--shard-heap-mb", "1"]);
        assert!(matches!(args.validate(), Err(IndexerError::Config { name: "shard-heap-mb", .. })));
    }
}
