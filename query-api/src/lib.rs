//! The query-api: SCIM search over the audit trail (SPEC sections 6 to 8), what the
//! security engineer touches.
//!
//! [`run`] is what `main`, `auditctl up` and the tests call.
//!
//! # Layout
//! - `filter`: the RFC 7644 filter grammar, `audit-scim`'s, which the vault reads too.
//! - `catalogue`: the attributes a filter may name and which hold tokens.
//! - `plan`: a filter as index-level conditions, clear values resolved to tokens.
//! - `owners`: which indexer serves which shard, from their claims on Kafka.
//! - `fanout`: a search sent to every shard's leaf and merged exactly; a shard that
//!   cannot answer fails the search by name.
//! - `paging`: pages by `startIndex` (two rounds past the first page) or by cursor.
//! - `cursor`: RFC 9865 cursors: a snapshot and the last key.
//! - `render`: stored records as SCIM resources: verified, detokenized, no JWS.
//! - `service`: one search from request to ListResponse.
//! - `api`: the request and response bodies, as served and as documented.
//! - `export`: a tenant's signed records streamed as JSON lines for offline checks.
//! - `keys`: the record-signing keys served as JWKS and used to verify.
//! - `checkpoints`: each tenant's latest signed checkpoint, from the checkpoint topic.
//! - `proofs`: inclusion, consistency and range proofs (bundles) from the index's
//!   subtrees, against those checkpoints.
//! - `follow`: reading a small topic whole, then following it.
//! - `http`: endpoints, limits, the one error-to-response mapping; the console
//!   (`audit-console`, a client of this API) is served beside them at `/console`.

mod api;
mod catalogue;
mod checkpoints;
mod config;
mod cursor;
mod error;
mod export;
mod fanout;
mod follow;
mod http;
mod keys;
mod metrics;
mod owners;
mod paging;
mod plan;
mod proofs;
mod render;
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

/// The search engine without HTTP, auth or the vault's answers: plans, paging over
/// any [`engine::Search`], merging and rendering, for tools, tests and the search
/// benchmark, which drive each part directly.
pub mod engine {
    pub use crate::catalogue::Catalogue;
    pub use crate::fanout::{Search, merge};
    pub use crate::paging::{Page, Paging, Target, page};
    pub use crate::plan::{Resolved, plan};
    pub use crate::render::{resources, tokens};
}

/// Service name: metric prefix and log field.
pub const SERVICE: &str = "query_api";
/// How often changed signing keys are looked for and shard claims counted.
const REFRESH_INTERVAL: Duration = Duration::from_secs(1);

/// Serves the API on `listener` until `shutdown`; in-flight requests finish.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), QueryError> {
    let (registry, metrics) = metrics::QueryMetrics::register()?;
    let health = Health::default();
    let keys = Arc::new(keys::SigningKeys::open(&config.signing_jwks_file).map_err(QueryError::Keys)?);
    let auth = SharedAuthenticator::load(&config.auth)
        .await
        .map_err(|error| QueryError::Config { name: "auth", reason: error.to_string() })?;
    auth.spawn_refresh(shutdown.clone());
    let owners = Arc::new(owners::Owners::default());
    let topics = owners::Topics { owners: config.owners_topic.clone(), signed: config.signed_topic.clone() };
    tokio::spawn(owners::follow(owners.clone(), config.kafka.clone(), topics, shutdown.clone()));
    let checkpoints = Arc::new(checkpoints::Checkpoints::new(&config.trail_name, keys.clone()));
    let tail = follow::Tail {
        kafka: config.kafka.clone(),
        topic: config.tree_checkpoint_topic.clone(),
        client: "audit-query-api-checkpoints",
    };
    tokio::spawn(checkpoints::follow(checkpoints.clone(), tail, metrics.clone(), shutdown.clone()));
    tokio::spawn(refresh(RefreshParams {
        owners: owners.clone(),
        keys: keys.clone(),
        metrics: metrics.clone(),
        shutdown: shutdown.clone(),
    }));
    let service = service::QueryService {
        search: fanout::Fanout::new(owners, &config.leaf_credential),
        vault: VaultClient::new(&config.vault_url, &config.vault_credential),
        catalogue: config.catalogue.clone(),
        keys,
        schema: audit_index::schema::IndexSchema::new(),
        checkpoints,
    };
    let state = http::AppState {
        service: Arc::new(service),
        auth,
        metrics,
        timeout: config.request_timeout,
        max_body_bytes: config.max_body_bytes,
    };
    let address = listener.local_addr().map_err(|source| QueryError::Io { context: "listener", source })?;
    let console = console(&config, address)?;
    let app = http::router(state, OpsState { registry, health: health.clone() }, console);
    tracing::info!(%address, owners = %config.owners_topic, "query-api listening");
    health.set_ready();
    let stopping = health.clone();
    axum::serve(audit_service::http::listener(listener), app)
        .with_graceful_shutdown(async move {
            shutdown.cancelled().await;
            stopping.set_stopping();
        })
        .await
        .map_err(|source| QueryError::Io { context: "query-api server failed", source })
}

/// The console, calling this server's own API at `address`.
fn console(config: &Config, address: std::net::SocketAddr) -> Result<axum::Router, QueryError> {
    let mut reachable = address;
    if reachable.ip().is_unspecified() {
        reachable.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let console = audit_console::ConsoleConfig {
        query_url: format!("http://{reachable}"),
        notifier_url: config.notifier_url.clone(),
        dev_issuer_key: config.console_dev_issuer_key.clone(),
    };
    audit_console::router(&console).map_err(|source| QueryError::Io { context: "console issuer key", source })
}

struct RefreshParams {
    owners: Arc<owners::Owners>,
    keys: Arc<keys::SigningKeys>,
    metrics: metrics::QueryMetrics,
    shutdown: CancellationToken,
}

/// Picks up signing keys the signer rotates; counts the shards with an owner.
async fn refresh(params: RefreshParams) {
    let mut ticks = tokio::time::interval(REFRESH_INTERVAL);
    loop {
        tokio::select! {
            _ = params.shutdown.cancelled() => return,
            _ = ticks.tick() => {}
        }
        if let Ok(route) = params.owners.route() {
            let claimed: usize = route.leaves.values().map(Vec::len).sum();
            params.metrics.shards.set(claimed as i64);
        }
        if let Err(error) = params.keys.refresh() {
            tracing::warn!(%error, "cannot re-read the signing keys");
        }
    }
}
