//! Signing keys and their publication.
//!
//! A key directory holds `keyring.json` (every key's id, public key, creation and
//! retirement time, and which one is active), the active key's private seed in
//! `<kid>.key` (owner-only), and `jwks.json`, the JWK Set (RFC 7517, OKP/Ed25519 per
//! RFC 8037) of all keys, rewritten on every change. Rotation makes a new active key
//! and retires the old one: its private seed is deleted, its public key stays
//! published forever so older records keep verifying. A key id is the key's RFC 7638
//! thumbprint. Private material never appears in Debug output, logs or errors.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

const MANIFEST: &str = "keyring.json";
const JWKS_FILE: &str = "jwks.json";

/// What can go wrong with keys; never carries key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Reading or writing a key file failed.
    #[error("key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// `keyring.json` is missing or does not parse.
    #[error("key ring {path} is unusable: {detail}")]
    Manifest {
        /// The manifest.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// A private key does not match its published public key, or does not parse.
    #[error("key {kid} is invalid: {detail}")]
    InvalidKey {
        /// Its id.
        kid: String,
        /// What is wrong.
        detail: String,
    },
    /// A JWK Set does not parse or holds no usable Ed25519 key.
    #[error("invalid jwk set: {detail}")]
    InvalidJwks {
        /// What is wrong.
        detail: String,
    },
}

/// One key as listed in the key ring.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyEntry {
    /// RFC 7638 thumbprint.
    pub kid: String,
    /// Public key, base64url.
    pub x: String,
    /// Creation time, milliseconds since the epoch.
    pub created: i64,
    /// Retirement time; `None` for the active key.
    pub retired: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Manifest {
    active: String,
    keys: Vec<KeyEntry>,
}

/// A public key in JWK form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// `OKP`.
    pub kty: String,
    /// `Ed25519`.
    pub crv: String,
    /// Public key, base64url.
    pub x: String,
    /// Key id.
    pub kid: String,
    /// `EdDSA`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// `sig`.
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub key_use: Option<String>,
}

impl Jwk {
    /// The JWK of an Ed25519 public key.
    pub fn ed25519(kid: &str, public: &VerifyingKey) -> Jwk {
        Jwk {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            x: URL_SAFE_NO_PAD.encode(public.as_bytes()),
            kid: kid.to_owned(),
            alg: Some("EdDSA".into()),
            key_use: Some("sig".into()),
        }
    }
}

/// A JWK Set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    /// The keys.
    pub keys: Vec<Jwk>,
}

/// The active signing key.
pub struct SigningKeyPair {
    /// Its id, the `kid` of every JWS it makes.
    pub kid: String,
    /// The private key.
    pub key: SigningKey,
}

impl std::fmt::Debug for SigningKeyPair {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("SigningKeyPair").field("kid", &self.kid).finish_non_exhaustive()
    }
}

/// Verifying keys by id.
#[derive(Debug, Clone, Default)]
pub struct PublicKeys {
    keys: HashMap<String, VerifyingKey>,
}

impl PublicKeys {
    /// The key named `kid`.
    pub fn get(&self, kid: &str) -> Option<&VerifyingKey> {
        self.keys.get(kid)
    }

    /// Every key, current and retired.
    pub fn iter(&self) -> impl Iterator<Item = &VerifyingKey> {
        self.keys.values()
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Keys of a JWK Set; entries that are not Ed25519 signing keys are refused.
    pub fn from_jwks(jwks: &Jwks) -> Result<PublicKeys, KeyError> {
        let invalid = |detail: String| KeyError::InvalidJwks { detail };
        let mut keys = HashMap::new();
        for jwk in &jwks.keys {
            if jwk.kty != "OKP" || jwk.crv != "Ed25519" {
                return Err(invalid(format!("key {} is {}/{}, not OKP/Ed25519", jwk.kid, jwk.kty, jwk.crv)));
            }
            let key =
                verifying_key(&jwk.x).map_err(|detail| invalid(format!("key {}: {detail}", jwk.kid)))?;
            keys.insert(jwk.kid.clone(), key);
        }
        if keys.is_empty() {
            return Err(invalid("no keys".into()));
        }
        Ok(PublicKeys { keys })
    }

    /// Keys of the JWK Set in the file at `path`.
    pub fn from_jwks_file(path: &Path) -> Result<PublicKeys, KeyError> {
        let text = std::fs::read(path).map_err(|source| KeyError::Io { path: path.to_owned(), source })?;
        let jwks: Jwks = serde_json::from_slice(&text)
            .map_err(|error| KeyError::InvalidJwks { detail: format!("{}: {error}", path.display()) })?;
        PublicKeys::from_jwks(&jwks)
    }
}

fn verifying_key(x: &str) -> Result<VerifyingKey, String> {
    let bytes = URL_SAFE_NO_PAD.decode(x).map_err(|_| "x is not base64url".to_owned())?;
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| "x is not 32 bytes".to_owned())?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| "x is not an ed25519 point".to_owned())
}

/// RFC 7638 thumbprint of an Ed25519 public key: the key's id.
pub fn thumbprint(public: &VerifyingKey) -> String {
    let x = URL_SAFE_NO_PAD.encode(public.as_bytes());
    // Required members only, in lexicographic order, no whitespace (RFC 7638 section 3).
    let members = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(members.as_bytes()))
}

/// A key directory (see the module docs).
#[derive(Debug, Clone)]
pub struct KeyDir {
    dir: PathBuf,
    manifest: Manifest,
}

impl KeyDir {
    /// Opens an existing key directory.
    pub fn open(dir: &Path) -> Result<KeyDir, KeyError> {
        let path = dir.join(MANIFEST);
        let text = std::fs::read(&path).map_err(|source| KeyError::Io { path: path.clone(), source })?;
        let manifest: Manifest = serde_json::from_slice(&text)
            .map_err(|error| KeyError::Manifest { path: path.clone(), detail: error.to_string() })?;
        if !manifest.keys.iter().any(|key| key.kid == manifest.active && key.retired.is_none()) {
            let detail = format!("active key {} is not listed as active", manifest.active);
            return Err(KeyError::Manifest { path, detail });
        }
        Ok(KeyDir { dir: dir.to_owned(), manifest })
    }

    /// Opens `dir`, creating it with a first key when it holds no key ring yet.
    pub fn open_or_create(dir: &Path) -> Result<KeyDir, KeyError> {
        if dir.join(MANIFEST).exists() {
            return KeyDir::open(dir);
        }
        std::fs::create_dir_all(dir).map_err(|source| KeyError::Io { path: dir.to_owned(), source })?;
        let (entry, key) = new_key();
        let key_dir = KeyDir {
            dir: dir.to_owned(),
            manifest: Manifest { active: entry.kid.clone(), keys: vec![entry] },
        };
        key_dir.write_private(&key)?;
        key_dir.save()?;
        Ok(key_dir)
    }

    /// Makes a new active key and retires the current one; returns the new key id.
    pub fn rotate(&mut self) -> Result<String, KeyError> {
        let (entry, key) = new_key();
        let old = self.manifest.active.clone();
        self.write_private(&key)?;
        let now = entry.created;
        for listed in &mut self.manifest.keys {
            if listed.kid == old {
                listed.retired = Some(now);
            }
        }
        self.manifest.active = entry.kid.clone();
        self.manifest.keys.push(entry);
        self.save()?;
        // Only after the new ring is durable: a retired key can never sign again.
        let old_path = self.private_path(&old);
        match std::fs::remove_file(&old_path) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(KeyError::Io { path: old_path, source }),
        }
        Ok(self.manifest.active.clone())
    }

    /// Every key, oldest first.
    pub fn entries(&self) -> &[KeyEntry] {
        &self.manifest.keys
    }

    /// The active key's id.
    pub fn active_kid(&self) -> &str {
        &self.manifest.active
    }

    /// The active private key, checked against its published public key.
    pub fn signing_key(&self) -> Result<SigningKeyPair, KeyError> {
        let kid = self.manifest.active.clone();
        let path = self.private_path(&kid);
        let text =
            crate::keyfile::read_private_text(&path).map_err(|source| KeyError::Io { path, source })?;
        let mut seed = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut seed).map_err(|_| KeyError::InvalidKey {
            kid: kid.clone(),
            detail: "seed is not 64 hex digits".into(),
        })?;
        let key = SigningKey::from_bytes(&seed);
        if thumbprint(&key.verifying_key()) != kid {
            return Err(KeyError::InvalidKey { kid, detail: "private key does not match its id".into() });
        }
        Ok(SigningKeyPair { kid, key })
    }

    /// The JWK Set of every key, active and retired.
    pub fn jwks(&self) -> Jwks {
        let keys = self
            .manifest
            .keys
            .iter()
            .map(|entry| Jwk {
                kty: "OKP".into(),
                crv: "Ed25519".into(),
                x: entry.x.clone(),
                kid: entry.kid.clone(),
                alg: Some("EdDSA".into()),
                key_use: Some("sig".into()),
            })
            .collect();
        Jwks { keys }
    }

    /// The verifying keys of [`KeyDir::jwks`].
    pub fn public_keys(&self) -> Result<PublicKeys, KeyError> {
        PublicKeys::from_jwks(&self.jwks())
    }

    /// Where `jwks.json` is kept up to date.
    pub fn jwks_path(&self) -> PathBuf {
        self.dir.join(JWKS_FILE)
    }

    fn private_path(&self, kid: &str) -> PathBuf {
        self.dir.join(format!("{kid}.key"))
    }

    fn write_private(&self, key: &SigningKey) -> Result<(), KeyError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.private_path(&thumbprint(&key.verifying_key()));
        let io = |source| KeyError::Io { path: path.clone(), source };
        let mut file =
            std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path).map_err(io)?;
        file.write_all(hex::encode(key.to_bytes()).as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)
    }

    fn save(&self) -> Result<(), KeyError> {
        let manifest = serde_json::to_vec_pretty(&self.manifest).expect("the manifest serializes");
        write_atomically(&self.dir.join(MANIFEST), &manifest)?;
        let jwks = serde_json::to_vec_pretty(&self.jwks()).expect("a jwk set serializes");
        write_atomically(&self.jwks_path(), &jwks)
    }
}

fn new_key() -> (KeyEntry, SigningKey) {
    let key = SigningKey::from_bytes(&rand::random());
    let public = key.verifying_key();
    let created = chrono::Utc::now().timestamp_millis();
    let entry = KeyEntry {
        kid: thumbprint(&public),
        x: URL_SAFE_NO_PAD.encode(public.as_bytes()),
        created,
        retired: None,
    };
    (entry, key)
}

/// Writes through a temporary file and a rename, so readers see the old or the new file.
fn write_atomically(path: &Path, contents: &[u8]) -> Result<(), KeyError> {
    let temporary = path.with_extension("tmp");
    let io = |source| KeyError::Io { path: path.to_owned(), source };
    std::fs::write(&temporary, contents).map_err(io)?;
    std::fs::File::open(&temporary).and_then(|file| file.sync_all()).map_err(io)?;
    std::fs::rename(&temporary, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprint_matches_rfc_8037_appendix_a3() {
        // RFC 8037 A.3: the thumbprint of the A.2 public key.
        let x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
        let key = verifying_key(x).unwrap();
        assert_eq!(thumbprint(&key), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    }

    #[test]
    fn rotation_keeps_old_keys_published_and_destroys_their_private_part() {
        let dir = tempfile::tempdir().unwrap();
        let mut keys = KeyDir::open_or_create(dir.path()).unwrap();
        let first = keys.active_kid().to_owned();
        assert_eq!(keys.signing_key().unwrap().kid, first);
        let second = keys.rotate().unwrap();
        assert_ne!(first, second);
        let reopened = KeyDir::open(dir.path()).unwrap();
        assert_eq!(reopened.active_kid(), second);
        assert_eq!(reopened.entries().len(), 2);
        assert!(reopened.entries()[0].retired.is_some());
        assert!(!dir.path().join(format!("{first}.key")).exists());
        let published = PublicKeys::from_jwks_file(&reopened.jwks_path()).unwrap();
        assert!(published.get(&first).is_some() && published.get(&second).is_some());
        let debug = format!("{:?}", reopened.signing_key().unwrap());
        assert!(!debug.contains(&hex::encode(reopened.signing_key().unwrap().key.to_bytes())));
    }

    #[test]
    fn a_private_key_that_does_not_match_its_id_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let keys = KeyDir::open_or_create(dir.path()).unwrap();
        let path = dir.path().join(format!("{}.key", keys.active_kid()));
        std::fs::write(&path, hex::encode([9u8; 32])).unwrap();
        let error = keys.signing_key().unwrap_err().to_string();
        assert!(error.contains("does not match"), "{error}");
    }

    #[test]
    fn jwks_with_foreign_key_types_are_refused() {
        let jwks: Jwks =
            serde_json::from_str(r#"{"keys":[{"kty":"EC","crv":"P-256","x":"AA","kid":"e"}]}"#).unwrap();
        assert!(PublicKeys::from_jwks(&jwks).unwrap_err().to_string().contains("not OKP/Ed25519"));
        assert!(PublicKeys::from_jwks(&Jwks::default()).is_err());
    }
}
