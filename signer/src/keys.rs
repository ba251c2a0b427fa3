//! The signer's view of its key directory: the active key, and every published key
//! for reading its own checkpoints back. A rotation (`auditctl keys rotate`) is picked
//! up within seconds without a restart; records keep verifying under retired keys.

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
    active: Arc<SigningKeyPair>,
    verifier: Verifier,
    checked: Instant,
}

impl SignerKeys {
    /// Loads the key directory at `dir`, creating a first key if `create` allows.
    pub fn load(dir: PathBuf, create: KeyCreation) -> Result<SignerKeys, KeyError> {
        let key_dir = match create {
            KeyCreation::CreateMissing => KeyDir::open_or_create(&dir)?,
            KeyCreation::MustExist => KeyDir::open(&dir)?,
        };
        let active = Arc::new(key_dir.signing_key()?);
        let verifier = Verifier::new(key_dir.public_keys()?);
        info!(kid = %active.kid, keys = key_dir.entries().len(), "signing keys loaded");
        Ok(SignerKeys { dir, active, verifier, checked: Instant::now() })
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
        Ok(Some(kid))
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
