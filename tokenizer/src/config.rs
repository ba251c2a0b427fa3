//! The tokenizer's flags and env variables (`--flag` ↔ `AUDIT_FLAG`), validated once.

use audit_auth::service::ServiceCredential;
use audit_runtime::stage::{OutputArgs, StageArgs, StageConfig, StageDefaults, TopicKinds};
use audit_runtime::topics::TopicKind;
use audit_schemas::PiiPolicyArgs;
use audit_service::explicit::parse_explicit;
use audit_service::telemetry::LogArgs;
use clap::Parser;

use crate::TokenizerError;
use crate::policy::Policy;

/// The tokenizer's defaults for the flags every stage shares.
/// What this service's topics hold.
const KINDS: TopicKinds = TopicKinds { input: TopicKind::PersonalData, output: TopicKind::Tokenized };

const DEFAULTS: StageDefaults = StageDefaults {
    input_topic: "audit.normalized",
    output_topic: Some("audit.tokenized"),
    group_id: "audit-tokenizer",
    ops_listen: "127.0.0.1:9102",
};

/// Command line of the tokenizer.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "tokenizer",
    version,
    about = "Replaces personal data in records by vault tokens",
    mut_args(DEFAULTS.apply())
)]
pub struct TokenizerArgs {
    /// Kafka, topics, group, ops server.
    #[command(flatten)]
    pub stage: StageArgs,
    /// Topic of tokenized records.
    #[command(flatten)]
    pub output: OutputArgs,
    /// Log settings.
    #[command(flatten)]
    pub log: LogArgs,
    /// Base URL of the vault.
    #[arg(long, env = "AUDIT_VAULT_URL", default_value = "http://127.0.0.1:8081")]
    pub vault_url: String,
    /// This service's vault credential, `name:secret`.
    #[arg(long, env = "AUDIT_VAULT_CREDENTIAL", hide_env_values = true)]
    pub vault_credential: ServiceCredential,
    /// Which fields hold personal data.
    #[command(flatten)]
    pub policy: PiiPolicyArgs,
    /// Tokens kept in memory to spare vault calls.
    #[arg(long, env = "AUDIT_TOKEN_CACHE_CAPACITY", default_value_t = 200_000)]
    pub token_cache_capacity: usize,
}

/// Validated tokenizer settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Kafka, topics, group, ops server.
    pub stage: StageConfig,
    /// Vault base URL.
    pub vault_url: String,
    /// Vault credential.
    pub vault_credential: ServiceCredential,
    /// What to tokenize.
    pub policy: Policy,
    /// Token cache size.
    pub token_cache_capacity: usize,
}

impl TokenizerArgs {
    /// Checks every value once.
    pub fn validate(&self) -> Result<Config, TokenizerError> {
        let invalid = |name, reason: &str| TokenizerError::Config { name, reason: reason.into() };
        if !(self.vault_url.starts_with("http://") || self.vault_url.starts_with("https://")) {
            return Err(invalid("vault-url", "expected an http:// or https:// url"));
        }
        let policy = Policy::from(self.policy.policy());
        Ok(Config {
            stage: self.stage.validate(Some(&self.output), KINDS)?,
            vault_url: self.vault_url.clone(),
            vault_credential: self.vault_credential.clone(),
            policy,
            token_cache_capacity: self.token_cache_capacity,
        })
    }
}

impl Config {
    /// The defaults against the broker at `bootstrap` and the vault at `vault_url`
    /// (what `auditctl up` runs).
    pub fn defaults_for(bootstrap: &str, vault_url: &str, credential: &ServiceCredential) -> Config {
        let credential = credential.expose();
        let args = parse_explicit::<TokenizerArgs, _, _>([
            "tokenizer",
            "--kafka",
            bootstrap,
            "--vault-url",
            vault_url,
            "--vault-credential",
            &credential,
        ])
        .expect("the defaults parse");
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
        assert_eq!(config.stage.topics.output.as_deref(), Some("audit.tokenized"));
    }

    #[test]
    fn bad_values_are_refused_with_their_flag() {
        let base = ["tokenizer", "--vault-credential", "tokenizer:0123456789abcdef0123"];
        let args = TokenizerArgs::parse_from(base.iter().copied().chain(["--vault-url", "ftp://vault"]));
        assert!(matches!(args.validate(), Err(TokenizerError::Config { name: "vault-url", .. })));
        let args =
            TokenizerArgs::parse_from(base.iter().copied().chain(["--output-topic", "audit.normalized"]));
        assert!(matches!(
            args.validate(),
            Err(TokenizerError::Runtime(audit_runtime::RuntimeError::InvalidSetting {
                name: "output-topic",
                ..
            }))
        ));
    }
}
