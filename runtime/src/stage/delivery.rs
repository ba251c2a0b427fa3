//! The producer side of the stage runtime: writes a batch's outcomes and waits until
//! the broker acknowledged every record, which is what allows its offsets to move.

use std::collections::{BTreeMap, VecDeque};

use rdkafka::{
    Message,
    error::{KafkaError, RDKafkaErrorCode},
    message::{Header, OwnedHeaders},
    producer::{DeliveryFuture, FutureProducer, FutureRecord},
};

use super::{INPUT_OFFSET_HEADER, InputMessage, Outcome, Partitioning, StageParams};
use crate::{RuntimeError, dlq, metrics::StageMetrics};

/// Where a batch's outputs landed, once acknowledged.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Acknowledged {
    /// Highest acknowledged output offset per output partition.
    pub last_output_offsets: BTreeMap<i32, i64>,
}

/// What one delivered batch amounted to, for the metrics.
#[derive(Debug, Default)]
pub struct Delivered {
    /// Records written to the output topic.
    pub produced: u64,
    /// Where they landed.
    pub acknowledged: Acknowledged,
    rejected: BTreeMap<&'static str, u64>,
    skipped: BTreeMap<&'static str, u64>,
}

impl Delivered {
    /// Counts the batch once.
    pub fn record(&self, metrics: &StageMetrics, consumed: usize) {
        metrics.records_consumed.inc_by(consumed as u64);
        metrics.records_produced.inc_by(self.produced);
        for (code, count) in &self.rejected {
            metrics.records_rejected.with_label_values(&[code]).inc_by(*count);
        }
        for (reason, count) in &self.skipped {
            metrics.records_skipped.with_label_values(&[reason]).inc_by(*count);
        }
    }
}

/// Sends every outcome of `batch` and waits for all acknowledgements.
pub async fn deliver(
    producer: &FutureProducer,
    params: &StageParams,
    batch: &[InputMessage],
    outcomes: &[Outcome],
) -> Result<Delivered, RuntimeError> {
    send(producer, params, batch, outcomes).await?.acknowledged().await
}

/// A batch handed to the producer whose acknowledgements are still awaited.
pub struct Sending<'p> {
    in_flight: InFlight<'p>,
    delivered: Delivered,
}

impl Sending<'_> {
    /// Waits until the broker acknowledged every record of the batch.
    pub async fn acknowledged(self) -> Result<Delivered, RuntimeError> {
        let mut delivered = self.delivered;
        delivered.acknowledged = self.in_flight.drain().await?;
        Ok(delivered)
    }
}

/// Hands every outcome of `batch` to the producer (which copies the payloads), without
/// waiting for acknowledgements beyond what the client's queue bound requires.
pub async fn send<'p>(
    producer: &'p FutureProducer,
    params: &StageParams,
    batch: &[InputMessage],
    outcomes: &[Outcome],
) -> Result<Sending<'p>, RuntimeError> {
    let mut in_flight =
        InFlight { producer, pending: VecDeque::new(), acknowledged: Acknowledged::default() };
    let mut delivered = Delivered::default();
    for (input, outcome) in batch.iter().zip(outcomes) {
        match outcome {
            Outcome::Forward(records) => {
                for record in records {
                    let mut output = FutureRecord::<[u8], [u8]>::to(params.topics.output()?)
                        .key(record.key.as_slice())
                        .payload(record.payload.as_slice());
                    if params.partitioning == Partitioning::SameAsInput {
                        output = output.partition(input.partition).headers(input_offset_header(input.offset));
                    }
                    in_flight.send(output, Target::Output).await?;
                }
                delivered.produced += records.len() as u64;
            }
            Outcome::Reject(rejection) => {
                let source = dlq::Source {
                    stage: params.service,
                    topic: &input.topic,
                    partition: input.partition,
                    offset: input.offset,
                };
                let mut record = FutureRecord::<[u8], [u8]>::to(&params.topics.dlq)
                    .headers(dlq::headers(rejection, source));
                record.key = input.key.as_deref();
                record.payload = input.payload.as_deref();
                in_flight.send(record, Target::DeadLetters).await?;
                *delivered.rejected.entry(rejection.code).or_default() += 1;
            }
            Outcome::Skip { reason } => *delivered.skipped.entry(reason).or_default() += 1,
        }
    }
    Ok(Sending { in_flight, delivered })
}

fn input_offset_header(offset: i64) -> OwnedHeaders {
    OwnedHeaders::new()
        .insert(Header { key: INPUT_OFFSET_HEADER, value: Some(offset.to_string().as_bytes()) })
}

/// Which topic a record goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Output,
    DeadLetters,
}

/// Enqueued records whose acknowledgement is still awaited.
struct InFlight<'p> {
    producer: &'p FutureProducer,
    pending: VecDeque<(DeliveryFuture, Target)>,
    acknowledged: Acknowledged,
}

impl InFlight<'_> {
    /// Enqueues `record`; when the client's queue is full, waits for the oldest
    /// acknowledgement first, which bounds memory.
    async fn send(
        &mut self,
        mut record: FutureRecord<'_, [u8], [u8]>,
        target: Target,
    ) -> Result<(), RuntimeError> {
        loop {
            match self.producer.send_result(record) {
                Ok(delivery) => {
                    self.pending.push_back((delivery, target));
                    return Ok(());
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                    record = returned;
                    self.wait_oldest().await?;
                }
                Err((source, returned)) => {
                    return Err(RuntimeError::Delivery { topic: returned.topic.to_owned(), source });
                }
            }
        }
    }

    async fn wait_oldest(&mut self) -> Result<(), RuntimeError> {
        match self.pending.pop_front() {
            Some((delivery, target)) => {
                let (partition, offset) = acknowledged(delivery).await?;
                if target == Target::Output {
                    let last = self.acknowledged.last_output_offsets.entry(partition).or_insert(offset);
                    *last = (*last).max(offset);
                }
                Ok(())
            }
            None => {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                Ok(())
            }
        }
    }

    async fn drain(mut self) -> Result<Acknowledged, RuntimeError> {
        while !self.pending.is_empty() {
            self.wait_oldest().await?;
        }
        Ok(self.acknowledged)
    }
}

async fn acknowledged(delivery: DeliveryFuture) -> Result<(i32, i64), RuntimeError> {
    match delivery.await {
        Ok(Ok(delivery)) => Ok((delivery.partition, delivery.offset)),
        Ok(Err((source, message))) => {
            Err(RuntimeError::Delivery { topic: message.topic().to_owned(), source })
        }
        // Only a dropped producer cancels a delivery; the producer outlives the batch.
        Err(_canceled) => Err(RuntimeError::Delivery { topic: String::new(), source: KafkaError::Canceled }),
    }
}
