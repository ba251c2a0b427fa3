//! The indexer: `audit.signed` → Tantivy, one shard per input partition, so indexers
//! scale by consumer group and a shard moves with its partition.
//!
//! A record is searchable after the next commit (every quarter second by default). Each
//! shard's commit names the input offset it covers; a restarted or new owner resumes
//! right after it, and adds are upserts by record id, so every record is in the index
//! exactly once whatever crashed when. [`run`] is what `main` and the tests call.
//!
//! # Layout
//! - [`schema`], [`document`], [`read`]: the index's definition, shared with the
//!   query-api (crate `audit-index`).
//! - `shard`: one partition's index and the offset in its commits.
//! - `shards`: the shards this instance owns, opened and closed with its partitions.
//! - `sink`: the shards as a sink of the stage runtime; where the indexer's offsets
//!   are decided (a Kafka offset never passes a Tantivy commit).
//! - `reindex` ([`reindex()`]): rebuilding shards from the signed topic (`auditctl reindex`).

mod config;
mod error;
mod metrics;
mod reindex;
mod shard;
mod shards;
mod sink;

use std::sync::{Arc, Mutex};

use audit_runtime::stage::run_sink_service;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::info;

pub use audit_index::{document, read, schema};
pub use config::{Config, IndexerArgs};
pub use error::IndexerError;
pub use metrics::SERVICE;
pub use reindex::{ReindexParams, reindex};
pub use shard::WriterBudget;

use crate::shards::{ShardParams, ShardSet, SharedShards};

/// Runs the indexer until `shutdown`, serving `/metrics` and `/healthz` on `ops_listener`.
pub async fn run(
    config: Config,
    ops_listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), IndexerError> {
    let (registry, metrics) = metrics::register()?;
    let params = config.stage.params(SERVICE, metrics.stage.clone());
    let shard_params = ShardParams { root: config.index_dir.clone(), budget: config.budget };
    let shards = SharedShards(Arc::new(Mutex::new(ShardSet::new(shard_params, metrics)?)));
    info!(dir = %config.index_dir.display(), "shards under this directory");
    let sink = sink::IndexSink { shards, commit_interval: config.commit_interval };
    run_sink_service(sink, params, (ops_listener, registry), shutdown).await
}
