//! The vault's OpenAPI 3.1 document, generated from the handlers' own annotations and
//! the bodies' own types (utoipa; the service API's types are `audit-vault-api`'s, the
//! ones its client sends), with the routes registered from the same annotations.

use std::sync::Arc;

use audit_auth::openapi::SecuritySchemes;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa::OpenApi;

/// The parts of the document no handler carries.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Audit trail token vault",
        description = "Personal values behind random tokens, per tenant. The TokensVault SCIM API \
            (bearer JWT, the path's tenant only) reveals and erases, each access recorded in the \
            audit trail first; the service API (HTTP Basic service credentials) serves the pipeline.",
    ),
    components(schemas(audit_scim::ErrorBody)),
    modifiers(&SecuritySchemes)
)]
pub struct ApiDoc;

/// The whole document as served: the routes' operations and the ops endpoints.
pub fn render(mut document: utoipa::openapi::OpenApi) -> String {
    document.merge(audit_service::ops::openapi());
    serde_json::to_string(&document).expect("an OpenAPI document serializes")
}

/// `GET /openapi.json`.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "Meta",
    responses((status = 200, description = "This document", body = Object, content_type = "application/json"))
)]
pub async fn serve(axum::Extension(document): axum::Extension<Arc<str>>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], document.to_string()).into_response()
}
