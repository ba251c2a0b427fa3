//! Signed checkpoints of the tenants' trees: the stage offers each acknowledged tree
//! that grew ([`TreeHeads::offer`]), and a task cuts a C2SP checkpoint (origin
//! `<trail name>/<tenant>`, size, root) once a tenant's tree has grown by
//! `--tree-checkpoint-records` or its growth is `--tree-checkpoint-interval-ms` old,
//! and writes it to the checkpoint topic (kept forever), keyed by tenant in the
//! tenant's partition.
//!
//! Guarantees: a checkpoint only covers acknowledged records (offers come from
//! `on_delivered`), so it never vouches for a record the log does not hold; a
//! checkpoint that was not acknowledged stays due and is cut again at the next tick;
//! stopping cuts every tree still due. Checkpoints of one tenant may reach the topic
//! out of order (two owners around a rebalance), so its latest checkpoint is its
//! largest tree, never merely its last message. After a crash the new owner offers
//! the trees its recovery replayed: a tenant's growth acknowledged but not yet
//! checkpointed before the recovery checkpoint (older than its cadence) waits for
//! the tenant's next record.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use audit_integrity::SigningKeyPair;
use audit_integrity::merkle::Frontier;
use audit_integrity::note::{Checkpoint, origin};
use ed25519_dalek::SigningKey;
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::metrics::SignerMetrics;

/// How often due checkpoints are looked for.
const TICK: Duration = Duration::from_millis(250);

/// When a tenant's tree is checkpointed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeHeadPolicy {
    /// After it grew by this many records.
    pub records: u64,
    /// Or once its oldest growth is this old.
    pub interval: Duration,
    /// The first part of each tenant's origin.
    pub trail_name: String,
}

/// A tenant's tree waiting for its checkpoint.
#[derive(Debug, Clone)]
struct Waiting {
    partition: i32,
    tree: Frontier,
    /// Size of its last published checkpoint.
    published: u64,
    /// When it first grew past `published`.
    since: Instant,
}

#[derive(Default)]
struct State {
    trees: HashMap<String, Waiting>,
    key: Option<SigningKey>,
}

/// The trees offered by the stage, shared with the publishing task.
#[derive(Clone, Default)]
pub struct TreeHeads {
    state: Arc<Mutex<State>>,
}

/// One checkpoint to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cut {
    tenant: String,
    partition: i32,
    pub(crate) size: u64,
    pub(crate) note: String,
}

impl TreeHeads {
    /// Offers the trees of `partition` that grew and were acknowledged, with the key
    /// that signs their checkpoints.
    pub fn offer(&self, partition: i32, grown: Vec<(String, Frontier)>, key: &SigningKeyPair) {
        let mut state = self.state.lock().expect("tree heads lock");
        state.key = Some(key.key.clone());
        for (tenant, tree) in grown {
            let now = Instant::now();
            let waiting = state.trees.entry(tenant).or_insert(Waiting {
                partition,
                tree: Frontier::new(),
                published: 0,
                since: now,
            });
            if waiting.tree.size() <= waiting.published {
                waiting.since = now;
            }
            if tree.size() > waiting.tree.size() {
                waiting.partition = partition;
                waiting.tree = tree;
            }
        }
    }

    /// Signs the checkpoints due at `now` (all that grew, when `everything`).
    pub(crate) fn due(&self, policy: &TreeHeadPolicy, now: Instant, everything: bool) -> Vec<Cut> {
        let state = self.state.lock().expect("tree heads lock");
        let Some(key) = &state.key else { return Vec::new() };
        let due = |waiting: &&Waiting| {
            let grown = waiting.tree.size() - waiting.published;
            grown > 0
                && (everything
                    || grown >= policy.records
                    || now.duration_since(waiting.since) >= policy.interval)
        };
        state
            .trees
            .iter()
            .filter(|(_, waiting)| due(waiting))
            .map(|(tenant, waiting)| {
                let checkpoint = Checkpoint {
                    origin: origin(&policy.trail_name, tenant),
                    size: waiting.tree.size(),
                    root: waiting.tree.root(),
                };
                let note = checkpoint.sign(key);
                Cut { tenant: tenant.clone(), partition: waiting.partition, size: checkpoint.size, note }
            })
            .collect()
    }

    /// Records that `cut` is on the topic.
    fn published(&self, cut: &Cut) {
        let mut state = self.state.lock().expect("tree heads lock");
        if let Some(waiting) = state.trees.get_mut(&cut.tenant) {
            waiting.published = waiting.published.max(cut.size);
            waiting.since = Instant::now();
        }
    }
}

/// What the publishing task needs.
pub struct Publisher {
    /// The trees.
    pub heads: TreeHeads,
    /// When to cut.
    pub policy: TreeHeadPolicy,
    /// Writes checkpoints.
    pub producer: FutureProducer,
    /// The checkpoint topic.
    pub topic: String,
    /// Counts checkpoints.
    pub metrics: SignerMetrics,
}

impl Publisher {
    /// Cuts and writes due checkpoints every tick until `shutdown`, then the rest.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => self.publish(false).await,
                () = shutdown.cancelled() => break,
            }
        }
        self.publish(true).await;
    }

    async fn publish(&self, everything: bool) {
        let cuts = self.heads.due(&self.policy, Instant::now(), everything);
        let sends = cuts.iter().map(|cut| {
            let record =
                FutureRecord::to(&self.topic).partition(cut.partition).key(&cut.tenant).payload(&cut.note);
            self.producer.send(record, Duration::from_secs(10))
        });
        let results = futures::future::join_all(sends).await;
        let (mut written, mut failed) = (0, 0);
        for (cut, result) in cuts.iter().zip(results) {
            match result {
                Ok(_) => {
                    self.heads.published(cut);
                    written += 1;
                }
                Err((error, _)) => {
                    failed += 1;
                    warn!(partition = cut.partition, %error, "tree checkpoint not written, retried");
                }
            }
        }
        self.metrics.tree_checkpoints.with_label_values(&["written"]).inc_by(written);
        self.metrics.tree_checkpoints.with_label_values(&["failed"]).inc_by(failed);
    }
}

#[cfg(test)]
mod tests {
    use audit_integrity::merkle::leaf_hash;
    use audit_integrity::note::{NoteKey, open};

    use super::*;

    fn key() -> SigningKeyPair {
        SigningKeyPair { kid: "k".into(), key: SigningKey::from_bytes(&[5; 32]) }
    }

    fn tree(size: u8) -> Frontier {
        let mut tree = Frontier::new();
        for leaf in 0..size {
            tree.append(leaf_hash(&[leaf]));
        }
        tree
    }

    fn policy() -> TreeHeadPolicy {
        TreeHeadPolicy { records: 10, interval: Duration::from_secs(10), trail_name: "audit.test".into() }
    }

    #[test]
    fn a_tree_is_due_after_enough_records_or_enough_time() {
        let heads = TreeHeads::default();
        let now = Instant::now();
        heads.offer(3, vec![("small".into(), tree(4)), ("large".into(), tree(12))], &key());
        let cuts = heads.due(&policy(), now, false);
        assert_eq!(
            cuts.iter().map(|cut| (cut.tenant.as_str(), cut.size)).collect::<Vec<_>>(),
            [("large", 12)]
        );
        let keys = vec![NoteKey::new("audit.test/large", key().key.verifying_key())];
        let opened = open(&cuts[0].note, &keys).expect("a signed checkpoint");
        assert_eq!((opened.size, opened.root, cuts[0].partition), (12, tree(12).root(), 3));

        heads.published(&cuts[0]);
        let later = now + Duration::from_secs(11);
        let cuts = heads.due(&policy(), later, false);
        assert_eq!(
            cuts.iter().map(|cut| (cut.tenant.as_str(), cut.size)).collect::<Vec<_>>(),
            [("small", 4)]
        );
        heads.published(&cuts[0]);
        assert!(heads.due(&policy(), later + Duration::from_secs(60), false).is_empty(), "nothing grew");
    }

    #[test]
    fn an_unwritten_checkpoint_stays_due_and_stopping_cuts_the_rest() {
        let heads = TreeHeads::default();
        heads.offer(0, vec![("a".into(), tree(11))], &key());
        assert_eq!(heads.due(&policy(), Instant::now(), false).len(), 1, "due, and not marked written");
        assert_eq!(heads.due(&policy(), Instant::now(), false).len(), 1, "still due");
        heads.offer(0, vec![("a".into(), tree(3))], &key());
        let cuts = heads.due(&policy(), Instant::now(), false);
        assert_eq!(cuts[0].size, 11, "an older tree never replaces a larger one");
        heads.published(&cuts[0]);
        heads.offer(0, vec![("a".into(), tree(12))], &key());
        assert!(heads.due(&policy(), Instant::now(), false).is_empty(), "one record is not due yet");
        assert_eq!(heads.due(&policy(), Instant::now(), true)[0].size, 12, "stopping cuts it");
    }
}
