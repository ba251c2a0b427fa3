//! The vault's key hierarchy and the cryptography over it.
//!
//! ```text
//! master key (config or key file, never stored)
//!   └─ tenant key (random, stored wrapped by the master key)
//!        ├─ blind-index key (derived: HMAC-SHA256 of clear values, for lookup)
//!        └─ subject key (random per data subject, stored wrapped by the tenant key)
//!             └─ sealed values (XChaCha20-Poly1305, bound to tenant and token)
//! ```
//!
//! Erasure of a data subject destroys their subject key: every value sealed under it
//! becomes unrecoverable at once (crypto-shredding), while tokens stay valid ids.
//! Every seal binds its context as associated data, so a ciphertext or wrapped key
//! moved to another tenant, subject or token fails to open. Keys never print:
//! `Debug` is redacted and key bytes are zeroed when dropped.

use std::fmt;

use chacha20poly1305::{
    KeyInit, XChaCha20Poly1305, XNonce,
    aead::{Aead, Payload},
};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

/// Bytes of a key.
pub const KEY_LEN: usize = 32;
/// Bytes of an XChaCha20 nonce; random nonces this long never repeat in practice.
const NONCE_LEN: usize = 24;

/// What can go wrong with keys and sealed data; never carries key or clear bytes.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    /// A configured key is not 64 hex digits.
    #[error("a key must be {} hex digits", KEY_LEN * 2)]
    MalformedKey,
    /// Sealed data does not open with this key and context: wrong key, wrong
    /// context, or altered bytes.
    #[error("sealed data does not authenticate in context {context}")]
    NotAuthentic {
        /// The context the data was opened in.
        context: String,
    },
    /// Opened data is not UTF-8 text.
    #[error("opened value is not utf-8 text")]
    NotText,
}

/// Where sealed data belongs; its bytes are the associated data of the seal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context(String);

impl Context {
    /// A tenant key, wrapped by the master key.
    pub fn tenant_key(tenant: &str) -> Context {
        Context(format!("tenant-key\u{0}{tenant}"))
    }

    /// A subject key, wrapped by its tenant's key.
    pub fn subject_key(tenant: &str, owner: &str) -> Context {
        Context(format!("subject-key\u{0}{tenant}\u{0}{owner}"))
    }

    /// A clear value, sealed by its subject's key.
    pub fn value(tenant: &str, token: &str) -> Context {
        Context(format!("value\u{0}{tenant}\u{0}{token}"))
    }
}

impl fmt::Display for Context {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0.replace('\u{0}', "/"))
    }
}

/// A 256-bit symmetric key.
pub struct Key(Zeroizing<[u8; KEY_LEN]>);

impl fmt::Debug for Key {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("Key(redacted)")
    }
}

impl Key {
    /// A fresh random key.
    pub fn generate() -> Key {
        Key(Zeroizing::new(rand::random()))
    }

    /// A key from 64 hex digits (the master key in config or a key file).
    pub fn from_hex(text: &str) -> Result<Key, KeyError> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        hex::decode_to_slice(text.trim(), bytes.as_mut()).map_err(|_| KeyError::MalformedKey)?;
        Ok(Key(bytes))
    }

    /// The key as 64 hex digits, for the key file it is kept in.
    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(self.0.as_ref()))
    }

    /// Encrypts `plaintext` bound to `context`: nonce followed by ciphertext and tag.
    pub fn seal(&self, context: &Context, plaintext: &[u8]) -> Vec<u8> {
        let nonce: [u8; NONCE_LEN] = rand::random();
        let payload = Payload { msg: plaintext, aad: context.0.as_bytes() };
        let ciphertext = self
            .cipher()
            .encrypt(XNonce::from_slice(&nonce), payload)
            .expect("xchacha20-poly1305 encrypts any message below 256 GiB");
        let mut sealed = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        sealed
    }

    /// Decrypts what [`Key::seal`] made in the same `context`.
    pub fn open(&self, context: &Context, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let not_authentic = || KeyError::NotAuthentic { context: context.to_string() };
        if sealed.len() < NONCE_LEN {
            return Err(not_authentic());
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let payload = Payload { msg: ciphertext, aad: context.0.as_bytes() };
        let plaintext =
            self.cipher().decrypt(XNonce::from_slice(nonce), payload).map_err(|_| not_authentic())?;
        Ok(Zeroizing::new(plaintext))
    }

    /// Seals a clear text value.
    pub fn seal_text(&self, context: &Context, value: &str) -> Vec<u8> {
        self.seal(context, value.as_bytes())
    }

    /// Opens a clear text value.
    pub fn open_text(&self, context: &Context, sealed: &[u8]) -> Result<Zeroizing<String>, KeyError> {
        let bytes = self.open(context, sealed)?;
        let text = std::str::from_utf8(&bytes).map_err(|_| KeyError::NotText)?;
        Ok(Zeroizing::new(text.to_owned()))
    }

    /// Wraps (seals) a lower key for storage.
    pub fn wrap(&self, context: &Context, key: &Key) -> Vec<u8> {
        self.seal(context, key.0.as_ref())
    }

    /// Unwraps a stored lower key.
    pub fn unwrap_key(&self, context: &Context, wrapped: &[u8]) -> Result<Key, KeyError> {
        let bytes = self.open(context, wrapped)?;
        let key: [u8; KEY_LEN] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::NotAuthentic { context: context.to_string() })?;
        Ok(Key(Zeroizing::new(key)))
    }

    /// A key for another purpose, derived with HKDF-SHA256; the same purpose always
    /// derives the same key, different purposes unrelated ones.
    pub fn derive(&self, purpose: &str) -> Key {
        let mut derived = Zeroizing::new([0u8; KEY_LEN]);
        hkdf::Hkdf::<Sha256>::new(None, self.0.as_ref())
            .expand(purpose.as_bytes(), derived.as_mut())
            .expect("32 bytes is a valid hkdf-sha256 output length");
        Key(derived)
    }

    /// The blind index of a clear value: HMAC-SHA256 under this (tenant's index) key.
    /// Equal values give equal indexes under one key, so a value finds its token;
    /// without the key, the index reveals nothing and cannot be brute-forced offline.
    pub fn blind_index(&self, value: &str) -> [u8; 32] {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(self.0.as_ref()).expect("hmac takes any key length");
        mac.update(value.as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(self.0.as_ref()))
    }
}

#[cfg(test)]
#[path = "keys_tests.rs"]
mod tests;
