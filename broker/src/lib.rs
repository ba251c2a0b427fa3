//! The embedded Kafka-protocol broker: tansu, run inside our own process.
//!
//! `auditctl up` runs it with durable SQLite storage under the data directory; tests
//! and benchmarks run it with memory storage on a free loopback port. It speaks the
//! Kafka protocol to real clients (librdkafka through rdkafka), so nothing in the
//! services knows whether the broker is embedded or an external cluster.
//!
//! It has no transactions: the pipeline gets exactly-once *effect* from stable record
//! ids and idempotent consumers, never from Kafka transactions.

use std::{
    net::{SocketAddr, TcpListener},
    path::{Path, PathBuf},
};

use tansu_broker::{broker::Broker, coordinator::group::administrator::Controller};
use tansu_storage::StorageContainer;
use tokio::{sync::Mutex, task::JoinHandle};
use url::Url;

/// Where the broker keeps its data.
#[derive(Debug, Clone)]
pub enum Storage {
    /// Lost when the process stops; for tests and benchmarks.
    Memory,
    /// A SQLite database file, created if missing; survives restarts.
    Sqlite(PathBuf),
}

/// How to start the broker.
#[derive(Debug, Clone)]
pub struct BrokerParams {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Storage.
    pub storage: Storage,
}

/// What can go wrong starting the broker.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// The listen address is taken or not local.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// Requested address.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The storage could not be opened.
    #[error("cannot open broker storage {storage}: {detail}")]
    Storage {
        /// Storage URL.
        storage: String,
        /// The broker's error.
        detail: String,
    },
}

/// A running embedded broker; stops when [`EmbeddedBroker::stop`] is called or dropped.
pub struct EmbeddedBroker {
    addr: SocketAddr,
    serving: JoinHandle<()>,
}

impl EmbeddedBroker {
    /// Starts a broker and returns once it accepts connections.
    pub async fn start(params: BrokerParams) -> Result<Self, BrokerError> {
        let addr = resolve_port(params.listen)?;
        let listener = Url::parse(&format!("tcp://{addr}")).expect("socket addresses form urls");
        let storage = open_storage_url(&params.storage)?;
        let broker = Broker::<Controller<StorageContainer>, StorageContainer>::builder()
            .node_id(1)
            .cluster_id("audit-trail")
            .incarnation_id(uuid::Uuid::now_v7())
            .advertised_listener(listener.clone())
            .storage(storage.url.clone())
            .listener(listener)
            .silent(true)
            .build();
        let mut broker = storage.while_open(broker).await?;
        broker.register().await.map_err(|error| BrokerError::Storage {
            storage: storage.url.to_string(),
            detail: error.to_string(),
        })?;
        // `serve` (unlike `main`) installs no signal handlers: the stack stops the
        // broker itself, after the services drained.
        let serving = tokio::spawn(async move {
            if let Err(error) = broker.listen(tokio::time::Instant::now()).await {
                tracing::error!(%error, "embedded broker stopped");
            }
        });
        wait_until_listening(addr).await;
        Ok(EmbeddedBroker { addr, serving })
    }

    /// `HOST:PORT` for `bootstrap.servers`.
    pub fn bootstrap(&self) -> String {
        self.addr.to_string()
    }

    /// The address the broker listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting and serving connections.
    pub async fn stop(mut self) {
        self.serving.abort();
        let _ = (&mut self.serving).await;
    }
}

impl Drop for EmbeddedBroker {
    fn drop(&mut self) {
        self.serving.abort();
    }
}

/// Picks a free port when asked for port 0: tansu advertises the address it is given,
/// so the port must be known before it starts.
fn resolve_port(addr: SocketAddr) -> Result<SocketAddr, BrokerError> {
    if addr.port() != 0 {
        return Ok(addr);
    }
    let probe = TcpListener::bind(addr).map_err(|source| BrokerError::Listen { addr, source })?;
    probe.local_addr().map_err(|source| BrokerError::Listen { addr, source })
}

async fn wait_until_listening(addr: SocketAddr) {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// A storage URL, plus what must hold while the storage is opened.
struct OpenStorage {
    url: Url,
    /// tansu resolves `sqlite://` paths against the working directory only.
    directory: Option<PathBuf>,
}

/// The working directory is process-wide: one storage opens at a time.
static WORKING_DIRECTORY: Mutex<()> = Mutex::const_new(());

impl OpenStorage {
    /// Runs the broker build (which opens the storage) with the working directory
    /// set to the database's directory, then restores it.
    async fn while_open<F, B, E>(&self, build: F) -> Result<B, BrokerError>
    where
        F: std::future::Future<Output = Result<B, E>>,
        E: std::fmt::Display,
    {
        let storage_error = |detail: String| BrokerError::Storage { storage: self.url.to_string(), detail };
        let Some(directory) = &self.directory else {
            return build.await.map_err(|error| storage_error(error.to_string()));
        };
        let _guard = WORKING_DIRECTORY.lock().await;
        let previous = std::env::current_dir().map_err(|error| storage_error(error.to_string()))?;
        std::env::set_current_dir(directory).map_err(|error| storage_error(error.to_string()))?;
        let built = build.await;
        std::env::set_current_dir(previous).map_err(|error| storage_error(error.to_string()))?;
        built.map_err(|error| storage_error(error.to_string()))
    }
}

fn open_storage_url(storage: &Storage) -> Result<OpenStorage, BrokerError> {
    match storage {
        Storage::Memory => {
            Ok(OpenStorage { url: Url::parse("memory://audit-trail/").expect("valid url"), directory: None })
        }
        Storage::Sqlite(path) => sqlite_storage(path),
    }
}

fn sqlite_storage(path: &Path) -> Result<OpenStorage, BrokerError> {
    let invalid =
        |detail: &str| BrokerError::Storage { storage: path.display().to_string(), detail: detail.into() };
    let directory = path.parent().filter(|dir| !dir.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(directory).map_err(|error| invalid(&error.to_string()))?;
    let file = path.file_name().and_then(|name| name.to_str()).ok_or_else(|| invalid("not a file name"))?;
    let url = Url::parse(&format!("sqlite://{file}")).map_err(|error| invalid(&error.to_string()))?;
    let directory = directory.canonicalize().map_err(|error| invalid(&error.to_string()))?;
    Ok(OpenStorage { url, directory: Some(directory) })
}
