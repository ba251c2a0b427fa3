//! The query-api's HTTP surface: the AuditRecords SCIM API (bearer JWT, the path's
//! tenant only), `/.well-known/jwks.json`, `/openapi.json`, `/metrics`, `/healthz`.
//!
//! [`error_response`] is the one place an error becomes a status and a SCIM error
//! body; server faults are logged and answered with a generic detail, never a stack
//! trace or a value. Every request is bounded in size and time; a panic becomes a
//! SCIM 500.

mod handlers;

use std::sync::Arc;
use std::time::{Duration, Instant};

use audit_auth::SharedAuthenticator;
use audit_core::ops::{self, OpsState};
use audit_vault_api::client::VaultClientError;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;

use crate::QueryError;
use crate::metrics::QueryMetrics;
use crate::service::QueryService;

/// SCIM error message schema.
const SCIM_ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// The OpenAPI document of this API.
pub const OPENAPI: &str = include_str!("openapi.json");

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

/// The query-api's routes.
pub fn router(state: AppState, ops_state: OpsState) -> Router {
    let api = Router::new()
        .route("/scim/{tenant}/v2/AuditRecords/.search", post(handlers::search))
        .route("/scim/{tenant}/v2/AuditRecords/.export", post(handlers::export))
        .route("/scim/{tenant}/v2/AuditRecords", get(handlers::list))
        .route("/scim/{tenant}/v2/AuditRecords/{id}", get(handlers::get_record))
        .route("/.well-known/jwks.json", get(handlers::jwks))
        .route("/openapi.json", get(handlers::openapi))
        .method_not_allowed_fallback(|| async {
            scim_error(StatusCode::METHOD_NOT_ALLOWED, None, "method not allowed")
        })
        .with_state(state);
    api.merge(ops::router(ops_state))
        .fallback(|| async { scim_error(StatusCode::NOT_FOUND, None, "no such endpoint") })
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("request handler panicked");
            scim_error(StatusCode::INTERNAL_SERVER_ERROR, None, "internal error")
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
            scim_error(StatusCode::SERVICE_UNAVAILABLE, None, "the request took too long; narrow it or retry")
        }
    };
    state.metrics.request(endpoint, response.status().as_u16(), started.elapsed().as_secs_f64());
    response
}

/// The status and SCIM error body of `error`.
pub fn error_response(error: &QueryError) -> Response {
    match error {
        QueryError::Auth(auth) => {
            tracing::info!(error = %auth, "request refused");
            let status = StatusCode::from_u16(auth.status()).unwrap_or(StatusCode::UNAUTHORIZED);
            if status == StatusCode::FORBIDDEN {
                scim_error(status, None, &auth.to_string())
            } else {
                scim_error(status, None, "authentication required")
            }
        }
        QueryError::InvalidFilter(detail) => {
            scim_error(StatusCode::BAD_REQUEST, Some("invalidFilter"), detail)
        }
        QueryError::InvalidRequest { scim_type, detail } => {
            scim_error(StatusCode::BAD_REQUEST, Some(scim_type), detail)
        }
        QueryError::TooMany(detail) => scim_error(StatusCode::BAD_REQUEST, Some("tooMany"), detail),
        QueryError::UnsupportedMediaType => {
            scim_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, Some("invalidSyntax"), &error.to_string())
        }
        QueryError::TooLarge { .. } => scim_error(StatusCode::PAYLOAD_TOO_LARGE, None, &error.to_string()),
        QueryError::NotFound => scim_error(StatusCode::NOT_FOUND, None, "record not found"),
        QueryError::Vault(VaultClientError::Status { status: 400, detail, .. }) => {
            scim_error(StatusCode::BAD_REQUEST, Some("tooMany"), detail)
        }
        QueryError::Vault(vault) => {
            tracing::error!(error = %vault, "vault call failed");
            scim_error(StatusCode::SERVICE_UNAVAILABLE, None, "the token vault is unavailable; retry later")
        }
        other => {
            tracing::error!(error = %other, "request failed");
            scim_error(StatusCode::INTERNAL_SERVER_ERROR, None, "internal error")
        }
    }
}

/// A SCIM error response.
pub fn scim_error(status: StatusCode, scim_type: Option<&str>, detail: &str) -> Response {
    let mut body = serde_json::json!({ "schemas": [SCIM_ERROR], "status": status.as_u16().to_string(), "detail": detail });
    if let Some(scim_type) = scim_type {
        body["scimType"] = scim_type.into();
    }
    let mut response = scim_json(status, &body);
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

/// A SCIM JSON response (`application/scim+json`).
pub fn scim_json(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/scim+json;charset=utf-8"));
    response
}
