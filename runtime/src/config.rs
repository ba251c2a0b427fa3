//! Flags and env variables shared by every service, validated once.
//!
//! Each flag `--some-name` has the env variable `AUDIT_SOME_NAME`. Raw values are
//! parsed by clap, then [`KafkaArgs::validate`] turns them into a [`KafkaConfig`] of
//! checked values, so nothing downstream re-parses a string.

use std::time::Duration;

use clap::Args;

use crate::{RuntimeError, topics::TopicPolicy};

/// Kafka connection and batching flags of a pipeline stage.
#[derive(Debug, Clone, Args)]
pub struct KafkaArgs {
    /// Bootstrap servers, HOST:PORT[,HOST:PORT...].
    #[arg(long = "kafka", env = "AUDIT_KAFKA", default_value = "127.0.0.1:9092")]
    pub kafka: String,
    /// Partitions of each topic this service creates when it is missing.
    #[arg(long, env = "AUDIT_PARTITIONS", default_value_t = 4)]
    pub partitions: i32,
    /// Replication factor of created topics (1 on a single broker).
    #[arg(long, env = "AUDIT_REPLICATION_FACTOR", default_value_t = 1)]
    pub replication_factor: i32,
    /// Most records handled in one batch.
    #[arg(long, env = "AUDIT_BATCH_MAX_RECORDS", default_value_t = 2000)]
    pub batch_max_records: usize,
    /// Longest wait, in milliseconds, for a batch to fill once its first record came.
    #[arg(long, env = "AUDIT_BATCH_MAX_WAIT_MS", default_value_t = 20)]
    pub batch_max_wait_ms: u64,
    /// Consumer group session timeout in milliseconds: how soon a crashed member's
    /// partitions move to another member.
    #[arg(long, env = "AUDIT_SESSION_TIMEOUT_MS", default_value_t = 10_000)]
    pub session_timeout_ms: u64,
    /// Milliseconds to wait after start before joining the consumer group. Neither the
    /// embedded broker nor Apache Kafka needs one: a predecessor that died without
    /// leaving is expired after its session timeout and its partitions handed over.
    #[arg(long, env = "AUDIT_JOIN_DELAY_MS", default_value_t = 0)]
    pub join_delay_ms: u64,
    /// Milliseconds without movement of the group's committed offsets, while records
    /// wait, after which the service reports itself stalled and starts its consumer over.
    #[arg(long, env = "AUDIT_STALL_TIMEOUT_MS", default_value_t = 30_000)]
    pub stall_timeout_ms: u64,
    /// Hours the trail (`audit.signed`, the signer's checkpoints) keeps records; 0 keeps
    /// them forever. A trail topic that keeps them less stops the service at start.
    #[arg(long, env = "AUDIT_TRAIL_RETENTION_HOURS", default_value_t = 0)]
    pub trail_retention_hours: u64,
    /// Hours the topics with clear personal data (`audit.raw`, `audit.normalized`,
    /// `audit.dlq`) keep records: how far back a stage can reprocess.
    #[arg(long, env = "AUDIT_PERSONAL_DATA_RETENTION_HOURS", default_value_t = 168)]
    pub personal_data_retention_hours: u64,
    /// Hours `audit.tokenized` keeps records.
    #[arg(long, env = "AUDIT_TOKENIZED_RETENTION_HOURS", default_value_t = 168)]
    pub tokenized_retention_hours: u64,
    /// `min.insync.replicas` of created topics; by default one less than the
    /// replication factor, at least 1.
    #[arg(long, env = "AUDIT_MIN_INSYNC_REPLICAS")]
    pub min_insync_replicas: Option<i32>,
    /// Extra librdkafka properties, KEY=VALUE, repeatable (e.g. security.protocol=SSL).
    #[arg(
        long = "kafka-property",
        env = "AUDIT_KAFKA_PROPERTY",
        value_delimiter = ';',
        hide_env_values = true
    )]
    pub kafka_properties: Vec<String>,
}

/// Validated Kafka settings. `Debug` shows the extra properties' names only: their
/// values may be passwords (`sasl.password`, `ssl.key.password`).
#[derive(Clone)]
pub struct KafkaConfig {
    /// Bootstrap servers.
    pub bootstrap: String,
    /// Partitions of created topics.
    pub partitions: i32,
    /// Replication factor of created topics.
    pub replication_factor: i32,
    /// Batch size limit.
    pub batch_max_records: usize,
    /// Batch fill time limit.
    pub batch_max_wait: Duration,
    /// Group session timeout.
    pub session_timeout: Duration,
    /// Wait before joining the group.
    pub join_delay: Duration,
    /// No progress for this long while records wait is a stall.
    pub stall_timeout: Duration,
    /// Retention and durability of the topics this service creates or checks.
    pub topic_policy: TopicPolicy,
    /// Extra client properties.
    pub properties: Vec<(String, String)>,
}

impl std::fmt::Debug for KafkaConfig {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let properties: Vec<&str> = self.properties.iter().map(|(name, _)| name.as_str()).collect();
        formatter
            .debug_struct("KafkaConfig")
            .field("bootstrap", &self.bootstrap)
            .field("partitions", &self.partitions)
            .field("replication_factor", &self.replication_factor)
            .field("batch_max_records", &self.batch_max_records)
            .field("batch_max_wait", &self.batch_max_wait)
            .field("session_timeout", &self.session_timeout)
            .field("join_delay", &self.join_delay)
            .field("stall_timeout", &self.stall_timeout)
            .field("topic_policy", &self.topic_policy)
            .field("properties", &properties)
            .finish()
    }
}

impl KafkaArgs {
    /// Checks every value once.
    pub fn validate(&self) -> Result<KafkaConfig, RuntimeError> {
        let invalid = |name, reason: &str| RuntimeError::InvalidSetting { name, reason: reason.into() };
        if self.kafka.split(',').any(|server| !server.contains(':')) {
            return Err(invalid("kafka", "expected HOST:PORT[,HOST:PORT...]"));
        }
        if !(1..=10_000).contains(&self.partitions) {
            return Err(invalid("partitions", "expected 1 to 10000"));
        }
        if !(1..=100).contains(&self.replication_factor) {
            return Err(invalid("replication-factor", "expected 1 to 100"));
        }
        if !(1..=100_000).contains(&self.batch_max_records) {
            return Err(invalid("batch-max-records", "expected 1 to 100000"));
        }
        if !(1_000..=300_000).contains(&self.session_timeout_ms) {
            return Err(invalid("session-timeout-ms", "expected 1000 to 300000"));
        }
        if !(1_000..=3_600_000).contains(&self.stall_timeout_ms) {
            return Err(invalid("stall-timeout-ms", "expected 1000 to 3600000"));
        }
        let min_insync_replicas = self.min_insync_replicas.unwrap_or((self.replication_factor - 1).max(1));
        if !(1..=self.replication_factor).contains(&min_insync_replicas) {
            return Err(invalid("min-insync-replicas", "expected 1 to the replication factor"));
        }
        let hours = |hours: u64| Duration::from_secs(hours.saturating_mul(3_600));
        if self.personal_data_retention_hours == 0 || self.tokenized_retention_hours == 0 {
            let reason = "expected at least 1 hour";
            let name = if self.personal_data_retention_hours == 0 {
                "personal-data-retention-hours"
            } else {
                "tokenized-retention-hours"
            };
            return Err(invalid(name, reason));
        }
        let topic_policy = TopicPolicy {
            trail_retention: (self.trail_retention_hours > 0).then(|| hours(self.trail_retention_hours)),
            personal_data_retention: hours(self.personal_data_retention_hours),
            tokenized_retention: hours(self.tokenized_retention_hours),
            min_insync_replicas,
        };
        let properties = self
            .kafka_properties
            .iter()
            .map(|pair| {
                let (key, value) =
                    pair.split_once('=').ok_or_else(|| invalid("kafka-property", "expected KEY=VALUE"))?;
                Ok((key.trim().to_owned(), value.trim().to_owned()))
            })
            .collect::<Result<_, RuntimeError>>()?;
        Ok(KafkaConfig {
            bootstrap: self.kafka.clone(),
            partitions: self.partitions,
            replication_factor: self.replication_factor,
            batch_max_records: self.batch_max_records,
            batch_max_wait: Duration::from_millis(self.batch_max_wait_ms),
            session_timeout: Duration::from_millis(self.session_timeout_ms),
            join_delay: Duration::from_millis(self.join_delay_ms),
            stall_timeout: Duration::from_millis(self.stall_timeout_ms),
            topic_policy,
            properties,
        })
    }
}

impl KafkaConfig {
    /// Defaults for a broker at `bootstrap`, exactly as the flags give them (whatever
    /// the environment holds), so the defaults are written in one place.
    pub fn for_bootstrap(bootstrap: &str) -> Result<KafkaConfig, RuntimeError> {
        #[derive(clap::Parser)]
        struct Defaults {
            #[command(flatten)]
            kafka: KafkaArgs,
        }
        let defaults =
            audit_service::explicit::parse_explicit::<Defaults, _, _>(["defaults", "--kafka", bootstrap])
                .map_err(|error| RuntimeError::InvalidSetting { name: "kafka", reason: error.to_string() })?;
        defaults.kafka.validate()
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        kafka: KafkaArgs,
    }

    fn parse(args: &[&str]) -> Result<KafkaConfig, RuntimeError> {
        let mut argv = vec!["test"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).expect("flags parse").kafka.validate()
    }

    #[test]
    fn defaults_are_valid() {
        let config = parse(&[]).unwrap();
        assert_eq!(config.bootstrap, "127.0.0.1:9092");
        assert_eq!(config.partitions, 4);
        assert_eq!(config.join_delay, Duration::ZERO, "members join at once");
        assert_eq!(config.topic_policy.trail_retention, None, "the trail is kept forever");
        assert_eq!(config.topic_policy.personal_data_retention, Duration::from_secs(7 * 24 * 3_600));
        assert_eq!(config.topic_policy.min_insync_replicas, 1);
        let replicated = parse(&["--replication-factor", "3"]).unwrap();
        assert_eq!(replicated.topic_policy.min_insync_replicas, 2, "one replica may be down");
    }

    #[test]
    fn bad_values_name_their_flag() {
        for (args, flag) in [
            (&["--kafka", "localhost"][..], "kafka"),
            (&["--partitions", "0"][..], "partitions"),
            (&["--batch-max-records", "0"][..], "batch-max-records"),
            (&["--session-timeout-ms", "10"][..], "session-timeout-ms"),
            (&["--kafka-property", "novalue"][..], "kafka-property"),
            (&["--min-insync-replicas", "2"][..], "min-insync-replicas"),
            (&["--personal-data-retention-hours", "0"][..], "personal-data-retention-hours"),
        ] {
            match parse(args) {
                Err(RuntimeError::InvalidSetting { name, .. }) => assert_eq!(name, flag),
                other => panic!("{args:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn programmatic_defaults_equal_the_flag_defaults() {
        let config = KafkaConfig::for_bootstrap("127.0.0.1:9092").unwrap();
        assert_eq!(format!("{config:?}"), format!("{:?}", parse(&[]).unwrap()));
        assert!(KafkaConfig::for_bootstrap("localhost").is_err(), "no port is refused, not a panic");
    }

    #[test]
    fn kafka_properties_split_on_the_first_equals() {
        let config = parse(&["--kafka-property", "sasl.password=a=b"]).unwrap();
        assert_eq!(config.properties, vec![("sasl.password".into(), "a=b".into())]);
    }

    #[test]
    fn debug_names_the_extra_properties_but_never_shows_their_values() {
        let mut config = KafkaConfig::for_bootstrap("127.0.0.1:9092").unwrap();
        config.properties = vec![("sasl.password".into(), "hunter2".into())];
        let shown = format!("{config:?}");
        assert!(shown.contains("sasl.password") && !shown.contains("hunter2"), "{shown}");
    }
}
