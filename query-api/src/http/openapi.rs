//! The query-api's OpenAPI 3.1 document, generated from the handlers' own annotations
//! and the bodies' own types (utoipa), with the routes registered from the same
//! annotations: the document and the server cannot disagree on a path, a method, a
//! parameter or a body. The record resource's schema comes from the record's Avro
//! schema ([`crate::api::audit_record_schema`]).

use audit_auth::openapi::SecuritySchemes;
use utoipa::OpenApi;

use audit_scim::ErrorBody;

use crate::api::{AUDIT_RECORD, ExportRequest, ListResponse, SearchRequest, audit_record_schema};

/// The parts of the document no handler carries.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Audit trail query API",
        description = "SCIM search over signed, tokenized audit records (SPEC sections 6 to 8): \
            bearer JWT, the path's tenant only; clear values are revealed through the token vault, \
            and every reveal is itself an audit event.",
    ),
    components(schemas(ErrorBody, ListResponse, SearchRequest, ExportRequest)),
    modifiers(&SecuritySchemes)
)]
pub struct ApiDoc;

/// The whole document as served: the routes' operations, the ops endpoints, and the
/// record resource's schema.
pub fn render(mut document: utoipa::openapi::OpenApi) -> String {
    document.merge(audit_service::ops::openapi());
    let mut json = serde_json::to_value(&document).expect("an OpenAPI document serializes");
    json["components"]["schemas"][AUDIT_RECORD] = audit_record_schema();
    json.to_string()
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn document() -> Value {
        let (_, document) = crate::http::routes().split_for_parts();
        serde_json::from_str(&render(document)).unwrap()
    }

    #[test]
    fn the_document_describes_what_the_server_accepts() {
        let document = document();
        if std::env::var_os("PRINT_OPENAPI").is_some() {
            println!("{}", serde_json::to_string_pretty(&document).unwrap());
        }
        let paths: Vec<&String> = document["paths"].as_object().unwrap().keys().collect();
        for path in
            ["/scim/{tenant}/v2/AuditRecords/.search", "/scim/{tenant}/v2/AuditRecords/.export", "/healthz"]
        {
            assert!(paths.contains(&&path.to_owned()), "{path} in {paths:?}");
        }
        let search = &document["paths"]["/scim/{tenant}/v2/AuditRecords/.search"]["post"];
        assert_ne!(search["requestBody"]["required"], true, "an empty body is a search of everything");
        let request = &document["components"]["schemas"]["SearchRequest"]["properties"];
        assert_eq!(request["sortBy"]["enum"], serde_json::json!(["created"]));
        assert!(document["components"]["schemas"][AUDIT_RECORD]["properties"]["integrityStatus"].is_object());
    }
}
