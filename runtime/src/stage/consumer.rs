//! The consumer side of the stage runtime: group membership, batches, offsets.

use std::sync::atomic::{AtomicU64, Ordering};
use std::{collections::HashSet, sync::Arc, time::Duration};

use rdkafka::types::RDKafkaRespErr;
use rdkafka::{
    ClientContext, Message, Offset, Statistics, TopicPartitionList,
    consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, RebalanceProtocol, StreamConsumer},
    error::{KafkaError, RDKafkaErrorCode},
    message::BorrowedMessage,
};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::StageParams;
use crate::{RuntimeError, config::KafkaConfig, metrics::StageMetrics, offsets::BatchOffsets};

/// One input message, detached from the consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputMessage {
    /// Topic it was read from.
    pub topic: String,
    /// Partition it was read from.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
    /// Kafka key.
    pub key: Option<Vec<u8>>,
    /// Kafka value.
    pub payload: Option<Vec<u8>>,
    /// Producer or broker timestamp, milliseconds since the epoch.
    pub timestamp_ms: Option<i64>,
}

impl InputMessage {
    fn from_borrowed(message: &BorrowedMessage<'_>) -> Self {
        InputMessage {
            topic: message.topic().to_owned(),
            partition: message.partition(),
            offset: message.offset(),
            key: message.key().map(<[u8]>::to_vec),
            payload: message.payload().map(<[u8]>::to_vec),
            timestamp_ms: message.timestamp().to_millis(),
        }
    }
}

/// A stage that keeps its own position per partition (the indexer keeps it in each
/// shard's commit) and must act when partitions come and go.
pub trait PartitionListener: Send + Sync {
    /// Partitions were assigned: where each starts (the next offset to read), or
    /// `None` for the group's committed offset.
    fn assigned(&self, partitions: &[i32]) -> Vec<(i32, Option<i64>)>;

    /// Partitions are being revoked: make their work durable and say, per partition,
    /// the next offset to read, which is committed before they go.
    fn revoked(&self, partitions: &[i32]) -> Vec<(i32, i64)>;
}

/// Consumer callbacks: commit before revocation, lag from statistics, a count of
/// rebalances for stages that keep state per partition, and the optional listener.
pub struct StageContext {
    metrics: Arc<StageMetrics>,
    rebalances: AtomicU64,
    topic: String,
    listener: Option<Arc<dyn PartitionListener>>,
}

impl StageContext {
    /// How many assignments and revocations happened so far.
    pub fn rebalances(&self) -> u64 {
        self.rebalances.load(Ordering::Acquire)
    }

    fn assign(&self, consumer: &BaseConsumer<Self>, partitions: &mut TopicPartitionList) {
        let numbers: Vec<i32> = partitions.elements().iter().map(|element| element.partition()).collect();
        info!(partitions = numbers.len(), "partitions assigned");
        if let Some(listener) = &self.listener {
            for (partition, start) in listener.assigned(&numbers) {
                let Some(start) = start else { continue };
                if let Err(error) =
                    partitions.set_partition_offset(&self.topic, partition, Offset::Offset(start))
                {
                    warn!(partition, %error, "start position not set");
                }
            }
        }
        let assigned = match consumer.rebalance_protocol() {
            RebalanceProtocol::Cooperative => consumer.incremental_assign(partitions),
            _ => consumer.assign(partitions),
        };
        if let Err(error) = assigned {
            warn!(%error, "assignment failed");
        }
    }

    fn revoke(&self, consumer: &BaseConsumer<Self>, partitions: &TopicPartitionList) {
        info!(partitions = partitions.count(), "partitions revoked");
        if let Some(listener) = &self.listener {
            let numbers: Vec<i32> = partitions.elements().iter().map(|element| element.partition()).collect();
            let mut positions = TopicPartitionList::new();
            for (partition, next) in listener.revoked(&numbers) {
                let _ = positions.add_partition_offset(&self.topic, partition, Offset::Offset(next));
            }
            if let Err(error) = consumer.store_offsets(&positions) {
                warn!(%error, "positions of revoked partitions not stored");
            }
        }
        // Stored offsets cover acknowledged work only (the loop polls between batches),
        // so committing them now spares the partitions' next owner from redoing it.
        commit_stored(consumer);
        let unassigned = match consumer.rebalance_protocol() {
            RebalanceProtocol::Cooperative => consumer.incremental_unassign(partitions),
            _ => consumer.unassign(),
        };
        if let Err(error) = unassigned {
            warn!(%error, "unassignment failed");
        }
    }
}

impl ClientContext for StageContext {
    /// A broker unreachable or untrusted, credentials refused: librdkafka keeps trying,
    /// and the operator must see why.
    fn error(&self, error: KafkaError, reason: &str) {
        warn!(%error, reason, "kafka client error");
    }

    fn stats(&self, statistics: Statistics) {
        for (topic_name, topic) in &statistics.topics {
            for (partition, stats) in &topic.partitions {
                if *partition >= 0 && stats.consumer_lag >= 0 {
                    let partition = partition.to_string();
                    let gauge = self.metrics.consumer_lag.with_label_values(&[topic_name, &partition]);
                    gauge.set(stats.consumer_lag);
                }
            }
        }
    }
}

impl ConsumerContext for StageContext {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        error: RDKafkaRespErr,
        partitions: &mut TopicPartitionList,
    ) {
        self.rebalances.fetch_add(1, Ordering::AcqRel);
        match error {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => self.assign(consumer, partitions),
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => self.revoke(consumer, partitions),
            other => {
                warn!(error = %RDKafkaErrorCode::from(other), "rebalance failed");
                // librdkafka asks for an unassign on rebalance errors.
                let _ = consumer.unassign();
            }
        }
        self.rebalances.fetch_add(1, Ordering::AcqRel);
    }
}

/// The consumer type of every stage.
pub type StageConsumer = StreamConsumer<StageContext>;

/// Batch size and fill-time limits.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    max_records: usize,
    max_wait: Duration,
}

impl From<&KafkaConfig> for BatchLimits {
    fn from(config: &KafkaConfig) -> Self {
        BatchLimits { max_records: config.batch_max_records, max_wait: config.batch_max_wait }
    }
}

/// Waits the join delay before this member joins its group.
///
/// No broker needs it (the default is 0): a member that joins while a predecessor that
/// died without leaving is still in the group gets its partitions once that session
/// expired. It remains for deployments that want a new instance to wait anyway.
pub async fn join_delay(params: &StageParams, shutdown: &CancellationToken) {
    let delay = params.kafka.join_delay;
    if delay.is_zero() {
        return;
    }
    info!(delay_ms = delay.as_millis() as u64, "joining the consumer group after the join delay");
    tokio::select! {
        _ = shutdown.cancelled() => {}
        _ = tokio::time::sleep(delay) => {}
    }
}

/// Creates the group consumer and subscribes to the input topic.
pub fn subscribe(params: &StageParams) -> Result<StageConsumer, RuntimeError> {
    subscribe_with(params, None)
}

/// [`subscribe`], with a listener told of every assignment and revocation.
pub fn subscribe_with(
    params: &StageParams,
    listener: Option<Arc<dyn PartitionListener>>,
) -> Result<StageConsumer, RuntimeError> {
    let context = StageContext {
        metrics: params.metrics.clone(),
        rebalances: AtomicU64::new(0),
        topic: params.topics.input.clone(),
        listener,
    };
    let consumer: StageConsumer = crate::kafka::consumer_config(&params.kafka, &params.group_id)
        .create_with_context(context)
        .map_err(|source| RuntimeError::ClientCreation { role: "consumer", source })?;
    consumer.subscribe(&[&params.topics.input]).map_err(|source| RuntimeError::Consume { source })?;
    Ok(consumer)
}

/// Waits for a first message (or cancellation: then the batch is empty), then fills
/// the batch until it is full or `max_wait` has passed.
pub async fn next_batch(
    consumer: &StageConsumer,
    limits: BatchLimits,
    shutdown: &CancellationToken,
) -> Result<Vec<InputMessage>, RuntimeError> {
    next_batch_until(consumer, limits, shutdown, None).await
}

/// [`next_batch`], but empty at `deadline` if no message came by then, for loops
/// that also act on time (the indexer commits every second, input or not). A message
/// once received is always returned, never dropped by the deadline.
pub async fn next_batch_until(
    consumer: &StageConsumer,
    limits: BatchLimits,
    shutdown: &CancellationToken,
    deadline: Option<Instant>,
) -> Result<Vec<InputMessage>, RuntimeError> {
    let mut batch = Vec::with_capacity(limits.max_records);
    let idle = async {
        match deadline {
            Some(deadline) => tokio::time::sleep_until(deadline).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(idle);
    loop {
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => return Ok(batch),
            _ = &mut idle => return Ok(batch),
            received = consumer.recv() => {
                if let Some(message) = accept(received)? {
                    batch.push(message);
                    break;
                }
            }
        }
    }
    let deadline = Instant::now() + limits.max_wait;
    while batch.len() < limits.max_records {
        match tokio::time::timeout_at(deadline, consumer.recv()).await {
            Err(_elapsed) => break,
            Ok(received) => batch.extend(accept(received)?),
        }
    }
    Ok(retain_assigned(consumer, batch))
}

/// A message, or `None` for a consumer error worth logging and riding out.
fn accept(received: Result<BorrowedMessage<'_>, KafkaError>) -> Result<Option<InputMessage>, RuntimeError> {
    match received {
        Ok(message) => Ok(Some(InputMessage::from_borrowed(&message))),
        Err(KafkaError::MessageConsumption(RDKafkaErrorCode::UnknownTopicOrPartition)) => {
            warn!("input topic not available yet");
            Ok(None)
        }
        Err(error @ KafkaError::MessageConsumptionFatal(_)) => Err(RuntimeError::Consume { source: error }),
        Err(error) => {
            warn!(%error, "consumer error");
            Ok(None)
        }
    }
}

/// Drops messages of partitions revoked while the batch was filling: their new owner
/// reads them from the committed position.
fn retain_assigned(consumer: &StageConsumer, mut batch: Vec<InputMessage>) -> Vec<InputMessage> {
    let Ok(assignment) = consumer.assignment() else { return batch };
    // A stage subscribes to one topic, so partitions identify assignments.
    let assigned: HashSet<i32> = assignment.elements().iter().map(|element| element.partition()).collect();
    batch.retain(|message| assigned.contains(&message.partition));
    batch
}

/// Stores the offsets of a fully delivered batch; the periodic commit picks them up.
pub fn store_offsets(consumer: &StageConsumer, topic: &str, batch: &[InputMessage]) {
    let mut offsets = BatchOffsets::default();
    for message in batch {
        offsets.finish(message.partition, message.offset);
    }
    let stored = offsets.to_partition_list(topic).and_then(|list| consumer.store_offsets(&list));
    if let Err(error) = stored {
        // Happens when a partition was revoked meanwhile: its new owner redoes the batch.
        warn!(%error, "offsets not stored");
    }
}

/// Stores `(partition, next offset)` positions of `topic` for the periodic commit.
pub fn store_positions(consumer: &StageConsumer, topic: &str, positions: &[(i32, i64)]) {
    let mut list = TopicPartitionList::new();
    for (partition, next) in positions {
        let _ = list.add_partition_offset(topic, *partition, Offset::Offset(*next));
    }
    if let Err(error) = consumer.store_offsets(&list) {
        // A partition revoked meanwhile: its position is in its shard anyway.
        warn!(%error, "positions not stored");
    }
}

/// Commits stored offsets synchronously and leaves the group.
pub async fn close(consumer: StageConsumer) -> Result<(), RuntimeError> {
    // Committing, leaving the group and destroying the client all wait on the broker.
    // They run off the async workers, which may be the ones serving that broker (the
    // embedded broker of `auditctl up` shares the process): dropping the client on a
    // worker deadlocked two stages closing at once on a two-thread runtime.
    tokio::task::spawn_blocking(move || {
        let committed = commit_state(&consumer);
        consumer.unsubscribe();
        drop(consumer);
        committed
    })
    .await
    .expect("commit task does not panic")
}

fn commit_state<C: Consumer<StageContext>>(consumer: &C) -> Result<(), RuntimeError> {
    match consumer.commit_consumer_state(CommitMode::Sync) {
        Ok(()) | Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => Ok(()),
        Err(source) => Err(RuntimeError::Commit { source }),
    }
}

fn commit_stored(consumer: &BaseConsumer<StageContext>) {
    if let Err(error) = commit_state(consumer) {
        warn!(%error, "commit before revocation failed");
    }
}
