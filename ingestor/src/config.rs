//! The ingestor's flags and env variables (`--flag` ↔ `AUDIT_FLAG`), validated once.

use audit_runtime::RuntimeError;
use audit_runtime::stage::{OutputArgs, StageArgs, StageConfig, StageDefaults, TopicKinds};
use audit_runtime::topics::TopicKind;
use audit_service::explicit::parse_explicit;
use audit_service::telemetry::LogArgs;
use clap::Parser;

use crate::limits::Limits;

/// The ingestor's defaults for the flags every stage shares.
/// What this service's topics hold.
const KINDS: TopicKinds = TopicKinds { input: TopicKind::PersonalData, output: TopicKind::PersonalData };

const DEFAULTS: StageDefaults = StageDefaults {
    input_topic: "audit.raw",
    output_topic: Some("audit.normalized"),
    group_id: "audit-ingestor",
    ops_listen: "127.0.0.1:9101",
};

/// Command line of the ingestor.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "ingestor",
    version,
    about = "Validates and normalizes raw audit events",
    mut_args(DEFAULTS.apply())
)]
pub struct IngestorArgs {
    /// Kafka, topics, group, ops server.
    #[command(flatten)]
    pub stage: StageArgs,
    /// Topic of normalized Avro records.
    #[command(flatten)]
    pub output: OutputArgs,
    /// Log settings.
    #[command(flatten)]
    pub log: LogArgs,
    /// Largest raw message accepted, in bytes (at most 524288: the signed record of a
    /// larger event could outgrow Kafka's default 1 MB message limit downstream).
    #[arg(long, env = "AUDIT_MAX_MESSAGE_BYTES", default_value_t = 65_536)]
    pub max_message_bytes: usize,
    /// How far in the future `created` may lie, in seconds (producers' clock skew).
    #[arg(long, env = "AUDIT_MAX_FUTURE_SKEW_SECS", default_value_t = 3600)]
    pub max_future_skew_secs: i64,
    /// How many recent record ids are remembered to drop eventId duplicates.
    #[arg(long, env = "AUDIT_DEDUPE_WINDOW", default_value_t = 200_000)]
    pub dedupe_window: usize,
}

/// Validated ingestor settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Kafka, topics, group, ops server.
    pub stage: StageConfig,
    /// Input bounds.
    pub limits: Limits,
    /// Dedupe window size.
    pub dedupe_window: usize,
}

use audit_schemas::limits::MIN_MESSAGE_BYTES;

/// The largest `--max-message-bytes`.
const MAX_MESSAGE_BYTES_LIMIT: usize = 512 * 1_024;

impl IngestorArgs {
    /// Checks every value once.
    pub fn validate(&self) -> Result<Config, RuntimeError> {
        let invalid = |name, reason: &str| RuntimeError::InvalidSetting { name, reason: reason.into() };
        // A record grows on its way: each address found inside `message` or `ARP`
        // becomes a 36-character token (at most ~55 KB more, with `message` and `ARP`
        // full of the shortest addresses), and the JWS is base64 (4/3). At 512 KiB in,
        // the signed record stays under 800 KB, below the 1,000,000 bytes Kafka and
        // librdkafka accept by default: an event accepted here can always be forwarded
        // by every stage (e2e/tests/limits.rs sends the largest).
        // Below 64 KiB, an event of the trail's own could be refused (see
        // `audit_schemas::trail`): the trail would lose a record of an access.
        if !(MIN_MESSAGE_BYTES..=MAX_MESSAGE_BYTES_LIMIT).contains(&self.max_message_bytes) {
            return Err(invalid("max-message-bytes", "expected 65536 to 524288"));
        }
        if !(0..=7 * 86_400).contains(&self.max_future_skew_secs) {
            return Err(invalid("max-future-skew-secs", "expected 0 to 604800"));
        }
        Ok(Config {
            stage: self.stage.validate(Some(&self.output), KINDS)?,
            limits: Limits {
                max_message_bytes: self.max_message_bytes,
                min_created_ms: Limits::earliest_plausible_ms(),
                max_future_skew_ms: self.max_future_skew_secs * 1000,
            },
            dedupe_window: self.dedupe_window,
        })
    }
}

impl Config {
    /// The defaults, against the broker at `bootstrap` (what `auditctl up` runs).
    pub fn defaults_for(bootstrap: &str) -> Config {
        let args = parse_explicit::<IngestorArgs, _, _>(["ingestor", "--kafka", bootstrap])
            .expect("the defaults parse");
        args.validate().expect("default settings are valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate() {
        let config = Config::defaults_for("127.0.0.1:9092");
        assert_eq!(config.stage.topics.input, "audit.raw");
        assert_eq!(config.stage.topics.output.as_deref(), Some("audit.normalized"));
        assert_eq!(config.stage.ops_listen.port(), 9101);
        assert!(config.stage.create_topics);
    }

    #[test]
    fn bad_values_are_refused_with_their_flag() {
        for size in ["10", "65535", "524289"] {
            let args = IngestorArgs::parse_from(["ingestor", "--max-message-bytes", size]);
            assert!(matches!(
                args.validate(),
                Err(RuntimeError::InvalidSetting { name: "max-message-bytes", .. })
            ));
        }
        assert!(IngestorArgs::parse_from(["ingestor", "--max-message-bytes", "524288"]).validate().is_ok());
        let args = IngestorArgs::parse_from(["ingestor", "--output-topic", "audit.raw"]);
        assert!(matches!(args.validate(), Err(RuntimeError::InvalidSetting { name: "output-topic", .. })));
    }
}
