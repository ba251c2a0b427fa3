//! The checkpoints a tenant has seen, kept in a directory of its own (`--checkpoints
//! DIR`): `DIR/<tenant>/<size>.note`, each the signed note as the query-api served it.
//! `auditctl watch` adds to it; `auditctl export --bundle` asks consistency proofs
//! from them and `auditctl verify` checks a bundle against them.
//!
//! A saved note is read back only once its signature verifies with the keys the
//! caller trusts: a note someone slipped into the directory cannot vouch for a tree.

use std::path::{Path, PathBuf};

use audit_integrity::PublicKeys;
use audit_integrity::note::{Checkpoint, NoteKey, open};

/// A directory of saved checkpoints.
pub struct Saved {
    dir: PathBuf,
}

/// How a new checkpoint relates to those seen before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judgement {
    /// None seen before.
    First,
    /// Seen before, same root.
    Known,
    /// Larger than the largest seen: a consistency proof from it must verify.
    Extends(Checkpoint),
    /// Same size as one seen, another root.
    Fork(u64),
    /// Smaller than one seen and not among them: the log went back.
    Rollback(u64),
}

/// How `new` relates to `saved` (one tenant's).
pub fn judge(saved: &[Checkpoint], new: &Checkpoint) -> Judgement {
    if let Some(same) = saved.iter().find(|old| old.size == new.size) {
        return if same.root == new.root { Judgement::Known } else { Judgement::Fork(new.size) };
    }
    match saved.iter().max_by_key(|old| old.size) {
        None => Judgement::First,
        Some(largest) if largest.size > new.size => Judgement::Rollback(largest.size),
        Some(largest) => Judgement::Extends(largest.clone()),
    }
}

impl Saved {
    /// The directory `dir` (created when a checkpoint is first saved).
    pub fn new(dir: &Path) -> Saved {
        Saved { dir: dir.to_owned() }
    }

    /// `tenant`'s saved checkpoints, each verified with `keys`, smallest first.
    pub fn checkpoints(&self, tenant: &str, keys: &PublicKeys) -> Result<Vec<Checkpoint>, String> {
        let dir = self.tenant_dir(tenant)?;
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(format!("cannot read {}: {error}", dir.display())),
        };
        let mut checkpoints = Vec::new();
        for entry in entries {
            let path = entry.map_err(|error| format!("cannot read {}: {error}", dir.display()))?.path();
            if path.extension().is_none_or(|extension| extension != "note") {
                continue;
            }
            let note = std::fs::read_to_string(&path)
                .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
            let origin = note.split('\n').next().unwrap_or_default();
            if !origin.ends_with(&format!("/{tenant}")) {
                return Err(format!("{} is not a checkpoint of tenant {tenant}", path.display()));
            }
            let checkpoint = open(&note, &NoteKey::all(origin, keys)).map_err(|error| {
                format!("{} does not verify with the trusted keys: {error}", path.display())
            })?;
            checkpoints.push(checkpoint);
        }
        checkpoints.sort_by_key(|checkpoint| checkpoint.size);
        Ok(checkpoints)
    }

    /// Saves `tenant`'s checkpoint `note` of `size` records.
    pub fn save(&self, tenant: &str, size: u64, note: &str) -> Result<(), String> {
        let dir = self.tenant_dir(tenant)?;
        std::fs::create_dir_all(&dir).map_err(|error| format!("cannot create {}: {error}", dir.display()))?;
        let path = dir.join(format!("{size}.note"));
        let temporary = tempfile::NamedTempFile::new_in(&dir)
            .map_err(|error| format!("cannot write in {}: {error}", dir.display()))?;
        std::fs::write(temporary.path(), note)
            .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
        temporary
            .persist(&path)
            .map_err(|error| format!("cannot write {}: {}", path.display(), error.error))?;
        Ok(())
    }

    fn tenant_dir(&self, tenant: &str) -> Result<PathBuf, String> {
        let plain = !tenant.is_empty() && !tenant.starts_with('.') && !tenant.contains(['/', '\\']);
        if !plain {
            return Err(format!("tenant {tenant:?} cannot name a directory"));
        }
        Ok(self.dir.join(tenant))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkpoint(size: u64, root: u8) -> Checkpoint {
        Checkpoint { origin: "trail/t1".into(), size, root: [root; 32] }
    }

    #[test]
    fn a_new_checkpoint_is_first_known_an_extension_a_fork_or_a_rollback() {
        let saved = [checkpoint(10, 1), checkpoint(20, 2)];
        assert_eq!(judge(&[], &checkpoint(5, 0)), Judgement::First);
        assert_eq!(judge(&saved, &checkpoint(20, 2)), Judgement::Known);
        assert_eq!(judge(&saved, &checkpoint(30, 3)), Judgement::Extends(checkpoint(20, 2)));
        assert_eq!(judge(&saved, &checkpoint(20, 9)), Judgement::Fork(20));
        assert_eq!(judge(&saved, &checkpoint(15, 9)), Judgement::Rollback(20));
    }

    #[test]
    fn saved_notes_read_back_only_when_they_verify() {
        let dir = tempfile::tempdir().unwrap();
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let jwk = audit_integrity::Jwk::ed25519("k", &key.verifying_key());
        let keys = PublicKeys::from_jwks(&audit_integrity::Jwks { keys: vec![jwk] }).unwrap();
        let saved = Saved::new(dir.path());
        assert_eq!(saved.checkpoints("t1", &keys).unwrap(), Vec::new());
        saved.save("t1", 10, &checkpoint(10, 1).sign(&key)).unwrap();
        saved.save("t1", 3, &checkpoint(3, 4).sign(&key)).unwrap();
        assert_eq!(saved.checkpoints("t1", &keys).unwrap(), vec![checkpoint(3, 4), checkpoint(10, 1)]);
        let other = ed25519_dalek::SigningKey::from_bytes(&[8; 32]);
        saved.save("t1", 11, &checkpoint(11, 1).sign(&other)).unwrap();
        assert!(saved.checkpoints("t1", &keys).unwrap_err().contains("does not verify"));
        assert!(saved.save("../t2", 1, "x").is_err());
    }
}
