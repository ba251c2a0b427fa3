//! Who serves which shard: the indexers' claims on the owners topic (the latest claim
//! per partition), followed from the topic's beginning, and how many partitions the
//! signed topic has, so a shard nobody claimed is missed by name, not by omission.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use audit_index::leaf::Claim;
use audit_runtime::config::KafkaConfig;
use audit_runtime::kafka::{consumer_config, partition_counts};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::{Message, Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;

use crate::QueryError;

/// How often the topics' partition counts are read again.
const METADATA_INTERVAL: Duration = Duration::from_secs(5);
/// How often while the owners topic or the signed topic does not exist yet.
const EARLY_INTERVAL: Duration = Duration::from_millis(250);

/// The routing table.
#[derive(Debug, Default)]
pub struct Owners {
    state: RwLock<State>,
}

#[derive(Debug, Default)]
struct State {
    claims: HashMap<i32, Claim>,
    /// Partitions of the signed topic, once the broker said.
    partitions: Option<i32>,
}

/// Where each shard is searched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Route {
    /// Each leaf URL with the partitions claimed by it.
    pub leaves: BTreeMap<String, Vec<i32>>,
    /// Partitions nobody claimed.
    pub unclaimed: Vec<i32>,
}

impl Owners {
    /// Where to search every partition of the signed topic.
    pub fn route(&self) -> Result<Route, QueryError> {
        let state = self.state.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        let partitions = state.partitions.ok_or_else(|| QueryError::ShardsMissing {
            detail: "the number of shards is not known yet: the broker has not answered".into(),
        })?;
        let mut route = Route::default();
        for partition in 0..partitions {
            match state.claims.get(&partition) {
                Some(claim) => route.leaves.entry(claim.leaf.clone()).or_default().push(partition),
                None => route.unclaimed.push(partition),
            }
        }
        Ok(route)
    }

    /// Takes a claim read from the topic: it replaces a claim of the partition made
    /// no later than itself.
    pub fn claimed(&self, claim: Claim) {
        let mut state = self.state.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        let known = state.claims.get(&claim.partition);
        if known.is_none_or(|known| known.since_ms <= claim.since_ms) {
            state.claims.insert(claim.partition, claim);
        }
    }

    /// The signed topic has `partitions` partitions.
    pub fn set_partitions(&self, partitions: i32) {
        self.state.write().unwrap_or_else(std::sync::PoisonError::into_inner).partitions = Some(partitions);
    }
}

/// The topics followed.
pub struct Topics {
    /// The owners topic.
    pub owners: String,
    /// The signed topic, whose partitions are the shards.
    pub signed: String,
}

/// Follows the claims until `shutdown`; re-reads partition counts every few seconds
/// and starts over when the owners topic grows.
pub async fn follow(owners: Arc<Owners>, kafka: KafkaConfig, topics: Topics, shutdown: CancellationToken) {
    let mut assigned = 0;
    let mut consumer: Option<StreamConsumer> = None;
    let mut known = false;
    let tick = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(tick);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = &mut tick => {
                match partition_counts(&kafka, &[&topics.signed, &topics.owners]).await {
                    Ok(counts) => {
                        owners.set_partitions(counts[0].1 as i32);
                        let claims = counts[1].1 as i32;
                        known = counts[0].1 > 0 && claims > 0;
                        if claims != assigned {
                            consumer = start(&kafka, &topics.owners, claims);
                            assigned = if consumer.is_some() { claims } else { 0 };
                        }
                    }
                    Err(error) => tracing::warn!(%error, "shard count not read"),
                }
                let period = if known { METADATA_INTERVAL } else { EARLY_INTERVAL };
                tick.as_mut().reset(tokio::time::Instant::now() + period);
            }
            message = next(consumer.as_ref()) => match message {
                Ok(Some(claim)) => owners.claimed(claim),
                Ok(None) => {}
                Err(error) => tracing::warn!(%error, "shard claims not read"),
            },
        }
    }
}

/// A consumer of every partition of the owners topic from its beginning.
fn start(kafka: &KafkaConfig, topic: &str, partitions: i32) -> Option<StreamConsumer> {
    if partitions == 0 {
        return None;
    }
    let mut config = consumer_config(kafka, "audit-query-api-owners");
    config.set("enable.auto.commit", "false").set("enable.auto.offset.store", "false");
    let consumer: StreamConsumer = match config.create() {
        Ok(consumer) => consumer,
        Err(error) => {
            tracing::error!(%error, "claims consumer not created");
            return None;
        }
    };
    let mut assignment = TopicPartitionList::new();
    for partition in 0..partitions {
        let _ = assignment.add_partition_offset(topic, partition, Offset::Beginning);
    }
    match consumer.assign(&assignment) {
        Ok(()) => Some(consumer),
        Err(error) => {
            tracing::error!(%error, "claims consumer not assigned");
            None
        }
    }
}

/// The next claim, if any consumer runs (none: wait for the next tick).
async fn next(consumer: Option<&StreamConsumer>) -> Result<Option<Claim>, String> {
    let Some(consumer) = consumer else { return std::future::pending().await };
    let message = consumer.recv().await.map_err(|error| error.to_string())?;
    let Some(payload) = message.payload() else { return Ok(None) };
    match serde_json::from_slice::<Claim>(payload) {
        Ok(claim) => Ok(Some(claim)),
        Err(error) => Err(format!("a claim that does not parse at offset {}: {error}", message.offset())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(partition: i32, leaf: &str, since_ms: i64) -> Claim {
        Claim { partition, leaf: leaf.into(), since_ms }
    }

    #[test]
    fn every_partition_is_routed_or_named_unclaimed() {
        let owners = Owners::default();
        assert!(matches!(owners.route(), Err(QueryError::ShardsMissing { .. })), "count unknown yet");
        owners.set_partitions(4);
        owners.claimed(claim(0, "http://a", 10));
        owners.claimed(claim(1, "http://a", 10));
        owners.claimed(claim(2, "http://b", 20));
        owners.claimed(claim(1, "http://b", 20));
        owners.claimed(claim(0, "http://b", 5));
        let route = owners.route().unwrap();
        assert_eq!(route.leaves["http://a"], vec![0], "a claim older than the one known is ignored");
        assert_eq!(route.leaves["http://b"], vec![1, 2], "the latest claim wins");
        assert_eq!(route.unclaimed, vec![3]);
    }
}
