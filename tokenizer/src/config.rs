//! The tokenizer's flags and env variables (`--flag` ↔ `AUDIT_FLAG`), validated once.

use std::net::SocketAddr;

use audit_auth::service::ServiceCredential;
use audit_runtime::config::{KafkaArgs, KafkaConfig, TokenPolicyArgs};
use audit_runtime::stage::Topics;
use audit_service::telemetry::LogArgs;
use clap::{ArgAction, Parser};

use crate::TokenizerError;
use crate::policy::Policy;

/// Command line of the tokenizer.
#[derive(Debug, Clone, Parser)]
#[command(name = "tokenizer", version, about = "Replaces personal data in records by vault tokens")]
pub struct TokenizerArgs {
    /// Kafka settings.
    #[command(flatten)]
    pub kafka: KafkaArgs,
    /// Log settings.
    #[command(flatten)]
    pub log: LogArgs,
    /// Topic of normalized records.
    #[arg(long, env = "AUDIT_INPUT_TOPIC", default_value = "audit.normalized")]
    pub input_topic: String,
    /// Topic of tokenized records.
    #[arg(long, env = "AUDIT_OUTPUT_TOPIC", default_value = "audit.tokenized")]
    pub output_topic: String,
    /// Dead-letter topic.
    #[arg(long, env = "AUDIT_DLQ_TOPIC", default_value = "audit.dlq")]
    pub dlq_topic: String,
    /// Consumer group shared by all tokenizer instances.
    #[arg(long, env = "AUDIT_GROUP_ID", default_value = "audit-tokenizer")]
    pub group_id: String,
    /// Address of the `/metrics` and `/healthz` server.
    #[arg(long, env = "AUDIT_OPS_LISTEN", default_value = "127.0.0.1:9102")]
    pub ops_listen: SocketAddr,
    /// Base URL of the vault.
    #[arg(long, env = "AUDIT_VAULT_URL", default_value = "http://127.0.0.1:8081")]
    pub vault_url: String,
    /// This service's vault credential, `name:secret`.
    #[arg(long, env = "AUDIT_VAULT_CREDENTIAL")]
    pub vault_credential: ServiceCredential,
    /// Which fields hold personal data.
    #[command(flatten)]
    pub policy: TokenPolicyArgs,
    /// Tokens kept in memory to spare vault calls.
    #[arg(long, env = "AUDIT_TOKEN_CACHE_CAPACITY", default_value_t = 200_000)]
    pub token_cache_capacity: usize,
    /// Create missing topics at start (needs the right to create topics).
    #[arg(long, env = "AUDIT_CREATE_TOPICS", default_value_t = true, action = ArgAction::Set)]
    pub create_topics: bool,
}

/// Validated tokenizer settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Kafka settings.
    pub kafka: KafkaConfig,
    /// Topics.
    pub topics: Topics,
    /// Consumer group.
    pub group_id: String,
    /// Ops server address.
    pub ops_listen: SocketAddr,
    /// Vault base URL.
    pub vault_url: String,
    /// Vault credential.
    pub vault_credential: ServiceCredential,
    /// What to tokenize.
    pub policy: Policy,
    /// Token cache size.
    pub token_cache_capacity: usize,
    /// Create missing topics at start.
    pub create_topics: bool,
}

impl TokenizerArgs {
    /// Checks every value once.
    pub fn validate(&self) -> Result<Config, TokenizerError> {
        let invalid = |name, reason: &str| TokenizerError::Config { name, reason: reason.into() };
        if self.input_topic.is_empty()
            || self.output_topic.is_empty()
            || self.input_topic == self.output_topic
        {
            return Err(invalid("output-topic", "topics must be non-empty and input differ from output"));
        }
        if !(self.vault_url.starts_with("http://") || self.vault_url.starts_with("https://")) {
            return Err(invalid("vault-url", "expected an http:// or https:// url"));
        }
        let (whole_codes, scanned_codes) = self.policy.codes();
        let policy = Policy {
            user_ids: self.policy.tokenize_user_ids,
            host: self.policy.tokenize_host,
            message: self.policy.tokenize_message,
            whole_codes,
            scanned_codes,
        };
        Ok(Config {
            kafka: self.kafka.validate()?,
            topics: Topics {
                input: self.input_topic.clone(),
                output: self.output_topic.clone(),
                dlq: self.dlq_topic.clone(),
            },
            group_id: self.group_id.clone(),
            ops_listen: self.ops_listen,
            vault_url: self.vault_url.clone(),
            vault_credential: self.vault_credential.clone(),
            policy,
            token_cache_capacity: self.token_cache_capacity,
            create_topics: self.create_topics,
        })
    }
}

impl Config {
    /// The defaults against the broker at `bootstrap` and the vault at `vault_url`
    /// (what `auditctl up` runs).
    pub fn defaults_for(bootstrap: &str, vault_url: &str, credential: &ServiceCredential) -> Config {
        let credential = credential.expose();
        let args = TokenizerArgs::parse_from([
            "tokenizer",
            "--kafka",
            bootstrap,
            "--vault-url",
            vault_url,
            "--vault-credential",
            &credential,
        ]);
        args.validate().expect("default settings are valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_spec_policy() {
        let config = Config::defaults_for(
            "127.0.0.1:9092",
            "http://127.0.0.1:8081",
            &ServiceCredential::generate("tokenizer"),
        );
        assert_eq!(config.policy, Policy::default());
        assert_eq!(config.topics.output, "audit.tokenized");
    }

    #[test]
    fn bad_values_are_refused_with_their_flag() {
        let base = ["tokenizer", "--vault-credential", "tokenizer:0123456789abcdef0123"];
        let args = TokenizerArgs::parse_from(base.iter().copied().chain(["--vault-url", "ftp://vault"]));
        assert!(matches!(args.validate(), Err(TokenizerError::Config { name: "vault-url", .. })));
        let args =
            TokenizerArgs::parse_from(base.iter().copied().chain(["--output-topic", "audit.normalized"]));
        assert!(matches!(args.validate(), Err(TokenizerError::Config { name: "output-topic", .. })));
    }
}
