//! The consume → transform → produce loop every pipeline stage runs, and its sink
//! mode for consumers that write elsewhere ([`Sink`], [`run_sink`]: the indexer, the
//! notifier). The flags every consumer shares are [`StageArgs`].
//!
//! A stage's logic is a [`Stage`]: it turns a batch of input messages into one
//! [`Outcome`] per input and knows nothing of Kafka, so it is unit-tested alone.
//! [`run_stage`] is the adapter around it. Guarantees:
//! - at-least-once: offsets are stored only after every output and DLQ record of
//!   the batch is acknowledged (see [`crate::offsets`]); a crash redoes at most the
//!   uncommitted batches, and stages derive output ids from input so a redo yields
//!   the same records;
//! - back-pressure: the next batch is read only when the previous one is delivered,
//!   or, for a stage that allows it ([`Delivery::Overlapped`]), while it is being
//!   acknowledged: at most one batch is ever unacknowledged;
//! - rebalances: stored offsets are committed before partitions are revoked, and a
//!   batch keeps only messages of partitions still assigned;
//! - shutdown: on cancellation the current batch finishes, offsets are committed
//!   synchronously and the consumer leaves its group;
//! - co-partitioning (optional, [`Partitioning::SameAsInput`]): each output goes to
//!   its input's partition number and names its input offset in the
//!   [`INPUT_OFFSET_HEADER`] header, so a stage can rebuild its state of a partition
//!   from the tail of the same output partition (the signer's chains).

mod args;
pub mod consumer;
pub mod delivery;
pub mod progress;
mod service;
mod sink;

use std::{future::Future, sync::Arc, time::Duration};

use rdkafka::consumer::Consumer;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use audit_service::ops::Health;

use crate::{
    RuntimeError,
    config::KafkaConfig,
    dlq::Rejection,
    metrics::StageMetrics,
    topics::{Topic, TopicKind},
};

pub use args::{OutputArgs, StageArgs, StageConfig, StageDefaults};
pub use consumer::InputMessage;
pub use delivery::Acknowledged;
pub use service::{run_service, run_sink_service};
pub use sink::{Sink, Written, run_sink};

/// Header naming the input offset an output came from (co-partitioned stages only).
pub const INPUT_OFFSET_HEADER: &str = "audit.input-offset";

/// Where outputs go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partitioning {
    /// By key, with Java's murmur2 hash (tenant ids spread like any Kafka client's).
    ByKey,
    /// To the input's partition number, with the input offset in a header; the input
    /// and output topics must have the same partition count.
    SameAsInput,
}

/// One produced record; the runtime writes it to the stage's output topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputRecord {
    /// Kafka key (the tenant id on every topic after `audit.raw`).
    pub key: Vec<u8>,
    /// Encoded value.
    pub payload: Vec<u8>,
}

/// What a stage decided for one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Write these records to the output topic (possibly none).
    Forward(Vec<OutputRecord>),
    /// Write the input to the DLQ with this reason.
    Reject(Rejection),
    /// Nothing to write, e.g. a duplicate already forwarded; `reason` labels a metric.
    Skip {
        /// Bounded reason label.
        reason: &'static str,
    },
}

/// A failure that retrying the same batch may fix (a dependency is unavailable).
#[derive(Debug, thiserror::Error)]
#[error("transient stage failure: {0}")]
pub struct TransientError(pub String);

/// The pure part of a pipeline stage.
pub trait Stage: Send {
    /// Turns `batch` into exactly one outcome per input, in order.
    fn process(
        &mut self,
        batch: &[InputMessage],
    ) -> impl Future<Output = Result<Vec<Outcome>, TransientError>> + Send;

    /// Called once the last processed batch is acknowledged and its offsets stored;
    /// state that must only reflect delivered work (e.g. a dedupe window) moves here.
    fn on_delivered(&mut self, _acknowledged: &Acknowledged) {}

    /// Called before processing a batch when partitions were revoked or assigned
    /// since the previous batch: state kept per partition may belong to another
    /// instance's work by now.
    fn on_rebalance(&mut self) {}

    /// Whether the next batch may be read and processed while this one's outputs are
    /// being acknowledged.
    fn delivery(&self) -> Delivery {
        Delivery::BeforeNextBatch
    }
}

/// When the runtime reads the next batch, relative to the delivery of the last one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Only once the last batch is acknowledged and its offsets stored: stages whose
    /// state follows their outputs (the signer's chains) see every batch delivered
    /// before they process the next.
    BeforeNextBatch,
    /// While the last batch is being acknowledged, so a stage's own work (a vault
    /// round trip) overlaps the broker's. Offsets still move only after
    /// acknowledgement, but [`Stage::on_delivered`] of a batch comes after the
    /// next batch was processed, and a rebalance in between hands the unacknowledged
    /// batch to the partition's next owner to redo (at-least-once, as after a crash).
    Overlapped,
}

/// Topics a stage reads and writes.
#[derive(Debug, Clone)]
pub struct Topics {
    /// Input topic.
    pub input: String,
    /// Output topic; `None` for a sink, which writes elsewhere.
    pub output: Option<String>,
    /// Dead-letter topic.
    pub dlq: String,
    /// What the input and output hold.
    pub kinds: TopicKinds,
}

/// What a service's input and output topics hold, which decides their retention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicKinds {
    /// The input's kind.
    pub input: TopicKind,
    /// The output's kind (unused by a sink).
    pub output: TopicKind,
}

impl Topics {
    /// Every topic with its kind; the dead-letter topic may hold any input, clear
    /// personal data included.
    pub fn declared(&self) -> Vec<Topic<'_>> {
        let input = Topic { name: &self.input, kind: self.kinds.input };
        let output = self.output.as_deref().map(|name| Topic { name, kind: self.kinds.output });
        std::iter::once(input).chain(output).chain([Topic::personal(&self.dlq)]).collect()
    }

    /// The output topic of a stage that forwards records.
    pub fn output(&self) -> Result<&str, RuntimeError> {
        self.output.as_deref().ok_or_else(|| RuntimeError::InvalidSetting {
            name: "output-topic",
            reason: "a stage that forwards records needs an output topic".into(),
        })
    }
}

/// Everything [`run_stage`] and [`run_sink`] need besides the stage or sink itself.
pub struct StageParams {
    /// Service name, for logs and DLQ headers.
    pub service: &'static str,
    /// Consumer group; instances of one stage share it to split the partitions.
    pub group_id: String,
    /// Topics.
    pub topics: Topics,
    /// Kafka settings.
    pub kafka: KafkaConfig,
    /// The service's metrics.
    pub metrics: Arc<StageMetrics>,
    /// Set ready once subscribed, stopping on shutdown.
    pub health: Health,
    /// Create missing input, output and DLQ topics first (needs the right to).
    pub create_topics: bool,
    /// Where outputs go (stages only).
    pub partitioning: Partitioning,
}

impl StageConfig {
    /// The runtime's parameters for `service` run with these settings: outputs by key
    /// (the signer changes [`StageParams::partitioning`]), a fresh health.
    pub fn params(&self, service: &'static str, metrics: Arc<StageMetrics>) -> StageParams {
        StageParams {
            service,
            group_id: self.group_id.clone(),
            topics: self.topics.clone(),
            kafka: self.kafka.clone(),
            metrics,
            health: Health::default(),
            create_topics: self.create_topics,
            partitioning: Partitioning::ByKey,
        }
    }
}

/// Runs `stage` until `shutdown` is cancelled or a non-retryable error happens.
pub async fn run_stage<S: Stage>(
    mut stage: S,
    params: StageParams,
    shutdown: CancellationToken,
) -> Result<(), RuntimeError> {
    params.topics.output()?;
    let Started { producer, restart, watch } = start(&params, &params.topics.declared(), &shutdown).await?;
    info!(service = params.service, input = %params.topics.input, "stage started");
    let result = loop {
        let consumer = consumer::subscribe(&params)?;
        let exit = consume_loop(&mut stage, &params, (&consumer, &producer), &restart, &shutdown).await;
        if matches!(exit, Ok(Exit::Restart)) {
            warn!(service = params.service, "leaving the group to start the consumer over");
            consumer::close(consumer).await?;
            continue;
        }
        params.health.set_stopping();
        consumer::close(consumer).await?;
        break exit.map(|_| ());
    };
    watch.abort();
    info!(service = params.service, "stage stopped");
    result
}

/// What a running consumer keeps across restarts of its group consumer.
struct Started {
    /// Writes outputs and DLQ records.
    producer: rdkafka::producer::FutureProducer,
    /// Notified by the stall watch: start the group consumer over.
    restart: Arc<Notify>,
    /// The stall watch, aborted when the consumer stops.
    watch: tokio::task::JoinHandle<()>,
}

/// Creates `topics` if allowed, waits the join delay, starts the stall watch and
/// reports ready: how every stage and sink starts.
async fn start(
    params: &StageParams,
    topics: &[Topic<'_>],
    shutdown: &CancellationToken,
) -> Result<Started, RuntimeError> {
    if params.create_topics {
        crate::topics::ensure(&params.kafka, topics).await?;
    } else {
        crate::topics::check(&params.kafka, topics).await?;
    }
    consumer::join_delay(params, shutdown).await;
    let producer = crate::kafka::producer(&params.kafka)?;
    let restart = Arc::new(Notify::new());
    let watch =
        tokio::spawn(progress::watch(progress::WatchParams::of(params, &restart), shutdown.child_token()));
    params.health.set_ready();
    Ok(Started { producer, restart, watch })
}

/// Why a consume loop ended without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exit {
    /// Shutdown was asked for.
    Shutdown,
    /// The stall watch asked for a new consumer, between batches.
    Restart,
}

async fn consume_loop<S: Stage>(
    stage: &mut S,
    params: &StageParams,
    (consumer, producer): (&consumer::StageConsumer, &rdkafka::producer::FutureProducer),
    restart: &Notify,
    shutdown: &CancellationToken,
) -> Result<Exit, RuntimeError> {
    let mut cursor = Cursor {
        params,
        consumer,
        shutdown,
        restart,
        limits: consumer::BatchLimits::from(&params.kafka),
        rebalances_seen: 0,
    };
    let mut unacknowledged: Option<SentBatch<'_>> = None;
    loop {
        // The last batch's acknowledgements are awaited while the next one is read and
        // processed; without an unacknowledged batch this is simply the next batch.
        let (next, acknowledged) =
            tokio::try_join!(cursor.next(stage), acknowledge(params, consumer, unacknowledged.take()))?;
        if let Some(acknowledged) = acknowledged {
            stage.on_delivered(&acknowledged);
        }
        let Processed { batch, outcomes, started } = match next {
            Next::Batch(processed) => processed,
            // A batch not yet processed stays uncommitted; the last one was acknowledged.
            Next::Exit(exit) => return Ok(exit),
        };
        let sending = delivery::send(producer, params, &batch, &outcomes).await?;
        let sent = SentBatch { batch, sending, started };
        match stage.delivery() {
            Delivery::BeforeNextBatch => {
                if let Some(acknowledged) = acknowledge(params, consumer, Some(sent)).await? {
                    stage.on_delivered(&acknowledged);
                }
            }
            Delivery::Overlapped => unacknowledged = Some(sent),
        }
    }
}

/// Reads and processes batches.
struct Cursor<'a> {
    params: &'a StageParams,
    consumer: &'a consumer::StageConsumer,
    shutdown: &'a CancellationToken,
    restart: &'a Notify,
    limits: consumer::BatchLimits,
    rebalances_seen: u64,
}

/// What the cursor found.
enum Next {
    Batch(Processed),
    Exit(Exit),
}

/// A batch and its outcomes.
struct Processed {
    batch: Vec<InputMessage>,
    outcomes: Vec<Outcome>,
    started: std::time::Instant,
}

impl Cursor<'_> {
    /// The next batch, processed, unless shutdown or a restart interrupts. A restart
    /// only ever interrupts the wait for input: dropping messages received so far is
    /// safe, since their offsets were not stored.
    async fn next<S: Stage>(&mut self, stage: &mut S) -> Result<Next, RuntimeError> {
        let batch = tokio::select! {
            biased;
            _ = self.restart.notified() => return Ok(Next::Exit(Exit::Restart)),
            batch = consumer::next_batch(self.consumer, self.limits, self.shutdown) => batch?,
        };
        if batch.is_empty() {
            return Ok(Next::Exit(Exit::Shutdown));
        }
        // Rebalances happen only inside polls, so none can slip in until the next batch.
        let rebalances = self.consumer.context().rebalances();
        if rebalances != self.rebalances_seen {
            self.rebalances_seen = rebalances;
            stage.on_rebalance();
        }
        let started = std::time::Instant::now();
        let outcomes = process_with_retry(stage, self.params, &batch, self.shutdown).await?;
        Ok(match outcomes {
            Some(outcomes) => Next::Batch(Processed { batch, outcomes, started }),
            None => Next::Exit(Exit::Shutdown),
        })
    }
}

/// A batch whose outputs were handed to the producer.
struct SentBatch<'p> {
    batch: Vec<InputMessage>,
    sending: delivery::Sending<'p>,
    started: std::time::Instant,
}

/// Waits for `sent`'s acknowledgements, then stores its offsets: the one place where
/// offsets move, and only over work that is durable downstream.
async fn acknowledge(
    params: &StageParams,
    consumer: &consumer::StageConsumer,
    sent: Option<SentBatch<'_>>,
) -> Result<Option<Acknowledged>, RuntimeError> {
    let Some(SentBatch { batch, sending, started }) = sent else {
        return Ok(None);
    };
    let delivered = sending.acknowledged().await?;
    consumer::store_offsets(consumer, &params.topics.input, &batch);
    delivered.record(&params.metrics, batch.len());
    params.metrics.batch_duration.observe(started.elapsed().as_secs_f64());
    debug!(records = batch.len(), produced = delivered.produced, "batch delivered");
    Ok(Some(delivered.acknowledged))
}

/// Calls the stage until it succeeds; `None` when shutdown interrupts the retries.
async fn process_with_retry<S: Stage>(
    stage: &mut S,
    params: &StageParams,
    batch: &[InputMessage],
    shutdown: &CancellationToken,
) -> Result<Option<Vec<Outcome>>, RuntimeError> {
    let mut backoff = Duration::from_millis(100);
    loop {
        match stage.process(batch).await {
            Ok(outcomes) if outcomes.len() == batch.len() => return Ok(Some(outcomes)),
            Ok(outcomes) => {
                return Err(RuntimeError::OutcomeCount {
                    stage: params.service,
                    outcomes: outcomes.len(),
                    inputs: batch.len(),
                });
            }
            Err(error) => {
                params.metrics.batch_retries.inc();
                warn!(%error, backoff_ms = backoff.as_millis() as u64, "batch will be retried");
            }
        }
        // Jitter, so instances that failed together do not retry together.
        let wait = backoff.mul_f64(rand::random_range(0.5..1.5));
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(None),
            _ = tokio::time::sleep(wait) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}
