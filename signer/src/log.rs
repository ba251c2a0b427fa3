//! The signed log as the signer's memory: recovering a partition's chains from the
//! tail of `audit.signed` (after the partition's last checkpoint), and writing
//! checkpoints.
//!
//! Why this is enough: outputs go to the input's partition number, so partition P of
//! `audit.signed` is written only by the owner of input partition P. An owner writes
//! a batch completely before it polls again, and a revocation is served only inside
//! a poll, so when the next owner gets P every record of the previous one is
//! acknowledged (or the previous owner died, and the join delay has let its
//! connections go). The tail read here is therefore the whole truth of P.

use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use audit_integrity::merkle::leaf_hash;
use audit_integrity::{CompactJws, Verifier, payload_hash};
use audit_runtime::config::KafkaConfig;
use audit_runtime::range::{PartitionRange, read_range};
use audit_runtime::stage::INPUT_OFFSET_HEADER;
use audit_schemas::{Codec, SignedRecord};
use rdkafka::Message;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{BorrowedMessage, Headers};
use rdkafka::producer::{FutureProducer, FutureRecord};
use tracing::{info, warn};

use crate::chain::{Linked, PartitionChains};
use crate::checkpoint::Checkpoint;

/// How long a read of the log may go without a message before it is abandoned.
const READ_STALL: Duration = Duration::from_secs(30);

/// A partition's chains as read back.
#[derive(Debug)]
pub struct Recovered {
    /// The state to continue from.
    pub chains: PartitionChains,
    /// Signed records read.
    pub scanned: u64,
    /// Records that did not continue their chain.
    pub anomalies: u64,
}

/// Where the signer keeps and finds its chains.
pub trait ChainLog: Send + Sync + 'static {
    /// Reads the chains of `partition` back.
    fn recover(
        &self,
        partition: i32,
        verifier: &Verifier,
    ) -> impl Future<Output = Result<Recovered, String>> + Send;

    /// Stores a sealed checkpoint of `partition`; failures are logged, not fatal.
    fn checkpoint(&self, partition: i32, sealed: String);
}

/// The chain log on Kafka.
pub struct KafkaChainLog {
    /// Client settings.
    pub kafka: KafkaConfig,
    /// `audit.signed`.
    pub signed_topic: String,
    /// The checkpoint topic.
    pub checkpoint_topic: String,
    /// Record ids to remember per partition.
    pub window: usize,
    /// Writes checkpoints.
    pub producer: FutureProducer,
}

impl ChainLog for KafkaChainLog {
    async fn recover(&self, partition: i32, verifier: &Verifier) -> Result<Recovered, String> {
        let reader = Reader {
            kafka: self.kafka.clone(),
            signed_topic: self.signed_topic.clone(),
            checkpoint_topic: self.checkpoint_topic.clone(),
            window: self.window,
            partition,
            verifier: verifier.clone(),
        };
        // librdkafka's reads block: off the async workers.
        tokio::task::spawn_blocking(move || reader.recover()).await.map_err(|error| error.to_string())?
    }

    fn checkpoint(&self, partition: i32, sealed: String) {
        let record = FutureRecord::<[u8], str>::to(&self.checkpoint_topic)
            .partition(partition)
            .payload(sealed.as_str());
        match self.producer.send_result(record) {
            Ok(delivery) => {
                tokio::spawn(async move {
                    if let Ok(Err((error, _))) = delivery.await {
                        warn!(partition, %error, "checkpoint not written");
                    }
                });
            }
            Err((error, _)) => warn!(partition, %error, "checkpoint not written"),
        }
    }
}

struct Reader {
    kafka: KafkaConfig,
    signed_topic: String,
    checkpoint_topic: String,
    window: usize,
    partition: i32,
    verifier: Verifier,
}

impl Reader {
    fn recover(self) -> Result<Recovered, String> {
        let started = Instant::now();
        let consumer: BaseConsumer = audit_runtime::kafka::base_client_config(&self.kafka)
            .set("group.id", "audit-signer-recovery")
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "true")
            // At a partition's end a fetch waits this long before the end is reported.
            .set("fetch.wait.max.ms", "10")
            .create()
            .map_err(|error| error.to_string())?;
        let checkpoint = self.last_checkpoint(&consumer)?;
        let (low, high) = self.watermarks(&consumer, &self.signed_topic)?;
        let located_ms = started.elapsed().as_millis() as u64;
        let checkpoint = checkpoint.filter(|checkpoint| {
            let plausible = checkpoint.signed_offset < high && checkpoint.partition == self.partition;
            if !plausible {
                warn!(partition = self.partition, "checkpoint ahead of the signed log, ignored");
            }
            // Without the trees, they are rebuilt from the whole partition.
            plausible && checkpoint.has_trees()
        });
        let mut recovered = Recovered { chains: PartitionChains::new(self.window), scanned: 0, anomalies: 0 };
        let start = match &checkpoint {
            Some(checkpoint) => {
                recovered.chains.restore(checkpoint.heads(), checkpoint.input_offset);
                (checkpoint.signed_offset + 1).min(high - self.window as i64).max(low)
            }
            None => low,
        };
        let covered = checkpoint.as_ref().map_or(-1, |checkpoint| checkpoint.signed_offset);
        self.scan_topic(&consumer, &self.signed_topic, (start, high), |message| {
            replay(&mut recovered, message, covered);
        })?;
        info!(
            partition = self.partition,
            from = start,
            to = high,
            checkpoint = covered,
            located_ms,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "partition recovered"
        );
        Ok(recovered)
    }

    /// The newest checkpoint whose parts are all on the topic. The last message names
    /// how many parts its checkpoint has; twice that many back holds the checkpoint
    /// before it whole, should a crash have cut the last one short.
    fn last_checkpoint(&self, consumer: &BaseConsumer) -> Result<Option<Checkpoint>, String> {
        let (low, high) = self.watermarks(consumer, &self.checkpoint_topic)?;
        if high <= low {
            return Ok(None);
        }
        let Some(last) = self.read_checkpoints(consumer, (high - 1, high))?.pop() else {
            warn!(partition = self.partition, "last checkpoint does not verify, ignored");
            return Ok(None);
        };
        let start = (high - 2 * i64::from(last.parts)).max(low);
        let read = self.read_checkpoints(consumer, (start, high))?;
        let newest = Checkpoint::newest_complete(read);
        if newest.is_none() {
            warn!(
                partition = self.partition,
                parts = last.parts,
                "no checkpoint with all its parts, ignored"
            );
        }
        Ok(newest)
    }

    /// The checkpoints of `[start, end)` that verify.
    fn read_checkpoints(
        &self,
        consumer: &BaseConsumer,
        range: (i64, i64),
    ) -> Result<Vec<Checkpoint>, String> {
        let mut read = Vec::new();
        self.scan_topic(consumer, &self.checkpoint_topic, range, |message| {
            read.extend(message.payload().and_then(|sealed| Checkpoint::open(sealed, &self.verifier)));
        })?;
        Ok(read)
    }

    fn watermarks(&self, consumer: &BaseConsumer, topic: &str) -> Result<(i64, i64), String> {
        consumer
            .fetch_watermarks(topic, self.partition, Duration::from_secs(30))
            .map_err(|error| format!("watermarks of {topic}: {error}"))
    }

    /// Calls `on_message` for every message of `[start, end)` of `topic` in order.
    fn scan_topic(
        &self,
        consumer: &BaseConsumer,
        topic: &str,
        (start, end): (i64, i64),
        mut on_message: impl FnMut(&BorrowedMessage<'_>),
    ) -> Result<(), String> {
        let range = PartitionRange { topic, partition: self.partition, start, end };
        read_range(consumer, range, READ_STALL, |message| {
            on_message(message);
            ControlFlow::Continue(())
        })
        .map_err(|error| error.to_string())
    }
}

/// Applies one signed message to the recovered state.
fn replay(recovered: &mut Recovered, message: &BorrowedMessage<'_>, covered: i64) {
    thread_local! {
        static CODEC: Codec<SignedRecord> = Codec::published("SignedRecord").expect("the published schemas load");
    }
    recovered.scanned += 1;
    let Some(envelope) = message.payload().and_then(|payload| CODEC.with(|codec| codec.decode(payload).ok()))
    else {
        warn!(offset = message.offset(), "unreadable message in the signed log, skipped");
        return;
    };
    if message.offset() <= covered {
        recovered.chains.remember(&envelope.id);
        return;
    }
    let input_offset = message.headers().and_then(|headers| {
        headers
            .iter()
            .find(|header| header.key == INPUT_OFFSET_HEADER)
            .and_then(|header| std::str::from_utf8(header.value?).ok()?.parse().ok())
    });
    let Ok(jws) = CompactJws::parse(&envelope.jws) else {
        warn!(offset = message.offset(), "malformed jws in the signed log, skipped");
        return;
    };
    let linked = Linked {
        sequence: envelope.sequence as u64,
        hash: payload_hash(&jws.payload),
        leaf: leaf_hash(&jws.payload),
    };
    if !recovered.chains.observe(&envelope.tenant_id, &envelope.id, linked, input_offset) {
        recovered.anomalies += 1;
    }
}
