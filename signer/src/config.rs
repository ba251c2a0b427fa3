//! The signer's flags and env variables (`--flag` ↔ `AUDIT_FLAG`), validated once.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use audit_runtime::config::{KafkaArgs, KafkaConfig};
use audit_runtime::stage::Topics;
use audit_service::telemetry::LogArgs;
use clap::{ArgAction, Parser};

use crate::SignerError;

/// Command line of the signer.
#[derive(Debug, Clone, Parser)]
#[command(name = "signer", version, about = "Signs and chains every record per tenant")]
pub struct SignerArgs {
    /// Kafka settings.
    #[command(flatten)]
    pub kafka: KafkaArgs,
    /// Log settings.
    #[command(flatten)]
    pub log: LogArgs,
    /// Topic of tokenized records.
    #[arg(long, env = "AUDIT_INPUT_TOPIC", default_value = "audit.tokenized")]
    pub input_topic: String,
    /// Topic of signed records, the public tap; same partition count as the input.
    #[arg(long, env = "AUDIT_OUTPUT_TOPIC", default_value = "audit.signed")]
    pub output_topic: String,
    /// Dead-letter topic.
    #[arg(long, env = "AUDIT_DLQ_TOPIC", default_value = "audit.dlq")]
    pub dlq_topic: String,
    /// Topic of chain checkpoints; same partition count as the input. Keep it at
    /// least as long as the signed topic.
    #[arg(long, env = "AUDIT_CHECKPOINT_TOPIC", default_value = "audit.signer-checkpoints")]
    pub checkpoint_topic: String,
    /// Consumer group shared by all signer instances.
    #[arg(long, env = "AUDIT_GROUP_ID", default_value = "audit-signer")]
    pub group_id: String,
    /// Address of the `/metrics` and `/healthz` server.
    #[arg(long, env = "AUDIT_OPS_LISTEN", default_value = "127.0.0.1:9103")]
    pub ops_listen: SocketAddr,
    /// Key directory: key ring, active private key, `jwks.json`.
    #[arg(long, env = "AUDIT_KEY_DIR", default_value = "data/keys/signing")]
    pub key_dir: PathBuf,
    /// Create the key directory with a first key when it has none.
    #[arg(long, env = "AUDIT_CREATE_KEY", default_value_t = false, action = ArgAction::Set)]
    pub create_key: bool,
    /// Record ids remembered per partition to drop upstream redeliveries.
    #[arg(long, env = "AUDIT_DEDUPE_WINDOW", default_value_t = 20_000)]
    pub dedupe_window: usize,
    /// Signed records per partition between checkpoints.
    #[arg(long, env = "AUDIT_CHECKPOINT_RECORDS", default_value_t = 10_000)]
    pub checkpoint_records: u64,
    /// Longest time, in milliseconds, between checkpoints of a partition with new records.
    #[arg(long, env = "AUDIT_CHECKPOINT_INTERVAL_MS", default_value_t = 5_000)]
    pub checkpoint_interval_ms: u64,
    /// Threads signing a batch; 0 = one per core.
    #[arg(long, env = "AUDIT_SIGN_THREADS", default_value_t = 0)]
    pub sign_threads: usize,
    /// Create missing topics at start (needs the right to create topics).
    #[arg(long, env = "AUDIT_CREATE_TOPICS", default_value_t = true, action = ArgAction::Set)]
    pub create_topics: bool,
}

/// When a partition's heads are checkpointed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointPolicy {
    /// After this many signed records.
    pub records: u64,
    /// Or after this long with at least one.
    pub interval: Duration,
}

/// Validated signer settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Kafka settings.
    pub kafka: KafkaConfig,
    /// Input, output and DLQ topics.
    pub topics: Topics,
    /// Checkpoint topic.
    pub checkpoint_topic: String,
    /// Consumer group.
    pub group_id: String,
    /// Ops server address.
    pub ops_listen: SocketAddr,
    /// Key directory.
    pub key_dir: PathBuf,
    /// Create the key ring when missing.
    pub create_key: bool,
    /// Dedupe window per partition.
    pub dedupe_window: usize,
    /// Checkpoint cadence.
    pub checkpoints: CheckpointPolicy,
    /// Signing threads.
    pub sign_threads: usize,
    /// Create missing topics at start.
    pub create_topics: bool,
}

impl SignerArgs {
    /// Checks every value once.
    pub fn validate(&self) -> Result<Config, SignerError> {
        let invalid = |name, reason: &str| SignerError::Config { name, reason: reason.into() };
        let topics = [&self.input_topic, &self.output_topic, &self.checkpoint_topic, &self.dlq_topic];
        if topics.iter().any(|topic| topic.is_empty())
            || topics.iter().enumerate().any(|(index, topic)| topics[..index].contains(topic))
        {
            return Err(invalid("output-topic", "topics must be non-empty and distinct"));
        }
        if self.checkpoint_records == 0 || self.checkpoint_interval_ms == 0 {
            return Err(invalid("checkpoint-records", "checkpoint cadence must be positive"));
        }
        let threads = match self.sign_threads {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            threads @ 1..=256 => threads,
            _ => return Err(invalid("sign-threads", "expected 0 to 256")),
        };
        Ok(Config {
            kafka: self.kafka.validate()?,
            topics: Topics {
                input: self.input_topic.clone(),
                output: self.output_topic.clone(),
                dlq: self.dlq_topic.clone(),
            },
            checkpoint_topic: self.checkpoint_topic.clone(),
            group_id: self.group_id.clone(),
            ops_listen: self.ops_listen,
            key_dir: self.key_dir.clone(),
            create_key: self.create_key,
            dedupe_window: self.dedupe_window,
            checkpoints: CheckpointPolicy {
                records: self.checkpoint_records,
                interval: Duration::from_millis(self.checkpoint_interval_ms),
            },
            sign_threads: threads,
            create_topics: self.create_topics,
        })
    }
}

impl Config {
    /// The defaults against the broker at `bootstrap` with keys in `key_dir` (what
    /// `auditctl up` runs).
    pub fn defaults_for(bootstrap: &str, key_dir: &std::path::Path) -> Config {
        let key_dir = key_dir.to_string_lossy();
        let args = SignerArgs::parse_from([
            "signer",
            "--kafka",
            bootstrap,
            "--key-dir",
            &key_dir,
            "--create-key",
            "true",
        ]);
        args.validate().expect("default settings are valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_name_their_flag() {
        let config = Config::defaults_for("127.0.0.1:9092", std::path::Path::new("/tmp/keys"));
        assert_eq!(config.topics.output, "audit.signed");
        assert!(config.sign_threads >= 1);
        let args = SignerArgs::parse_from(["signer", "--checkpoint-topic", "audit.signed"]);
        assert!(matches!(args.validate(), Err(SignerError::Config { name: "output-topic", .. })));
        let args = SignerArgs::parse_from(["signer", "--sign-threads", "1000"]);
        assert!(matches!(args.validate(), Err(SignerError::Config { name: "sign-threads", .. })));
    }
}
