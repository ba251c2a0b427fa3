//! Service-to-service credentials: a service name and a random secret, sent as HTTP
//! Basic. The receiving service keeps only SHA-256 digests of secrets and compares
//! them in constant time.
//!
//! Each credential is scoped to the calls its service makes ([`Scope`]): the
//! tokenizer's cannot reveal values, the query-api's cannot mint tokens, and no
//! service credential erases (erasure is a privileged user's act).

use std::collections::HashMap;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use super::AuthError;

/// A call of the vault's service API a credential may make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// `POST /v1/tokenize`: tokens for clear values, created when new.
    Tokenize,
    /// `POST /v1/find`: existing tokens of clear values, the tokenizer's cache fill.
    Find,
    /// `POST /v1/lookup`: tokens of clear values in a search filter, never created.
    Lookup,
    /// `POST /v1/match`: tokens whose values match a filter condition.
    Match,
    /// `POST /v1/detokenize`: clear values of tokens, each reveal recorded.
    Detokenize,
    /// `POST /v1/search` on an indexer's leaf API: tokenized records of any tenant.
    Search,
}

impl std::fmt::Display for Scope {
    /// The call's path.
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "/v1/{}", self.word())
    }
}

impl Scope {
    /// Every call of the service API.
    pub const ALL: [Scope; 6] =
        [Scope::Tokenize, Scope::Find, Scope::Lookup, Scope::Match, Scope::Detokenize, Scope::Search];

    fn word(self) -> &'static str {
        match self {
            Scope::Tokenize => "tokenize",
            Scope::Find => "find",
            Scope::Lookup => "lookup",
            Scope::Match => "match",
            Scope::Detokenize => "detokenize",
            Scope::Search => "search",
        }
    }

    /// What a credential named `name` may do when its scopes are not written out.
    pub fn defaults_for(name: &str) -> Option<&'static [Scope]> {
        match name {
            "tokenizer" => Some(&[Scope::Tokenize, Scope::Find]),
            "query-api" => Some(&[Scope::Lookup, Scope::Match, Scope::Detokenize, Scope::Search]),
            _ => None,
        }
    }

    fn parse(word: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|scope| scope.word() == word)
    }
}

/// One service's credential: `name:secret`, or `name:secret:scope+scope` (scopes
/// `tokenize`, `find`, `lookup`, `match`, `detokenize` of the vault, `search` of an
/// indexer; by default the tokenizer's and the query-api's own).
#[derive(Clone, PartialEq, Eq)]
pub struct ServiceCredential {
    /// The service's name, e.g. `tokenizer`.
    pub name: String,
    secret: String,
    /// What it may call; empty on the calling side, which presents it only.
    scopes: Vec<Scope>,
}

impl std::fmt::Debug for ServiceCredential {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ServiceCredential")
            .field("name", &self.name)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl ServiceCredential {
    /// A credential with a fresh random secret.
    pub fn generate(name: &str) -> ServiceCredential {
        let scopes = Scope::defaults_for(name).unwrap_or_default().to_vec();
        ServiceCredential { name: name.to_owned(), secret: hex::encode(rand::random::<[u8; 32]>()), scopes }
    }

    /// The `Authorization` header value that presents this credential.
    pub fn authorization(&self) -> String {
        format!("Basic {}", STANDARD.encode(format!("{}:{}", self.name, self.secret)))
    }

    /// This credential allowed exactly `scopes` (a client that seeds test data, say).
    pub fn scoped(mut self, scopes: &[Scope]) -> ServiceCredential {
        self.scopes = scopes.to_vec();
        self
    }

    /// `name:secret`: what the calling service is given.
    pub fn expose(&self) -> String {
        format!("{}:{}", self.name, self.secret)
    }

    /// `name:secret:scope+scope`: what the called service is given.
    pub fn declaration(&self) -> String {
        let scopes: Vec<&str> = self.scopes.iter().map(|scope| scope.word()).collect();
        format!("{}:{}:{}", self.name, self.secret, scopes.join("+"))
    }
}

impl FromStr for ServiceCredential {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut parts = text.splitn(3, ':');
        let (name, secret) = match (parts.next(), parts.next()) {
            (Some(name), Some(secret)) => (name, secret),
            _ => return Err("a service credential is name:secret[:scope+scope]".into()),
        };
        if name.is_empty() || secret.len() < 16 {
            return Err("a service credential needs a name and a secret of at least 16 characters".into());
        }
        let scopes = match parts.next() {
            Some(scopes) => scopes
                .split('+')
                .map(|word| {
                    Scope::parse(word).ok_or_else(|| format!("unknown scope {word:?} of service {name}"))
                })
                .collect::<Result<Vec<_>, _>>()?,
            None => Scope::defaults_for(name)
                .ok_or_else(|| format!("service {name} needs its scopes: {name}:SECRET:scope+scope"))?
                .to_vec(),
        };
        Ok(ServiceCredential { name: name.to_owned(), secret: secret.to_owned(), scopes })
    }
}

/// The credentials a service accepts, as digests, with their scopes.
#[derive(Debug, Clone, Default)]
pub struct ServiceCredentials {
    digests: HashMap<String, ([u8; 32], Vec<Scope>)>,
}

impl ServiceCredentials {
    /// Accepts exactly `credentials`.
    pub fn new(credentials: &[ServiceCredential]) -> ServiceCredentials {
        let digests = credentials.iter().map(|credential| {
            (credential.name.clone(), (digest(&credential.secret), credential.scopes.clone()))
        });
        ServiceCredentials { digests: digests.collect() }
    }

    /// The calling service's name if `authorization` presents a known credential
    /// allowed to make the call `scope`.
    pub fn verify(&self, authorization: Option<&str>, scope: Scope) -> Result<String, AuthError> {
        let value = authorization.ok_or(AuthError::Missing)?;
        let (scheme, encoded) = value.split_once(' ').ok_or(AuthError::Malformed)?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(AuthError::Malformed);
        }
        let decoded = STANDARD.decode(encoded.trim()).map_err(|_| AuthError::Malformed)?;
        let text = String::from_utf8(decoded).map_err(|_| AuthError::Malformed)?;
        let (name, secret) = text.split_once(':').ok_or(AuthError::Malformed)?;
        let (expected, scopes) = self.digests.get(name).ok_or(AuthError::BadCredentials)?;
        let presented = digest(secret);
        let difference = expected.iter().zip(presented).fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if difference != 0 {
            return Err(AuthError::BadCredentials);
        }
        if !scopes.contains(&scope) {
            return Err(AuthError::OutOfScope { service: name.to_owned(), scope });
        }
        Ok(name.to_owned())
    }
}

fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}
