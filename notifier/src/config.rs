//! The notifier's flags and env variables (`--flag` ↔ `AUDIT_FLAG`), validated once.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use audit_auth::{AuthArgs, AuthConfig};
use audit_runtime::stage::{StageArgs, StageConfig, StageDefaults, TopicKinds};
use audit_runtime::topics::TopicKind;
use audit_service::database::DatabaseLocation;
use audit_service::telemetry::LogArgs;
use clap::{ArgAction, Parser};

use crate::NotifierError;
use crate::target::Targets;

/// The notifier's defaults for the flags every consumer shares.
/// What this service's topics hold.
const KINDS: TopicKinds = TopicKinds { input: TopicKind::Trail, output: TopicKind::Trail };

const DEFAULTS: StageDefaults = StageDefaults {
    input_topic: "audit.signed",
    output_topic: None,
    group_id: "audit-notifier",
    ops_listen: "127.0.0.1:9105",
};

/// Command line of the notifier.
#[derive(Debug, Clone, Parser)]
#[command(name = "notifier", version, about = "Pushes chosen audit records to webhooks", mut_args(DEFAULTS.apply()))]
pub struct NotifierArgs {
    /// Kafka, topics, group, ops server.
    #[command(flatten)]
    pub stage: StageArgs,
    /// Log settings.
    #[command(flatten)]
    pub log: LogArgs,
    /// Bearer token checks of the management API.
    #[command(flatten)]
    pub auth: AuthArgs,
    /// Address of the management API.
    #[arg(long, env = "AUDIT_NOTIFIER_LISTEN", default_value = "127.0.0.1:8082")]
    pub listen: SocketAddr,
    /// Webhooks and deliveries: `sqlite:PATH` (created if missing, one notifier) or a
    /// `postgres://` URL shared by several replicas.
    #[arg(
        long,
        env = "AUDIT_NOTIFIER_DATABASE",
        default_value = "sqlite:data/notifier/notifier.db",
        hide_env_values = true
    )]
    pub database: String,
    /// Key file sealing webhooks' API keys and signing secrets (64 hex digits).
    #[arg(long, env = "AUDIT_NOTIFIER_MASTER_KEY_FILE", default_value = "data/notifier/master.key")]
    pub master_key_file: PathBuf,
    /// Create the master key file when it is missing.
    #[arg(long, env = "AUDIT_CREATE_MASTER_KEY", default_value_t = false, action = ArgAction::Set)]
    pub create_master_key: bool,
    /// Allow targets on loopback, private and link-local addresses (local stacks, tests).
    #[arg(long, env = "AUDIT_ALLOW_PRIVATE_TARGETS", default_value_t = false, action = ArgAction::Set)]
    pub allow_private_targets: bool,
    /// PEM file of a CA trusted for https targets, beside the system's roots.
    #[arg(long, env = "AUDIT_WEBHOOK_CA_FILE")]
    pub webhook_ca_file: Option<PathBuf>,
    /// Topic that receives an audit event for every change to a webhook.
    #[arg(long, env = "AUDIT_RAW_TOPIC", default_value = "audit.raw")]
    pub audit_topic: String,
    /// Longest time a delivery is retried, in seconds, before it goes to the dead letters.
    #[arg(long, env = "AUDIT_RETRY_HORIZON_SECS", default_value_t = 86_400)]
    pub retry_horizon_secs: u64,
    /// Time a target has to answer one notification, in milliseconds.
    #[arg(long, env = "AUDIT_DELIVERY_TIMEOUT_MS", default_value_t = 10_000)]
    pub delivery_timeout_ms: u64,
    /// Notifications in flight to one webhook at most.
    #[arg(long, env = "AUDIT_TARGET_CONCURRENCY", default_value_t = 4)]
    pub target_concurrency: usize,
}

/// How deliveries are made.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// Retry horizon.
    pub retry_horizon: Duration,
    /// Per-attempt timeout.
    pub timeout: Duration,
    /// In flight per webhook.
    pub target_concurrency: usize,
    /// Private CA.
    pub ca_file: Option<PathBuf>,
}

/// Validated notifier settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Kafka, topics (no output), group, ops server.
    pub stage: StageConfig,
    /// Bearer token checks.
    pub auth: AuthConfig,
    /// Management API address.
    pub listen: SocketAddr,
    /// Where webhooks and deliveries are kept.
    pub database: DatabaseLocation,
    /// Master key file.
    pub master_key_file: PathBuf,
    /// Create the master key file when missing.
    pub create_master_key: bool,
    /// Which target addresses are allowed.
    pub targets: Targets,
    /// Topic of webhook change events.
    pub audit_topic: String,
    /// How deliveries are made.
    pub delivery: DeliveryConfig,
}

impl NotifierArgs {
    /// Checks every value once.
    pub fn validate(&self) -> Result<Config, NotifierError> {
        let invalid = |name, reason: &str| NotifierError::Config { name, reason: reason.into() };
        if !(60..=30 * 86_400).contains(&self.retry_horizon_secs) {
            return Err(invalid("retry-horizon-secs", "expected 60 to 2592000"));
        }
        if !(100..=120_000).contains(&self.delivery_timeout_ms) {
            return Err(invalid("delivery-timeout-ms", "expected 100 to 120000"));
        }
        if !(1..=64).contains(&self.target_concurrency) {
            return Err(invalid("target-concurrency", "expected 1 to 64"));
        }
        let auth = self.auth.validate().map_err(|error| invalid("auth", &error.to_string()))?;
        Ok(Config {
            stage: self.stage.validate(None, KINDS)?,
            auth,
            listen: self.listen,
            database: DatabaseLocation::parse(&self.database)
                .map_err(|reason| invalid("database", &reason))?,
            master_key_file: self.master_key_file.clone(),
            create_master_key: self.create_master_key,
            targets: if self.allow_private_targets { Targets::AllowPrivate } else { Targets::PublicOnly },
            audit_topic: self.audit_topic.clone(),
            delivery: DeliveryConfig {
                retry_horizon: Duration::from_secs(self.retry_horizon_secs),
                timeout: Duration::from_millis(self.delivery_timeout_ms),
                target_concurrency: self.target_concurrency,
                ca_file: self.webhook_ca_file.clone(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_name_their_flag() {
        let config = NotifierArgs::parse_from(["notifier"]).validate().unwrap();
        assert_eq!(config.stage.topics.input, "audit.signed");
        assert_eq!(config.stage.topics.output, None);
        assert_eq!(config.listen.port(), 8082);
        assert_eq!(config.targets, Targets::PublicOnly, "private targets are refused unless allowed");
        let args = NotifierArgs::parse_from(["notifier", "--target-concurrency", "0"]);
        assert!(matches!(args.validate(), Err(NotifierError::Config { name: "target-concurrency", .. })));
    }
}
