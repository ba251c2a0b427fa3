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
//! - `runner`: the loop and the one place offsets are decided.
//! - `reindex` ([`reindex()`]): rebuilding shards from the signed topic (`auditctl reindex`).

mod config;
mod error;
mod metrics;
mod reindex;
mod runner;
mod shard;
mod shards;

use std::sync::{Arc, Mutex};

use audit_runtime::kafka::{ensure_topics, producer};
use audit_runtime::stage::consumer::{close, join_delay, subscribe_with};
use audit_runtime::stage::progress::{self, WatchParams};
use audit_runtime::stage::{Partitioning, StageParams, Topics, with_ops};
use audit_service::ops::{Health, OpsState};
use tokio::{net::TcpListener, sync::Notify};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

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
    let health = Health::default();
    let ops_state = OpsState { registry, health: health.clone() };
    let kafka = config.kafka.clone();
    let params = StageParams {
        service: SERVICE,
        group_id: config.group_id.clone(),
        // The indexer forwards nothing: its only output is the DLQ.
        topics: Topics {
            input: config.input_topic.clone(),
            output: config.dlq_topic.clone(),
            dlq: config.dlq_topic.clone(),
        },
        kafka,
        metrics: metrics.stage.clone(),
        health: health.clone(),
        create_topics: config.create_topics,
        partitioning: Partitioning::ByKey,
    };
    let shard_params = ShardParams { root: config.index_dir.clone(), budget: config.budget };
    let shards = SharedShards(Arc::new(Mutex::new(ShardSet::new(shard_params, metrics)?)));
    with_ops(ops_listener, ops_state, index(&config, &params, &shards, &shutdown)).await
}

async fn index(
    config: &Config,
    params: &StageParams,
    shards: &SharedShards,
    shutdown: &CancellationToken,
) -> Result<(), IndexerError> {
    if params.create_topics {
        ensure_topics(&params.kafka, &[&params.topics.input, &params.topics.dlq]).await?;
    }
    join_delay(params, shutdown).await;
    let producer = producer(&params.kafka)?;
    let restart = Arc::new(Notify::new());
    let watch = tokio::spawn(progress::watch(WatchParams::of(params, &restart), shutdown.child_token()));
    params.health.set_ready();
    info!(input = %params.topics.input, dir = %config.index_dir.display(), "indexer started");
    let result = loop {
        let consumer = subscribe_with(params, Some(Arc::new(shards.clone())))?;
        let looped = runner::Loop {
            shards,
            params,
            consumer: &consumer,
            producer: &producer,
            commit_interval: config.commit_interval,
            restart: &restart,
        };
        let ended = looped.run(shutdown).await;
        if !matches!(ended, Ok(runner::Ended::Restart)) {
            params.health.set_stopping();
        }
        // Every shard committed and closed before the consumer commits and leaves.
        let positions = shards.with(|shards| {
            let partitions = shards.partitions();
            shards.close(&partitions)
        });
        audit_runtime::stage::consumer::store_positions(&consumer, &params.topics.input, &positions.await);
        close(consumer).await?;
        match ended {
            Ok(runner::Ended::Restart) => warn!("left the group to start the consumer over"),
            other => break other.map(|_| ()),
        }
    };
    watch.abort();
    info!("indexer stopped");
    result
}
