//! The signer's view of its key directory: the active key, and every published key
//! for reading its own checkpoints back. A rotation (`auditctl keys rotate`) is picked
//! up within seconds without a restart; records keep verifying under retired keys.
//! The JWK Set may be published to a file of its own, rewritten on each rotation, so
//! verifiers read it without access to the private keys.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use audit_integrity::{KeyDir, KeyError, SigningKeyPair, Verifier};
use tracing::{info, warn};

/// How often the key ring is re-read.
const REFRESH_EVERY: Duration = Duration::from_secs(5);

/// Keys in use.
pub struct SignerKeys {
    dir: PathBuf,
    publish: Option<PathBuf>,
    active: Arc<SigningKeyPair>,
    verifier: Verifier,
    checked: Instant,
}

impl SignerKeys {
    /// Loads the key directory at `dir`, creating a first key if `create` allows, and
    /// publishes its JWK Set to `publish`.
    pub fn load(dir: PathBuf, create: KeyCreation, publish: Option<PathBuf>) -> Result<SignerKeys, KeyError> {
        let key_dir = match create {
            KeyCreation::CreateMissing => KeyDir::open_or_create(&dir)?,
            KeyCreation::MustExist => KeyDir::open(&dir)?,
        };
        let active = Arc::new(key_dir.signing_key()?);
        let verifier = Verifier::new(key_dir.public_keys()?);
        info!(kid = %active.kid, keys = key_dir.entries().len(), "signing keys loaded");
        let keys = SignerKeys { dir, publish, active, verifier, checked: Instant::now() };
        keys.publish(&key_dir)?;
        Ok(keys)
    }

    /// The key new records are signed with.
    pub fn signing_key(&self) -> Arc<SigningKeyPair> {
        Arc::clone(&self.active)
    }

    /// A verifier of every published key.
    pub fn verifier(&self) -> Verifier {
        self.verifier.clone()
    }

    /// Re-reads the key ring when it is time; keeps the current keys if that fails.
    pub fn refresh_if_due(&mut self) {
        if self.checked.elapsed() < REFRESH_EVERY {
            return;
        }
        self.checked = Instant::now();
        match self.reload() {
            Ok(Some(kid)) => info!(%kid, "signing key rotated"),
            Ok(None) => {}
            Err(error) => warn!(%error, "key ring not re-read, signing with the current key"),
        }
    }

    fn reload(&mut self) -> Result<Option<String>, KeyError> {
        let key_dir = KeyDir::open(&self.dir)?;
        if key_dir.active_kid() == self.active.kid {
            return Ok(None);
        }
        let active = key_dir.signing_key()?;
        self.verifier = Verifier::new(key_dir.public_keys()?);
        let kid = active.kid.clone();
        self.active = Arc::new(active);
        self.publish(&key_dir)?;
        Ok(Some(kid))
    }

    /// Writes the JWK Set to the publish file through a rename, so a reader sees the
    /// old set or the new one.
    fn publish(&self, key_dir: &KeyDir) -> Result<(), KeyError> {
        let Some(path) = &self.publish else { return Ok(()) };
        let io = |source| KeyError::Io { path: path.clone(), source };
        let text = serde_json::to_vec_pretty(&key_dir.jwks()).expect("a JWK Set serializes");
        let temporary = path.with_extension("tmp");
        std::fs::write(&temporary, text).map_err(io)?;
        std::fs::rename(&temporary, path).map_err(io)
    }
}

/// Whether a missing key ring may be created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyCreation {
    /// Create a first key (the one-command stack).
    CreateMissing,
    /// Refuse to start without keys (deployments provision them).
    MustExist,
}
