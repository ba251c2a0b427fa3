//! Rebuilding shards from `audit.signed` (after a schema change or a lost disk).
//!
//! Each partition's shard is opened with its writer lock (so a running indexer makes
//! the rebuild fail instead of racing it), emptied, refilled from the beginning of
//! the partition to its current end, and committed with that end as its position: a
//! restarted indexer continues from there.

use std::path::PathBuf;
use std::time::Duration;

use audit_core::config::KafkaConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};

use crate::IndexerError;
use crate::schema::IndexSchema;
use crate::shard::{Shard, WriterBudget};

/// What to rebuild.
#[derive(Debug, Clone)]
pub struct ReindexParams {
    /// Kafka settings.
    pub kafka: KafkaConfig,
    /// `audit.signed`.
    pub topic: String,
    /// Directory of the shards.
    pub root: PathBuf,
    /// Writer budget per shard.
    pub budget: WriterBudget,
}

/// What a rebuild did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReindexReport {
    /// Shards rebuilt.
    pub shards: usize,
    /// Documents added.
    pub indexed: u64,
    /// Messages that could not be indexed (skipped; the indexer sends them to the DLQ).
    pub skipped: u64,
}

/// Rebuilds every shard of `params.topic`; `progress(done, total)` after each message.
pub fn reindex(
    params: &ReindexParams,
    mut progress: impl FnMut(u64, u64),
) -> Result<ReindexReport, IndexerError> {
    let kafka_error = |detail: String| IndexerError::TopicRead { detail };
    let consumer: BaseConsumer = audit_core::kafka::base_client_config(&params.kafka)
        .set("group.id", "audit-reindex")
        .set("enable.auto.commit", "false")
        .create()
        .map_err(|error| kafka_error(error.to_string()))?;
    let metadata = consumer
        .fetch_metadata(Some(&params.topic), Duration::from_secs(30))
        .map_err(|error| kafka_error(error.to_string()))?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .flat_map(|topic| topic.partitions().iter().map(|partition| partition.id()))
        .collect();
    let mut ranges = Vec::new();
    for partition in &partitions {
        let (low, high) = consumer
            .fetch_watermarks(&params.topic, *partition, Duration::from_secs(30))
            .map_err(|error| kafka_error(error.to_string()))?;
        ranges.push((*partition, low, high));
    }
    let total: u64 = ranges.iter().map(|(_, low, high)| (high - low).max(0) as u64).sum();
    let schema = IndexSchema::new();
    let mut report = ReindexReport::default();
    let mut done = 0;
    for (partition, low, high) in ranges {
        let mut shard = Shard::open(&params.root, partition, &schema, params.budget)?;
        shard.clear()?;
        shard.pass(high - 1);
        let mut on_message = |offset: i64, payload: &[u8]| -> Result<(), IndexerError> {
            match crate::shards::prepare(&schema, payload) {
                Ok((id, document)) => {
                    shard.upsert(offset, &id, document)?;
                    report.indexed += 1;
                }
                Err(_) => report.skipped += 1,
            }
            done += 1;
            progress(done, total);
            Ok(())
        };
        read_range(&consumer, (&params.topic, partition), (low, high), &mut on_message)?;
        shard.commit()?;
        shard.close()?;
        report.shards += 1;
    }
    Ok(report)
}

/// Calls `on_message` for every message of `[low, high)` of one partition, in order.
fn read_range(
    consumer: &BaseConsumer,
    (topic, partition): (&str, i32),
    (low, high): (i64, i64),
    on_message: &mut impl FnMut(i64, &[u8]) -> Result<(), IndexerError>,
) -> Result<(), IndexerError> {
    if low >= high {
        return Ok(());
    }
    let stalled = |detail: String| IndexerError::TopicRead { detail };
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(topic, partition, Offset::Offset(low))
        .and_then(|()| consumer.assign(&assignment))
        .map_err(|error| stalled(error.to_string()))?;
    let mut idle = std::time::Instant::now();
    loop {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(message)) => {
                idle = std::time::Instant::now();
                on_message(message.offset(), message.payload().unwrap_or_default())?;
                if message.offset() + 1 >= high {
                    return Ok(());
                }
            }
            Some(Err(error)) => tracing::warn!(%error, partition, "read error while reindexing"),
            None if idle.elapsed() > Duration::from_secs(60) => {
                return Err(stalled(format!(
                    "no message of partition {partition} for 60 s before offset {high}"
                )));
            }
            None => {}
        }
    }
}
