//! The consume → write loop of a consumer whose output is not a Kafka topic: the
//! indexer's shards, the notifier's outbox.
//!
//! A sink's logic is a [`Sink`]; [`run_sink`] is the adapter around it, with the group
//! membership, stall watch, rebalances and shutdown of [`super::run_stage`]. What
//! differs is when offsets move: a sink writes batches as they come and makes them
//! durable on its own cadence ([`Sink::flush`]), and the positions a flush returns are
//! the only ones stored for the group. A rejected message reaches the DLQ, and is
//! acknowledged, before the next flush can cover its offset. So a crash redoes at most
//! what was written since the last flush, which a sink must absorb (the indexer's adds
//! are upserts by record id).

use std::{future::Future, sync::Arc, time::Duration};

use tokio::{sync::Notify, time::Instant};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::consumer::{self, BatchLimits, PartitionListener, StageConsumer};
use super::{Exit, InputMessage, Outcome, StageParams, Started, delivery, start};
use crate::{RuntimeError, dlq::Rejection};

/// What a sink did with one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// Written; durable once the next flush returns.
    Stored,
    /// Write the input to the DLQ with this reason.
    Reject(Rejection),
    /// Nothing to write; `reason` labels a metric.
    Skip {
        /// Bounded reason label.
        reason: &'static str,
    },
}

/// The pure part of a consumer that writes somewhere other than Kafka.
pub trait Sink: Send {
    /// What stops the sink; the runtime's own failures convert into it.
    type Error: From<RuntimeError> + std::error::Error + Send;

    /// Writes `batch`; exactly one outcome per input, in order. An error stops the
    /// service, after [`Sink::leave`].
    fn write(
        &mut self,
        batch: Arc<[InputMessage]>,
    ) -> impl Future<Output = Result<Vec<Written>, Self::Error>> + Send;

    /// Makes everything written so far durable; per partition, the next offset to read
    /// that the durable work covers (partitions without new work may be left out).
    fn flush(&mut self) -> impl Future<Output = Result<Vec<(i32, i64)>, Self::Error>> + Send;

    /// The consumer is leaving its group (shutdown, a restart, an error): make every
    /// partition's work durable and release what it holds; positions as [`Sink::flush`].
    fn leave(&mut self) -> impl Future<Output = Vec<(i32, i64)>> + Send;

    /// Longest time between flushes, input or not.
    fn flush_interval(&self) -> Duration;

    /// Told of every assignment and revocation, for a sink that keeps its own position
    /// per partition or must release a partition before it moves (the indexer's shards).
    fn listener(&self) -> Option<Arc<dyn PartitionListener>> {
        None
    }
}

/// Runs `sink` until `shutdown` is cancelled or an error happens.
pub async fn run_sink<S: Sink>(
    mut sink: S,
    params: StageParams,
    shutdown: CancellationToken,
) -> Result<(), S::Error> {
    let Started { producer, restart, watch } = start(&params, &params.topics.declared(), &shutdown).await?;
    info!(service = params.service, input = %params.topics.input, "sink started");
    let result = loop {
        let consumer = consumer::subscribe_with(&params, sink.listener())?;
        let looped =
            SinkLoop { params: &params, consumer: &consumer, producer: &producer, restart: &restart };
        let ended = looped.run(&mut sink, &shutdown).await;
        if !matches!(ended, Ok(Exit::Restart)) {
            params.health.set_stopping();
        }
        // Every partition's work durable and released before the consumer commits and leaves.
        let positions = sink.leave().await;
        consumer::store_positions(&consumer, &params.topics.input, &positions);
        consumer::close(consumer).await?;
        match ended {
            Ok(Exit::Restart) => {
                warn!(service = params.service, "left the group to start the consumer over");
            }
            other => break other.map(|_| ()),
        }
    };
    watch.abort();
    info!(service = params.service, "sink stopped");
    result
}

/// What the loop works with.
struct SinkLoop<'a> {
    params: &'a StageParams,
    consumer: &'a StageConsumer,
    producer: &'a rdkafka::producer::FutureProducer,
    restart: &'a Notify,
}

impl SinkLoop<'_> {
    /// Reads, writes and flushes until `shutdown` or a restart; offsets move only in
    /// [`SinkLoop::flush`], to the positions the sink made durable.
    async fn run<S: Sink>(&self, sink: &mut S, shutdown: &CancellationToken) -> Result<Exit, S::Error> {
        let limits = BatchLimits::from(&self.params.kafka);
        let mut next_flush = Instant::now() + sink.flush_interval();
        while !shutdown.is_cancelled() {
            let batch = tokio::select! {
                biased;
                // Messages received so far are dropped: their offsets were not stored.
                _ = self.restart.notified() => return Ok(Exit::Restart),
                batch = consumer::next_batch_until(self.consumer, limits, shutdown, Some(next_flush)) => batch?,
            };
            if !batch.is_empty() {
                self.write(sink, batch).await?;
            }
            if Instant::now() >= next_flush {
                self.flush(sink).await?;
                next_flush = Instant::now() + sink.flush_interval();
            }
        }
        Ok(Exit::Shutdown)
    }

    async fn write<S: Sink>(&self, sink: &mut S, batch: Vec<InputMessage>) -> Result<(), S::Error> {
        let batch: Arc<[InputMessage]> = batch.into();
        let written = sink.write(batch.clone()).await?;
        if written.len() != batch.len() {
            let (stage, outcomes, inputs) = (self.params.service, written.len(), batch.len());
            return Err(RuntimeError::OutcomeCount { stage, outcomes, inputs }.into());
        }
        let outcomes: Vec<Outcome> = written.into_iter().map(Outcome::from).collect();
        // Rejections are acknowledged by the DLQ before any flush can cover their offsets.
        let delivered = delivery::deliver(self.producer, self.params, &batch, &outcomes).await?;
        delivered.record(&self.params.metrics, batch.len());
        Ok(())
    }

    async fn flush<S: Sink>(&self, sink: &mut S) -> Result<(), S::Error> {
        let positions = sink.flush().await?;
        consumer::store_positions(self.consumer, &self.params.topics.input, &positions);
        Ok(())
    }
}

impl From<Written> for Outcome {
    fn from(written: Written) -> Outcome {
        match written {
            Written::Stored => Outcome::Forward(Vec::new()),
            Written::Reject(rejection) => Outcome::Reject(rejection),
            Written::Skip { reason } => Outcome::Skip { reason },
        }
    }
}
