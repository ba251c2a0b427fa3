//! The vault's HTTP surface: the TokensVault SCIM API for users ([`scim`]), the
//! batched service API for the pipeline ([`service`]), `/openapi.json` (generated from
//! the handlers' annotations, which also register the routes), `/metrics`, `/healthz`.
//!
//! Nothing but health and metrics answers without credentials: users present bearer
//! JWTs, services their Basic credentials. [`error_response`] is the one place that
//! turns an error into a status and a SCIM error body; it never echoes a value.

pub mod filter;
mod openapi;
pub mod scim;
pub mod service;

use audit_scim::{ScimError, ScimType};
use std::sync::Arc;
use std::time::Instant;

use audit_auth::SharedAuthenticator;
use audit_auth::service::ServiceCredentials;
use audit_service::ops::{self, OpsState};
use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::VaultError;
use crate::audit::AccessLog;
use crate::metrics::VaultMetrics;
use crate::tokens::Vault;

/// Largest request body accepted, in bytes.
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The vault's logic.
    pub vault: Arc<Vault>,
    /// Bearer token checks, with keys a JWK Set URL may refresh.
    pub auth: SharedAuthenticator,
    /// Accepted service credentials.
    pub services: Arc<ServiceCredentials>,
    /// Where accesses are recorded.
    pub access_log: Arc<AccessLog>,
    /// Request and value counters.
    pub metrics: VaultMetrics,
}

/// The vault's routes, registered from the same annotations as the document.
pub fn router(state: AppState, ops_state: OpsState) -> Router {
    let (api, document) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(scim::search))
        .routes(routes!(scim::erase))
        .routes(routes!(scim::get_token))
        .routes(routes!(service::tokenize))
        .routes(routes!(service::find))
        .routes(routes!(service::erasures))
        .routes(routes!(service::lookup))
        .routes(routes!(service::detokenize))
        .routes(routes!(service::match_values))
        .routes(routes!(openapi::serve))
        .split_for_parts();
    let document: Arc<str> = openapi::render(document).into();
    let api = api.layer(axum::Extension(document)).with_state(state);
    api.merge(ops::router(ops_state)).layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// The `Authorization` header's value, if any.
pub fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION).and_then(|value| value.to_str().ok())
}

/// Times a handler and counts its outcome under `endpoint`.
pub async fn measured<F>(metrics: &VaultMetrics, endpoint: &'static str, handler: F) -> Response
where
    F: Future<Output = Result<Response, VaultError>>,
{
    let started = Instant::now();
    let response = handler.await.unwrap_or_else(|error| error_response(&error));
    metrics.request(endpoint, response.status().as_u16(), started.elapsed().as_secs_f64());
    response
}

/// The status and SCIM error body of `error`; server faults are logged, not shown.
pub fn error_response(error: &VaultError) -> Response {
    let scim = match error {
        VaultError::Auth(auth) => {
            tracing::info!(error = %auth, "request refused");
            auth.scim()
        }
        VaultError::InvalidRequest { scim_type, detail } => {
            ScimError::bad_request(*scim_type, detail.clone())
        }
        // The details state the bound, nothing of the pattern or the values.
        VaultError::MatchScanBound { .. } | VaultError::MatchResultBound { .. } => {
            ScimError::bad_request(ScimType::TooMany, error.to_string())
        }
        VaultError::TooLarge { .. } => ScimError::new(StatusCode::PAYLOAD_TOO_LARGE, error.to_string()),
        VaultError::TokenNotFound => ScimError::new(StatusCode::NOT_FOUND, error.to_string()),
        VaultError::ValueErased => ScimError::new(StatusCode::GONE, error.to_string()),
        VaultError::AuditUnavailable(_) => {
            tracing::error!(%error, "access not recorded; nothing revealed");
            ScimError::new(StatusCode::SERVICE_UNAVAILABLE, "the access could not be recorded; retry later")
        }
        other => {
            tracing::error!(error = %other, "request failed");
            ScimError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
    };
    scim.into_response()
}

/// SCIM responses are `application/scim+json`.
pub fn scim_json(status: StatusCode, body: &impl serde::Serialize) -> Response {
    audit_scim::error::json_response(status, body)
}

/// The body parsed as JSON, with a SCIM `invalidSyntax` error when it is not and a
/// SCIM 413 when it is larger than the limit.
pub fn parse_body<T: serde::de::DeserializeOwned>(
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<T, VaultError> {
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => VaultError::TooLarge { limit: MAX_BODY_BYTES },
        _ => VaultError::InvalidRequest { scim_type: ScimType::InvalidSyntax, detail: rejection.body_text() },
    })?;
    serde_json::from_slice(&body).map_err(|error| VaultError::InvalidRequest {
        scim_type: ScimType::InvalidSyntax,
        detail: format!("body: {error}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(error: VaultError) -> (StatusCode, serde_json::Value) {
        let response = error_response(&error);
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn match_bounds_are_too_many_requests_that_state_the_bound() {
        let (status, body) = body_of(VaultError::MatchScanBound { bound: 100_000 }).await;
        assert_eq!((status, &body["scimType"]), (StatusCode::BAD_REQUEST, &"tooMany".into()));
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.starts_with("tenant has more than 100000 tokenized values"), "{detail}");
        let (status, body) = body_of(VaultError::MatchResultBound { limit: 7 }).await;
        assert_eq!((status, &body["scimType"]), (StatusCode::BAD_REQUEST, &"tooMany".into()));
        assert_eq!(body["detail"], "pattern matches more than 7 values: narrow it");
    }
}
