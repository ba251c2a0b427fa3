//! Reading one partition's offsets `[start, end)` in order with a consumer assigned by
//! hand (no group): what rebuilding from a topic does, the signer's chain recovery and
//! the indexer's reindex alike.
//!
//! Ends at `end`, or earlier when the broker reports the partition's end (a range read
//! from watermarks taken a moment before). Gives up, with an error naming the topic,
//! partition and offset, when no message arrives for the stall time: a broker that
//! stopped answering never hangs a recovery.

use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::BorrowedMessage;
use rdkafka::{Message, Offset, TopicPartitionList};
use tracing::warn;

/// A run of one partition's offsets.
#[derive(Debug, Clone, Copy)]
pub struct PartitionRange<'a> {
    /// Topic.
    pub topic: &'a str,
    /// Partition.
    pub partition: i32,
    /// First offset read.
    pub start: i64,
    /// Offset after the last one read.
    pub end: i64,
}

/// Why a range could not be read to its end.
#[derive(Debug, thiserror::Error)]
pub enum RangeError {
    /// The consumer could not be assigned the partition.
    #[error("cannot read {topic} partition {partition}: {source}")]
    Assign {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// librdkafka's error.
        source: KafkaError,
    },
    /// No message arrived for the stall time.
    #[error("no message of {topic} partition {partition} for {} s before offset {end}", stall.as_secs())]
    Stalled {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// The end not reached.
        end: i64,
        /// How long nothing came.
        stall: Duration,
    },
}

/// Calls `on_message` for every message of `range` in order, until the range ends or
/// `on_message` breaks; gives up after `stall` without a message.
pub fn read_range(
    consumer: &BaseConsumer,
    range: PartitionRange<'_>,
    stall: Duration,
    mut on_message: impl FnMut(&BorrowedMessage<'_>) -> ControlFlow<()>,
) -> Result<(), RangeError> {
    let PartitionRange { topic, partition, start, end } = range;
    if start >= end {
        return Ok(());
    }
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(topic, partition, Offset::Offset(start))
        .and_then(|()| consumer.assign(&assignment))
        .map_err(|source| RangeError::Assign { topic: topic.to_owned(), partition, source })?;
    let mut last_message = Instant::now();
    loop {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(message)) => {
                last_message = Instant::now();
                if on_message(&message).is_break() || message.offset() + 1 >= end {
                    return Ok(());
                }
            }
            // The broker says the partition ends here, before the end asked for.
            Some(Err(KafkaError::PartitionEOF(_))) => return Ok(()),
            Some(Err(error)) => warn!(%error, topic, partition, "read error in a partition range"),
            None if last_message.elapsed() > stall => {
                return Err(RangeError::Stalled { topic: topic.to_owned(), partition, end, stall });
            }
            None => {}
        }
    }
}
