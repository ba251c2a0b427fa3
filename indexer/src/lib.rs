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
//! - `served`: the owned shards as searches see them: readers moved to each commit,
//!   and whether each has caught up with its last owner.
//! - `leaf`: the leaf API the query-apis search the served shards through.
//! - `claims`: what follows an assignment: each partition claimed on the owners
//!   topic, its last owner's position read.
//! - `reindex` ([`reindex()`]): rebuilding shards from the signed topic (`auditctl reindex`).

mod claims;
mod config;
mod error;
mod leaf;
mod metrics;
mod reindex;
mod served;
mod shard;
mod shards;
mod sink;

use std::sync::{Arc, Mutex};

use audit_auth::service::ServiceCredentials;
use audit_runtime::stage::run_sink_service;
use audit_runtime::topics::{Topic, TopicKind};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::info;

pub use audit_index::{document, read, schema};
pub use config::{Config, IndexerArgs, LeafConfig};
pub use error::IndexerError;
pub use metrics::SERVICE;
pub use reindex::{ReindexParams, reindex};
pub use shard::WriterBudget;

use crate::shards::{ShardParams, ShardSet, SharedShards};

/// Runs the indexer until `shutdown`, serving `/metrics` and `/healthz` on
/// `ops_listener` and the leaf API on `config.leaf.listen`.
pub async fn run(
    config: Config,
    ops_listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), IndexerError> {
    let (registry, metrics) = metrics::register()?;
    let params = config.stage.params(SERVICE, metrics.stage.clone());
    // An unusable directory stops the indexer now, not at its first record.
    std::fs::create_dir_all(&config.index_dir)
        .map_err(|source| IndexerError::Io { path: config.index_dir.clone(), source })?;
    let leaf_listener = TcpListener::bind(config.leaf.listen).await.map_err(|source| IndexerError::Io {
        path: format!("leaf listener {}", config.leaf.listen).into(),
        source,
    })?;
    let leaf_url = match &config.leaf.url {
        Some(url) => url.clone(),
        None => format!(
            "http://{}",
            leaf_listener
                .local_addr()
                .map_err(|source| IndexerError::Io { path: "leaf listener".into(), source })?
        ),
    };
    let owners = [Topic { name: &config.leaf.owners_topic, kind: TopicKind::Registry }];
    audit_runtime::topics::ensure(&params.kafka, &owners).await?;
    let served = Arc::new(served::Served::default());
    let announcer = claims::Announcer::new(claims::AnnouncerParams {
        kafka: &params.kafka,
        group: &params.group_id,
        owners: &config.leaf.owners_topic,
        signed: &params.topics.input,
        leaf: &leaf_url,
        served: served.clone(),
    })?;
    let (assigned, assignments) = tokio::sync::mpsc::unbounded_channel();
    let shard_params = ShardParams { root: config.index_dir.clone(), budget: config.budget };
    let set = ShardSet::new(shard_params, served.clone(), metrics.clone())?;
    let shards = SharedShards { set: Arc::new(Mutex::new(set)), assigned };
    info!(dir = %config.index_dir.display(), leaf = %leaf_url, "shards under this directory, searched here");
    let leaf = leaf::LeafState {
        served,
        schema: Arc::new(schema::IndexSchema::new()),
        credentials: Arc::new(ServiceCredentials::new(&config.leaf.credentials)),
        metrics,
    };
    let announcer = tokio::spawn(announcer.run(assignments, shutdown.clone()));
    let leaf = tokio::spawn(leaf::serve(leaf, leaf_listener, shutdown.clone()));
    let sink = sink::IndexSink { shards, commit_interval: config.commit_interval };
    let ended = run_sink_service(sink, params, (ops_listener, registry), shutdown.clone()).await;
    // Searches and claims stop with the shards.
    shutdown.cancel();
    let _ = tokio::join!(leaf, announcer);
    ended
}
