//! Who serves which shard: the indexers' claims on the owners topic (the latest claim
//! per partition), followed from the topic's beginning, and how many partitions the
//! signed topic has, so a shard nobody claimed is missed by name, not by omission.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use audit_index::leaf::Claim;
use audit_runtime::config::KafkaConfig;
use audit_runtime::kafka::partition_counts;
use rdkafka::Message;
use tokio_util::sync::CancellationToken;

use crate::QueryError;
use crate::follow::{self, Tail};

/// How often the signed topic's partition count is read again.
const METADATA_INTERVAL: Duration = Duration::from_secs(5);
/// How often while the signed topic does not exist yet.
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

/// Follows the claims until `shutdown`, and re-reads the signed topic's partition
/// count every few seconds.
pub async fn follow(owners: Arc<Owners>, kafka: KafkaConfig, topics: Topics, shutdown: CancellationToken) {
    let tail = Tail { kafka: kafka.clone(), topic: topics.owners, client: "audit-query-api-owners" };
    let claims = owners.clone();
    let reader = follow::follow(tail, shutdown.clone(), move |message| {
        let Some(payload) = message.payload() else { return };
        match serde_json::from_slice::<Claim>(payload) {
            Ok(claim) => claims.claimed(claim),
            Err(error) => tracing::warn!(%error, offset = message.offset(), "a claim that does not parse"),
        }
    });
    tokio::join!(reader, count(owners, kafka, topics.signed, shutdown));
}

/// Reads the signed topic's partition count until `shutdown`.
async fn count(owners: Arc<Owners>, kafka: KafkaConfig, signed: String, shutdown: CancellationToken) {
    loop {
        let period = match partition_counts(&kafka, &[&signed]).await {
            Ok(counts) if counts[0].1 > 0 => {
                owners.set_partitions(counts[0].1 as i32);
                METADATA_INTERVAL
            }
            Ok(_) => EARLY_INTERVAL,
            Err(error) => {
                tracing::warn!(%error, "shard count not read");
                EARLY_INTERVAL
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(period) => {}
        }
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
