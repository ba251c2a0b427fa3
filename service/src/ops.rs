//! The operations HTTP server every service runs: `GET /metrics` (Prometheus text)
//! and `GET /healthz` (200 once the service is ready; 503 while starting, stopping,
//! or stalled, then with the reason).

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicU8, Ordering},
};

use axum::{Router, extract::State, http::StatusCode, http::header, response::IntoResponse, routing::get};
use prometheus::{Encoder, Registry, TextEncoder};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

const READY: u8 = 1;
const STOPPING: u8 = 2;

/// Lifecycle of a service as `/healthz` reports it (starting until set otherwise);
/// cheap to clone and share.
#[derive(Clone, Default)]
pub struct Health(Arc<HealthState>);

#[derive(Default)]
struct HealthState {
    lifecycle: AtomicU8,
    stalled: Mutex<Option<String>>,
}

impl Health {
    /// The service serves traffic.
    pub fn set_ready(&self) {
        self.0.lifecycle.store(READY, Ordering::Release);
    }

    /// The service is draining.
    pub fn set_stopping(&self) {
        self.0.lifecycle.store(STOPPING, Ordering::Release);
    }

    /// The service makes no progress, and why (`None`: it moves again).
    pub fn set_stalled(&self, reason: Option<String>) {
        *self.0.stalled.lock().expect("health lock") = reason;
    }

    /// The status word `/healthz` answers with.
    pub fn status(&self) -> &'static str {
        match self.0.lifecycle.load(Ordering::Acquire) {
            READY if self.stall_reason().is_some() => "stalled",
            READY => "ready",
            STOPPING => "stopping",
            _ => "starting",
        }
    }

    /// Why the service is stalled, if it is.
    pub fn stall_reason(&self) -> Option<String> {
        self.0.stalled.lock().expect("health lock").clone()
    }
}

/// What the ops server exposes.
#[derive(Clone)]
pub struct OpsState {
    /// The service's metrics.
    pub registry: Registry,
    /// The service's lifecycle.
    pub health: Health,
}

/// Serves `/metrics` and `/healthz` on `listener` until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    state: OpsState,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(crate::http::listener(listener), router(state))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

/// `/metrics` and `/healthz`, for services that serve them beside their API.
pub fn router<S>(state: OpsState) -> Router<S> {
    Router::new().route("/metrics", get(metrics)).route("/healthz", get(healthz)).with_state(state)
}

/// The ops endpoints in an OpenAPI document, for the services that publish one.
pub fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(metrics, healthz))]
    struct OpsDoc;
    <OpsDoc as utoipa::OpenApi>::openapi()
}

/// What `/healthz` answers.
#[derive(serde::Serialize, utoipa::ToSchema)]
struct HealthBody {
    /// `starting`, `ready`, `stalled` or `stopping`.
    status: &'static str,
    /// Why the service is stalled (only then).
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

#[utoipa::path(
    get,
    path = "/metrics",
    tag = "Operations",
    responses(
        (status = 200, description = "Prometheus metrics", body = String, content_type = "text/plain"),
        (status = 500, description = "The metrics could not be encoded", body = String, content_type = "text/plain")
    )
)]
async fn metrics(State(state): State<OpsState>) -> impl IntoResponse {
    let mut body = Vec::new();
    let encoded = TextEncoder::new().encode(&state.registry.gather(), &mut body);
    match encoded {
        Ok(()) => (StatusCode::OK, [(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)], body),
        Err(error) => {
            let body = format!("cannot encode metrics: {error}").into_bytes();
            (StatusCode::INTERNAL_SERVER_ERROR, [(header::CONTENT_TYPE, "text/plain")], body)
        }
    }
}

#[utoipa::path(
    get,
    path = "/healthz",
    tag = "Operations",
    responses(
        (status = 200, description = "Ready", body = HealthBody, content_type = "application/json"),
        (status = 503, description = "Starting, stalled or stopping", body = HealthBody, content_type = "application/json")
    )
)]
async fn healthz(State(state): State<OpsState>) -> impl IntoResponse {
    let status = state.health.status();
    let code = if status == "ready" { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let reason = state.health.stall_reason().filter(|_| status == "stalled");
    (code, axum::Json(HealthBody { status, reason }))
}
