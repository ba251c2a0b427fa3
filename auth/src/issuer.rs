//! The local stack's token issuer: an Ed25519 key that mints bearer tokens the stack
//! accepts (`auditctl token`), published as a JWK Set for the services.
//!
//! The private key lives in a file readable by its owner only; it never prints.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

/// Issuer name of tokens the local stack mints.
pub const LOCAL_ISSUER: &str = "audit-trail-local";
/// Audience of the audit trail's APIs.
pub const AUDIENCE: &str = "audit-trail";

/// What a minted token says.
#[derive(Debug, Clone)]
pub struct TokenSpec<'a> {
    /// `sub`.
    pub subject: &'a str,
    /// `tenant`.
    pub tenant: &'a str,
    /// `roles`.
    pub roles: &'a [String],
    /// Lifetime in seconds.
    pub ttl_seconds: u64,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: &'a str,
    tenant: &'a str,
    roles: &'a [String],
    iat: u64,
    exp: u64,
}

/// An Ed25519 signing key with its key id.
pub struct Issuer {
    kid: String,
    key: SigningKey,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Issuer").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl Issuer {
    /// A fresh random key.
    pub fn generate() -> Issuer {
        Issuer::from_seed(rand::random())
    }

    fn from_seed(seed: [u8; 32]) -> Issuer {
        let key = SigningKey::from_bytes(&seed);
        let digest = kid_of(key.verifying_key().as_bytes());
        Issuer { kid: digest, key }
    }

    /// The key stored at `path` (32 raw bytes, hex), created there if missing.
    pub fn load_or_create(path: &Path) -> std::io::Result<Issuer> {
        if path.exists() {
            let text = audit_integrity::keyfile::read_private_text(path)?;
            let mut seed = [0u8; 32];
            hex::decode_to_slice(text.trim(), &mut seed).map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::InvalidData, "issuer key is not 64 hex digits")
            })?;
            return Ok(Issuer::from_seed(seed));
        }
        let issuer = Issuer::generate();
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        write_private(path, &hex::encode(issuer.key.to_bytes()))?;
        Ok(issuer)
    }

    /// The key id tokens carry.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK Set.
    pub fn jwks(&self) -> JwkSet {
        let x = URL_SAFE_NO_PAD.encode(self.key.verifying_key().as_bytes());
        let set = serde_json::json!({"keys": [{
            "kty": "OKP", "crv": "Ed25519", "x": x, "kid": self.kid, "alg": "EdDSA", "use": "sig"
        }]});
        serde_json::from_value(set).expect("a well-formed ed25519 jwk")
    }

    /// A signed bearer token.
    pub fn mint(&self, spec: &TokenSpec<'_>) -> String {
        let now =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs();
        let claims = Claims {
            iss: LOCAL_ISSUER,
            aud: AUDIENCE,
            sub: spec.subject,
            tenant: spec.tenant,
            roles: spec.roles,
            iat: now,
            exp: now + spec.ttl_seconds,
        };
        self.sign(&claims)
    }

    /// Signs arbitrary claims with this key (tests use it for expired or odd tokens).
    pub fn sign(&self, claims: &impl Serialize) -> String {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        self.sign_with_header(&header, claims)
    }

    /// Signs `claims` under `header` as given (an EdDSA header; tests forge kids with it).
    pub(crate) fn sign_with_header(&self, header: &Header, claims: &impl Serialize) -> String {
        let der = self.key.to_pkcs8_der().expect("ed25519 keys encode as pkcs8");
        let key = EncodingKey::from_ed_der(der.as_bytes());
        jsonwebtoken::encode(header, claims, &key).expect("ed25519 signing does not fail")
    }
}

/// A short key id from the public key: its first 8 bytes in hex.
fn kid_of(public: &[u8; 32]) -> String {
    format!("local-{}", hex::encode(&public[..8]))
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(contents.as_bytes())
}
