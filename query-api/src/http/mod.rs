//! The query-api's HTTP surface: the AuditRecords SCIM API (bearer JWT, the path's
//! tenant only), `/.well-known/jwks.json`, `/openapi.json`, `/metrics`, `/healthz`.
//!
//! [`error_response`] is the one place an error becomes a status and a SCIM error
//! body; server faults are logged and answered with a generic detail, never a stack
//! trace or a value. Every request is bounded in size and time; a panic becomes a
//! SCIM 500.

mod handlers;
mod openapi;
mod proof_handlers;

use std::sync::Arc;
use std::time::{Duration, Instant};

use audit_auth::SharedAuthenticator;
use audit_scim::{ScimError, ScimType};
use audit_service::ops::{self, OpsState};
use audit_vault_api::client::VaultClientError;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::QueryError;
use crate::metrics::QueryMetrics;
use crate::service::QueryService;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// Searches.
    pub service: Arc<QueryService>,
    /// Bearer token checks.
    pub auth: SharedAuthenticator,
    /// Request counters.
    pub metrics: QueryMetrics,
    /// Longest time a request may take.
    pub timeout: Duration,
    /// Largest request body.
    pub max_body_bytes: usize,
}

/// The API's routes and their document, from the same annotations.
fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(handlers::search))
        .routes(routes!(handlers::export))
        .routes(routes!(handlers::list))
        .routes(routes!(handlers::get_record))
        .routes(routes!(proof_handlers::checkpoint))
        .routes(routes!(proof_handlers::consistency))
        .routes(routes!(proof_handlers::bundle))
        .routes(routes!(proof_handlers::inclusion))
        .routes(routes!(handlers::jwks))
        .routes(routes!(proof_handlers::trail))
        .routes(routes!(handlers::openapi))
}

/// The query-api's routes, registered from the same annotations as the document.
pub fn router(state: AppState, ops_state: OpsState, console: Router) -> Router {
    let (api, document) = routes().split_for_parts();
    let document: Arc<str> = openapi::render(document).into();
    let api = api
        .layer(axum::Extension(document))
        .method_not_allowed_fallback(|| async {
            scim_error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
        })
        .with_state(state);
    api.merge(ops::router(ops_state))
        .merge(console)
        .fallback(|| async { scim_error(StatusCode::NOT_FOUND, "no such endpoint") })
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("request handler panicked");
            scim_error(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }))
}

/// Runs a handler within the time limit, counts and times it under `endpoint`.
pub async fn measured<F>(state: &AppState, endpoint: &'static str, handler: F) -> Response
where
    F: Future<Output = Result<Response, QueryError>>,
{
    let started = Instant::now();
    let response = match tokio::time::timeout(state.timeout, handler).await {
        Ok(result) => result.unwrap_or_else(|error| error_response(&error)),
        Err(_) => {
            scim_error(StatusCode::SERVICE_UNAVAILABLE, "the request took too long; narrow it or retry")
        }
    };
    state.metrics.request(endpoint, response.status().as_u16(), started.elapsed().as_secs_f64());
    response
}

/// The status and SCIM error body of `error`.
pub fn error_response(error: &QueryError) -> Response {
    let scim = match error {
        QueryError::Auth(auth) => {
            tracing::info!(error = %auth, "request refused");
            auth.scim()
        }
        QueryError::InvalidFilter(detail) => ScimError::bad_request(ScimType::InvalidFilter, detail.clone()),
        QueryError::InvalidRequest { scim_type, detail } => {
            ScimError::bad_request(*scim_type, detail.clone())
        }
        QueryError::TooMany(detail) => ScimError::bad_request(ScimType::TooMany, detail.clone()),
        QueryError::InvalidCursor(detail) => ScimError::bad_request(ScimType::InvalidCursor, detail.clone()),
        QueryError::ShardsMissing { detail } => {
            tracing::warn!(%detail, "search refused: shards missing");
            ScimError::new(StatusCode::SERVICE_UNAVAILABLE, detail.clone())
        }
        QueryError::UnsupportedMediaType => ScimError {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            scim_type: Some(ScimType::InvalidSyntax),
            detail: error.to_string(),
        },
        QueryError::TooLarge { .. } => ScimError::new(StatusCode::PAYLOAD_TOO_LARGE, error.to_string()),
        QueryError::NotFound => ScimError::new(StatusCode::NOT_FOUND, "record not found"),
        QueryError::NoCheckpoint => ScimError::new(StatusCode::NOT_FOUND, error.to_string()),
        QueryError::OutsideTree(detail) => ScimError::bad_request(ScimType::InvalidValue, detail.clone()),
        // The vault's bound on a pattern's matches is the caller's to narrow.
        QueryError::Vault(VaultClientError::Status {
            scim_type: Some(ScimType::TooMany), detail, ..
        }) => ScimError::bad_request(ScimType::TooMany, detail.clone()),
        QueryError::Vault(vault) => {
            tracing::error!(error = %vault, "vault call failed");
            ScimError::new(StatusCode::SERVICE_UNAVAILABLE, "the token vault is unavailable; retry later")
        }
        other => {
            tracing::error!(error = %other, "request failed");
            ScimError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
    };
    scim.into_response()
}

/// A SCIM error response.
pub fn scim_error(status: StatusCode, detail: &str) -> Response {
    ScimError::new(status, detail).into_response()
}

/// A SCIM JSON response (`application/scim+json`).
pub fn scim_json(status: StatusCode, body: &impl serde::Serialize) -> Response {
    audit_scim::error::json_response(status, body)
}
