//! Rebuilding shards from `audit.signed` (after a schema change or a lost disk).
//!
//! Each partition's shard is opened with its writer lock (so a running indexer makes
//! the rebuild fail instead of racing it), emptied, refilled from the beginning of
//! the partition to its current end, and committed with that end as its position: a
//! restarted indexer continues from there.

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::Duration;

use audit_runtime::config::KafkaConfig;
use audit_runtime::range::{PartitionRange, read_range};
use rdkafka::Message;
use rdkafka::consumer::{BaseConsumer, Consumer};

use crate::IndexerError;
use crate::schema::IndexSchema;
use crate::shard::{Shard, WriterBudget};

/// How long a read of the topic may go without a message before it gives up.
const READ_STALL: Duration = Duration::from_secs(60);

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
    let consumer: BaseConsumer = audit_runtime::kafka::base_client_config(&params.kafka)
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
        read_partition(&consumer, (&params.topic, partition), (low, high), &mut on_message)?;
        shard.commit()?;
        shard.close()?;
        report.shards += 1;
    }
    Ok(report)
}

/// Calls `on_message` with the offset and payload of every message of `[low, high)`
/// of one partition, in order; its first error ends the read.
fn read_partition(
    consumer: &BaseConsumer,
    (topic, partition): (&str, i32),
    (low, high): (i64, i64),
    on_message: &mut impl FnMut(i64, &[u8]) -> Result<(), IndexerError>,
) -> Result<(), IndexerError> {
    let range = PartitionRange { topic, partition, start: low, end: high };
    let mut failed = None;
    read_range(consumer, range, READ_STALL, |message| {
        match on_message(message.offset(), message.payload().unwrap_or_default()) {
            Ok(()) => ControlFlow::Continue(()),
            Err(error) => {
                failed = Some(error);
                ControlFlow::Break(())
            }
        }
    })
    .map_err(|error| IndexerError::TopicRead { detail: error.to_string() })?;
    failed.map_or(Ok(()), Err)
}
