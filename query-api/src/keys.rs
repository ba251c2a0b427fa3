//! The record-signing public keys, current and retired, as the signer's key directory
//! publishes them: served at `/.well-known/jwks.json` and used to verify records.
//!
//! The file is re-read when it changes (checked every few seconds), so a rotation is
//! picked up without a restart. Until the signer has written it, the set is empty:
//! nothing verifies, and records asked to be verified come back `tainted` rather than
//! `validated`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use audit_integrity::keys::Jwks;
use audit_integrity::{PublicKeys, Verifier};

/// The keys as last read.
struct Loaded {
    modified: Option<SystemTime>,
    verifier: Arc<Verifier>,
    public: Arc<PublicKeys>,
    jwks: Arc<serde_json::Value>,
}

/// The signing keys of one JWK Set file.
pub struct SigningKeys {
    path: PathBuf,
    loaded: RwLock<Loaded>,
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("SigningKeys").field("path", &self.path).finish_non_exhaustive()
    }
}

impl SigningKeys {
    /// The keys of `path`, read now (an absent file is an empty set).
    pub fn open(path: &Path) -> Result<SigningKeys, String> {
        let keys = SigningKeys { path: path.to_owned(), loaded: RwLock::new(read(path, None)?) };
        Ok(keys)
    }

    /// Re-reads the file if it changed since the last read.
    pub fn refresh(&self) -> Result<(), String> {
        let modified = modified(&self.path);
        if modified == self.current().modified {
            return Ok(());
        }
        let loaded = read(&self.path, modified)?;
        *self.loaded.write().unwrap_or_else(std::sync::PoisonError::into_inner) = loaded;
        Ok(())
    }

    /// A verifier trusting the current keys.
    pub fn verifier(&self) -> Arc<Verifier> {
        self.current().verifier.clone()
    }

    /// The current public keys.
    pub fn public(&self) -> Arc<PublicKeys> {
        self.current().public.clone()
    }

    /// The current JWK Set.
    pub fn jwks(&self) -> Arc<serde_json::Value> {
        self.current().jwks.clone()
    }

    fn current(&self) -> std::sync::RwLockReadGuard<'_, Loaded> {
        self.loaded.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|metadata| metadata.modified()).ok()
}

fn read(path: &Path, modified_hint: Option<SystemTime>) -> Result<Loaded, String> {
    let modified = modified_hint.or_else(|| modified(path));
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let empty = serde_json::json!({ "keys": [] });
            let verifier = Arc::new(Verifier::new(PublicKeys::default()));
            let public = Arc::new(PublicKeys::default());
            return Ok(Loaded { modified, verifier, public, jwks: Arc::new(empty) });
        }
        Err(error) => return Err(format!("cannot read {}: {error}", path.display())),
    };
    let jwks: Jwks = serde_json::from_str(&text).map_err(|error| format!("{}: {error}", path.display()))?;
    let keys = PublicKeys::from_jwks(&jwks).map_err(|error| format!("{}: {error}", path.display()))?;
    let value = serde_json::from_str(&text).map_err(|error| format!("{}: {error}", path.display()))?;
    let verifier = Arc::new(Verifier::new(keys.clone()));
    Ok(Loaded { modified, verifier, public: Arc::new(keys), jwks: Arc::new(value) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_appear_when_the_signer_writes_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwks.json");
        let keys = SigningKeys::open(&path).unwrap();
        assert_eq!(*keys.jwks(), serde_json::json!({ "keys": [] }), "no file yet: an empty set");
        let ring = audit_integrity::keys::KeyDir::open_or_create(dir.path()).unwrap();
        assert_eq!(ring.jwks_path(), path);
        keys.refresh().unwrap();
        assert_eq!(keys.jwks()["keys"][0]["kid"], ring.active_kid(), "picked up on refresh");
    }
}
