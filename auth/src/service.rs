//! Service-to-service credentials: a service name and a random secret, sent as HTTP
//! Basic. The receiving service keeps only SHA-256 digests of secrets and compares
//! them in constant time.

use std::collections::HashMap;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use super::AuthError;

/// One service's credential: `name:secret`.
#[derive(Clone, PartialEq, Eq)]
pub struct ServiceCredential {
    /// The service's name, e.g. `tokenizer`.
    pub name: String,
    secret: String,
}

impl std::fmt::Debug for ServiceCredential {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("ServiceCredential").field("name", &self.name).finish_non_exhaustive()
    }
}

impl ServiceCredential {
    /// A credential with a fresh random secret.
    pub fn generate(name: &str) -> ServiceCredential {
        ServiceCredential { name: name.to_owned(), secret: hex::encode(rand::random::<[u8; 32]>()) }
    }

    /// The `Authorization` header value that presents this credential.
    pub fn authorization(&self) -> String {
        format!("Basic {}", STANDARD.encode(format!("{}:{}", self.name, self.secret)))
    }

    /// `name:secret`, as configured.
    pub fn expose(&self) -> String {
        format!("{}:{}", self.name, self.secret)
    }
}

impl FromStr for ServiceCredential {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (name, secret) = text.split_once(':').ok_or("a service credential is name:secret")?;
        if name.is_empty() || secret.len() < 16 {
            return Err("a service credential needs a name and a secret of at least 16 characters".into());
        }
        Ok(ServiceCredential { name: name.to_owned(), secret: secret.to_owned() })
    }
}

/// The credentials a service accepts, as digests.
#[derive(Debug, Clone, Default)]
pub struct ServiceCredentials {
    digests: HashMap<String, [u8; 32]>,
}

impl ServiceCredentials {
    /// Accepts exactly `credentials`.
    pub fn new(credentials: &[ServiceCredential]) -> ServiceCredentials {
        let digests =
            credentials.iter().map(|credential| (credential.name.clone(), digest(&credential.secret)));
        ServiceCredentials { digests: digests.collect() }
    }

    /// The calling service's name if `authorization` presents a known credential.
    pub fn verify(&self, authorization: Option<&str>) -> Result<String, AuthError> {
        let value = authorization.ok_or(AuthError::Missing)?;
        let (scheme, encoded) = value.split_once(' ').ok_or(AuthError::Malformed)?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(AuthError::Malformed);
        }
        let decoded = STANDARD.decode(encoded.trim()).map_err(|_| AuthError::Malformed)?;
        let text = String::from_utf8(decoded).map_err(|_| AuthError::Malformed)?;
        let (name, secret) = text.split_once(':').ok_or(AuthError::Malformed)?;
        let expected = self.digests.get(name).ok_or(AuthError::BadCredentials)?;
        let presented = digest(secret);
        let difference = expected.iter().zip(presented).fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if difference == 0 { Ok(name.to_owned()) } else { Err(AuthError::BadCredentials) }
    }
}

fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}
