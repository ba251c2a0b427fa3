//! The query-api's flags and env variables (`--flag` ↔ `AUDIT_FLAG`), validated once.
//!
//! The token policy flags have the tokenizer's names and env variables, so one setting
//! serves both: the query-api must know which attributes hold tokens to search them
//! by clear value.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use audit_auth::service::ServiceCredential;
use audit_auth::{AuthArgs, AuthConfig};
use audit_runtime::config::{KafkaArgs, KafkaConfig};
use audit_schemas::PiiPolicyArgs;
use audit_service::telemetry::LogArgs;
use clap::Parser;

use crate::QueryError;
use crate::catalogue::Catalogue;

/// Command line of the query-api.
#[derive(Debug, Clone, Parser)]
#[command(name = "query-api", version, about = "SCIM search over the audit trail")]
pub struct QueryArgs {
    /// Log settings.
    #[command(flatten)]
    pub log: LogArgs,
    /// Bearer token rules.
    #[command(flatten)]
    pub auth: AuthArgs,
    /// Address of the API, `/metrics`, `/healthz`, `/.well-known/jwks.json`.
    #[arg(long, env = "AUDIT_QUERY_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Kafka: where the indexers' shard claims are read.
    #[command(flatten)]
    pub kafka: KafkaArgs,
    /// Topic of the indexers' shard claims.
    #[arg(long, env = "AUDIT_OWNERS_TOPIC", default_value = audit_index::leaf::OWNERS_TOPIC)]
    pub owners_topic: String,
    /// The signed topic: its partitions are the index's shards.
    #[arg(long, env = "AUDIT_SIGNED_TOPIC", default_value = "audit.signed")]
    pub signed_topic: String,
    /// Topic of the tenants' signed checkpoints (the signer writes them).
    #[arg(long, env = "AUDIT_TREE_CHECKPOINT_TOPIC", default_value = "audit.checkpoints")]
    pub tree_checkpoint_topic: String,
    /// Name of this trail, as the signer was given it: each tenant's checkpoints are
    /// signed as the log `<trail name>/<tenant>`.
    #[arg(long, env = "AUDIT_TRAIL_NAME", default_value = audit_integrity::note::DEFAULT_TRAIL_NAME)]
    pub trail_name: String,
    /// This service's credential on the indexers' leaf API, `name:secret`.
    #[arg(long, env = "AUDIT_LEAF_CREDENTIAL", hide_env_values = true)]
    pub leaf_credential: ServiceCredential,
    /// JWK Set of the record-signing keys, current and retired (the signer's key
    /// directory writes it).
    #[arg(long, env = "AUDIT_SIGNING_JWKS_FILE", default_value = "data/keys/signing/jwks.json")]
    pub signing_jwks_file: PathBuf,
    /// Base URL of the vault.
    #[arg(long, env = "AUDIT_VAULT_URL", default_value = "http://127.0.0.1:8081")]
    pub vault_url: String,
    /// This service's vault credential, `name:secret`.
    #[arg(long, env = "AUDIT_VAULT_CREDENTIAL", hide_env_values = true)]
    pub vault_credential: ServiceCredential,
    /// Which fields hold tokens: the tokenizer's policy, same flags.
    #[command(flatten)]
    pub policy: PiiPolicyArgs,
    /// Longest time a request may take, in milliseconds.
    #[arg(long, env = "AUDIT_REQUEST_TIMEOUT_MS", default_value_t = 10_000)]
    pub request_timeout_ms: u64,
    /// Largest request body, in bytes.
    #[arg(long, env = "AUDIT_MAX_BODY_BYTES", default_value_t = 64 * 1024)]
    pub max_body_bytes: usize,
    /// Base URL of the notifier, whose webhooks the console (`/console`) manages.
    #[arg(long, env = "AUDIT_NOTIFIER_URL", default_value = "http://127.0.0.1:8082")]
    pub notifier_url: String,
    /// The local stack's token issuer key: the console (`/console`) then offers a
    /// development sign-in minting a token for any tenant. Never in production.
    #[arg(long, env = "AUDIT_CONSOLE_DEV_ISSUER_KEY")]
    pub console_dev_issuer_key: Option<PathBuf>,
}

/// Validated query-api settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// API address.
    pub listen: SocketAddr,
    /// Kafka settings.
    pub kafka: KafkaConfig,
    /// Owners topic.
    pub owners_topic: String,
    /// Signed topic.
    pub signed_topic: String,
    /// Checkpoint topic.
    pub tree_checkpoint_topic: String,
    /// Trail name.
    pub trail_name: String,
    /// Leaf credential.
    pub leaf_credential: ServiceCredential,
    /// Signing keys' JWK Set file.
    pub signing_jwks_file: PathBuf,
    /// Vault base URL.
    pub vault_url: String,
    /// Vault credential.
    pub vault_credential: ServiceCredential,
    /// Bearer token rules.
    pub auth: AuthConfig,
    /// Which attributes hold tokens.
    pub catalogue: Catalogue,
    /// Request time limit.
    pub request_timeout: Duration,
    /// Request body limit.
    pub max_body_bytes: usize,
    /// The notifier's base URL, for the console.
    pub notifier_url: String,
    /// The console's development sign-in key, if offered.
    pub console_dev_issuer_key: Option<PathBuf>,
}

impl QueryArgs {
    /// Checks every value once.
    pub fn validate(&self) -> Result<Config, QueryError> {
        let invalid = |name: &'static str, reason: &str| QueryError::Config { name, reason: reason.into() };
        for (name, url) in [("vault-url", &self.vault_url), ("notifier-url", &self.notifier_url)] {
            if !url.starts_with("http://") && !url.starts_with("https://") {
                return Err(invalid(name, "must be an http:// or https:// url"));
            }
        }
        if self.request_timeout_ms == 0 {
            return Err(invalid("request-timeout-ms", "must be positive"));
        }
        if self.max_body_bytes < 1024 {
            return Err(invalid("max-body-bytes", "must be at least 1024"));
        }
        audit_integrity::note::check_trail_name(&self.trail_name)
            .map_err(|reason| invalid("trail-name", reason))?;
        let auth = self
            .auth
            .validate()
            .map_err(|error| QueryError::Config { name: "auth", reason: error.to_string() })?;
        Ok(Config {
            listen: self.listen,
            kafka: self
                .kafka
                .validate()
                .map_err(|error| QueryError::Config { name: "kafka", reason: error.to_string() })?,
            owners_topic: self.owners_topic.clone(),
            signed_topic: self.signed_topic.clone(),
            tree_checkpoint_topic: self.tree_checkpoint_topic.clone(),
            trail_name: self.trail_name.clone(),
            leaf_credential: self.leaf_credential.clone(),
            signing_jwks_file: self.signing_jwks_file.clone(),
            vault_url: self.vault_url.clone(),
            vault_credential: self.vault_credential.clone(),
            auth,
            catalogue: Catalogue::of(&self.policy.policy()),
            request_timeout: Duration::from_millis(self.request_timeout_ms),
            max_body_bytes: self.max_body_bytes,
            notifier_url: self.notifier_url.clone(),
            console_dev_issuer_key: self.console_dev_issuer_key.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> QueryArgs {
        let mut argv = vec![
            "query-api",
            "--vault-credential",
            "query-api:0123456789abcdef0123",
            "--leaf-credential",
            "query-api:0123456789abcdef4567",
        ];
        argv.extend(extra);
        QueryArgs::parse_from(argv)
    }

    #[test]
    fn defaults_follow_the_tokenizer_policy() {
        let config = args(&[]).validate().unwrap();
        assert_eq!(config.catalogue, Catalogue::default());
        let narrowed = args(&["--tokenize-host", "false", "--tokenize-codes", "USN"]).validate().unwrap();
        assert_ne!(narrowed.catalogue, Catalogue::default());
    }

    #[test]
    fn bad_values_are_named() {
        let cases = [
            (vec!["--vault-url", "ftp://x"], "vault-url"),
            (vec!["--request-timeout-ms", "0"], "request-timeout-ms"),
            (vec!["--max-body-bytes", "10"], "max-body-bytes"),
            (vec!["--trail-name", "a trail"], "trail-name"),
        ];
        for (extra, name) in cases {
            let error = args(&extra).validate().unwrap_err();
            assert!(matches!(error, QueryError::Config { name: found, .. } if found == name), "{error}");
        }
    }
}
