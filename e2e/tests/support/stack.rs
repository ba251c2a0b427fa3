//! The stack as docker-compose runs it: every service its own process (the binaries
//! built from the services' own `main.rs`), the embedded broker on its durable storage
//! inside the test, one data directory laid out as `auditctl up` lays it out, so
//! `auditctl export` and `auditctl verify` read it as they read a user's.
//!
//! Any service can be killed without warning (SIGKILL: no shutdown hook runs) and
//! started again on the same data; the broker can be stopped and started again on its
//! storage and address. Every process's log goes to `logs/<service>.log`, appended
//! across restarts.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::Duration;

use audit_auth::issuer::{Issuer, TokenSpec};
use audit_auth::service::ServiceCredential;
use audit_broker::{BrokerParams, EmbeddedBroker};
use audit_integrity::KeyDir;
use audit_runtime::config::KafkaConfig;
use testkit::process::{ChildGuard, spawn_stage};

/// The services, each one process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Service {
    Vault,
    Ingestor,
    Tokenizer,
    Signer,
    Indexer,
    QueryApi,
}

impl Service {
    /// The services in the order they start.
    pub const ALL: [Service; 6] = [
        Service::Vault,
        Service::Ingestor,
        Service::Tokenizer,
        Service::Signer,
        Service::Indexer,
        Service::QueryApi,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Service::Vault => "vault",
            Service::Ingestor => "ingestor",
            Service::Tokenizer => "tokenizer",
            Service::Signer => "signer",
            Service::Indexer => "indexer",
            Service::QueryApi => "query-api",
        }
    }

    fn binary(self) -> &'static str {
        match self {
            Service::Vault => env!("CARGO_BIN_EXE_e2e-vault"),
            Service::Ingestor => env!("CARGO_BIN_EXE_e2e-ingestor"),
            Service::Tokenizer => env!("CARGO_BIN_EXE_e2e-tokenizer"),
            Service::Signer => env!("CARGO_BIN_EXE_e2e-signer"),
            Service::Indexer => env!("CARGO_BIN_EXE_e2e-indexer"),
            Service::QueryApi => env!("CARGO_BIN_EXE_e2e-query-api"),
        }
    }
}

/// Flags added to pipeline stages' command lines, beyond what the stack sets.
#[derive(Debug, Default)]
pub struct Flags(pub BTreeMap<Service, Vec<String>>);

/// How services reach the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Plaintext, straight to the broker.
    Plain,
    /// TLS through a terminating proxy, with a certificate from a CA made for the test
    /// (`keys/kafka-ca.pem`): what a managed cluster's TLS listener looks like.
    Tls,
}

/// The `auditctl` binary, as users run it.
pub const AUDITCTL: &str = env!("CARGO_BIN_EXE_e2e-auditctl");

/// A running stack on one data directory.
pub struct Stack {
    pub data_dir: PathBuf,
    pub kafka: KafkaConfig,
    broker: Option<EmbeddedBroker>,
    broker_addr: SocketAddr,
    /// The TLS endpoint in front of the broker, under [`Transport::Tls`].
    tls: Option<testkit::tls::TlsProxy>,
    vault_listen: SocketAddr,
    pub query_listen: SocketAddr,
    tokenizer_credential: ServiceCredential,
    query_credential: ServiceCredential,
    /// The query-api's credential on the indexer's leaf API.
    leaf_credential: ServiceCredential,
    indexer_leaf_listen: SocketAddr,
    issuer: Issuer,
    flags: Flags,
    running: BTreeMap<Service, ChildGuard>,
}

impl Stack {
    /// Starts the broker, then every service, on `data_dir` (empty or an earlier run's).
    pub async fn start(data_dir: &Path) -> Stack {
        Stack::start_with(data_dir, Flags::default()).await
    }

    /// Starts the stack with `flags` added to some services' command lines.
    pub async fn start_with(data_dir: &Path, flags: Flags) -> Stack {
        Stack::start_over(data_dir, flags, Transport::Plain).await
    }

    /// Starts the stack with every client reaching the broker over `transport`.
    pub async fn start_over(data_dir: &Path, flags: Flags, transport: Transport) -> Stack {
        let keys = data_dir.join("keys");
        std::fs::create_dir_all(&keys).unwrap();
        std::fs::create_dir_all(data_dir.join("vault")).unwrap();
        std::fs::create_dir_all(data_dir.join("logs")).unwrap();
        // The query-api reads the signing keys' JWK Set when it starts: it must exist.
        KeyDir::open_or_create(&keys.join("signing")).unwrap();
        let issuer = Issuer::load_or_create(&keys.join("issuer.key")).unwrap();
        std::fs::write(keys.join("jwks.json"), serde_json::to_string(&issuer.jwks()).unwrap()).unwrap();
        let (broker, tls, mut kafka) = match transport {
            Transport::Plain => {
                let broker = start_broker(data_dir, free_addr(), None).await;
                let kafka = KafkaConfig::for_bootstrap(&broker.bootstrap()).unwrap();
                (broker, None, kafka)
            }
            Transport::Tls => {
                let (broker, front, kafka) = start_behind_tls(data_dir).await;
                (broker, Some(front), kafka)
            }
        };
        let broker_addr = broker.addr();
        kafka.partitions = testkit::kafka::PARTITIONS;
        let mut stack = Stack {
            data_dir: data_dir.to_owned(),
            kafka,
            broker: Some(broker),
            broker_addr,
            tls,
            vault_listen: free_addr(),
            query_listen: free_addr(),
            tokenizer_credential: ServiceCredential::generate("tokenizer"),
            query_credential: ServiceCredential::generate("query-api"),
            leaf_credential: ServiceCredential::generate("query-api"),
            indexer_leaf_listen: free_addr(),
            issuer,
            flags,
            running: BTreeMap::new(),
        };
        for service in Service::ALL {
            stack.spawn(service);
        }
        stack
    }

    /// Starts `service` (again).
    pub fn spawn(&mut self, service: Service) {
        let log = self.log(service);
        let child = match service {
            Service::Vault => self.spawn_vault(log),
            Service::QueryApi => self.spawn_query_api(log),
            stage => {
                let mut args = self.stage_args(stage);
                args.extend(self.flags.0.get(&stage).into_iter().flatten().cloned());
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                spawn_stage(stage.binary(), &self.kafka, &args, log)
            }
        };
        assert!(self.running.insert(service, child).is_none(), "{} was already running", service.name());
    }

    /// Kills `service` at once (SIGKILL) and reaps it.
    pub fn kill(&mut self, service: Service) {
        let mut child = self.running.remove(&service).expect("only a running service is killed");
        child.kill();
    }

    /// Stops the broker and starts it again on the same storage and address.
    pub async fn restart_broker(&mut self, down: Duration) {
        self.broker.take().expect("the broker runs").stop().await;
        tokio::time::sleep(down).await;
        let advertised = self.tls.as_ref().map(|front| ("localhost".to_owned(), front.addr().port()));
        self.broker = Some(start_broker(&self.data_dir, self.broker_addr, advertised).await);
    }

    /// A bearer token of an administrator of `tenant`.
    pub fn token(&self, tenant: &str) -> String {
        self.token_of(tenant, "e2e")
    }

    /// A bearer token of `subject`, an administrator of `tenant`.
    pub fn token_of(&self, tenant: &str, subject: &str) -> String {
        let roles = ["ORG_ADMIN".to_owned()];
        self.issuer.mint(&TokenSpec { subject, tenant, roles: &roles, ttl_seconds: 3_600 })
    }

    /// Base URL of the vault.
    pub fn vault_url(&self) -> String {
        format!("http://{}", self.vault_listen)
    }

    /// Asks every service to stop (SIGTERM), then stops the broker.
    pub async fn stop(mut self) {
        while let Some((_, child)) = self.running.pop_last() {
            child.terminate();
        }
        if let Some(broker) = self.broker.take() {
            broker.stop().await;
        }
    }

    fn log(&self, service: Service) -> File {
        let path = self.data_dir.join("logs").join(format!("{}.log", service.name()));
        OpenOptions::new().create(true).append(true).open(path).unwrap()
    }

    fn path(&self, relative: &str) -> String {
        self.data_dir.join(relative).display().to_string()
    }

    fn stage_args(&self, stage: Service) -> Vec<String> {
        match stage {
            Service::Ingestor => vec![],
            Service::Tokenizer => vec![
                format!("--vault-url=http://{}", self.vault_listen),
                format!("--vault-credential={}", self.tokenizer_credential.expose()),
            ],
            Service::Signer => vec![format!("--key-dir={}", self.path("keys/signing"))],
            Service::Indexer => vec![
                format!("--index-dir={}", self.path("index")),
                format!("--leaf-listen={}", self.indexer_leaf_listen),
                format!("--leaf-credentials={}", self.leaf_credential.declaration()),
            ],
            Service::Vault | Service::QueryApi => unreachable!("not a pipeline stage"),
        }
    }

    fn spawn_vault(&self, log: File) -> ChildGuard {
        let (vault_dir, auth_jwks_file) = (self.data_dir.join("vault"), self.data_dir.join("keys/jwks.json"));
        let local = vault::LocalVault {
            kafka: &self.kafka.bootstrap,
            kafka_properties: &self.kafka.properties,
            partitions: Some(self.kafka.partitions),
            listen: Some(self.vault_listen),
            dir: &vault_dir,
            database: None,
            auth_jwks_file: &auth_jwks_file,
            credentials: &[&self.tokenizer_credential, &self.query_credential],
        };
        let args = local.args();
        spawn(Service::Vault, &args, log)
    }

    fn spawn_query_api(&self, log: File) -> ChildGuard {
        let mut args = vec![
            format!("--listen={}", self.query_listen),
            format!("--kafka={}", self.kafka.bootstrap),
            format!("--leaf-credential={}", self.leaf_credential.expose()),
            format!("--signing-jwks-file={}", self.path("keys/signing/jwks.json")),
            format!("--vault-url=http://{}", self.vault_listen),
            format!("--vault-credential={}", self.query_credential.expose()),
            format!("--auth-jwks-file={}", self.path("keys/jwks.json")),
        ];
        args.extend(
            self.kafka.properties.iter().map(|(key, value)| format!("--kafka-property={key}={value}")),
        );
        spawn(Service::QueryApi, &args, log)
    }
}

fn spawn(service: Service, args: &[String], log: File) -> ChildGuard {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    testkit::process::spawn(service.binary(), &args, log)
}

async fn start_broker(
    data_dir: &Path,
    listen: SocketAddr,
    advertised: Option<(String, u16)>,
) -> EmbeddedBroker {
    let params = BrokerParams { listen, data_dir: data_dir.join("broker"), advertised };
    EmbeddedBroker::start(params).await.expect("the embedded broker starts")
}

/// The broker behind a TLS proxy it advertises, and the client settings that trust
/// the proxy's CA; the broker's own port is never given to a client.
async fn start_behind_tls(data_dir: &Path) -> (EmbeddedBroker, testkit::tls::TlsProxy, KafkaConfig) {
    let ca = testkit::tls::TestCa::new("audit trail kafka test ca");
    let ca_file = data_dir.join("keys/kafka-ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let broker = start_broker(data_dir, free_addr(), Some(("localhost".to_owned(), port))).await;
    let proxy = testkit::tls::TlsProxy::start(listener, broker.addr(), &ca);
    let mut kafka = KafkaConfig::for_bootstrap(&format!("localhost:{port}")).unwrap();
    kafka.properties = vec![
        ("security.protocol".into(), "ssl".into()),
        ("ssl.ca.location".into(), ca_file.display().to_string()),
    ];
    (broker, proxy, kafka)
}

/// A loopback address no one listens on now.
fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}
