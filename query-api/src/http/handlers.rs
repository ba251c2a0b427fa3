//! The endpoints. Each authorizes first (nothing about a request is looked at before
//! its caller is known), then reads its input within the size limit.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use audit_scim::ScimType;

use super::{AppState, OPENAPI, measured, scim_json};
use crate::QueryError;
use crate::service::{ExportRequest, SearchRequest};
use audit_auth::Principal;

/// `POST /scim/{tenant}/v2/AuditRecords/.search`.
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
        let export = state.service.export(&principal, request.filter).await?;
        let chunks = futures::stream::unfold(export.chunks, |mut chunks| async move {
            chunks.recv().await.map(|chunk| (chunk, chunks))
        });
        let mut response = Body::from_stream(chunks).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/x-ndjson"));
        headers.insert(EXPORT_COUNT, header::HeaderValue::from(export.count));
        Ok(response)
    })
    .await
}

/// Header of an export's response: how many lines it holds.
pub const EXPORT_COUNT: &str = "x-audit-export-count";

/// The body, within the size limit, parsed as `what` (an empty body is `{}`).
async fn read_json<T: serde::de::DeserializeOwned>(
    state: &AppState,
    body: Body,
    what: &str,
) -> Result<T, QueryError> {
    let bytes = axum::body::to_bytes(body, state.max_body_bytes)
        .await
        .map_err(|_| QueryError::TooLarge { limit: state.max_body_bytes })?;
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) { b"{}" } else { &bytes };
    serde_json::from_slice(bytes).map_err(|error| QueryError::InvalidRequest {
        scim_type: ScimType::InvalidSyntax,
        detail: format!("body is not {what}: {}", error_position(&error)),
    })
}

/// `GET /scim/{tenant}/v2/AuditRecords?filter=..&count=..` (RFC 7644 section 3.4.2).
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
            detail: "query parameters are filter, count, startIndex, sortBy, sortOrder".into(),
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
    if let Some(records) = body["Resources"].as_array() {
        state.metrics.records(records);
    }
    Ok(scim_json(StatusCode::OK, &body))
}

/// `GET /scim/{tenant}/v2/AuditRecords/{id}`.
pub async fn get_record(
    State(state): State<AppState>,
    Path((tenant, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    measured(&state, "get", async {
        let principal = authorize(&state, &headers, &tenant)?;
        let resource = state.service.get(&principal, id).await?;
        state.metrics.records(std::slice::from_ref(&resource.body));
        Ok(scim_json(StatusCode::OK, &resource.body))
    })
    .await
}

/// `GET /.well-known/jwks.json`: the record-signing keys, current and retired.
pub async fn jwks(State(state): State<AppState>) -> Response {
    let keys = state.service.keys.jwks();
    let mut response = axum::Json(keys.as_ref()).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("max-age=60"));
    response
}

/// `GET /openapi.json`.
pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

fn authorize(state: &AppState, headers: &HeaderMap, tenant: &str) -> Result<Principal, QueryError> {
    let authorization = headers.get(header::AUTHORIZATION).and_then(|value| value.to_str().ok());
    Ok(state.auth.authorize(authorization, tenant)?)
}

/// SCIM bodies are `application/scim+json`; plain JSON is accepted too.
fn check_content_type(headers: &HeaderMap) -> Result<(), QueryError> {
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
