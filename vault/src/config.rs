//! The vault's flags and env variables (`--flag` ↔ `AUDIT_FLAG`), validated once.

use std::net::SocketAddr;
use std::path::PathBuf;

use audit_auth::service::ServiceCredential;
use audit_auth::{AuthArgs, AuthConfig};
use audit_runtime::config::{KafkaArgs, KafkaConfig};
use audit_service::telemetry::LogArgs;
use clap::{ArgAction, Parser};

use crate::VaultError;
use crate::keys::Key;
use crate::store::StoreLocation;

/// Command line of the vault.
#[derive(Debug, Clone, Parser)]
#[command(name = "vault", version, about = "Token Vault: clear personal data, encrypted, behind an API")]
pub struct VaultArgs {
    /// Kafka settings (detokenization audit events go to the raw topic).
    #[command(flatten)]
    pub kafka: KafkaArgs,
    /// Log settings.
    #[command(flatten)]
    pub log: LogArgs,
    /// Address of the API, `/metrics` and `/healthz`.
    #[arg(long, env = "AUDIT_VAULT_LISTEN", default_value = "127.0.0.1:8081")]
    pub listen: SocketAddr,
    /// Database: `sqlite:PATH` (embedded) or `postgres://user:password@host:port/db`.
    #[arg(
        long,
        env = "AUDIT_VAULT_DATABASE",
        default_value = "sqlite:data/vault/vault.db",
        hide_env_values = true
    )]
    pub database: String,
    /// File holding the master key (64 hex digits); never logged.
    #[arg(long, env = "AUDIT_VAULT_MASTER_KEY_FILE", default_value = "data/vault/master.key")]
    pub master_key_file: PathBuf,
    /// Create the master key file with a random key if it does not exist.
    #[arg(long, env = "AUDIT_VAULT_CREATE_MASTER_KEY", default_value_t = false, action = ArgAction::Set)]
    pub create_master_key: bool,
    /// Bearer-token settings of users' calls to the TokensVault API.
    #[command(flatten)]
    pub auth: AuthArgs,
    /// Credentials of the services allowed to call `/v1/*`, `name:secret`, comma-separated.
    #[arg(long, env = "AUDIT_VAULT_SERVICE_CREDENTIALS", value_delimiter = ',', hide_env_values = true)]
    pub service_credentials: Vec<ServiceCredential>,
    /// Topic that receives an audit event for every detokenization and erasure.
    #[arg(long, env = "AUDIT_RAW_TOPIC", default_value = "audit.raw")]
    pub audit_topic: String,
    /// Create the audit topic at start if it is missing (needs the right to create topics).
    #[arg(long, env = "AUDIT_CREATE_TOPICS", default_value_t = true, action = ArgAction::Set)]
    pub create_topics: bool,
}

/// Validated vault settings.
#[derive(Debug)]
pub struct Config {
    /// API address.
    pub listen: SocketAddr,
    /// Where data lives.
    pub store: StoreLocation,
    /// The master key.
    pub master_key: Key,
    /// Bearer token rules; the keys are read when the vault starts.
    pub auth: AuthConfig,
    /// Accepted service credentials.
    pub services: Vec<ServiceCredential>,
    /// Kafka settings.
    pub kafka: KafkaConfig,
    /// Topic of detokenization audit events.
    pub audit_topic: String,
    /// Create the audit topic at start.
    pub create_topics: bool,
}

impl VaultArgs {
    /// Checks every value once and reads the master key and shared secret files.
    pub fn validate(&self) -> Result<Config, VaultError> {
        let invalid = |reason: String| VaultError::Config(reason);
        let store = StoreLocation::parse(&self.database).map_err(invalid)?;
        let master_key = read_master_key(&self.master_key_file, self.create_master_key)?;
        let auth = self.auth.validate().map_err(|error| invalid(error.to_string()))?;
        if self.service_credentials.is_empty() {
            return Err(invalid("no service credentials: the pipeline could not reach the vault".into()));
        }
        Ok(Config {
            listen: self.listen,
            store,
            master_key,
            auth,
            services: self.service_credentials.clone(),
            kafka: self.kafka.validate()?,
            audit_topic: self.audit_topic.clone(),
            create_topics: self.create_topics,
        })
    }
}

fn read_master_key(path: &std::path::Path, create: bool) -> Result<Key, VaultError> {
    let io = |context| move |source| VaultError::Io { context, source };
    match audit_integrity::keyfile::read_private_text(path) {
        Ok(text) => Ok(Key::from_hex(&text)?),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound && create => {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(io("cannot create the master key directory"))?;
            }
            let key = Key::generate();
            write_private(path, &key.to_hex()).map_err(io("cannot write the master key file"))?;
            Ok(key)
        }
        Err(error) => Err(io("cannot read the master key file")(error)),
    }
}

fn write_private(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(contents.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_master_key_file_is_created_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/master.key");
        assert!(read_master_key(&path, false).is_err());
        let created = read_master_key(&path, true).unwrap();
        let again = read_master_key(&path, false).unwrap();
        assert_eq!(created.to_hex().as_str(), again.to_hex().as_str());
        std::fs::write(&path, "not hex").unwrap();
        assert!(matches!(read_master_key(&path, false), Err(VaultError::Key(_))));
    }
}
