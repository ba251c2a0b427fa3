//! The vault as production runs it, for the HTTP suites: `run()` on a free loopback
//! port, the embedded broker for its access events, SQLite in a temporary directory
//! or a given PostgreSQL database, service credentials, a bearer token issuer.

#![allow(dead_code, reason = "each test binary uses part of the support")]

use audit_auth::issuer::{Issuer, TokenSpec};
use audit_auth::service::{Scope, ServiceCredential};
use clap::Parser;
use tokio_util::sync::CancellationToken;
use vault::VaultArgs;

/// A running vault.
pub struct Vault {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Mints bearer tokens the vault accepts.
    pub issuer: Issuer,
    /// The test's client of `/v1/*`, allowed every call.
    pub service: ServiceCredential,
    /// Credentials with the tokenizer's and the query-api's scopes, in that order.
    pub scoped: [ServiceCredential; 2],
    /// An HTTP client.
    pub http: reqwest::Client,
    /// Stops the vault.
    pub shutdown: CancellationToken,
    /// The vault's task.
    pub server: tokio::task::JoinHandle<Result<(), vault::VaultError>>,
    _dir: tempfile::TempDir,
}

/// Starts a vault on `database` (SQLite when `None`) whose `/v1/*` accepts `service`.
pub async fn start(database: Option<String>, bootstrap: &str, service: &str) -> Vault {
    let dir = tempfile::tempdir().unwrap();
    let issuer = Issuer::generate();
    let jwks_file = dir.path().join("jwks.json");
    std::fs::write(&jwks_file, serde_json::to_string(&issuer.jwks()).unwrap()).unwrap();
    // One client that seeds and reads: every call of the service API.
    let service = ServiceCredential::generate(service).scoped(&Scope::ALL);
    let scoped = ["tokenizer", "query-api"].map(|name| {
        let scopes = Scope::defaults_for(name).expect("a pipeline service");
        ServiceCredential::generate(&format!("scoped-{name}")).scoped(scopes)
    });
    let database = database.unwrap_or_else(|| format!("sqlite:{}", dir.path().join("vault.db").display()));
    let args = VaultArgs::parse_from([
        "vault".to_owned(),
        format!("--kafka={bootstrap}"),
        format!("--database={database}"),
        format!("--master-key-file={}", dir.path().join("master.key").display()),
        "--create-master-key=true".to_owned(),
        format!("--auth-jwks-file={}", jwks_file.display()),
        format!(
            "--service-credentials={},{},{}",
            service.declaration(),
            scoped[0].declaration(),
            scoped[1].declaration()
        ),
    ]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(vault::run(args.validate().unwrap(), listener, shutdown.clone()));
    Vault { base, issuer, service, scoped, http: reqwest::Client::new(), shutdown, server, _dir: dir }
}

impl Vault {
    /// `Bearer <jwt>` of a user of `tenant` with `roles`.
    pub fn bearer(&self, tenant: &str, roles: &[&str]) -> String {
        let roles: Vec<String> = roles.iter().map(|role| role.to_string()).collect();
        let token =
            self.issuer.mint(&TokenSpec { subject: "auditor@corp", tenant, roles: &roles, ttl_seconds: 300 });
        format!("Bearer {token}")
    }
}
