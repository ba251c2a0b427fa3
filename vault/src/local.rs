//! The flags of a vault keeping its database and master key in one directory, as
//! `auditctl up` lays out its data directory: one place that says how a local vault is
//! started, for `auditctl up`, the cross-service tests and the fault suite's process.

use std::net::SocketAddr;
use std::path::Path;

use audit_auth::service::ServiceCredential;

/// A vault under one directory.
pub struct LocalVault<'a> {
    /// Kafka bootstrap address: every reveal and erasure is an event there.
    pub kafka: &'a str,
    /// Extra librdkafka properties (TLS, SASL) of that cluster.
    pub kafka_properties: &'a [(String, String)],
    /// `--partitions` of the access topic it creates; the flag's default when none.
    pub partitions: Option<i32>,
    /// `--listen`; the flag's default when none (a caller that binds its own listener).
    pub listen: Option<SocketAddr>,
    /// Where `master.key` lives, and `vault.db` unless `database` says otherwise.
    pub dir: &'a Path,
    /// `--database`: SQLite in `dir` when none.
    pub database: Option<&'a str>,
    /// The JWK Set bearer tokens are checked with.
    pub auth_jwks_file: &'a Path,
    /// The services allowed to call the service API.
    pub credentials: &'a [&'a ServiceCredential],
}

impl LocalVault<'_> {
    /// The command line, without the program name. It holds the credentials' secrets:
    /// pass it to the vault, never to a log.
    pub fn args(&self) -> Vec<String> {
        let database = match self.database {
            Some(database) => database.to_owned(),
            None => format!("sqlite:{}", self.dir.join("vault.db").display()),
        };
        let credentials: Vec<String> =
            self.credentials.iter().map(|credential| credential.declaration()).collect();
        let mut args = vec![
            format!("--kafka={}", self.kafka),
            format!("--database={database}"),
            format!("--master-key-file={}", self.dir.join("master.key").display()),
            "--create-master-key=true".to_owned(),
            format!("--auth-jwks-file={}", self.auth_jwks_file.display()),
            format!("--service-credentials={}", credentials.join(",")),
        ];
        args.extend(
            self.kafka_properties.iter().map(|(key, value)| format!("--kafka-property={key}={value}")),
        );
        args.extend(self.partitions.map(|partitions| format!("--partitions={partitions}")));
        args.extend(self.listen.map(|listen| format!("--listen={listen}")));
        args
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn a_local_vault_command_line_validates() {
        let credential = ServiceCredential::generate("tokenizer");
        let local = LocalVault {
            kafka: "127.0.0.1:9092",
            kafka_properties: &[("security.protocol".into(), "ssl".into())],
            partitions: Some(8),
            listen: Some("127.0.0.1:8181".parse().unwrap()),
            dir: Path::new("/tmp/vault"),
            database: None,
            auth_jwks_file: Path::new("/tmp/jwks.json"),
            credentials: &[&credential],
        };
        let args = std::iter::once("vault".to_owned()).chain(local.args());
        let config = crate::VaultArgs::parse_from(args).validate().unwrap();
        assert_eq!(config.listen.port(), 8181);
    }
}
