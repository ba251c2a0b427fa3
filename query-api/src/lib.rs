//! The query-api: SCIM search over the audit trail (SPEC sections 6 to 8), what the
//! security engineer touches.
//!
//! [`run`] is what `main`, `auditctl up` and the tests call.
//!
//! # Layout
//! - `filter`: the RFC 7644 filter grammar, `audit-scim`'s, which the vault reads too.
//! - `catalogue`: the attributes a filter may name and which hold tokens.
//! - `plan`: a filter as index-level conditions, clear values resolved to tokens.
//! - `search`: the indexer's shards, queried with the tenant always required;
//!   time ranges read through tenant-scoped time buckets.
//! - `render`: stored records as SCIM resources: verified, detokenized, no JWS.
//! - `service`: one search from request to ListResponse.
//! - `api`: the request and response bodies, as served and as documented.
//! - `export`: a tenant's signed records streamed as JSON lines for offline checks.
//! - `keys`: the record-signing keys served as JWKS and used to verify.
//! - `http`: endpoints, limits, the one error-to-response mapping.

mod api;
mod catalogue;
mod config;
mod error;
mod export;
mod http;
mod keys;
mod metrics;
mod plan;
mod render;
mod search;
mod service;

use std::sync::Arc;
use std::time::Duration;

use audit_auth::SharedAuthenticator;
use audit_scim::filter;
use audit_service::ops::{Health, OpsState};
use audit_vault_api::client::VaultClient;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::{Config, QueryArgs};
pub use error::QueryError;

/// The search engine without HTTP, auth or the vault's answers: shards, plans and
/// rendering, for tools and the search benchmark, which drives each part directly.
pub mod engine {
    pub use crate::catalogue::Catalogue;
    pub use crate::plan::{Node, Resolved, plan};
    pub use crate::render::{resources, tokens};
    pub use crate::search::query::tenant_query;
    pub use crate::search::{PageRequest, Shards, SortOrder, search};
}

/// Service name: metric prefix and log field.
pub const SERVICE: &str = "query_api";
/// How often new shards and changed signing keys are looked for.
const REFRESH_INTERVAL: Duration = Duration::from_secs(1);
/// How often shards are checked for a new commit.
const RELOAD_INTERVAL: Duration = Duration::from_millis(50);

/// Serves the API on `listener` until `shutdown`; in-flight requests finish.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), QueryError> {
    let (registry, metrics) = metrics::QueryMetrics::register()?;
    let health = Health::default();
    let shards = Arc::new(search::Shards::open(&config.index_dir)?);
    let keys = Arc::new(keys::SigningKeys::open(&config.signing_jwks_file).map_err(QueryError::Keys)?);
    let auth = SharedAuthenticator::load(&config.auth)
        .await
        .map_err(|error| QueryError::Config { name: "auth", reason: error.to_string() })?;
    auth.spawn_refresh(shutdown.clone());
    tokio::spawn(reload(shards.clone(), shutdown.clone()));
    tokio::spawn(refresh(RefreshParams {
        shards: shards.clone(),
        keys: keys.clone(),
        metrics: metrics.clone(),
        shutdown: shutdown.clone(),
    }));
    let service = service::QueryService {
        shards,
        vault: VaultClient::new(&config.vault_url, &config.vault_credential),
        catalogue: config.catalogue.clone(),
        keys,
    };
    let state = http::AppState {
        service: Arc::new(service),
        auth,
        metrics,
        timeout: config.request_timeout,
        max_body_bytes: config.max_body_bytes,
    };
    let app = http::router(state, OpsState { registry, health: health.clone() });
    let address = listener.local_addr().map_err(|source| QueryError::Io { context: "listener", source })?;
    tracing::info!(%address, index = %config.index_dir.display(), "query-api listening");
    health.set_ready();
    let stopping = health.clone();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.cancelled().await;
            stopping.set_stopping();
        })
        .await
        .map_err(|source| QueryError::Io { context: "query-api server failed", source })
}

struct RefreshParams {
    shards: Arc<search::Shards>,
    keys: Arc<keys::SigningKeys>,
    metrics: metrics::QueryMetrics,
    shutdown: CancellationToken,
}

/// Moves the shards' readers to the indexer's commits as they happen, so a record is
/// searchable within a commit interval plus [`RELOAD_INTERVAL`].
async fn reload(shards: Arc<search::Shards>, shutdown: CancellationToken) {
    let mut ticks = tokio::time::interval(RELOAD_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let shards = shards.clone();
        // A reload opens new segments' files: blocking work.
        let _ = tokio::task::spawn_blocking(move || shards.reload()).await;
    }
}

/// Picks up shards the indexer creates and signing keys the signer rotates.
async fn refresh(params: RefreshParams) {
    let mut ticks = tokio::time::interval(REFRESH_INTERVAL);
    loop {
        tokio::select! {
            _ = params.shutdown.cancelled() => return,
            _ = ticks.tick() => {}
        }
        match params.shards.refresh() {
            Ok(open) => params.metrics.shards.set(open as i64),
            Err(error) => tracing::warn!(%error, "cannot look for new shards"),
        }
        if let Err(error) = params.keys.refresh() {
            tracing::warn!(%error, "cannot re-read the signing keys");
        }
    }
}
