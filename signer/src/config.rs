//! The signer's flags and env variables (`--flag` ↔ `AUDIT_FLAG`), validated once.

use audit_service::explicit::parse_explicit;
use std::path::PathBuf;
use std::time::Duration;

use audit_runtime::stage::{OutputArgs, StageArgs, StageConfig, StageDefaults, TopicKinds};
use audit_runtime::topics::TopicKind;
use audit_service::telemetry::LogArgs;
use clap::{ArgAction, Parser};

use crate::SignerError;
use crate::treehead::TreeHeadPolicy;

/// The signer's defaults for the flags every stage shares.
/// What this service's topics hold.
const KINDS: TopicKinds = TopicKinds { input: TopicKind::Tokenized, output: TopicKind::Trail };

const DEFAULTS: StageDefaults = StageDefaults {
    input_topic: "audit.tokenized",
    output_topic: Some("audit.signed"),
    group_id: "audit-signer",
    ops_listen: "127.0.0.1:9103",
};

/// Command line of the signer.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "signer",
    version,
    about = "Signs and chains every record per tenant",
    mut_args(DEFAULTS.apply())
)]
pub struct SignerArgs {
    /// Kafka, topics, group, ops server.
    #[command(flatten)]
    pub stage: StageArgs,
    /// Topic of signed records, the public tap; same partition count as the input.
    #[command(flatten)]
    pub output: OutputArgs,
    /// Log settings.
    #[command(flatten)]
    pub log: LogArgs,
    /// Topic of chain checkpoints; same partition count as the input. Keep it at
    /// least as long as the signed topic.
    #[arg(long, env = "AUDIT_CHECKPOINT_TOPIC", default_value = "audit.signer-checkpoints")]
    pub checkpoint_topic: String,
    /// Key directory: key ring, active private key, `jwks.json`.
    #[arg(long, env = "AUDIT_KEY_DIR", default_value = "data/keys/signing")]
    pub key_dir: PathBuf,
    /// Create the key directory with a first key when it has none.
    #[arg(long, env = "AUDIT_CREATE_KEY", default_value_t = false, action = ArgAction::Set)]
    pub create_key: bool,
    /// Also write the JWK Set to this file, at start and after each rotation: where
    /// verifiers (the query-api) read it, so they never mount the private keys.
    #[arg(long, env = "AUDIT_PUBLISH_JWKS_FILE")]
    pub publish_jwks_file: Option<PathBuf>,
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
    /// Topic of the tenants' signed checkpoints (C2SP); same partition count as the
    /// input, kept forever.
    #[arg(long, env = "AUDIT_TREE_CHECKPOINT_TOPIC", default_value = "audit.checkpoints")]
    pub tree_checkpoint_topic: String,
    /// A tenant's tree is checkpointed once it grew by this many records...
    #[arg(long, env = "AUDIT_TREE_CHECKPOINT_RECORDS", default_value_t = 1_000)]
    pub tree_checkpoint_records: u64,
    /// ...or once its oldest unchecked growth is this old, in milliseconds.
    #[arg(long, env = "AUDIT_TREE_CHECKPOINT_INTERVAL_MS", default_value_t = 10_000)]
    pub tree_checkpoint_interval_ms: u64,
    /// Name of this trail: each tenant's log is `<trail name>/<tenant>`, the origin and
    /// key name of its checkpoints. A schema-less URL you own, stable for the trail's life.
    #[arg(long, env = "AUDIT_TRAIL_NAME", default_value = audit_integrity::note::DEFAULT_TRAIL_NAME)]
    pub trail_name: String,
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
    /// Kafka, topics, group, ops server.
    pub stage: StageConfig,
    /// Checkpoint topic.
    pub checkpoint_topic: String,
    /// Key directory.
    pub key_dir: PathBuf,
    /// Create the key ring when missing.
    pub create_key: bool,
    /// Where the JWK Set is published besides the key directory.
    pub publish_jwks_file: Option<PathBuf>,
    /// Dedupe window per partition.
    pub dedupe_window: usize,
    /// Checkpoint cadence.
    pub checkpoints: CheckpointPolicy,
    /// Signing threads.
    pub sign_threads: usize,
    /// Topic of the tenants' signed checkpoints.
    pub tree_checkpoint_topic: String,
    /// When tenants' trees are checkpointed, and their origins.
    pub tree_heads: TreeHeadPolicy,
}

impl SignerArgs {
    /// Checks every value once.
    pub fn validate(&self) -> Result<Config, SignerError> {
        let invalid = |name, reason: &str| SignerError::Config { name, reason: reason.into() };
        let stage = self.stage.validate(Some(&self.output), KINDS)?;
        let topics = &stage.topics;
        let others = [Some(&topics.input), topics.output.as_ref(), Some(&topics.dlq)];
        if self.checkpoint_topic.is_empty() || others.contains(&Some(&self.checkpoint_topic)) {
            return Err(invalid("checkpoint-topic", "topics must be non-empty and distinct"));
        }
        if self.checkpoint_records == 0 || self.checkpoint_interval_ms == 0 {
            return Err(invalid("checkpoint-records", "checkpoint cadence must be positive"));
        }
        let tree_topic = &self.tree_checkpoint_topic;
        if tree_topic.is_empty() || others.contains(&Some(tree_topic)) || *tree_topic == self.checkpoint_topic
        {
            return Err(invalid("tree-checkpoint-topic", "topics must be non-empty and distinct"));
        }
        if self.tree_checkpoint_records == 0 || self.tree_checkpoint_interval_ms == 0 {
            return Err(invalid("tree-checkpoint-records", "checkpoint cadence must be positive"));
        }
        audit_integrity::note::check_trail_name(&self.trail_name)
            .map_err(|reason| invalid("trail-name", reason))?;
        let threads = match self.sign_threads {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            threads @ 1..=256 => threads,
            _ => return Err(invalid("sign-threads", "expected 0 to 256")),
        };
        Ok(Config {
            stage,
            checkpoint_topic: self.checkpoint_topic.clone(),
            key_dir: self.key_dir.clone(),
            create_key: self.create_key,
            publish_jwks_file: self.publish_jwks_file.clone(),
            dedupe_window: self.dedupe_window,
            checkpoints: CheckpointPolicy {
                records: self.checkpoint_records,
                interval: Duration::from_millis(self.checkpoint_interval_ms),
            },
            sign_threads: threads,
            tree_checkpoint_topic: self.tree_checkpoint_topic.clone(),
            tree_heads: TreeHeadPolicy {
                records: self.tree_checkpoint_records,
                interval: Duration::from_millis(self.tree_checkpoint_interval_ms),
                trail_name: self.trail_name.clone(),
            },
        })
    }
}

impl Config {
    /// The defaults against the broker at `bootstrap` with keys in `key_dir` (what
    /// `auditctl up` runs).
    pub fn defaults_for(bootstrap: &str, key_dir: &std::path::Path) -> Config {
        let key_dir = key_dir.to_string_lossy();
        let args = parse_explicit::<SignerArgs, _, _>([
            "signer",
            "--kafka",
            bootstrap,
            "--key-dir",
            &key_dir,
            "--create-key",
            "true",
        ])
        .expect("the defaults parse");
        args.validate().expect("default settings are valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_name_their_flag() {
        let config = Config::defaults_for("127.0.0.1:9092", std::path::Path::new("/tmp/keys"));
        assert_eq!(config.stage.topics.output.as_deref(), Some("audit.signed"));
        assert!(config.sign_threads >= 1);
        let args = SignerArgs::parse_from(["signer", "--checkpoint-topic", "audit.signed"]);
        assert!(matches!(args.validate(), Err(SignerError::Config { name: "checkpoint-topic", .. })));
        let args = SignerArgs::parse_from(["signer", "--tree-checkpoint-topic", "audit.signer-checkpoints"]);
        assert!(matches!(args.validate(), Err(SignerError::Config { name: "tree-checkpoint-topic", .. })));
        let args = SignerArgs::parse_from(["signer", "--trail-name", "audit example"]);
        assert!(matches!(args.validate(), Err(SignerError::Config { name: "trail-name", .. })));
        assert_eq!(config.tree_heads.trail_name, "audit-trail.local");
        let args = SignerArgs::parse_from(["signer", "--sign-threads", "1000"]);
        assert!(matches!(args.validate(), Err(SignerError::Config { name: "sign-threads", .. })));
    }
}
