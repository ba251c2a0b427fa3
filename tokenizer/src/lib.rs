//! The tokenizer: `audit.normalized` → personal data replaced by vault tokens →
//! `audit.tokenized` (Avro, keyed by tenant). No record leaves with a clear value the
//! policy names: when the vault is unreachable the batch waits and is retried.
//!
//! [`run`] is what `main` and the tests call.
//!
//! # Layout
//! - [`detect`]: where personal data sits inside free text and event codes: e-mail
//!   addresses, IPv4 and IPv6 addresses, and the addresses in `HOSTADDRESS[...]`.
//! - [`policy`]: which fields are personal and whose they are.
//! - [`stage`]: decode, collect unknown values, one vault call, apply, encode.
//! - [`cache`]: recent tokens, bounded.

pub mod cache;
pub mod config;
pub mod detect;
pub mod error;
pub mod metrics;
pub mod policy;
pub mod stage;

use std::sync::Arc;

use audit_core::kafka::ensure_topics;
use audit_core::ops::{self, Health, OpsState};
use audit_core::stage::{StageParams, run_stage};
use audit_core::vault_client::VaultClient;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::{Config, TokenizerArgs};
pub use error::TokenizerError;

/// Service name: metric prefix, log field, DLQ `dlq.stage`.
pub const SERVICE: &str = "tokenizer";

/// Runs the tokenizer until `shutdown`, serving `/metrics` and `/healthz` on `ops_listener`.
pub async fn run(
    config: Config,
    ops_listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), TokenizerError> {
    let (registry, metrics) = metrics::register()?;
    let health = Health::default();
    let ops_shutdown = CancellationToken::new();
    let ops_state = OpsState { registry, health: health.clone() };
    let ops_server = tokio::spawn(ops::serve(ops_listener, ops_state, ops_shutdown.clone()));

    let topics = &config.topics;
    if config.create_topics {
        ensure_topics(&config.kafka, &[&topics.input, &topics.output, &topics.dlq]).await?;
    }
    let stage = stage::TokenizeStage::new(stage::TokenizeParams {
        policy: config.policy.clone(),
        vault: VaultClient::new(&config.vault_url, &config.vault_credential),
        cache_capacity: config.token_cache_capacity,
    })?;
    let params = StageParams {
        service: SERVICE,
        group_id: config.group_id.clone(),
        topics: config.topics.clone(),
        kafka: config.kafka.clone(),
        metrics: Arc::new(metrics),
        health,
    };
    let result = run_stage(stage, params, shutdown).await;
    // Metrics stay scrapable while the stage drains; the ops server stops last.
    ops_shutdown.cancel();
    let _ = ops_server.await;
    Ok(result?)
}
