//! Bearer-token flags (`--auth-*` ↔ `AUDIT_AUTH_*`) of every service that checks
//! users' JWTs, validated once into an [`AuthConfig`].
//!
//! Guarantees: a validated config names exactly one key source (a JWK Set URL, when
//! given, replaces the file), a URL that is http(s) and carries no credentials, and a
//! refresh period of 1 s to 1 day. The development shared secret is read here and from
//! then on lives only in a [`SharedSecret`], which wipes its bytes on drop and never
//! prints them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use zeroize::Zeroizing;

use super::AuthConfigError;
use super::issuer::{AUDIENCE, LOCAL_ISSUER};

/// Fewest bytes a shared secret may have: HS256's own output size, so the key is not
/// the weak link.
pub const MIN_SECRET_BYTES: usize = 32;
/// Longest refresh period accepted, in seconds.
const MAX_REFRESH_SECS: u64 = 86_400;

/// Bearer-token flags; `#[command(flatten)]` them into a service's command line.
#[derive(Debug, Clone, Args)]
pub struct AuthArgs {
    /// JWK Set file of the public keys that sign users' bearer tokens.
    #[arg(long, env = "AUDIT_AUTH_JWKS_FILE", default_value = "data/keys/jwks.json")]
    pub auth_jwks_file: PathBuf,
    /// JWK Set URL; replaces `--auth-jwks-file`, fetched at start and refreshed.
    #[arg(long, env = "AUDIT_AUTH_JWKS_URL")]
    pub auth_jwks_url: Option<String>,
    /// Seconds between two fetches of `--auth-jwks-url`.
    #[arg(long, env = "AUDIT_AUTH_JWKS_REFRESH_SECS", default_value_t = 300)]
    pub auth_jwks_refresh_secs: u64,
    /// Development only: file holding a shared secret (32 bytes or more) that HS256
    /// tokens without a `kid` may be signed with.
    #[arg(long, env = "AUDIT_AUTH_SHARED_SECRET_FILE")]
    pub auth_shared_secret_file: Option<PathBuf>,
    /// Required `iss` of bearer tokens.
    #[arg(long, env = "AUDIT_AUTH_ISSUER", default_value = LOCAL_ISSUER)]
    pub auth_issuer: String,
    /// Required `aud` of bearer tokens.
    #[arg(long, env = "AUDIT_AUTH_AUDIENCE", default_value = AUDIENCE)]
    pub auth_audience: String,
}

/// Where the public keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// A JWK Set file, read at start.
    File(PathBuf),
    /// A JWK Set URL, fetched at start and then every `refresh`.
    Url {
        /// The JWK Set's address (http or https, no credentials).
        url: reqwest::Url,
        /// Time between two fetches.
        refresh: Duration,
    },
}

/// Validated bearer-token settings.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Where the public keys come from.
    pub keys: KeySource,
    /// Development only: the secret HS256 tokens without a `kid` may be signed with.
    pub shared_secret: Option<SharedSecret>,
    /// Required `iss`.
    pub issuer: String,
    /// Required `aud`.
    pub audience: String,
}

/// An HMAC secret shared with token issuers: wiped from memory on drop, redacted in
/// `Debug`.
#[derive(Clone)]
pub struct SharedSecret(Zeroizing<Vec<u8>>);

impl std::fmt::Debug for SharedSecret {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("SharedSecret(<redacted>)")
    }
}

impl SharedSecret {
    /// `bytes` without surrounding whitespace, if at least [`MIN_SECRET_BYTES`] remain.
    pub fn new(bytes: &[u8]) -> Result<SharedSecret, AuthConfigError> {
        let trimmed = bytes.trim_ascii();
        if trimmed.len() < MIN_SECRET_BYTES {
            return Err(AuthConfigError(format!(
                "the shared secret is shorter than {MIN_SECRET_BYTES} bytes after trimming"
            )));
        }
        Ok(SharedSecret(Zeroizing::new(trimmed.to_vec())))
    }

    /// The secret's bytes, for the HMAC key only.
    pub(crate) fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl AuthArgs {
    /// Checks every value once and reads the shared secret file, if any.
    pub fn validate(&self) -> Result<AuthConfig, AuthConfigError> {
        let keys = match self.auth_jwks_url.as_deref().map(str::trim).filter(|url| !url.is_empty()) {
            Some(url) => KeySource::Url { url: parse_url(url)?, refresh: self.refresh()? },
            None => KeySource::File(self.auth_jwks_file.clone()),
        };
        if self.auth_issuer.trim().is_empty() || self.auth_audience.trim().is_empty() {
            return Err(AuthConfigError("the issuer and the audience must not be empty".into()));
        }
        let shared_secret = self.auth_shared_secret_file.as_deref().map(read_secret).transpose()?;
        Ok(AuthConfig {
            keys,
            shared_secret,
            issuer: self.auth_issuer.clone(),
            audience: self.auth_audience.clone(),
        })
    }

    fn refresh(&self) -> Result<Duration, AuthConfigError> {
        if !(1..=MAX_REFRESH_SECS).contains(&self.auth_jwks_refresh_secs) {
            return Err(AuthConfigError(format!("auth-jwks-refresh-secs: expected 1 to {MAX_REFRESH_SECS}")));
        }
        Ok(Duration::from_secs(self.auth_jwks_refresh_secs))
    }
}

/// The URL, refused when it could leak: credentials in it would end up in logs.
fn parse_url(text: &str) -> Result<reqwest::Url, AuthConfigError> {
    // The value itself is not echoed: it may hold credentials.
    let url: reqwest::Url =
        text.parse().map_err(|error| AuthConfigError(format!("auth-jwks-url is not a url: {error}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(AuthConfigError("auth-jwks-url must be http or https".into()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(AuthConfigError("auth-jwks-url must not carry credentials".into()));
    }
    Ok(url)
}

fn read_secret(path: &Path) -> Result<SharedSecret, AuthConfigError> {
    let bytes = Zeroizing::new(audit_integrity::keyfile::read_private(path).map_err(|error| {
        AuthConfigError(format!("cannot read the shared secret file {}: {error}", path.display()))
    })?);
    SharedSecret::new(&bytes)
}
