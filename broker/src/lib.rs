//! The embedded Kafka-protocol broker: a one-node Kafka inside our own process, with
//! durable storage in a directory.
//!
//! `auditctl up`, the tests and the benchmarks run it on loopback; it speaks the Kafka
//! protocol to real clients (librdkafka through rdkafka), so nothing in the services
//! knows whether the broker is embedded or an Apache Kafka cluster. It serves what the
//! pipeline uses: topics, produce (idempotent producers included), fetch, offsets and
//! the classic consumer group protocol. It has no replication, no transactions and no
//! retention: topics keep every record.
//!
//! Storage (`data_dir`): `topics/<topic>/topic.json` and one log file of raw record
//! batches per partition (`log`), `offsets.jsonl` for committed offsets (`offsets`),
//! and `broker.lock`, held while a broker uses the directory. Its costs do not grow
//! with the data: a fetch is an index lookup and a file read, a heartbeat a map update.

mod api;
pub mod backup;
mod batch;
mod error;
mod groups;
mod log;
mod offsets;
mod server;
mod topics;

use std::{
    fs::File,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::{Arc, atomic::AtomicI64},
    time::{Duration, SystemTime},
};

use tokio::{net::TcpListener, task::JoinSet};
use tokio_util::sync::CancellationToken;

pub use error::BrokerError;

/// The node id of the one broker.
const NODE_ID: i32 = 1;
/// How often the coordinator looks for expired sessions.
const COORDINATOR_TICK: Duration = Duration::from_millis(100);

/// How to start the broker.
#[derive(Debug, Clone)]
pub struct BrokerParams {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Directory of the broker's storage, created if missing.
    pub data_dir: PathBuf,
    /// Host and port clients are told to connect to (Kafka's `advertised.listeners`),
    /// when they reach the broker through something in front of it, a TLS terminator
    /// for instance; `None` advertises the listening address.
    pub advertised: Option<(String, u16)>,
}

/// Where clients reach this broker.
#[derive(Debug, Clone)]
struct Node {
    host: String,
    port: i32,
}

/// What every connection shares.
#[derive(Debug)]
struct Shared {
    topics: topics::Topics,
    offsets: offsets::CommittedOffsets,
    groups: groups::Coordinator,
    node: Node,
    cluster_id: String,
    next_producer_id: AtomicI64,
}

/// A running embedded broker; stops when [`EmbeddedBroker::stop`] is called or dropped.
pub struct EmbeddedBroker {
    addr: SocketAddr,
    shutdown: CancellationToken,
    tasks: JoinSet<()>,
    _lock: File,
}

impl EmbeddedBroker {
    /// Opens the storage and starts serving; returns once it accepts connections.
    pub async fn start(params: BrokerParams) -> Result<Self, BrokerError> {
        let lock = lock_directory(&params.data_dir)?;
        let data_dir = params.data_dir.clone();
        let (topics, offsets) = tokio::task::spawn_blocking(move || {
            Ok::<_, BrokerError>((
                topics::Topics::open(&data_dir)?,
                offsets::CommittedOffsets::open(&data_dir)?,
            ))
        })
        .await
        .expect("opening the storage does not panic")?;
        let listener = TcpListener::bind(params.listen)
            .await
            .map_err(|source| BrokerError::Listen { addr: params.listen, source })?;
        let addr =
            listener.local_addr().map_err(|source| BrokerError::Listen { addr: params.listen, source })?;
        let shared = Arc::new(Shared {
            topics,
            offsets,
            groups: groups::Coordinator::default(),
            node: match params.advertised {
                Some((host, port)) => Node { host, port: i32::from(port) },
                None => Node { host: addr.ip().to_string(), port: i32::from(addr.port()) },
            },
            cluster_id: "audit-trail".into(),
            next_producer_id: AtomicI64::new(first_producer_id()),
        });
        let shutdown = CancellationToken::new();
        let mut tasks = JoinSet::new();
        tasks.spawn(server::serve(listener, shared.clone(), shutdown.clone()));
        tasks.spawn(expire_sessions(shared, shutdown.clone()));
        Ok(EmbeddedBroker { addr, shutdown, tasks, _lock: lock })
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
        self.shutdown.cancel();
        while self.tasks.join_next().await.is_some() {}
    }
}

impl Drop for EmbeddedBroker {
    fn drop(&mut self) {
        self.shutdown.cancel();
        self.tasks.abort_all();
    }
}

async fn expire_sessions(shared: Arc<Shared>, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(COORDINATOR_TICK);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => shared.groups.tick(std::time::Instant::now()),
        }
    }
}

/// Producer ids must not repeat across restarts, or a new producer could be taken for
/// an old one's retry: they start at the clock's milliseconds, far above any count of
/// producers a previous run can have handed out.
fn first_producer_id() -> i64 {
    let millis = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_millis();
    i64::try_from(millis).unwrap_or(1) * 1000
}

/// Creates the directory and takes its lock, so two brokers never write one log.
fn lock_directory(dir: &Path) -> Result<File, BrokerError> {
    std::fs::create_dir_all(dir).map_err(BrokerError::storage(dir))?;
    if dir.join("broker.db").exists() {
        tracing::warn!(
            dir = %dir.display(),
            "broker.db is the storage of an earlier broker version and is not read; its topics start empty"
        );
    }
    let path = dir.join("broker.lock");
    let file = File::create(&path).map_err(BrokerError::storage(&path))?;
    file.try_lock().map_err(|_| BrokerError::InUse { path: path.clone() })?;
    Ok(file)
}
