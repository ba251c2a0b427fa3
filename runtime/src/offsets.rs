//! Which offsets a finished batch allows to commit.
//!
//! This is where at-least-once is decided: an input offset is stored (and later
//! committed) only after every output and DLQ record produced from that input has
//! been acknowledged by the broker. Batches run one after another, so when a batch
//! is acknowledged every earlier offset of its partitions is too, and the highest
//! offset per partition is all there is to store. Kafka commits name the *next*
//! offset to read, hence `offset + 1`.

use std::collections::BTreeMap;

use rdkafka::{Offset, TopicPartitionList, error::KafkaResult};

/// Highest finished offset per partition of one batch.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BatchOffsets {
    highest: BTreeMap<i32, i64>,
}

impl BatchOffsets {
    /// Records that the input at `partition`/`offset` is fully handled.
    pub fn finish(&mut self, partition: i32, offset: i64) {
        let highest = self.highest.entry(partition).or_insert(offset);
        *highest = (*highest).max(offset);
    }

    /// The commit positions: for each partition, the offset after its highest finished one.
    pub fn commit_positions(&self) -> impl Iterator<Item = (i32, i64)> + '_ {
        self.highest.iter().map(|(partition, offset)| (*partition, offset + 1))
    }

    /// The positions as a list for `store_offsets`.
    pub fn to_partition_list(&self, topic: &str) -> KafkaResult<TopicPartitionList> {
        let mut list = TopicPartitionList::new();
        for (partition, position) in self.commit_positions() {
            list.add_partition_offset(topic, partition, Offset::Offset(position))?;
        }
        Ok(list)
    }

    /// Whether nothing was finished.
    pub fn is_empty(&self) -> bool {
        self.highest.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_position_is_one_past_the_highest_finished_offset() {
        let mut offsets = BatchOffsets::default();
        for (partition, offset) in [(0, 7), (1, 3), (0, 5), (0, 9), (1, 2)] {
            offsets.finish(partition, offset);
        }
        let positions: Vec<_> = offsets.commit_positions().collect();
        assert_eq!(positions, vec![(0, 10), (1, 4)]);
    }

    #[test]
    fn an_empty_batch_commits_nothing() {
        let offsets = BatchOffsets::default();
        assert!(offsets.is_empty());
        assert_eq!(offsets.to_partition_list("t").unwrap().count(), 0);
    }
}
