//! What follows an assignment, off the consumer's callback: each assigned partition
//! is claimed on the owners topic ([`Claim`], keyed by partition), so the query-apis
//! route its searches here, and its last owner's position (the group's committed
//! offset) is read, from which its shard answers.
//!
//! Claims carry the time of the assignment: of two claims of a partition, the
//! query-apis keep the later, whatever order they reached the topic in (a member
//! gives a partition up a rebalance before its next owner is given it, seconds
//! apart, far more than the clocks of synchronized hosts differ). A claim that goes
//! stale (its indexer died) is harmless: the query-api cannot reach the leaf, or the
//! leaf says the shard is not its own, and the shard is reported missing until its
//! new owner claims it.

use std::sync::Arc;
use std::time::Duration;

use audit_index::leaf::Claim;
use audit_runtime::config::KafkaConfig;
use audit_runtime::kafka::{consumer_config, immediate_producer};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_util::sync::CancellationToken;

use crate::IndexerError;
use crate::served::Served;

/// Partitions given to this indexer, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assigned {
    /// The partitions.
    pub partitions: Vec<i32>,
    /// When, milliseconds since the epoch.
    pub since_ms: i64,
}

impl Assigned {
    /// `partitions`, assigned now.
    pub fn now(partitions: &[i32]) -> Assigned {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        Assigned {
            partitions: partitions.to_vec(),
            since_ms: i64::try_from(now.as_millis()).unwrap_or(i64::MAX),
        }
    }
}

/// Where claims go and positions come from.
pub struct Announcer {
    producer: FutureProducer,
    /// A client of the indexers' group that never joins it: it only reads offsets.
    positions: Arc<BaseConsumer>,
    /// The owners topic.
    owners: String,
    /// The signed topic.
    signed: String,
    /// This indexer's leaf URL.
    leaf: String,
    served: Arc<Served>,
}

/// What an [`Announcer`] is made of.
pub struct AnnouncerParams<'a> {
    /// Kafka settings.
    pub kafka: &'a KafkaConfig,
    /// The indexers' consumer group.
    pub group: &'a str,
    /// The owners topic.
    pub owners: &'a str,
    /// The signed topic.
    pub signed: &'a str,
    /// This indexer's leaf URL.
    pub leaf: &'a str,
    /// The served shards, told their last owner's position.
    pub served: Arc<Served>,
}

impl Announcer {
    /// An announcer as `params` say.
    pub fn new(params: AnnouncerParams<'_>) -> Result<Announcer, IndexerError> {
        let producer = immediate_producer(params.kafka)?;
        let mut config = consumer_config(params.kafka, params.group);
        config.set("enable.auto.commit", "false");
        let positions = config.create().map_err(|source| {
            IndexerError::Runtime(audit_runtime::RuntimeError::ClientCreation { role: "consumer", source })
        })?;
        Ok(Announcer {
            producer,
            positions: Arc::new(positions),
            owners: params.owners.to_owned(),
            signed: params.signed.to_owned(),
            leaf: params.leaf.to_owned(),
            served: params.served,
        })
    }

    /// Follows assignments until `shutdown`: targets first (searches wait on them),
    /// then claims, each retried until it succeeds.
    pub async fn run(self, mut assigned: UnboundedReceiver<Assigned>, shutdown: CancellationToken) {
        loop {
            let next = tokio::select! {
                _ = shutdown.cancelled() => break,
                next = assigned.recv() => next,
            };
            let Some(next) = next else { break };
            self.read_positions(&next.partitions, &shutdown).await;
            for partition in &next.partitions {
                let claim = Claim { partition: *partition, leaf: self.leaf.clone(), since_ms: next.since_ms };
                self.publish(&claim, &shutdown).await;
            }
        }
        // Dropping Kafka clients waits on the broker: not on an async worker.
        let Announcer { producer, positions, .. } = self;
        let _ = tokio::task::spawn_blocking(move || drop((producer, positions))).await;
    }

    async fn read_positions(&self, partitions: &[i32], shutdown: &CancellationToken) {
        let mut list = TopicPartitionList::new();
        for partition in partitions {
            list.add_partition(&self.signed, *partition);
        }
        while !shutdown.is_cancelled() {
            let (positions, asked) = (self.positions.clone(), list.clone());
            let read = tokio::task::spawn_blocking(move || {
                positions.committed_offsets(asked, Duration::from_secs(10))
            })
            .await
            .map_err(|error| error.to_string())
            .and_then(|read| read.map_err(|error| error.to_string()));
            match read {
                Ok(read) => {
                    for element in read.elements() {
                        let target = match element.offset() {
                            Offset::Offset(offset) => Some(offset),
                            _ => None,
                        };
                        self.served.set_target(element.partition(), target);
                    }
                    return;
                }
                Err(error) => {
                    tracing::warn!(%error, "the group's committed offsets not read; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    async fn publish(&self, claim: &Claim, shutdown: &CancellationToken) {
        let payload = serde_json::to_vec(claim).expect("a claim serializes");
        let key = Claim::key(claim.partition);
        let mut backoff = Duration::from_millis(100);
        while !shutdown.is_cancelled() {
            let record = FutureRecord::to(&self.owners).key(&key).payload(&payload);
            match self.producer.send(record, Duration::from_secs(10)).await {
                Ok(_) => {
                    tracing::info!(partition = claim.partition, leaf = %claim.leaf, "shard claimed");
                    return;
                }
                Err((error, _)) => {
                    tracing::warn!(partition = claim.partition, %error, "shard claim not written; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
}
