//! The signing stage: tokenized records in, each tenant's next signed record out.
//!
//! Per batch: recover the chains of partitions seen for the first time since the last
//! rebalance (from the signed log, see [`crate::log`]); decide per input whether it
//! is new, already signed or a duplicate; give each new record the next link of its
//! tenant's chain (canonical payload and hash, sequential), handing payloads to the
//! signing workers in chunks as they are linked (see [`crate::sign`]). Chain state
//! moves before delivery, which is safe because a failed delivery stops the stage and
//! the next owner recovers from the log. Each record also becomes the next leaf of its
//! tenant's Merkle tree, and carries the tree hashes its leaf closes; the trees that
//! grew are offered for checkpoints once their records are acknowledged.

use std::collections::HashMap;
use std::time::Instant;

use audit_integrity::merkle::{Hash, leaf_hash};
use audit_integrity::{SigningKeyPair, canonical_payload, payload_hash};
use audit_runtime::dlq::Rejection;
use audit_runtime::kafka::partition_for_key;
use audit_runtime::stage::{Acknowledged, InputMessage, Outcome, OutputRecord, Stage, TransientError};
use audit_schemas::{Codec, SignedRecord, TokenizedRecord};
use tracing::warn;

use crate::chain::{Decision, Linked, PartitionChains};
use crate::checkpoint::Checkpoint;
use crate::config::CheckpointPolicy;
use crate::keys::SignerKeys;
use crate::log::ChainLog;
use crate::metrics::SignerMetrics;
use crate::sign::Signing;
use crate::treehead::TreeHeads;

/// What the stage is built from.
pub struct SignParams<L> {
    /// Where chains are recovered from and checkpointed to.
    pub log: L,
    /// The signing keys.
    pub keys: SignerKeys,
    /// Partition count of the input (and output) topic.
    pub partitions: i32,
    /// Checkpoint cadence.
    pub checkpoints: CheckpointPolicy,
    /// Signing threads.
    pub sign_threads: usize,
    /// Where acknowledged trees go to be checkpointed.
    pub tree_heads: TreeHeads,
    /// Metrics.
    pub metrics: SignerMetrics,
}

/// Records since a partition's last checkpoint.
#[derive(Debug, Clone, Copy)]
struct Cadence {
    records: u64,
    since: Instant,
}

/// The signer's [`Stage`].
pub struct SignStage<L> {
    params: SignParams<L>,
    input: Codec<TokenizedRecord>,
    output: Codec<SignedRecord>,
    chains: HashMap<i32, PartitionChains>,
    unacknowledged: HashMap<i32, u64>,
    cadence: HashMap<i32, Cadence>,
}

/// A record given its link, waiting for its signature (its payload is with the signers).
struct Pending {
    index: usize,
    record: TokenizedRecord,
    sequence: u64,
    tree_hashes: Vec<Hash>,
}

impl<L: ChainLog> SignStage<L> {
    /// A stage with no partition recovered yet.
    pub fn new(params: SignParams<L>) -> Result<SignStage<L>, audit_schemas::CodecError> {
        Ok(SignStage {
            params,
            input: Codec::published("TokenizedRecord")?,
            output: Codec::published("SignedRecord")?,
            chains: HashMap::new(),
            unacknowledged: HashMap::new(),
            cadence: HashMap::new(),
        })
    }

    /// Recovers every partition of `batch` not held yet, all at once; a partition
    /// that fails stays unrecovered and fails the batch (retried).
    async fn recover(&mut self, batch: &[InputMessage]) -> Result<(), TransientError> {
        let mut missing: Vec<i32> = batch.iter().map(|message| message.partition).collect();
        missing.sort_unstable();
        missing.dedup();
        missing.retain(|partition| !self.chains.contains_key(partition));
        let verifier = self.params.keys.verifier();
        let started = Instant::now();
        let log = &self.params.log;
        let results =
            futures::future::join_all(missing.iter().map(|partition| log.recover(*partition, &verifier)))
                .await;
        let mut failure = None;
        for (partition, result) in missing.into_iter().zip(results) {
            match result {
                Ok(recovered) => self.adopt(partition, recovered, started),
                Err(detail) => {
                    failure = Some(TransientError(format!("cannot recover partition {partition}: {detail}")));
                }
            }
        }
        failure.map_or(Ok(()), Err)
    }

    fn adopt(&mut self, partition: i32, recovered: crate::log::Recovered, started: Instant) {
        let metrics = &self.params.metrics;
        metrics.recoveries.inc();
        metrics.recovery_duration.observe(started.elapsed().as_secs_f64());
        metrics.recovery_records.inc_by(recovered.scanned);
        metrics.chain_anomalies.inc_by(recovered.anomalies);
        if recovered.anomalies > 0 {
            warn!(partition, anomalies = recovered.anomalies, "the signed log has chain breaks");
        }
        self.chains.insert(partition, recovered.chains);
        self.cadence.insert(partition, Cadence { records: 0, since: Instant::now() });
    }

    /// Decides every input; links the new ones, handing their payloads to `signing`
    /// as it goes. `outcomes[i]` is `None` where a signature is still to come.
    fn link(
        &mut self,
        batch: &[InputMessage],
        signing: &mut Signing,
    ) -> (Vec<Option<Outcome>>, Vec<Pending>) {
        let mut outcomes = Vec::with_capacity(batch.len());
        let mut pending = Vec::new();
        for (index, message) in batch.iter().enumerate() {
            let record = match self.admit(message) {
                Ok(record) => record,
                Err(rejection) => {
                    outcomes.push(Some(Outcome::Reject(rejection)));
                    continue;
                }
            };
            let chains = self.chains.get_mut(&message.partition).expect("partitions are recovered first");
            match chains.decide(message.offset, &record.id) {
                Decision::AlreadySigned => outcomes.push(Some(Outcome::Skip { reason: "already_signed" })),
                Decision::Duplicate => {
                    chains.pass(message.offset);
                    outcomes.push(Some(Outcome::Skip { reason: "duplicate" }));
                }
                Decision::Sign => {
                    let link = chains.link(&record.tenant_id);
                    let payload = canonical_payload(&record, link);
                    let linked = Linked {
                        sequence: link.sequence,
                        hash: payload_hash(&payload),
                        leaf: leaf_hash(&payload),
                    };
                    let tree_hashes = chains.signed(&record.tenant_id, &record.id, linked, message.offset);
                    *self.unacknowledged.entry(message.partition).or_default() += 1;
                    pending.push(Pending { index, record, sequence: link.sequence, tree_hashes });
                    outcomes.push(None);
                    signing.add(payload);
                }
            }
        }
        (outcomes, pending)
    }

    /// Decodes an input and checks it belongs to its partition's chains.
    fn admit(&self, message: &InputMessage) -> Result<TokenizedRecord, Rejection> {
        let payload = message.payload.as_deref().unwrap_or_default();
        let record =
            self.input.decode(payload).map_err(|error| Rejection::new("undecodable", error.to_string()))?;
        if message.key.as_deref() != Some(record.tenant_id.as_bytes()) {
            return Err(Rejection::new("tenant_key_mismatch", "kafka key is not the record's tenant"));
        }
        // A tenant's chain lives in one partition; a record elsewhere would fork it.
        if partition_for_key(record.tenant_id.as_bytes(), self.params.partitions) != message.partition {
            return Err(Rejection::new(
                "tenant_partition_mismatch",
                "tenant does not belong to this partition",
            ));
        }
        Ok(record)
    }

    fn envelope(&self, pending: Pending, jws: String) -> Outcome {
        let Pending { record, sequence, tree_hashes, .. } = pending;
        let envelope = SignedRecord {
            tenant_id: record.tenant_id,
            id: record.id,
            created: record.created,
            sequence: sequence as i64,
            jws,
            tree_hashes,
        };
        let payload = self.output.encode(&envelope).expect("a signed record encodes");
        Outcome::Forward(vec![OutputRecord { key: envelope.tenant_id.into_bytes(), payload }])
    }

    /// Seals a checkpoint of each partition that is due, now that its output is acknowledged.
    fn checkpoint_due(&mut self, acknowledged: &Acknowledged, key: &SigningKeyPair) {
        let policy = self.params.checkpoints;
        for (partition, signed_offset) in &acknowledged.last_output_offsets {
            let (Some(chains), Some(cadence)) = (self.chains.get(partition), self.cadence.get_mut(partition))
            else {
                continue;
            };
            cadence.records += self.unacknowledged.remove(partition).unwrap_or(0);
            if cadence.records < policy.records && cadence.since.elapsed() < policy.interval {
                continue;
            }
            let checkpoint =
                Checkpoint::new(*partition, (*signed_offset, chains.last_input_offset()), chains.heads());
            for part in checkpoint.split() {
                self.params.log.checkpoint(*partition, part.seal(key));
            }
            self.params.metrics.checkpoints.with_label_values(&["written"]).inc();
            *cadence = Cadence { records: 0, since: Instant::now() };
        }
    }
}

impl<L: ChainLog> Stage for SignStage<L> {
    async fn process(&mut self, batch: &[InputMessage]) -> Result<Vec<Outcome>, TransientError> {
        self.recover(batch).await?;
        self.params.keys.refresh_if_due();
        let started = Instant::now();
        let mut signing = Signing::start(self.params.keys.signing_key(), self.params.sign_threads);
        let (mut outcomes, pending) = self.link(batch, &mut signing);
        let signatures = signing.finish().await;
        for (pending, jws) in pending.into_iter().zip(signatures) {
            let index = pending.index;
            outcomes[index] = Some(self.envelope(pending, jws));
        }
        self.params.metrics.sign_duration.observe(started.elapsed().as_secs_f64());
        Ok(outcomes.into_iter().map(|outcome| outcome.expect("every input has an outcome")).collect())
    }

    fn on_delivered(&mut self, acknowledged: &Acknowledged) {
        let key = self.params.keys.signing_key();
        self.checkpoint_due(acknowledged, &key);
        for partition in acknowledged.last_output_offsets.keys() {
            if let Some(chains) = self.chains.get_mut(partition) {
                self.params.tree_heads.offer(*partition, chains.drain_grown(), &key);
            }
        }
    }

    fn on_rebalance(&mut self) {
        // Partitions may have moved and come back with another owner's records since.
        self.chains.clear();
        self.unacknowledged.clear();
        self.cadence.clear();
    }
}

#[cfg(test)]
#[path = "stage_tests.rs"]
mod tests;
