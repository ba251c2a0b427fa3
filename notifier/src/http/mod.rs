//! The management API: webhooks per tenant (bearer JWT with a privileged role, the
//! path's tenant only), their delivery log, `/openapi.json` generated from the
//! handlers' annotations (which also register the routes). `/metrics` and `/healthz`
//! are on the ops address, as for every consumer.
//!
//! [`error_response`] is the one place an error becomes a status and a SCIM error
//! body; server faults are logged, never detailed, and no answer repeats a key, a
//! secret or a value from the request.

mod api;
mod handlers;

use std::sync::Arc;
use std::time::Instant;

use audit_auth::SharedAuthenticator;
use audit_auth::openapi::SecuritySchemes;
use audit_scim::{ScimError, ScimType};
use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::NotifierError;
use crate::metrics::NotifierMetrics;
use crate::webhooks::Webhooks;

pub use api::{CreateWebhook, UpdateWebhook};
pub(crate) use api::{CreatedWebhook, Pinged};

/// Largest request body accepted, in bytes.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// Webhook registration and the store.
    pub webhooks: Arc<Webhooks>,
    /// Bearer token checks.
    pub auth: SharedAuthenticator,
    /// Request counters.
    pub metrics: NotifierMetrics,
}

/// The parts of the document no handler carries.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Audit trail notifier",
        description = "Webhooks that push chosen signed audit records to third parties, at least once, \
            each notification signed (Standard Webhooks) and carrying the record's JWS.",
    ),
    components(schemas(audit_scim::ErrorBody)),
    modifiers(&SecuritySchemes)
)]
struct ApiDoc;

/// The routes and their document, from the same annotations.
fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(handlers::create, handlers::list))
        .routes(routes!(handlers::get, handlers::update, handlers::delete))
        .routes(routes!(handlers::rotate_secret))
        .routes(routes!(handlers::ping))
        .routes(routes!(handlers::deliveries))
        .routes(routes!(handlers::retry))
        .routes(routes!(handlers::openapi))
}

/// The management API's routes (the ops endpoints are on the ops address).
pub fn router(state: AppState) -> Router {
    let (api, document) = routes().split_for_parts();
    let document: Arc<str> = serde_json::to_string(&document).expect("an OpenAPI document serializes").into();
    api.layer(axum::Extension(document))
        .with_state(state)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .fallback(|| async { ScimError::new(StatusCode::NOT_FOUND, "no such endpoint").into_response() })
}

/// Counts and times a handler under `endpoint`.
async fn measured<F>(state: &AppState, endpoint: &'static str, handler: F) -> Response
where
    F: Future<Output = Result<Response, NotifierError>>,
{
    let started = Instant::now();
    let response = handler.await.unwrap_or_else(|error| error_response(&error));
    state.metrics.requests.request(endpoint, response.status().as_u16(), started.elapsed().as_secs_f64());
    response
}

/// The status and SCIM error body of `error`.
pub fn error_response(error: &NotifierError) -> Response {
    let scim = match error {
        NotifierError::Auth(auth) => {
            tracing::info!(error = %auth, "request refused");
            auth.scim()
        }
        NotifierError::InvalidField { .. } => {
            ScimError::bad_request(ScimType::InvalidValue, error.to_string())
        }
        NotifierError::InvalidBody(_) => ScimError::bad_request(ScimType::InvalidSyntax, error.to_string()),
        NotifierError::TooLarge { .. } => ScimError::new(StatusCode::PAYLOAD_TOO_LARGE, error.to_string()),
        NotifierError::NotFound(_) => ScimError::new(StatusCode::NOT_FOUND, error.to_string()),
        NotifierError::TrailUnavailable(_) => {
            tracing::warn!(error = %error, "webhook change refused");
            ScimError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "audit trail unavailable; the change was not made",
            )
        }
        other => {
            tracing::error!(error = %other, "request failed");
            ScimError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
    };
    scim.into_response()
}
