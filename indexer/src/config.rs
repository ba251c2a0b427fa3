//! The indexer's flags and env variables (`--flag` ↔ `AUDIT_FLAG`), validated once.

use audit_auth::service::ServiceCredential;
use audit_service::explicit::parse_explicit;
use std::net::SocketAddr;
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
    /// Address of the leaf API, where query-apis search this indexer's shards.
    #[arg(long, env = "AUDIT_LEAF_LISTEN", default_value = "127.0.0.1:9110")]
    pub leaf_listen: SocketAddr,
    /// The leaf API's URL as query-apis reach it (`http://indexer-1:9110`); by
    /// default `http://` and the address it listens on.
    #[arg(long, env = "AUDIT_LEAF_URL")]
    pub leaf_url: Option<String>,
    /// Credentials of the query-apis allowed to search, `name:secret[:search]`,
    /// comma-separated.
    #[arg(long, env = "AUDIT_LEAF_CREDENTIALS", value_delimiter = ',', hide_env_values = true)]
    pub leaf_credentials: Vec<ServiceCredential>,
    /// Topic where this indexer claims the shards it is given.
    #[arg(long, env = "AUDIT_OWNERS_TOPIC", default_value = audit_index::leaf::OWNERS_TOPIC)]
    pub owners_topic: String,
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
    /// The leaf API.
    pub leaf: LeafConfig,
}

/// Where and for whom the leaf API serves.
#[derive(Debug, Clone)]
pub struct LeafConfig {
    /// Listen address.
    pub listen: SocketAddr,
    /// Advertised URL, if not derived from the bound address.
    pub url: Option<String>,
    /// Accepted credentials.
    pub credentials: Vec<ServiceCredential>,
    /// The owners topic.
    pub owners_topic: String,
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
        if self.leaf_credentials.is_empty() {
            return Err(invalid("leaf-credentials", "none given: no query-api could search this indexer"));
        }
        if let Some(url) = &self.leaf_url
            && !url.starts_with("http://")
            && !url.starts_with("https://")
        {
            return Err(invalid("leaf-url", "must be an http:// or https:// url"));
        }
        let leaf = LeafConfig {
            listen: self.leaf_listen,
            url: self.leaf_url.clone(),
            credentials: self.leaf_credentials.clone(),
            owners_topic: self.owners_topic.clone(),
        };
        Ok(Config {
            leaf,
            stage: self.stage.validate(None, KINDS)?,
            index_dir: self.index_dir.clone(),
            commit_interval: Duration::from_millis(self.commit_interval_ms),
            budget: WriterBudget { heap_bytes: self.shard_heap_mb * 1_000_000, threads: 1 },
        })
    }
}

impl Config {
    /// The defaults against the broker at `bootstrap` with shards under `index_dir`,
    /// searched by the holder of `leaf_credential` (what `auditctl up` runs).
    pub fn defaults_for(
        bootstrap: &str,
        index_dir: &std::path::Path,
        leaf_credential: &ServiceCredential,
    ) -> Config {
        let index_dir = index_dir.to_string_lossy();
        let credential = leaf_credential.declaration();
        let argv =
            ["indexer", "--kafka", bootstrap, "--index-dir", &index_dir, "--leaf-credentials", &credential];
        let args = parse_explicit::<IndexerArgs, _, _>(argv).expect("the defaults parse");
        args.validate().expect("default settings are valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_name_their_flag() {
        let credential = ServiceCredential::generate("query-api");
        let config = Config::defaults_for("127.0.0.1:9092", std::path::Path::new("/tmp/index"), &credential);
        assert_eq!(config.leaf.credentials, vec![credential]);
        assert_eq!(config.commit_interval, Duration::from_millis(250));
        assert_eq!(config.stage.topics.input, "audit.signed");
        assert_eq!(config.stage.topics.output, None, "a sink forwards nothing");
        assert!(IndexerArgs::try_parse_from(["indexer", "--output-topic", "x"]).is_err());
        let args = IndexerArgs::parse_from(["indexer", "--shard-heap-mb", "1"]);
        assert!(matches!(args.validate(), Err(IndexerError::Config { name: "shard-heap-mb", .. })));
        let args = IndexerArgs::parse_from(["indexer"]);
        assert!(matches!(args.validate(), Err(IndexerError::Config { name: "leaf-credentials", .. })));
    }
}
