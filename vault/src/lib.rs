//! The Token Vault: the only component that ever holds clear personal data.
//!
//! [`run`] is what `main` and the tests call.
//!
//! # Layout
//! - `keys`: the key hierarchy and the cryptography over it: clear values sealed
//!   with XChaCha20-Poly1305, bound to their tenant and token; keyed blind indexes
//!   for convergent lookup; keys wrapped by the key above them, down from the master
//!   key, so destroying one key makes everything under it unrecoverable.
//! - `keyring`: tenant keys (created on first use, cached) and subject keys (read
//!   per batch, so an erasure anywhere takes effect everywhere).
//! - `store`: SQLite (embedded) or PostgreSQL (replicas) behind one interface,
//!   with migrations for both.
//! - `tokens`: tokenize, look up, reveal, search and erase: the vault's logic.
//! - `http`: the TokensVault SCIM API, the batched service API, ops endpoints.
//! - `audit`: every reveal and erasure written to the raw topic first.

mod audit;
mod config;
mod error;
mod http;
mod keyring;
mod keys;
mod local;
mod metrics;
mod store;
mod tokens;

use audit_runtime::topics::Topic;
use std::sync::Arc;

use audit_auth::SharedAuthenticator;
use audit_auth::service::ServiceCredentials;
use audit_service::ops::{Health, OpsState};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::{Config, VaultArgs};
pub use error::VaultError;
pub use local::LocalVault;
// The token engine as a library, for the store tests and the benchmarks.
pub use audit::{Access, AccessKind, event};
pub use keyring::Keyring;
pub use keys::Key;
pub use store::{Store, StoreLocation};
pub use tokens::{MatchBounds, MatchQuery, Page, SearchFilter, Vault};

/// Service name: metric prefix and log field.
pub const SERVICE: &str = "vault";

/// Runs the vault's API on `listener` until `shutdown`; in-flight requests finish.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), VaultError> {
    let (registry, metrics) = metrics::VaultMetrics::register()?;
    let health = Health::default();
    let auth = SharedAuthenticator::load(&config.auth)
        .await
        .map_err(|error| VaultError::Config(error.to_string()))?;
    let refresh = shutdown.child_token();
    auth.spawn_refresh(refresh.clone());
    // The key refresh ends with the server, whether it stops on shutdown or fails.
    let _stop_refresh = refresh.drop_guard();
    let state = app_state(config, auth, metrics).await?;
    let app = http::router(state, OpsState { registry, health: health.clone() });
    health.set_ready();
    tracing::info!(address = %listener.local_addr().map_err(|source| VaultError::Io { context: "listener", source })?, "vault listening");
    let stopping = health.clone();
    let signal = shutdown.clone();
    axum::serve(audit_service::http::listener(listener), app)
        .with_graceful_shutdown(async move {
            signal.cancelled().await;
            stopping.set_stopping();
        })
        .await
        .map_err(|source| VaultError::Io { context: "vault server failed", source })
}

/// Opens the store and the access log the handlers share.
async fn app_state(
    config: Config,
    auth: SharedAuthenticator,
    metrics: metrics::VaultMetrics,
) -> Result<http::AppState, VaultError> {
    let store = Store::open(&config.store).await?;
    if config.create_topics {
        audit_runtime::topics::ensure(&config.kafka, &[Topic::personal(&config.audit_topic)]).await?;
    }
    let vault = Vault::new(store, Keyring::new(config.master_key));
    Ok(http::AppState {
        vault: Arc::new(vault),
        auth,
        services: Arc::new(ServiceCredentials::new(&config.services)),
        access_log: Arc::new(audit::AccessLog::new(&config.kafka, &config.audit_topic)?),
        metrics,
    })
}
