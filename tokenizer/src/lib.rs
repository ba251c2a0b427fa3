//! The tokenizer: `audit.normalized` → personal data replaced by vault tokens →
//! `audit.tokenized` (Avro, keyed by tenant). No record leaves with a clear value the
//! policy names: when the vault is unreachable the batch waits and is retried.
//!
//! [`run`] is what `main` and the tests call.
//!
//! # Layout
//! - `detect`: where personal data sits inside free text and event codes: e-mail
//!   addresses, IPv4 and IPv6 addresses, and the addresses in `HOSTADDRESS[...]`.
//! - `policy` ([`Policy`]): which fields are personal and whose they are.
//! - `stage`: decode, collect unknown values, find their tokens part by part, create
//!   the missing ones in one call per batch, apply, encode.
//! - `cache`: recent tokens, bounded.

mod cache;
mod config;
mod detect;
mod error;
mod metrics;
mod policy;
mod stage;

use std::sync::Arc;

use audit_runtime::stage::run_service;
use audit_vault_api::client::VaultClient;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::{Config, TokenizerArgs};
pub use error::TokenizerError;
pub use policy::Policy;

/// Service name: metric prefix, log field, DLQ `dlq.stage`.
pub const SERVICE: &str = "tokenizer";

/// Runs the tokenizer until `shutdown`, serving `/metrics` and `/healthz` on `ops_listener`.
pub async fn run(
    config: Config,
    ops_listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), TokenizerError> {
    let (registry, metrics) = metrics::register()?;
    let stage = stage::TokenizeStage::new(stage::TokenizeParams {
        policy: config.policy.clone(),
        vault: VaultClient::new(&config.vault_url, &config.vault_credential),
        cache_capacity: config.token_cache_capacity,
    })?;
    let params = config.stage.params(SERVICE, Arc::new(metrics));
    Ok(run_service(stage, params, (ops_listener, registry), shutdown).await?)
}
