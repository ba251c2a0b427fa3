//! Announces the partitions this indexer is given: one [`Claim`] per partition on the
//! owners topic, keyed by partition, so the query-apis route each shard's searches
//! to the leaf that holds it.
//!
//! A claim is written inside the assignment callback and acknowledged before it
//! returns, and never repeated later. A member gives a partition up only in a later
//! callback, and its next owner is assigned only after that, so the owners' claims of
//! one partition reach the topic in the order they were assigned: the latest claim is
//! the current owner's. A claim that goes stale (its indexer died) is harmless: the
//! query-api cannot reach the leaf, or the leaf says the shard is not its own, and the
//! shard is reported missing until its new owner claims it.

use std::time::Duration;

use audit_index::leaf::Claim;
use audit_runtime::config::KafkaConfig;
use audit_runtime::kafka::immediate_producer;
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};

use crate::IndexerError;

/// Longest wait for the broker to acknowledge an assignment's claims.
const ACK_TIMEOUT: Duration = Duration::from_secs(10);

/// Writes this indexer's claims.
pub struct ClaimWriter {
    producer: FutureProducer,
    topic: String,
    leaf: String,
}

impl ClaimWriter {
    /// A writer of claims naming `leaf` to `topic`.
    pub fn new(kafka: &KafkaConfig, topic: &str, leaf: &str) -> Result<ClaimWriter, IndexerError> {
        let producer = immediate_producer(kafka)?;
        Ok(ClaimWriter { producer, topic: topic.to_owned(), leaf: leaf.to_owned() })
    }

    /// Claims `partitions` and waits for the acknowledgements (the consumer's
    /// callback thread blocks meanwhile, which is what orders claims).
    pub fn announce(&self, partitions: &[i32]) {
        let since_ms = now_ms();
        let deliveries: Vec<(i32, Result<DeliveryFuture, String>)> = partitions
            .iter()
            .map(|partition| {
                let claim = Claim { partition: *partition, leaf: self.leaf.clone(), since_ms };
                let payload = serde_json::to_vec(&claim).expect("a claim serializes");
                let key = Claim::key(*partition);
                let record = FutureRecord::to(&self.topic).key(&key).payload(&payload);
                (*partition, self.producer.send_result(record).map_err(|(error, _)| error.to_string()))
            })
            .collect();
        let outcome = acknowledgements(deliveries);
        let deadline = std::time::Instant::now() + ACK_TIMEOUT;
        for _ in partitions {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match outcome.recv_timeout(left) {
                Ok((partition, Ok(()))) => tracing::info!(partition, leaf = %self.leaf, "shard claimed"),
                // Searches of the shard answer "missing" until a later assignment claims it.
                Ok((partition, Err(reason))) => {
                    tracing::error!(partition, %reason, "shard claim not written");
                }
                Err(_) => {
                    tracing::error!(timeout = ?ACK_TIMEOUT, "shard claims not acknowledged in time");
                    return;
                }
            }
        }
    }
}

/// Each delivery's outcome, waited for on a thread of its own: the callback's thread
/// may be a runtime worker, whose timers must not be needed to wake it.
fn acknowledgements(
    deliveries: Vec<(i32, Result<DeliveryFuture, String>)>,
) -> std::sync::mpsc::Receiver<(i32, Result<(), String>)> {
    let (done, outcome) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for (partition, delivery) in deliveries {
            let acknowledged = delivery.and_then(|delivery| match futures::executor::block_on(delivery) {
                Ok(Ok(_)) => Ok(()),
                Ok(Err((error, _))) => Err(error.to_string()),
                Err(_) => Err("the producer dropped the claim".to_owned()),
            });
            let _ = done.send((partition, acknowledged));
        }
    });
    outcome
}

fn now_ms() -> i64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(now.as_millis()).unwrap_or(i64::MAX)
}
