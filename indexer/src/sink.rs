//! The indexer as a sink of the stage runtime: a batch is added to its partitions'
//! shards, the shards are committed every commit interval, and a commit's offsets are
//! the positions the runtime stores for the group (a Kafka offset never passes a
//! Tantivy commit, and the commit itself names its offset).

use std::{sync::Arc, time::Duration};

use audit_runtime::stage::consumer::PartitionListener;
use audit_runtime::stage::{InputMessage, Sink, Written};

use crate::IndexerError;
use crate::shards::SharedShards;

/// The shards, written as a sink.
pub struct IndexSink {
    /// The shards this instance owns.
    pub shards: SharedShards,
    /// Commit cadence.
    pub commit_interval: Duration,
}

impl Sink for IndexSink {
    type Error = IndexerError;

    async fn write(&mut self, batch: Arc<[InputMessage]>) -> Result<Vec<Written>, IndexerError> {
        self.shards.with(move |shards| shards.index(&batch)).await
    }

    async fn flush(&mut self) -> Result<Vec<(i32, i64)>, IndexerError> {
        self.shards.with(|shards| shards.commit()).await
    }

    async fn leave(&mut self) -> Vec<(i32, i64)> {
        self.shards
            .with(|shards| {
                let partitions = shards.partitions();
                shards.close(&partitions)
            })
            .await
    }

    fn flush_interval(&self) -> Duration {
        self.commit_interval
    }

    fn listener(&self) -> Option<Arc<dyn PartitionListener>> {
        Some(Arc::new(self.shards.clone()))
    }
}
