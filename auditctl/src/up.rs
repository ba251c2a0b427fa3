//! `auditctl up`: the whole stack in one process.
//!
//! Starts the embedded broker with its durable storage under the data directory
//! (or uses `--kafka`), the vault on an embedded database, then every pipeline
//! service and the query-api on their default addresses. The local token issuer's
//! key, the record signing keys (created on first start) and the vault's master key
//! live under the data directory; the vault credentials of the tokenizer and the
//! query-api are fresh random secrets for each run, since every service runs in this
//! process. On SIGTERM or Ctrl-C the pipeline services drain first (finish their
//! batch, commit, leave the group) and the query-api finishes its requests, then the
//! vault they call while stopping goes, and the broker last.

use audit_service::explicit::parse_explicit;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use audit_auth::issuer::Issuer;
use audit_auth::service::ServiceCredential;
use audit_broker::{BrokerParams, EmbeddedBroker};
use audit_integrity::KeyDir;
use audit_service::shutdown;

use crate::keys::{signing_jwks_file, signing_key_dir};
use clap::Args;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::error;

/// Flags of `auditctl up`.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// Directory for all durable state (broker log, vault, keys, later the indexes).
    #[arg(long, env = "AUDIT_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Use this Kafka cluster (HOST:PORT) instead of the embedded broker.
    #[arg(long, env = "AUDIT_KAFKA")]
    kafka: Option<String>,
    /// Listen address of the embedded broker.
    #[arg(long, env = "AUDIT_BROKER_LISTEN", default_value = "127.0.0.1:9092")]
    broker_listen: SocketAddr,
    /// Partitions of each topic created.
    #[arg(long, env = "AUDIT_PARTITIONS", default_value_t = 4)]
    partitions: i32,
    /// `/metrics` and `/healthz` of the ingestor.
    #[arg(long, env = "AUDIT_INGESTOR_OPS_LISTEN", default_value = "127.0.0.1:9101")]
    ingestor_ops_listen: SocketAddr,
    /// `/metrics` and `/healthz` of the tokenizer.
    #[arg(long, env = "AUDIT_TOKENIZER_OPS_LISTEN", default_value = "127.0.0.1:9102")]
    tokenizer_ops_listen: SocketAddr,
    /// `/metrics` and `/healthz` of the indexer.
    #[arg(long, env = "AUDIT_INDEXER_OPS_LISTEN", default_value = "127.0.0.1:9104")]
    indexer_ops_listen: SocketAddr,
    /// The indexer's leaf API, which the query-api searches its shards through.
    #[arg(long, env = "AUDIT_INDEXER_LEAF_LISTEN", default_value = "127.0.0.1:9110")]
    indexer_leaf_listen: SocketAddr,
    /// `/metrics` and `/healthz` of the signer.
    #[arg(long, env = "AUDIT_SIGNER_OPS_LISTEN", default_value = "127.0.0.1:9103")]
    signer_ops_listen: SocketAddr,
    /// The vault's API (also its `/metrics` and `/healthz`).
    #[arg(long, env = "AUDIT_VAULT_LISTEN", default_value = "127.0.0.1:8081")]
    vault_listen: SocketAddr,
    /// The query-api: SCIM search, the signing keys' JWK Set, `/metrics`, `/healthz`.
    #[arg(long, env = "AUDIT_QUERY_LISTEN", default_value = "127.0.0.1:8080")]
    query_listen: SocketAddr,
    /// The notifier's webhook management API.
    #[arg(long, env = "AUDIT_NOTIFIER_LISTEN", default_value = "127.0.0.1:8082")]
    notifier_listen: SocketAddr,
    /// `/metrics` and `/healthz` of the notifier.
    #[arg(long, env = "AUDIT_NOTIFIER_OPS_LISTEN", default_value = "127.0.0.1:9105")]
    notifier_ops_listen: SocketAddr,
}

/// Name of the query-api's vault credential.
const QUERY_API_CREDENTIAL: &str = "query-api";

/// A service running as a task of this process.
struct Service {
    name: &'static str,
    /// Its error, if it stopped on one.
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// Where each service's task says it ended, whatever the cause.
type Ended = mpsc::UnboundedSender<&'static str>;

/// Runs the stack until a signal, or until a service stops on its own: then the whole
/// stack stops and says which, since a stack missing a stage would only look alive.
pub async fn run(args: UpArgs) -> anyhow::Result<()> {
    let (broker, bootstrap) = broker_or_kafka(&args).await?;
    ensure_signing_keys(&args.data_dir)?;
    let shutdown = shutdown::on_signal();
    let vault_shutdown = CancellationToken::new();
    let (ended, mut endings) = mpsc::unbounded_channel();
    let tokenizer_credential = ServiceCredential::generate(tokenizer::SERVICE);
    let query_credential = ServiceCredential::generate(QUERY_API_CREDENTIAL);
    let credentials = [tokenizer_credential.clone(), query_credential.clone()];
    // The query-api's credential on the indexer's leaf API, apart from the vault's.
    let leaf_credential = ServiceCredential::generate(QUERY_API_CREDENTIAL);
    let vault =
        start_vault(&args, &bootstrap, &credentials, Task { shutdown: &vault_shutdown, ended: &ended })
            .await?;
    let on = Task { shutdown: &shutdown, ended: &ended };
    // In the order they stop: the pipeline drains first, the query-api finishes its
    // requests, then the vault they call while stopping goes, and the broker last.
    let services = [
        start_ingestor(&args, &bootstrap, on).await?,
        start_tokenizer(&args, &bootstrap, &tokenizer_credential, on).await?,
        start_signer(&args, &bootstrap, on).await?,
        start_indexer(&args, &bootstrap, &leaf_credential, on).await?,
        start_notifier(&args, &bootstrap, on).await?,
        start_query_api(&args, &bootstrap, [&query_credential, &leaf_credential], on).await?,
    ];
    print_banner(&args, &bootstrap);
    // Services end on their own when the signal stops them: only one that ended
    // before the signal stopped early.
    let stopped_early = tokio::select! {
        biased;
        _ = shutdown.cancelled() => None,
        Some(name) = endings.recv() => (!shutdown.is_cancelled()).then_some(name),
    };
    if let Some(name) = stopped_early {
        error!(service = name, "a service stopped on its own; stopping the stack");
        shutdown.cancel();
    }
    let stopped = stop_in_order(services, vault, &vault_shutdown).await;
    if let Some(broker) = broker {
        broker.stop().await;
    }
    match stopped_early {
        Some(name) => {
            stopped.and(Err(anyhow::anyhow!("the {name} stopped on its own, so the stack stopped")))
        }
        None => stopped,
    }
}

/// Waits for `services` in order, then stops the vault; the first error met.
async fn stop_in_order(
    services: [Service; 6],
    vault: Service,
    vault_shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let mut outcome = Ok(());
    for Service { name, task } in services {
        let stopped = task.await.with_context(|| format!("{name} task"))?;
        outcome = outcome.and(stopped.with_context(|| format!("{name} stopped")));
    }
    vault_shutdown.cancel();
    let vaulted = vault.task.await.context("vault task")?;
    outcome.and(vaulted.context("vault stopped"))
}

/// What a service's task is given: when to stop, where to say it ended.
#[derive(Clone, Copy)]
struct Task<'a> {
    shutdown: &'a CancellationToken,
    ended: &'a Ended,
}

/// Runs `service` as a task that says when it ended.
fn spawn<E>(
    name: &'static str,
    service: impl Future<Output = Result<(), E>> + Send + 'static,
    ended: &Ended,
) -> Service
where
    E: std::error::Error + Send + Sync + 'static,
{
    let ended = ended.clone();
    let task = tokio::spawn(async move {
        let result = service.await.map_err(anyhow::Error::from);
        // Only an ending before the signal is read; a send may find no one listening.
        let _ = ended.send(name);
        result
    });
    Service { name, task }
}

/// Creates the signing key ring on first start, before any service runs: the
/// query-api reads its JWK Set when it starts and must not race the signer making it.
fn ensure_signing_keys(data_dir: &Path) -> anyhow::Result<()> {
    let dir = signing_key_dir(data_dir);
    KeyDir::open_or_create(&dir)
        .with_context(|| format!("opening or creating the signing key ring in {}", dir.display()))?;
    Ok(())
}

/// The embedded broker and its address, or none and the `--kafka` cluster's.
async fn broker_or_kafka(args: &UpArgs) -> anyhow::Result<(Option<EmbeddedBroker>, String)> {
    if let Some(kafka) = &args.kafka {
        return Ok((None, kafka.clone()));
    }
    let broker = start_broker(args).await?;
    let bootstrap = broker.bootstrap();
    Ok((Some(broker), bootstrap))
}

fn print_banner(args: &UpArgs, bootstrap: &str) {
    eprintln!("audit trail starting: kafka {bootstrap}, data in {}", args.data_dir.display());
    eprintln!("  vault      http://{}  (TokensVault API, /healthz, /metrics)", args.vault_listen);
    eprintln!("  query-api  http://{}  (AuditRecords SCIM API, /healthz, /metrics)", args.query_listen);
    eprintln!(
        "  console    http://{}/console  (audit events, integrity; development sign-in)",
        args.query_listen
    );
    eprintln!("  ingestor   http://{}/healthz  http://{0}/metrics", args.ingestor_ops_listen);
    eprintln!("  tokenizer  http://{}/healthz  http://{0}/metrics", args.tokenizer_ops_listen);
    eprintln!("  signer     http://{}/healthz  http://{0}/metrics", args.signer_ops_listen);
    eprintln!(
        "  indexer    http://{}/healthz  http://{0}/metrics  (leaf searches on {})",
        args.indexer_ops_listen, args.indexer_leaf_listen
    );
    eprintln!(
        "  notifier   http://{}  (webhooks API; /healthz, /metrics on {})",
        args.notifier_listen, args.notifier_ops_listen
    );
    eprintln!("  signing keys (JWK Set): {}", signing_jwks_file(&args.data_dir).display());
    eprintln!("  a bearer token: auditctl token --tenant <tenant> --role ORG_ADMIN");
    eprintln!("  search: auditctl search --tenant <tenant> --verify --url http://{}", args.query_listen);
    eprintln!("press Ctrl-C to stop");
}

async fn start_broker(args: &UpArgs) -> anyhow::Result<EmbeddedBroker> {
    let params =
        BrokerParams { listen: args.broker_listen, data_dir: args.data_dir.join("broker"), advertised: None };
    EmbeddedBroker::start(params)
        .await
        .with_context(|| format!("starting the embedded broker on {}", args.broker_listen))
}

async fn start_ingestor(args: &UpArgs, bootstrap: &str, task: Task<'_>) -> anyhow::Result<Service> {
    let mut config = ingestor::Config::defaults_for(bootstrap);
    config.stage.kafka.partitions = args.partitions;
    config.stage.ops_listen = args.ingestor_ops_listen;
    let listener = TcpListener::bind(config.stage.ops_listen)
        .await
        .with_context(|| format!("binding the ingestor ops server on {}", config.stage.ops_listen))?;
    Ok(spawn("ingestor", ingestor::run(config, listener, task.shutdown.clone()), task.ended))
}

/// Where the local token issuer's key is under `data_dir`.
pub fn local_issuer_path(data_dir: &Path) -> PathBuf {
    data_dir.join("keys").join("issuer.key")
}

/// The local token issuer's key, created under the data directory on first use.
pub fn local_issuer(data_dir: &Path) -> anyhow::Result<Issuer> {
    let path = local_issuer_path(data_dir);
    Issuer::load_or_create(&path)
        .with_context(|| format!("loading the local token issuer key {}", path.display()))
}

/// The JWK Set of the local token issuer, which the vault and the query-api trust.
fn auth_jwks_file(data_dir: &Path) -> PathBuf {
    data_dir.join("keys").join("jwks.json")
}

/// Writes the issuer's JWK Set, then starts the vault accepting `services`.
async fn start_vault(
    args: &UpArgs,
    bootstrap: &str,
    services: &[ServiceCredential],
    task: Task<'_>,
) -> anyhow::Result<Service> {
    let jwks_file = auth_jwks_file(&args.data_dir);
    let jwks = serde_json::to_string_pretty(&local_issuer(&args.data_dir)?.jwks())?;
    std::fs::write(&jwks_file, jwks).with_context(|| format!("writing {}", jwks_file.display()))?;
    let vault_dir = args.data_dir.join("vault");
    std::fs::create_dir_all(&vault_dir).with_context(|| format!("creating {}", vault_dir.display()))?;
    let credentials: Vec<&ServiceCredential> = services.iter().collect();
    let local = vault::LocalVault {
        kafka: bootstrap,
        kafka_properties: &[],
        partitions: Some(args.partitions),
        listen: Some(args.vault_listen),
        dir: &vault_dir,
        database: None,
        auth_jwks_file: &jwks_file,
        credentials: &credentials,
    };
    let config =
        parse_explicit::<vault::VaultArgs, _, _>(std::iter::once("vault".to_owned()).chain(local.args()))?
            .validate()?;
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding the vault on {}", config.listen))?;
    Ok(spawn("vault", vault::run(config, listener, task.shutdown.clone()), task.ended))
}

async fn start_tokenizer(
    args: &UpArgs,
    bootstrap: &str,
    credential: &ServiceCredential,
    task: Task<'_>,
) -> anyhow::Result<Service> {
    let vault_url = format!("http://{}", args.vault_listen);
    let mut config = tokenizer::Config::defaults_for(bootstrap, &vault_url, credential);
    config.stage.kafka.partitions = args.partitions;
    config.stage.ops_listen = args.tokenizer_ops_listen;
    let listener = TcpListener::bind(config.stage.ops_listen)
        .await
        .with_context(|| format!("binding the tokenizer ops server on {}", config.stage.ops_listen))?;
    Ok(spawn("tokenizer", tokenizer::run(config, listener, task.shutdown.clone()), task.ended))
}

async fn start_signer(args: &UpArgs, bootstrap: &str, task: Task<'_>) -> anyhow::Result<Service> {
    let mut config = signer::Config::defaults_for(bootstrap, &signing_key_dir(&args.data_dir));
    config.stage.kafka.partitions = args.partitions;
    config.stage.ops_listen = args.signer_ops_listen;
    let listener = TcpListener::bind(config.stage.ops_listen)
        .await
        .with_context(|| format!("binding the signer ops server on {}", config.stage.ops_listen))?;
    Ok(spawn("signer", signer::run(config, listener, task.shutdown.clone()), task.ended))
}

async fn start_indexer(
    args: &UpArgs,
    bootstrap: &str,
    leaf_credential: &ServiceCredential,
    task: Task<'_>,
) -> anyhow::Result<Service> {
    let mut config = indexer::Config::defaults_for(bootstrap, &args.data_dir.join("index"), leaf_credential);
    config.stage.kafka.partitions = args.partitions;
    config.stage.ops_listen = args.indexer_ops_listen;
    config.leaf.listen = args.indexer_leaf_listen;
    let listener = TcpListener::bind(config.stage.ops_listen)
        .await
        .with_context(|| format!("binding the indexer ops server on {}", config.stage.ops_listen))?;
    Ok(spawn("indexer", indexer::run(config, listener, task.shutdown.clone()), task.ended))
}

/// The notifier with its database and master key under `data/notifier`, trusting the
/// issuer's tokens; local targets are allowed, since a local stack's receivers are.
async fn start_notifier(args: &UpArgs, bootstrap: &str, task: Task<'_>) -> anyhow::Result<Service> {
    let path = |path: PathBuf| path.display().to_string();
    let dir = args.data_dir.join("notifier");
    let config = parse_explicit::<notifier::NotifierArgs, _, _>([
        "notifier".to_owned(),
        format!("--kafka={bootstrap}"),
        format!("--partitions={}", args.partitions),
        format!("--listen={}", args.notifier_listen),
        format!("--ops-listen={}", args.notifier_ops_listen),
        format!("--database=sqlite:{}", path(dir.join("notifier.db"))),
        format!("--master-key-file={}", path(dir.join("master.key"))),
        "--create-master-key=true".to_owned(),
        "--allow-private-targets=true".to_owned(),
        format!("--auth-jwks-file={}", path(auth_jwks_file(&args.data_dir))),
    ])?
    .validate()?;
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding the notifier on {}", config.listen))?;
    Ok(spawn("notifier", notifier::run(config, listener, task.shutdown.clone()), task.ended))
}

/// The query-api over the indexer's leaf, verifying with the signer's published
/// keys, trusting the issuer's tokens the vault trusts; starts before the signer has
/// written its keys or the indexer claimed its shards, and picks both up when they
/// appear. `credentials`: the vault's, then the leaf's.
async fn start_query_api(
    args: &UpArgs,
    bootstrap: &str,
    [credential, leaf_credential]: [&ServiceCredential; 2],
    task: Task<'_>,
) -> anyhow::Result<Service> {
    let path = |path: PathBuf| path.display().to_string();
    let config = parse_explicit::<query_api::QueryArgs, _, _>([
        "query-api".to_owned(),
        format!("--listen={}", args.query_listen),
        format!("--kafka={bootstrap}"),
        format!("--leaf-credential={}", leaf_credential.expose()),
        format!("--signing-jwks-file={}", path(signing_jwks_file(&args.data_dir))),
        format!("--vault-url=http://{}", args.vault_listen),
        format!("--vault-credential={}", credential.expose()),
        format!("--auth-jwks-file={}", path(auth_jwks_file(&args.data_dir))),
        format!("--console-dev-issuer-key={}", path(local_issuer_path(&args.data_dir))),
        format!("--notifier-url=http://{}", args.notifier_listen),
    ])?
    .validate()?;
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding the query-api on {}", config.listen))?;
    Ok(spawn("query-api", query_api::run(config, listener, task.shutdown.clone()), task.ended))
}
