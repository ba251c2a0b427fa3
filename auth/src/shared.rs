//! The bearer-token checker services hold: cheap to clone, its keys read from a JWK
//! Set file at start or fetched from a JWK Set URL at start and then in the
//! background.
//!
//! Guarantees: a request is always checked against one complete key set, because a
//! refresh builds a whole new [`Authenticator`] and swaps it in at once; a refresh that
//! fails (unreachable, bad status, oversized or invalid set) keeps the previous keys
//! and logs a warning; the refresh task stops when its cancellation token fires.

use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::{AuthConfig, AuthConfigError, AuthError, AuthSettings, Authenticator, KeySource, Principal};

/// Longest a JWK Set fetch may take, so a hung server cannot stall start or refresh.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest JWK Set accepted, in bytes; real ones are a few kilobytes.
const MAX_JWKS_BYTES: usize = 1024 * 1024;

/// Bearer-token checks whose keys may be replaced while the service runs.
#[derive(Clone)]
pub struct SharedAuthenticator {
    inner: Arc<Inner>,
}

struct Inner {
    current: RwLock<Arc<Authenticator>>,
    config: AuthConfig,
    source: Source,
}

/// Where keys are read from, with what it takes to read them.
enum Source {
    File(PathBuf),
    Url { client: reqwest::Client, url: reqwest::Url, refresh: Duration },
}

impl std::fmt::Debug for SharedAuthenticator {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("SharedAuthenticator")
            .field("config", &self.inner.config)
            .field("current", &self.current())
            .finish()
    }
}

impl SharedAuthenticator {
    /// Reads or fetches the keys of `config`; any failure is a start error.
    pub async fn load(config: &AuthConfig) -> Result<SharedAuthenticator, AuthConfigError> {
        let source = Source::new(&config.keys)?;
        let authenticator = build(config, &source).await?;
        let inner = Inner { current: RwLock::new(Arc::new(authenticator)), config: config.clone(), source };
        Ok(SharedAuthenticator { inner: Arc::new(inner) })
    }

    /// The principal of `authorization` (the header's value) if it may act on `tenant`.
    pub fn authorize(&self, authorization: Option<&str>, tenant: &str) -> Result<Principal, AuthError> {
        self.current().authorize(authorization, tenant)
    }

    /// The key set in use now.
    pub fn current(&self) -> Arc<Authenticator> {
        // A panic while swapping cannot leave a half-written Arc, so a poisoned lock is safe to read.
        self.inner.current.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Reads or fetches the keys again and swaps them in; on failure the previous keys stay.
    pub async fn refresh(&self) -> Result<(), AuthConfigError> {
        let authenticator = Arc::new(build(&self.inner.config, &self.inner.source).await?);
        tracing::debug!(keys = ?authenticator, "bearer token keys refreshed");
        *self.inner.current.write().unwrap_or_else(PoisonError::into_inner) = authenticator;
        Ok(())
    }

    /// For a JWK Set URL, a task that refreshes the keys every refresh period until
    /// `shutdown`; `None` for a file, which is read at start only.
    pub fn spawn_refresh(&self, shutdown: CancellationToken) -> Option<JoinHandle<()>> {
        let Source::Url { refresh, .. } = &self.inner.source else { return None };
        let mut ticks = tokio::time::interval_at(Instant::now() + *refresh, *refresh);
        // After a slow fetch, wait a whole period again rather than fetching in a burst.
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let shared = self.clone();
        Some(tokio::spawn(async move {
            loop {
                let refreshed = tokio::select! {
                    () = shutdown.cancelled() => return,
                    _ = ticks.tick() => tokio::select! {
                        () = shutdown.cancelled() => return,
                        refreshed = shared.refresh() => refreshed,
                    },
                };
                if let Err(error) = refreshed {
                    tracing::warn!(%error, "bearer token keys not refreshed; keeping the previous ones");
                }
            }
        }))
    }
}

impl Source {
    fn new(keys: &KeySource) -> Result<Source, AuthConfigError> {
        match keys {
            KeySource::File(path) => Ok(Source::File(path.clone())),
            KeySource::Url { url, refresh } => {
                let client = reqwest::Client::builder()
                    .timeout(FETCH_TIMEOUT)
                    .build()
                    .map_err(|error| AuthConfigError(format!("http client for the jwks url: {error}")))?;
                Ok(Source::Url { client, url: url.clone(), refresh: *refresh })
            }
        }
    }

    async fn jwks(&self) -> Result<JwkSet, AuthConfigError> {
        match self {
            Source::File(path) => {
                let text = tokio::fs::read_to_string(path).await.map_err(|error| {
                    AuthConfigError(format!("cannot read the jwks file {}: {error}", path.display()))
                })?;
                serde_json::from_str(&text)
                    .map_err(|error| AuthConfigError(format!("jwks file {}: {error}", path.display())))
            }
            Source::Url { client, url, .. } => fetch(client, url).await,
        }
    }
}

async fn build(config: &AuthConfig, source: &Source) -> Result<Authenticator, AuthConfigError> {
    let settings = AuthSettings {
        issuer: config.issuer.clone(),
        audience: config.audience.clone(),
        jwks: source.jwks().await?,
        shared_secret: config.shared_secret.clone(),
    };
    Authenticator::new(&settings)
}

/// The JWK Set at `url`, read no further than [`MAX_JWKS_BYTES`].
async fn fetch(client: &reqwest::Client, url: &reqwest::Url) -> Result<JwkSet, AuthConfigError> {
    // The url is named once here; reqwest's own copy is dropped from its errors.
    let failed = |error: reqwest::Error| AuthConfigError(format!("jwks url {url}: {}", error.without_url()));
    let mut response =
        client.get(url.clone()).send().await.and_then(reqwest::Response::error_for_status).map_err(failed)?;
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(failed)? {
        if body.len() + chunk.len() > MAX_JWKS_BYTES {
            return Err(AuthConfigError(format!("jwks url {url}: larger than {MAX_JWKS_BYTES} bytes")));
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|error| AuthConfigError(format!("jwks url {url}: {error}")))
}
