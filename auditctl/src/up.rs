//! `auditctl up`: the whole stack in one process.
//!
//! Starts the embedded broker with durable SQLite storage under the data directory
//! (or uses `--kafka`), then every service on its default address. On SIGTERM or
//! Ctrl-C the services drain first (finish their batch, commit, leave the group) and
//! the broker stops last, so no service loses its broker mid-commit.

use std::{net::SocketAddr, path::PathBuf};

use anyhow::Context;
use audit_broker::{BrokerParams, EmbeddedBroker, Storage};
use audit_core::shutdown;
use clap::Args;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Flags of `auditctl up`.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// Directory for all durable state (broker log, later the vault and indexes).
    #[arg(long, env = "AUDIT_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
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
}

/// Runs the stack until a signal.
pub async fn run(args: UpArgs) -> anyhow::Result<()> {
    let (broker, bootstrap) = match &args.kafka {
        Some(kafka) => (None, kafka.clone()),
        None => {
            let broker = start_broker(&args).await?;
            let bootstrap = broker.bootstrap();
            (Some(broker), bootstrap)
        }
    };
    let shutdown = shutdown::on_signal();
    let ingestor = start_ingestor(&args, &bootstrap, &shutdown).await?;
    eprintln!("audit trail starting: kafka {bootstrap}, data in {}", args.data_dir.display());
    eprintln!("  ingestor  http://{}/healthz  http://{0}/metrics", args.ingestor_ops_listen);
    eprintln!("press Ctrl-C to stop");
    let outcome = ingestor.await.context("ingestor task")?;
    // Services have drained and committed: only now may the broker go.
    if let Some(broker) = broker {
        broker.stop().await;
    }
    outcome.context("ingestor stopped")
}

async fn start_broker(args: &UpArgs) -> anyhow::Result<EmbeddedBroker> {
    let storage = Storage::Sqlite(args.data_dir.join("broker").join("broker.db"));
    let params = BrokerParams { listen: args.broker_listen, storage };
    EmbeddedBroker::start(params)
        .await
        .with_context(|| format!("starting the embedded broker on {}", args.broker_listen))
}

async fn start_ingestor(
    args: &UpArgs,
    bootstrap: &str,
    shutdown: &CancellationToken,
) -> anyhow::Result<tokio::task::JoinHandle<Result<(), ingestor::IngestorError>>> {
    let mut config = ingestor::Config::defaults_for(bootstrap);
    config.kafka.partitions = args.partitions;
    config.ops_listen = args.ingestor_ops_listen;
    let listener = TcpListener::bind(config.ops_listen)
        .await
        .with_context(|| format!("binding the ingestor ops server on {}", config.ops_listen))?;
    Ok(tokio::spawn(ingestor::run(config, listener, shutdown.clone())))
}
