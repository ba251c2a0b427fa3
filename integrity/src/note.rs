//! Checkpoints as C2SP signed notes (c2sp.org/signed-note, c2sp.org/tlog-checkpoint):
//! a tenant's tree size and root hash, signed with the trail's Ed25519 keys.
//!
//! Each tenant's trail is its own log, named by its origin `<trail name>/<tenant>`; the
//! signature's key name is the origin, so a tenant's verifier key is derived from
//! the published JWK Set and the origin alone ([`NoteKey::vkey`]), and any C2SP
//! implementation (Go's `golang.org/x/mod/sumdb/note`, for instance) checks our
//! notes with it.
//!
//! Guarantee: [`open`] returns a checkpoint only when a signature by one of the given
//! keys verifies over the exact note text and none by a given key fails; the text
//! is then parsed strictly (no leading zeros, a 32-byte root, the expected origin).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier as _, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::keys::PublicKeys;
use crate::merkle::Hash;

/// C2SP's signature type byte of Ed25519.
const ED25519: u8 = 0x01;
/// A note's signature lines begin with an em dash and a space.
const SIGNATURE_PREFIX: &str = "\u{2014} ";
/// Signature lines read at most: a note is small.
const MAX_SIGNATURES: usize = 16;

/// A tenant's tree head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log: `<trail name>/<tenant>`.
    pub origin: String,
    /// Leaves (records) in the tree.
    pub size: u64,
    /// RFC 9162 root hash of those leaves.
    pub root: Hash,
}

/// Why a note was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// Not a signed note: no blank line before signatures, a bad signature line, a
    /// control character.
    #[error("not a signed note: {0}")]
    Malformed(&'static str),
    /// No signature by a known key.
    #[error("no signature by a known key of {origin}")]
    UnknownSigner {
        /// The origin the keys were made for.
        origin: String,
    },
    /// A signature by a known key does not verify.
    #[error("the signature of key {key_id:08x} does not verify")]
    BadSignature {
        /// The key's id.
        key_id: u32,
    },
    /// The signed text is not a checkpoint of the expected origin.
    #[error("not a checkpoint: {0}")]
    NotACheckpoint(&'static str),
}

/// The trail name of a stack that was given none.
pub const DEFAULT_TRAIL_NAME: &str = "audit-trail.local";

/// Whether `name` can name a trail: C2SP key names are visible characters without
/// `+`, and a tenant id is appended to it.
pub fn check_trail_name(name: &str) -> Result<(), &'static str> {
    let visible = |byte: u8| byte.is_ascii_graphic() && byte != b'+';
    if name.is_empty() || name.len() > 200 || !name.bytes().all(visible) {
        return Err("expected up to 200 visible characters, no spaces or '+'");
    }
    Ok(())
}

/// The log of `tenant`: `<trail name>/<tenant>`.
pub fn origin(trail_name: &str, tenant: &str) -> String {
    format!("{trail_name}/{tenant}")
}

/// A key that signs or checks one origin's notes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteKey {
    /// The key name: the origin.
    pub name: String,
    /// C2SP key id: the first 4 bytes of SHA-256(name, newline, type, public key).
    pub id: u32,
    /// The Ed25519 public key.
    pub public: VerifyingKey,
}

impl NoteKey {
    /// The key `public` for the notes of `origin`.
    pub fn new(origin: &str, public: VerifyingKey) -> NoteKey {
        let mut hasher = Sha256::new();
        hasher.update(origin.as_bytes());
        hasher.update([b'\n', ED25519]);
        hasher.update(public.as_bytes());
        let digest = hasher.finalize();
        let id = u32::from_be_bytes(digest[..4].try_into().expect("four bytes"));
        NoteKey { name: origin.to_owned(), id, public }
    }

    /// Every key of a JWK Set, for the notes of `origin`.
    pub fn all(origin: &str, keys: &PublicKeys) -> Vec<NoteKey> {
        keys.iter().map(|public| NoteKey::new(origin, *public)).collect()
    }

    /// The C2SP verifier key: `<name>+<hex id>+<base64(type || public key)>`.
    pub fn vkey(&self) -> String {
        let mut material = vec![ED25519];
        material.extend_from_slice(self.public.as_bytes());
        format!("{}+{:08x}+{}", self.name, self.id, STANDARD.encode(material))
    }

    /// Reads a C2SP verifier key; `None` unless it is a well-formed Ed25519 key
    /// whose id matches its name and public key.
    pub fn from_vkey(vkey: &str) -> Option<NoteKey> {
        let mut parts = vkey.split('+');
        let (name, id, material) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || name.is_empty() || id.len() != 8 {
            return None;
        }
        let material = STANDARD.decode(material).ok()?;
        let (&kind, public) = material.split_first()?;
        let public = VerifyingKey::from_bytes(public.try_into().ok()?).ok()?;
        let key = NoteKey::new(name, public);
        (kind == ED25519 && key.id == u32::from_str_radix(id, 16).ok()?).then_some(key)
    }
}

impl Checkpoint {
    /// The note text: origin, size and base64 root, each on its line.
    pub fn text(&self) -> String {
        format!("{}\n{}\n{}\n", self.origin, self.size, STANDARD.encode(self.root))
    }

    /// The checkpoint as a signed note, signed by `key` under the origin's name.
    pub fn sign(&self, key: &SigningKey) -> String {
        let text = self.text();
        let note_key = NoteKey::new(&self.origin, key.verifying_key());
        let signature = key.sign(text.as_bytes());
        let mut signed = note_key.id.to_be_bytes().to_vec();
        signed.extend_from_slice(&signature.to_bytes());
        format!("{text}\n{SIGNATURE_PREFIX}{} {}\n", self.origin, STANDARD.encode(signed))
    }

    /// Reads a checkpoint's note text (no signatures), of `origin`.
    fn parse(text: &str, origin: &str) -> Result<Checkpoint, NoteError> {
        let mut lines =
            text.strip_suffix('\n').ok_or(NoteError::NotACheckpoint("no final newline"))?.split('\n');
        let found = lines.next().unwrap_or_default();
        if found != origin {
            return Err(NoteError::NotACheckpoint("another origin"));
        }
        let size = lines.next().ok_or(NoteError::NotACheckpoint("no tree size"))?;
        let canonical =
            size == "0" || (!size.starts_with('0') && size.bytes().all(|byte| byte.is_ascii_digit()));
        let size =
            size.parse().ok().filter(|_| canonical).ok_or(NoteError::NotACheckpoint("bad tree size"))?;
        let root = lines.next().ok_or(NoteError::NotACheckpoint("no root hash"))?;
        let root = STANDARD.decode(root).ok().and_then(|root| root.try_into().ok());
        let root = root.ok_or(NoteError::NotACheckpoint("bad root hash"))?;
        if lines.any(str::is_empty) {
            return Err(NoteError::NotACheckpoint("empty extension line"));
        }
        Ok(Checkpoint { origin: origin.to_owned(), size, root })
    }
}

/// Checks a signed note with `keys` (all of one origin) and reads its checkpoint.
pub fn open(note: &str, keys: &[NoteKey]) -> Result<Checkpoint, NoteError> {
    let origin = keys.first().map(|key| key.name.clone()).unwrap_or_default();
    Checkpoint::parse(verified_text(note, keys)?, &origin)
}

/// The text of `note` once a signature by one of `keys` verifies over it.
fn verified_text<'a>(note: &'a str, keys: &[NoteKey]) -> Result<&'a str, NoteError> {
    if note.bytes().any(|byte| byte < 0x20 && byte != b'\n') {
        return Err(NoteError::Malformed("a control character"));
    }
    let body = note.strip_suffix('\n').ok_or(NoteError::Malformed("no final newline"))?;
    let split = body.rfind("\n\n").ok_or(NoteError::Malformed("no blank line before the signatures"))?;
    let (text, signatures) = (&body[..=split], &body[split + 2..]);
    let lines: Vec<&str> = signatures.split('\n').collect();
    if lines.len() > MAX_SIGNATURES {
        return Err(NoteError::Malformed("too many signatures"));
    }
    let mut verified = false;
    for line in lines {
        let (name, key_id, signature) = signature_line(line)?;
        let Some(key) = keys.iter().find(|key| key.name == name && key.id == key_id) else { continue };
        let signature = Signature::from_slice(&signature).map_err(|_| NoteError::BadSignature { key_id })?;
        key.public.verify(text.as_bytes(), &signature).map_err(|_| NoteError::BadSignature { key_id })?;
        verified = true;
    }
    if verified {
        Ok(text)
    } else {
        Err(NoteError::UnknownSigner { origin: keys.first().map(|key| key.name.clone()).unwrap_or_default() })
    }
}

/// A signature line's key name, key id and signature bytes.
fn signature_line(line: &str) -> Result<(&str, u32, Vec<u8>), NoteError> {
    let malformed = NoteError::Malformed("a bad signature line");
    let rest = line.strip_prefix(SIGNATURE_PREFIX).ok_or(malformed.clone())?;
    let (name, encoded) = rest.split_once(' ').ok_or(malformed.clone())?;
    let bytes = STANDARD.decode(encoded).map_err(|_| malformed.clone())?;
    if name.is_empty() || bytes.len() < 5 {
        return Err(malformed);
    }
    let key_id = u32::from_be_bytes(bytes[..4].try_into().expect("four bytes"));
    Ok((name, key_id, bytes[4..].to_vec()))
}

#[cfg(test)]
#[path = "note_tests.rs"]
mod tests;
