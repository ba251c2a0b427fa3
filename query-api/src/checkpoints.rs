//! Each tenant's latest signed checkpoint, read from the checkpoint topic (the signer
//! writes them; the topic is kept forever, keyed by tenant).
//!
//! A note is kept only once its signature verifies with the published keys under the
//! tenant's origin (`<trail name>/<tenant>`); a note whose key is not published yet
//! (the key file is re-read every second) waits and is checked when asked for. The
//! latest checkpoint is the largest tree; two verified checkpoints of one size with
//! different roots are a fork, which is counted and logged, and the first one read is
//! kept: proofs are then served against a tree anyone can check.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use audit_integrity::note::{Checkpoint, NoteError, NoteKey, open, origin};
use rdkafka::Message;
use tokio_util::sync::CancellationToken;

use crate::follow::{self, Tail};
use crate::keys::SigningKeys;
use crate::metrics::QueryMetrics;

/// A checkpoint and the signed note it came in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Latest {
    /// What the note says.
    pub checkpoint: Checkpoint,
    /// The signed note, as written.
    pub note: String,
}

/// The tenants' latest checkpoints.
pub struct Checkpoints {
    trail_name: String,
    keys: Arc<SigningKeys>,
    state: RwLock<State>,
}

#[derive(Default)]
struct State {
    verified: HashMap<String, Latest>,
    /// The largest note of each tenant whose signer is not (yet) among the keys.
    waiting: HashMap<String, String>,
}

/// What became of a note read from the topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Offered {
    /// The tenant's latest now.
    Newer,
    /// Older than (or the same as) the one known.
    Older,
    /// Of the known size with another root.
    Fork,
    /// Signed by no published key yet: kept aside.
    Waiting,
    /// Refused: malformed, or a published key's signature fails.
    Refused(NoteError),
}

impl Checkpoints {
    /// An empty set for the trail `trail_name`, verified with `keys`.
    pub fn new(trail_name: &str, keys: Arc<SigningKeys>) -> Checkpoints {
        Checkpoints { trail_name: trail_name.to_owned(), keys, state: RwLock::default() }
    }

    /// The trail's name.
    pub fn trail_name(&self) -> &str {
        &self.trail_name
    }

    /// The verifier keys (C2SP vkeys) of `tenant`'s checkpoints, one per published key.
    pub fn vkeys(&self, tenant: &str) -> Vec<String> {
        NoteKey::all(&origin(&self.trail_name, tenant), &self.keys.public())
            .iter()
            .map(NoteKey::vkey)
            .collect()
    }

    /// `tenant`'s latest checkpoint.
    pub fn latest(&self, tenant: &str) -> Option<Latest> {
        let waiting = self.read().waiting.get(tenant).cloned();
        if let Some(note) = waiting {
            // The keys may have been published since.
            if !matches!(self.offer(tenant, &note), Offered::Waiting) {
                self.write().waiting.remove(tenant);
            }
        }
        self.read().verified.get(tenant).cloned()
    }

    /// Takes a note read from the topic for `tenant`.
    pub fn offer(&self, tenant: &str, note: &str) -> Offered {
        let keys = NoteKey::all(&origin(&self.trail_name, tenant), &self.keys.public());
        let checkpoint = match open(note, &keys) {
            Ok(checkpoint) => checkpoint,
            Err(NoteError::UnknownSigner { .. }) => return self.wait(tenant, note),
            Err(error) => return Offered::Refused(error),
        };
        let mut state = self.write();
        match state.verified.get(tenant) {
            Some(known)
                if known.checkpoint.size == checkpoint.size && known.checkpoint.root != checkpoint.root =>
            {
                Offered::Fork
            }
            Some(known) if known.checkpoint.size >= checkpoint.size => Offered::Older,
            _ => {
                state.verified.insert(tenant.to_owned(), Latest { checkpoint, note: note.to_owned() });
                Offered::Newer
            }
        }
    }

    fn wait(&self, tenant: &str, note: &str) -> Offered {
        let size = |note: &str| note.split('\n').nth(1).and_then(|size| size.parse::<u64>().ok());
        let mut state = self.write();
        let larger = state.waiting.get(tenant).is_none_or(|waiting| size(waiting) < size(note));
        if larger {
            state.waiting.insert(tenant.to_owned(), note.to_owned());
        }
        Offered::Waiting
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Follows the checkpoint topic until `shutdown`.
pub async fn follow(
    checkpoints: Arc<Checkpoints>,
    tail: Tail,
    metrics: QueryMetrics,
    shutdown: CancellationToken,
) {
    follow::follow(tail, shutdown, move |message| {
        let tenant = message.key().and_then(|key| std::str::from_utf8(key).ok());
        let note = message.payload().and_then(|payload| std::str::from_utf8(payload).ok());
        let (Some(tenant), Some(note)) = (tenant, note) else {
            metrics.checkpoints.with_label_values(&["refused"]).inc();
            tracing::warn!(offset = message.offset(), "a checkpoint without a tenant key or a text");
            return;
        };
        let outcome = match checkpoints.offer(tenant, note) {
            Offered::Newer | Offered::Older => "read",
            Offered::Waiting => "waiting",
            Offered::Fork => {
                tracing::error!(
                    tenant,
                    offset = message.offset(),
                    "two checkpoints of one size with different roots"
                );
                "fork"
            }
            Offered::Refused(error) => {
                tracing::warn!(%error, tenant, offset = message.offset(), "a checkpoint refused");
                "refused"
            }
        };
        metrics.checkpoints.with_label_values(&[outcome]).inc();
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use audit_integrity::keys::KeyDir;

    fn keys() -> (tempfile::TempDir, Arc<SigningKeys>, ed25519_dalek::SigningKey) {
        let dir = tempfile::tempdir().unwrap();
        let ring = KeyDir::open_or_create(dir.path()).unwrap();
        let signing = ring.signing_key().unwrap().key;
        let keys = Arc::new(SigningKeys::open(&ring.jwks_path()).unwrap());
        (dir, keys, signing)
    }

    fn note(tenant: &str, size: u64, root: u8, key: &ed25519_dalek::SigningKey) -> String {
        Checkpoint { origin: origin("trail.test", tenant), size, root: [root; 32] }.sign(key)
    }

    #[test]
    fn the_largest_verified_checkpoint_is_the_latest_and_a_fork_is_named() {
        let (_dir, keys, key) = keys();
        let checkpoints = Checkpoints::new("trail.test", keys);
        assert_eq!(checkpoints.offer("t1", &note("t1", 10, 1, &key)), Offered::Newer);
        assert_eq!(checkpoints.offer("t1", &note("t1", 30, 3, &key)), Offered::Newer);
        assert_eq!(checkpoints.offer("t1", &note("t1", 20, 2, &key)), Offered::Older, "out of order");
        assert_eq!(checkpoints.offer("t1", &note("t1", 30, 9, &key)), Offered::Fork);
        assert_eq!(checkpoints.latest("t1").unwrap().checkpoint.root, [3; 32], "the first of a fork stays");
        assert_eq!(checkpoints.latest("t2"), None);
        assert_eq!(checkpoints.vkeys("t1").len(), 1);
        assert!(checkpoints.vkeys("t1")[0].starts_with("trail.test/t1+"));
    }

    #[test]
    fn another_tenants_note_or_a_forged_one_is_refused() {
        let (_dir, keys, key) = keys();
        let checkpoints = Checkpoints::new("trail.test", keys);
        let other = note("t2", 10, 1, &key);
        assert!(matches!(checkpoints.offer("t1", &other), Offered::Waiting), "signed under another origin");
        let forged = note("t1", 10, 1, &key).replacen("\n10\n", "\n11\n", 1);
        assert!(matches!(checkpoints.offer("t1", &forged), Offered::Refused(NoteError::BadSignature { .. })));
        assert_eq!(checkpoints.latest("t1"), None);
    }

    #[test]
    fn a_note_signed_before_its_key_was_read_is_served_once_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwks.json");
        let keys = Arc::new(SigningKeys::open(&path).unwrap());
        let checkpoints = Checkpoints::new("trail.test", keys.clone());
        let ring = KeyDir::open_or_create(dir.path()).unwrap();
        let key = ring.signing_key().unwrap().key;
        assert_eq!(checkpoints.offer("t1", &note("t1", 5, 1, &key)), Offered::Waiting);
        assert_eq!(checkpoints.latest("t1"), None);
        keys.refresh().unwrap();
        assert_eq!(checkpoints.latest("t1").map(|latest| latest.checkpoint.size), Some(5));
    }
}
