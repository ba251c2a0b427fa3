//! The indexing loop: read a batch, add it to the shards, send what cannot be indexed
//! to the DLQ, and every commit interval commit the dirty shards and only then store
//! their offsets for Kafka (this is where the indexer's offsets are decided: a Kafka
//! offset never passes a Tantivy commit, and the commit itself names its offset).

use std::time::Duration;

use audit_runtime::stage::StageParams;
use audit_runtime::stage::consumer::{BatchLimits, StageConsumer, next_batch_until, store_positions};
use audit_runtime::stage::delivery::deliver;
use rdkafka::producer::FutureProducer;
use tokio::{sync::Notify, time::Instant};
use tokio_util::sync::CancellationToken;

use crate::IndexerError;
use crate::shards::SharedShards;

/// What the loop works with.
pub struct Loop<'a> {
    /// The shards.
    pub shards: &'a SharedShards,
    /// Stage parameters (topics, metrics).
    pub params: &'a StageParams,
    /// The group consumer.
    pub consumer: &'a StageConsumer,
    /// DLQ writer.
    pub producer: &'a FutureProducer,
    /// Commit cadence.
    pub commit_interval: Duration,
    /// Notified by the stall watch: leave and start the consumer over.
    pub restart: &'a Notify,
}

/// Why the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Shutdown.
    Shutdown,
    /// The stall watch asked for a new consumer.
    Restart,
}

impl Loop<'_> {
    /// Runs until `shutdown` or a restart; commits what is pending before returning.
    pub async fn run(&self, shutdown: &CancellationToken) -> Result<Ended, IndexerError> {
        let limits = BatchLimits::from(&self.params.kafka);
        let mut next_commit = Instant::now() + self.commit_interval;
        while !shutdown.is_cancelled() {
            let batch = tokio::select! {
                biased;
                // Messages received so far are dropped: their offsets were not stored.
                _ = self.restart.notified() => {
                    self.commit().await?;
                    return Ok(Ended::Restart);
                }
                batch = next_batch_until(self.consumer, limits, shutdown, Some(next_commit)) => batch?,
            };
            if !batch.is_empty() {
                self.index(batch).await?;
            }
            if Instant::now() >= next_commit {
                self.commit().await?;
                next_commit = Instant::now() + self.commit_interval;
            }
        }
        self.commit().await?;
        Ok(Ended::Shutdown)
    }

    async fn index(&self, batch: Vec<audit_runtime::stage::InputMessage>) -> Result<(), IndexerError> {
        let (batch, outcomes) = self
            .shards
            .with(move |shards| {
                let outcomes = shards.index(&batch);
                (batch, outcomes)
            })
            .await;
        let outcomes = outcomes?;
        // Rejections reach the DLQ before any commit can cover their offsets.
        let delivered = deliver(self.producer, self.params, &batch, &outcomes).await?;
        delivered.record(&self.params.metrics, batch.len());
        Ok(())
    }

    async fn commit(&self) -> Result<(), IndexerError> {
        let positions = self.shards.with(|shards| shards.commit()).await?;
        store_positions(self.consumer, &self.params.topics.input, &positions);
        Ok(())
    }
}
