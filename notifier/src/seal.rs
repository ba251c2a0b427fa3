//! Webhook API keys and signing secrets at rest: sealed with XChaCha20-Poly1305 under
//! the notifier's master key (a key file beside the database, created with mode 0600
//! on first start), bound to the webhook they belong to, so a row copied to another
//! webhook does not open.

use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

use crate::NotifierError;

const NONCE_LEN: usize = 24;

/// The master key.
pub struct MasterKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("MasterKey(redacted)")
    }
}

impl MasterKey {
    /// Reads the key file (64 hex digits), creating it first when `create` allows.
    pub fn load(path: &Path, create: bool) -> Result<MasterKey, NotifierError> {
        let io = |source| NotifierError::KeyFile { path: path.to_owned(), source };
        if create && !path.exists() {
            let key: [u8; 32] = rand::random();
            write_private(path, &key.iter().map(|byte| format!("{byte:02x}")).collect::<String>())
                .map_err(io)?;
        }
        let text = Zeroizing::new(audit_integrity::keyfile::read_private_text(path).map_err(io)?);
        let mut key = Zeroizing::new([0u8; 32]);
        let text = text.trim();
        if text.len() != 64 {
            return Err(NotifierError::MalformedKey { path: path.to_owned() });
        }
        for (index, byte) in key.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[index * 2..index * 2 + 2], 16)
                .map_err(|_| NotifierError::MalformedKey { path: path.to_owned() })?;
        }
        Ok(MasterKey(key))
    }

    /// Seals `secret` for webhook `webhook`: nonce, then ciphertext and tag.
    pub fn seal(&self, webhook: &str, secret: &str) -> Vec<u8> {
        let nonce: [u8; NONCE_LEN] = rand::random();
        let payload = Payload { msg: secret.as_bytes(), aad: webhook.as_bytes() };
        let ciphertext = self
            .cipher()
            .encrypt(XNonce::from_slice(&nonce), payload)
            .expect("a short secret always encrypts");
        [nonce.as_slice(), &ciphertext].concat()
    }

    /// Opens what [`MasterKey::seal`] sealed for `webhook`.
    pub fn open(&self, webhook: &str, sealed: &[u8]) -> Result<Zeroizing<String>, NotifierError> {
        let refused = || NotifierError::SecretNotAuthentic { webhook: webhook.to_owned() };
        if sealed.len() < NONCE_LEN {
            return Err(refused());
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let payload = Payload { msg: ciphertext, aad: webhook.as_bytes() };
        let plain = self.cipher().decrypt(XNonce::from_slice(nonce), payload).map_err(|_| refused())?;
        String::from_utf8(plain).map(Zeroizing::new).map_err(|_| refused())
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(self.0.as_ref().into())
    }
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_opens_only_for_its_webhook_and_the_key_file_is_created_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let key = MasterKey::load(&path, true).unwrap();
        let sealed = key.seal("wh-1", "whsec_abc");
        assert_eq!(key.open("wh-1", &sealed).unwrap().as_str(), "whsec_abc");
        assert!(key.open("wh-2", &sealed).is_err());
        let again = MasterKey::load(&path, true).unwrap();
        assert_eq!(again.open("wh-1", &sealed).unwrap().as_str(), "whsec_abc");
        assert!(MasterKey::load(&dir.path().join("missing.key"), false).is_err());
    }
}
