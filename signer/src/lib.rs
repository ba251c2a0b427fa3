//! The signer: `audit.tokenized` → each record signed (Ed25519 JWS) and chained per
//! tenant → `audit.signed`, the public tap.
//!
//! No gap, fork or record signed twice, without Kafka transactions: input and output
//! are co-partitioned and each output names its input offset, so the owner of a
//! partition recovers its tenants' chain heads and the inputs already signed from
//! the tail of the same output partition (after the last checkpoint) whenever it
//! gets the partition. [`run`] is what `main` and the tests call.
//!
//! # Layout
//! - `chain`: chain heads, covered offsets and recent ids of one partition (pure).
//! - `stage`: decode, decide, link, sign in parallel, encode.
//! - `log`: recovery from the signed log and checkpoint writing (Kafka).
//! - `checkpoint`: signed snapshots of a partition's heads.
//! - `sign`: parallel signing of a batch.
//! - `keys`: the active key and its rotation.
//! - `treehead`: the tenants' signed checkpoints (C2SP), cut on a cadence.

mod chain;
mod checkpoint;
mod config;
mod error;
mod keys;
mod log;
mod metrics;
mod sign;
mod stage;
mod treehead;

use std::sync::Arc;

use audit_runtime::kafka::{partition_counts, producer};
use audit_runtime::stage::{Partitioning, run_service};
use audit_runtime::topics::{self, Topic};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::{Config, SignerArgs};
pub use error::SignerError;

use crate::keys::{KeyCreation, SignerKeys};
use crate::log::KafkaChainLog;
use crate::stage::{SignParams, SignStage};
use crate::treehead::{Publisher, TreeHeads};

/// Service name: metric prefix, log field, DLQ `dlq.stage`.
pub const SERVICE: &str = "signer";

/// Runs the signer until `shutdown`, serving `/metrics` and `/healthz` on `ops_listener`.
pub async fn run(
    config: Config,
    ops_listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), SignerError> {
    let (registry, stage_metrics, signer_metrics) = metrics::register()?;
    let creation = if config.create_key { KeyCreation::CreateMissing } else { KeyCreation::MustExist };
    let keys = SignerKeys::load(config.key_dir.clone(), creation, config.publish_jwks_file.clone())?;
    let partitions = co_partitioned(&config).await?;
    // One producer (and its connections) for both kinds of checkpoint.
    let checkpoints = producer(&config.stage.kafka)?;
    let log = KafkaChainLog {
        kafka: config.stage.kafka.clone(),
        signed_topic: config.stage.topics.output()?.to_owned(),
        checkpoint_topic: config.checkpoint_topic.clone(),
        window: config.dedupe_window,
        producer: checkpoints.clone(),
    };
    let tree_heads = TreeHeads::default();
    let publisher = Publisher {
        heads: tree_heads.clone(),
        policy: config.tree_heads.clone(),
        producer: checkpoints,
        topic: config.tree_checkpoint_topic.clone(),
        metrics: signer_metrics.clone(),
    };
    let stage = SignStage::new(SignParams {
        log,
        keys,
        partitions,
        checkpoints: config.checkpoints,
        sign_threads: config.sign_threads,
        tree_heads,
        metrics: signer_metrics,
    })?;
    let mut params = config.stage.params(SERVICE, Arc::new(stage_metrics));
    // Topics were created (or checked) above, with one partition count.
    params.create_topics = false;
    params.partitioning = Partitioning::SameAsInput;
    // The publisher outlives the stage, so the trees of its last batches are checkpointed.
    let stopped = CancellationToken::new();
    let publishing = tokio::spawn(publisher.run(stopped.clone()));
    let result = run_service(stage, params, (ops_listener, registry), shutdown).await;
    stopped.cancel();
    let _ = publishing.await;
    Ok(result?)
}

/// Creates missing topics if allowed, then checks input, output and checkpoint
/// topics have one partition count (the recovery depends on it); returns it.
async fn co_partitioned(config: &Config) -> Result<i32, SignerError> {
    let (topics, kafka) = (&config.stage.topics, &config.stage.kafka);
    let names = [
        topics.input.as_str(),
        topics.output()?,
        config.checkpoint_topic.as_str(),
        config.tree_checkpoint_topic.as_str(),
    ];
    let declared = [
        Topic::tokenized(names[0]),
        Topic::trail(names[1]),
        Topic::trail(names[2]),
        Topic::trail(names[3]),
        Topic::personal(&topics.dlq),
    ];
    if config.stage.create_topics {
        topics::ensure(kafka, &declared).await?;
    } else {
        topics::check(kafka, &declared).await?;
    }
    let counts = partition_counts(kafka, &names).await?;
    let first = counts[0].1;
    if first == 0 || counts.iter().any(|(_, count)| *count != first) {
        let counts =
            counts.iter().map(|(topic, count)| format!("{topic}={count}")).collect::<Vec<_>>().join(", ");
        return Err(SignerError::PartitionMismatch { counts });
    }
    Ok(first as i32)
}
