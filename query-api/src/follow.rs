//! Reading a small topic whole and then following it: the indexers' shard claims and
//! the tenants' checkpoints. Every partition is read from its beginning with a
//! hand-assigned consumer that never joins a group or commits; the partition count is
//! read again every few seconds and the reading starts over when it grew.
//!
//! Guarantee: every message of the topic reaches the handler at least once, in order
//! within its partition; a restart hands them all again, so handlers keep the latest
//! state of what they read and are indifferent to repeats.

use std::time::Duration;

use audit_runtime::config::KafkaConfig;
use audit_runtime::kafka::{consumer_config, partition_counts};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::BorrowedMessage;
use rdkafka::{Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;

/// How often the topic's partition count is read again.
const METADATA_INTERVAL: Duration = Duration::from_secs(5);
/// How often while the topic does not exist yet.
const EARLY_INTERVAL: Duration = Duration::from_millis(250);

/// One topic to follow.
pub struct Tail {
    /// The cluster.
    pub kafka: KafkaConfig,
    /// The topic.
    pub topic: String,
    /// The client id, naming the reader in the broker's logs.
    pub client: &'static str,
}

/// Hands every message of the topic to `take` until `shutdown`.
pub async fn follow<F>(tail: Tail, shutdown: CancellationToken, mut take: F)
where
    F: FnMut(&BorrowedMessage<'_>),
{
    let mut assigned = 0;
    let mut consumer: Option<StreamConsumer> = None;
    let tick = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(tick);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = &mut tick => {
                let mut period = EARLY_INTERVAL;
                match partition_counts(&tail.kafka, &[&tail.topic]).await {
                    Ok(counts) => {
                        let partitions = counts[0].1 as i32;
                        if partitions > 0 {
                            period = METADATA_INTERVAL;
                        }
                        if partitions != assigned {
                            consumer = start(&tail, partitions);
                            assigned = if consumer.is_some() { partitions } else { 0 };
                        }
                    }
                    Err(error) => tracing::warn!(%error, topic = %tail.topic, "partition count not read"),
                }
                tick.as_mut().reset(tokio::time::Instant::now() + period);
            }
            message = next(consumer.as_ref()) => match message {
                Ok(message) => take(&message),
                Err(error) => tracing::warn!(%error, topic = %tail.topic, "topic not read"),
            },
        }
    }
}

/// A consumer of every partition of the topic from its beginning.
fn start(tail: &Tail, partitions: i32) -> Option<StreamConsumer> {
    if partitions == 0 {
        return None;
    }
    let mut config = consumer_config(&tail.kafka, tail.client);
    config.set("enable.auto.commit", "false").set("enable.auto.offset.store", "false");
    let consumer: StreamConsumer = match config.create() {
        Ok(consumer) => consumer,
        Err(error) => {
            tracing::error!(%error, topic = %tail.topic, "consumer not created");
            return None;
        }
    };
    let mut assignment = TopicPartitionList::new();
    for partition in 0..partitions {
        let _ = assignment.add_partition_offset(&tail.topic, partition, Offset::Beginning);
    }
    match consumer.assign(&assignment) {
        Ok(()) => Some(consumer),
        Err(error) => {
            tracing::error!(%error, topic = %tail.topic, "consumer not assigned");
            None
        }
    }
}

/// The next message, if a consumer runs (none: wait for the next tick).
async fn next(consumer: Option<&StreamConsumer>) -> Result<BorrowedMessage<'_>, String> {
    let Some(consumer) = consumer else { return std::future::pending().await };
    consumer.recv().await.map_err(|error| error.to_string())
}
