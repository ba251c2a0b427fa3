//! The endpoints. Each authorizes first (nothing about a request is looked at before
//! its caller is known), then reads its input within the size limit.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use audit_scim::ScimType;

use super::{AppState, measured, scim_json};
use crate::QueryError;
use crate::api::{ExportRequest, ListResponse, ReadOptions, SearchRequest};
use crate::service::Reveal;
use audit_auth::Principal;
use audit_scim::ErrorBody;
use audit_scim::responses::{AuthFailures, BadRequest, TooLarge, Unavailable};

/// `POST /scim/{tenant}/v2/AuditRecords/.search`.
#[utoipa::path(
    post,
    path = "/scim/{tenant}/v2/AuditRecords/.search",
    tag = "AuditRecords",
    params(("tenant" = String, Path, description = "The tenant; it must be the bearer token's")),
    request_body(
        description = "A SCIM SearchRequest; an empty body searches every record",
        content((Option<SearchRequest> = "application/scim+json"), (Option<SearchRequest> = "application/json"))
    ),
    responses(
        (status = 200, description = "One page of records", body = ListResponse, content_type = "application/scim+json"),
        (status = 415, description = "The body is neither application/scim+json nor application/json", body = ErrorBody, content_type = "application/scim+json"),
        AuthFailures, BadRequest, TooLarge, Unavailable,
    ),
    security(("bearer" = []))
)]
pub async fn search(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    measured(&state, "search", async {
        let principal = authorize(&state, &headers, &tenant)?;
        check_content_type(&headers)?;
        let request: SearchRequest = read_json(&state, body, "a SCIM SearchRequest").await?;
        respond(&state, &principal, request).await
    })
    .await
}

/// `POST /scim/{tenant}/v2/AuditRecords/.export`: JSON lines of signed records.
#[utoipa::path(
    post,
    path = "/scim/{tenant}/v2/AuditRecords/.export",
    tag = "AuditRecords",
    params(("tenant" = String, Path, description = "The tenant; it must be the bearer token's")),
    request_body(
        description = "Which records; an empty body exports every record of the tenant",
        content((Option<ExportRequest> = "application/scim+json"), (Option<ExportRequest> = "application/json"))
    ),
    responses(
        (status = 200, description = "The signed records as stored, one JSON object per line, in chain order",
            body = String, content_type = "application/x-ndjson",
            headers(("x-audit-export-count" = u64, description = "How many lines follow"))),
        (status = 415, description = "The body is neither application/scim+json nor application/json", body = ErrorBody, content_type = "application/scim+json"),
        AuthFailures, BadRequest, TooLarge, Unavailable,
    ),
    security(("bearer" = []))
)]
pub async fn export(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    measured(&state, "export", async {
        let principal = authorize(&state, &headers, &tenant)?;
        check_content_type(&headers)?;
        let request: ExportRequest = read_json(&state, body, "an export request").await?;
        Ok(ndjson(state.service.export(&principal, request.filter).await?))
    })
    .await
}

/// A streamed JSON-lines response, its line count in a header.
pub(super) fn ndjson(export: crate::export::ExportStream) -> Response {
    let chunks = futures::stream::unfold(export.chunks, |mut chunks| async move {
        chunks.recv().await.map(|chunk| (chunk, chunks))
    });
    let mut response = Body::from_stream(chunks).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/x-ndjson"));
    headers.insert(EXPORT_COUNT, header::HeaderValue::from(export.count));
    response
}

/// Header of an export's response: how many lines it holds.
pub const EXPORT_COUNT: &str = "x-audit-export-count";

/// The body, within the size limit, parsed as `what` (an empty body and `null` are
/// the default request, as the document says).
pub(super) async fn read_json<T: serde::de::DeserializeOwned + Default>(
    state: &AppState,
    body: Body,
    what: &str,
) -> Result<T, QueryError> {
    let bytes = axum::body::to_bytes(body, state.max_body_bytes)
        .await
        .map_err(|_| QueryError::TooLarge { limit: state.max_body_bytes })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    let request: Option<T> = serde_json::from_slice(&bytes).map_err(|error| QueryError::InvalidRequest {
        scim_type: ScimType::InvalidSyntax,
        detail: format!("body is not {what}: {}", error_position(&error)),
    })?;
    Ok(request.unwrap_or_default())
}

/// `GET /scim/{tenant}/v2/AuditRecords?filter=..&count=..` (RFC 7644 section 3.4.2).
#[utoipa::path(
    get,
    path = "/scim/{tenant}/v2/AuditRecords",
    tag = "AuditRecords",
    params(("tenant" = String, Path, description = "The tenant; it must be the bearer token's"), SearchRequest),
    responses(
        (status = 200, description = "One page of records", body = ListResponse, content_type = "application/scim+json"),
        AuthFailures, BadRequest, Unavailable,
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    query: Result<Query<SearchRequest>, axum::extract::rejection::QueryRejection>,
) -> Response {
    measured(&state, "list", async {
        let principal = authorize(&state, &headers, &tenant)?;
        let Query(request) = query.map_err(|_| QueryError::InvalidRequest {
            scim_type: ScimType::InvalidValue,
            detail: "query parameters are filter, count, startIndex, cursor, sortBy, sortOrder, detokenize, proofs"
                .into(),
        })?;
        respond(&state, &principal, request).await
    })
    .await
}

async fn respond(
    state: &AppState,
    principal: &Principal,
    request: SearchRequest,
) -> Result<Response, QueryError> {
    let body = state.service.search(principal, request).await?;
    state.metrics.records(&body.resources);
    Ok(scim_json(StatusCode::OK, &body))
}

/// `GET /scim/{tenant}/v2/AuditRecords/{id}`.
#[utoipa::path(
    get,
    path = "/scim/{tenant}/v2/AuditRecords/{id}",
    tag = "AuditRecords",
    params(("tenant" = String, Path, description = "The tenant; it must be the bearer token's"), ("id" = String, Path, description = "The record's id"), ReadOptions),
    responses(
        (status = 200, description = "The record, verified", body = ref("#/components/schemas/AuditRecord"), content_type = "application/scim+json"),
        (status = 404, description = "No such record in this tenant", body = ErrorBody, content_type = "application/scim+json"),
        AuthFailures, BadRequest, Unavailable,
    ),
    security(("bearer" = []))
)]
pub async fn get_record(
    State(state): State<AppState>,
    Path((tenant, id)): Path<(String, String)>,
    headers: HeaderMap,
    options: Result<Query<ReadOptions>, axum::extract::rejection::QueryRejection>,
) -> Response {
    measured(&state, "get", async {
        let principal = authorize(&state, &headers, &tenant)?;
        let Query(options) = options.map_err(|_| QueryError::InvalidRequest {
            scim_type: ScimType::InvalidValue,
            detail: "the query parameter is detokenize (true or false)".into(),
        })?;
        let reveal = if options.detokenize == Some(false) { Reveal::Tokens } else { Reveal::Clear };
        let resource = state.service.get(&principal, id, reveal).await?;
        state.metrics.records(std::slice::from_ref(&resource.body));
        Ok(scim_json(StatusCode::OK, &resource.body))
    })
    .await
}

/// `GET /.well-known/jwks.json`: the record-signing keys, current and retired.
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "Keys",
    responses((status = 200, description = "The JWK Set (RFC 7517) of the record-signing keys", body = Object, content_type = "application/json"))
)]
pub async fn jwks(State(state): State<AppState>) -> Response {
    let keys = state.service.keys.jwks();
    let mut response = axum::Json(keys.as_ref()).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("max-age=60"));
    response
}

/// `GET /openapi.json`.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "Meta",
    responses((status = 200, description = "This document", body = Object, content_type = "application/json"))
)]
pub async fn openapi(axum::Extension(document): axum::Extension<std::sync::Arc<str>>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], document.to_string()).into_response()
}

pub(super) fn authorize(
    state: &AppState,
    headers: &HeaderMap,
    tenant: &str,
) -> Result<Principal, QueryError> {
    let authorization = headers.get(header::AUTHORIZATION).and_then(|value| value.to_str().ok());
    Ok(state.auth.authorize(authorization, tenant)?)
}

/// SCIM bodies are `application/scim+json`; plain JSON is accepted too.
pub(super) fn check_content_type(headers: &HeaderMap) -> Result<(), QueryError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else { return Ok(()) };
    let media =
        value.to_str().unwrap_or_default().split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    if media == "application/scim+json" || media == "application/json" {
        Ok(())
    } else {
        Err(QueryError::UnsupportedMediaType)
    }
}

/// Where a body failed to parse, without echoing its content.
fn error_position(error: &serde_json::Error) -> String {
    match error.classify() {
        serde_json::error::Category::Data => {
            format!("a member has the wrong type (line {}, column {})", error.line(), error.column())
        }
        _ => format!("malformed json at line {}, column {}", error.line(), error.column()),
    }
}
