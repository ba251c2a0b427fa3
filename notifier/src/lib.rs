//! The notifier: `audit.signed` → webhooks. Administrators register, per tenant, the
//! URLs that receive chosen event types (SPEC section 9); each matching signed record
//! is POSTed to them at least once, signed as Standard Webhooks require, with its JWS
//! so the receiver can verify it.
//!
//! [`run`] is what `main` and the tests call: one runtime for the sink, the dispatcher
//! and the management API.
//!
//! # Layout
//! - `sink`: the stage runtime's sink mode; records become deliveries in the outbox,
//!   where the notifier's offsets are decided.
//! - `dispatch`: due deliveries POSTed, retried with back-off, dead-lettered; targets
//!   isolated from each other; `post`: one notification signed and sent;
//!   `recorder`: outcomes written in groups.
//! - `store`: webhooks and deliveries in SQLite.
//! - `webhooks`: registration rules; `target`: which URLs may be targets;
//!   `changes`: every change to a webhook recorded in the trail first.
//! - `signature`: Standard Webhooks signatures; `seal`: keys and secrets at rest.
//! - `http`: the management API and its OpenAPI document.

mod changes;
mod config;
mod dispatch;
mod error;
mod http;
mod metrics;
mod post;
mod recorder;
mod seal;
mod signature;
mod sink;
mod store;
mod target;
mod webhooks;

use audit_runtime::topics::Topic;
use std::sync::Arc;

use audit_auth::SharedAuthenticator;
use audit_runtime::stage::run_sink_service;
use audit_schemas::Codec;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::info;

pub use config::{Config, NotifierArgs};
pub use error::NotifierError;
pub use metrics::SERVICE;
pub use signature::sign;

/// Runs the notifier until `shutdown`: the management API on `listener`, `/metrics`
/// and `/healthz` on `--ops-listen`, the sink and the dispatcher.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), NotifierError> {
    let ops_listener = TcpListener::bind(config.stage.ops_listen)
        .await
        .map_err(|source| NotifierError::Io { context: "binding the ops server", source })?;
    let (registry, metrics) = metrics::register()?;
    let key = Arc::new(seal::MasterKey::load(&config.master_key_file, config.create_master_key)?);
    let store = store::Store::open(&config.database).await?;
    let auth = SharedAuthenticator::load(&config.auth)
        .await
        .map_err(|error| NotifierError::Config { name: "auth", reason: error.to_string() })?;
    auth.spawn_refresh(shutdown.clone());
    let wake = Arc::new(Notify::new());
    let params = config.stage.params(SERVICE, metrics.stage.clone());
    let poster = Arc::new(post::Poster {
        store: store.clone(),
        key: key.clone(),
        client: post::client(&config.delivery, config.targets)?,
    });
    if config.stage.create_topics {
        audit_runtime::topics::ensure(&config.stage.kafka, &[Topic::personal(&config.audit_topic)]).await?;
    }
    let changes = Arc::new(changes::ChangeLog::new(&config.stage.kafka, &config.audit_topic)?);
    let dispatcher = dispatch::Dispatcher {
        poster: poster.clone(),
        config: config.delivery.clone(),
        metrics: metrics.clone(),
        wake: wake.clone(),
        changes: changes.clone(),
        recorder: recorder::Recorder::start(store.clone()),
    };
    let webhooks =
        Arc::new(webhooks::Webhooks { store: store.clone(), key, targets: config.targets, poster, changes });
    let state = http::AppState { webhooks, auth, metrics: metrics.clone() };
    let app = http::router(state);
    let address =
        listener.local_addr().map_err(|source| NotifierError::Io { context: "listener", source })?;
    info!(%address, "notifier api listening");
    let api_shutdown = shutdown.clone();
    let api = tokio::spawn(async move {
        axum::serve(audit_service::http::listener(listener), app)
            .with_graceful_shutdown(api_shutdown.cancelled_owned())
            .await
    });
    let dispatching = tokio::spawn(dispatcher.run(shutdown.clone()));
    let codec = Codec::published("SignedRecord")?;
    let sink = sink::NotifySink { store, wake, metrics, positions: Default::default(), codec };
    let consumed = run_sink_service(sink, params, (ops_listener, registry), shutdown.clone()).await;
    // The sink stopping on its own (an error) stops the rest too.
    shutdown.cancel();
    let _ = dispatching.await;
    let served = api.await.map_err(|error| NotifierError::Client(error.to_string()))?;
    consumed?;
    served.map_err(|source| NotifierError::Io { context: "management api", source })
}
