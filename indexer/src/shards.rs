//! The shards this instance owns, shared between the indexing loop and the consumer's
//! rebalance callbacks.
//!
//! An assigned partition starts reading right after the offset its shard's last
//! commit covers (from the beginning for a new shard), whatever the group's committed
//! offset says: the shard is the truth, so a shard rebuilt on an empty disk refills
//! itself. A revoked partition's shard is committed and closed before the partition
//! goes, which releases its lock for the next owner.
//!
//! Each open shard is also served to searches (`served`), and each assignment is
//! announced to the query-apis as a claim (`claims`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use audit_runtime::dlq::Rejection;
use audit_runtime::stage::consumer::PartitionListener;
use audit_runtime::stage::{InputMessage, Written};
use audit_schemas::{Codec, SignedRecord};
use tracing::{error, info};

use crate::IndexerError;
use crate::claims::Assigned;
use crate::document::document;
use crate::metrics::IndexerMetrics;
use crate::schema::IndexSchema;
use crate::served::{Opened, Served};
use crate::shard::{Shard, WriterBudget};

/// Where shards live and how they are written.
#[derive(Debug, Clone)]
pub struct ShardParams {
    /// Directory of every shard.
    pub root: PathBuf,
    /// Writer memory and threads per shard.
    pub budget: WriterBudget,
}

/// When an opened shard answers searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answers {
    /// At once: nothing says another owner was further.
    AtOnce,
    /// Once it reaches the group's committed offset, read after the assignment.
    AfterLastOwner,
}

/// The open shards of this instance.
pub struct ShardSet {
    params: ShardParams,
    schema: IndexSchema,
    codec: Codec<SignedRecord>,
    open: HashMap<i32, Shard>,
    served: Arc<Served>,
    metrics: IndexerMetrics,
}

impl ShardSet {
    /// No shard open yet; each opened one is served through `served`.
    pub fn new(
        params: ShardParams,
        served: Arc<Served>,
        metrics: IndexerMetrics,
    ) -> Result<ShardSet, audit_schemas::CodecError> {
        let codec = Codec::published("SignedRecord")?;
        Ok(ShardSet { params, schema: IndexSchema::new(), codec, open: HashMap::new(), served, metrics })
    }

    fn shard(&mut self, partition: i32) -> Result<&mut Shard, IndexerError> {
        if !self.open.contains_key(&partition) {
            // Opened outside an assignment (its callback could not open it).
            self.open_shard(partition, Answers::AtOnce)?;
        }
        Ok(self.open.get_mut(&partition).expect("just opened"))
    }

    /// Opens the shard of `partition`, answering searches as `answers` says. Returns
    /// its next offset.
    fn open_shard(&mut self, partition: i32, answers: Answers) -> Result<i64, IndexerError> {
        let shard = Shard::open(&self.params.root, partition, &self.schema, self.params.budget)?;
        let next = shard.committed_offset().map_or(0, |offset| offset + 1);
        let target = match answers {
            Answers::AtOnce => Some(next),
            Answers::AfterLastOwner => None,
        };
        info!(partition, next, "shard opened");
        self.served.open(Opened { partition, reader: shard.reader()?, next, target });
        self.open.insert(partition, shard);
        self.count_rebuilding();
        Ok(next)
    }

    fn count_rebuilding(&self) {
        let (owned, serving) = self.served.counts();
        self.metrics.shards_owned.set(owned as i64);
        self.metrics.shards_rebuilding.set((owned - serving) as i64);
    }

    /// Adds every message of `batch` to its shard; one outcome per message (a
    /// rejection for messages that cannot be indexed, which still move the position).
    pub fn index(&mut self, batch: &[InputMessage]) -> Result<Vec<Written>, IndexerError> {
        let mut outcomes = Vec::with_capacity(batch.len());
        let mut indexed = 0;
        for message in batch {
            let prepared = self.prepare(message);
            let shard = self.shard(message.partition)?;
            match prepared {
                Ok((id, document)) => {
                    shard.upsert(message.offset, &id, document)?;
                    indexed += 1;
                    outcomes.push(Written::Stored);
                }
                Err(rejection) => {
                    shard.pass(message.offset);
                    outcomes.push(Written::Reject(rejection));
                }
            }
        }
        self.metrics.indexed.inc_by(indexed);
        Ok(outcomes)
    }

    fn prepare(&self, message: &InputMessage) -> Result<(String, tantivy::TantivyDocument), Rejection> {
        let payload = message.payload.as_deref().unwrap_or_default();
        let envelope =
            self.codec.decode(payload).map_err(|error| Rejection::new("undecodable", error.to_string()))?;
        let document = document(&self.schema, &envelope)
            .map_err(|error| Rejection::new("unindexable", error.to_string()))?;
        Ok((envelope.id, document))
    }

    /// Commits every shard with pending work, all at once (a commit waits on disk and
    /// segment writing; shards share nothing); `(partition, next offset)` of each.
    pub fn commit(&mut self) -> Result<Vec<(i32, i64)>, IndexerError> {
        let started = std::time::Instant::now();
        let dirty: Vec<(&i32, &mut Shard)> =
            self.open.iter_mut().filter(|(_, shard)| shard.is_dirty()).collect();
        if dirty.is_empty() {
            return Ok(Vec::new());
        }
        let committed: Vec<(i32, Result<Option<i64>, IndexerError>, u64)> = std::thread::scope(|scope| {
            let commits: Vec<_> = dirty
                .into_iter()
                .map(|(partition, shard)| {
                    scope.spawn(move || (*partition, shard.commit(), shard.size_bytes()))
                })
                .collect();
            commits.into_iter().map(|commit| commit.join().expect("a commit does not panic")).collect()
        });
        let mut positions = Vec::new();
        for (partition, result, size) in committed {
            if let Some(offset) = result? {
                positions.push((partition, offset + 1));
                self.served.committed(partition, offset + 1);
            }
            let size = i64::try_from(size).unwrap_or(i64::MAX);
            self.metrics.shard_bytes.with_label_values(&[&partition.to_string()]).set(size);
        }
        self.metrics.commit_duration.observe(started.elapsed().as_secs_f64());
        self.count_rebuilding();
        Ok(positions)
    }

    /// Commits and closes the shards of `partitions`; their next offsets.
    pub fn close(&mut self, partitions: &[i32]) -> Vec<(i32, i64)> {
        let mut positions = Vec::new();
        for partition in partitions {
            self.served.close(*partition);
            let Some(mut shard) = self.open.remove(partition) else { continue };
            match shard.commit() {
                Ok(Some(offset)) => positions.push((*partition, offset + 1)),
                Ok(None) => {}
                Err(failure) => error!(partition, %failure, "shard not committed before it was closed"),
            }
            if let Err(failure) = shard.close() {
                error!(partition, %failure, "shard not closed cleanly");
            }
        }
        self.count_rebuilding();
        positions
    }

    /// Partitions with an open shard.
    pub fn partitions(&self) -> Vec<i32> {
        self.open.keys().copied().collect()
    }
}

/// The record id and document of a `SignedRecord` message, or why it has none.
pub fn prepare(
    schema: &IndexSchema,
    payload: &[u8],
) -> Result<(String, tantivy::TantivyDocument), Rejection> {
    thread_local! {
        static CODEC: Codec<SignedRecord> = Codec::published("SignedRecord").expect("the published schemas load");
    }
    CODEC.with(|codec| prepare_with(codec, schema, payload))
}

fn prepare_with(
    codec: &Codec<SignedRecord>,
    schema: &IndexSchema,
    payload: &[u8],
) -> Result<(String, tantivy::TantivyDocument), Rejection> {
    let envelope = codec.decode(payload).map_err(|error| Rejection::new("undecodable", error.to_string()))?;
    let document =
        document(schema, &envelope).map_err(|error| Rejection::new("unindexable", error.to_string()))?;
    Ok((envelope.id, document))
}

/// A [`ShardSet`] shared with the consumer's callbacks, which announce each assigned
/// partition on `claims`.
#[derive(Clone)]
pub struct SharedShards {
    /// The shards.
    pub set: Arc<Mutex<ShardSet>>,
    /// Where assigned partitions are announced, to be claimed and to learn their
    /// last owner's position.
    pub assigned: tokio::sync::mpsc::UnboundedSender<Assigned>,
}

impl SharedShards {
    /// Runs `work` on the shards off the async workers (indexing and commits block).
    pub async fn with<T: Send + 'static>(&self, work: impl FnOnce(&mut ShardSet) -> T + Send + 'static) -> T {
        let shards = self.set.clone();
        tokio::task::spawn_blocking(move || work(&mut shards.lock().expect("no panic holds the shards")))
            .await
            .expect("shard work does not panic")
    }
}

impl PartitionListener for SharedShards {
    /// Opens each shard and hands the partitions on; never waits on the broker (the
    /// callback runs on the consumer's poll, which may share its runtime with it).
    fn assigned(&self, partitions: &[i32]) -> Vec<(i32, Option<i64>)> {
        let mut shards = self.set.lock().expect("no panic holds the shards");
        let starts: Vec<(i32, Option<i64>)> = partitions
            .iter()
            .map(|partition| match shards.open_shard(*partition, Answers::AfterLastOwner) {
                Ok(next) => (*partition, Some(next)),
                Err(failure) => {
                    // Indexing the partition opens it again and fails the loop if it still cannot.
                    error!(partition, %failure, "shard cannot be opened");
                    (*partition, None)
                }
            })
            .collect();
        let _ = self.assigned.send(Assigned::now(partitions));
        starts
    }

    fn revoked(&self, partitions: &[i32]) -> Vec<(i32, i64)> {
        self.set.lock().expect("no panic holds the shards").close(partitions)
    }
}
