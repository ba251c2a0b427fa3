//! The vault's OpenAPI 3.1 document, generated from the handlers' own annotations and
//! the bodies' own types (utoipa; the service API's types are `audit-vault-api`'s, the
//! ones its client sends), with the routes registered from the same annotations.

use std::sync::Arc;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

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
    modifiers(&Schemes)
)]
pub struct ApiDoc;

/// The `bearer` and `basic` security schemes the operations name.
struct Schemes;

impl Modify for Schemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build();
        components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
        let basic = HttpBuilder::new().scheme(HttpAuthScheme::Basic).build();
        components.add_security_scheme("basic", SecurityScheme::Http(basic));
    }
}

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
