//! The proof endpoints: a tenant's latest checkpoint, a record's inclusion proof, the
//! consistency of two trees, a bundle; and the trail's name, public beside the JWK
//! Set, from which each tenant's checkpoint keys derive. Same bearer rules and SCIM
//! errors as search.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use audit_scim::ErrorBody;
use audit_scim::responses::{AuthFailures, BadRequest, TooLarge, Unavailable};

use super::handlers::{authorize, check_content_type, ndjson, read_json};
use super::{AppState, measured, scim_json};
use crate::QueryError;
use crate::api::{
    BundleRequest, CheckpointBody, ConsistencyBody, ConsistencyOptions, InclusionBody, ProofOptions,
    TrailBody,
};

/// `GET /scim/{tenant}/v2/AuditRecords/.checkpoint`.
#[utoipa::path(
    get,
    path = "/scim/{tenant}/v2/AuditRecords/.checkpoint",
    tag = "Proofs",
    params(("tenant" = String, Path, description = "The tenant; it must be the bearer token's")),
    responses(
        (status = 200, description = "The tenant's latest signed checkpoint", body = CheckpointBody, content_type = "application/scim+json"),
        (status = 404, description = "No checkpoint of this tenant yet", body = ErrorBody, content_type = "application/scim+json"),
        AuthFailures,
    ),
    security(("bearer" = []))
)]
pub async fn checkpoint(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    measured(&state, "checkpoint", async {
        let principal = authorize(&state, &headers, &tenant)?;
        Ok(scim_json(StatusCode::OK, &state.service.checkpoint(&principal.tenant)?))
    })
    .await
}

/// `GET /scim/{tenant}/v2/AuditRecords/{id}/.proof?treeSize=N`.
#[utoipa::path(
    get,
    path = "/scim/{tenant}/v2/AuditRecords/{id}/.proof",
    tag = "Proofs",
    params(("tenant" = String, Path, description = "The tenant; it must be the bearer token's"), ("id" = String, Path, description = "The record's id"), ProofOptions),
    responses(
        (status = 200, description = "The record's inclusion proof", body = InclusionBody, content_type = "application/scim+json"),
        (status = 404, description = "No such record, or no checkpoint yet", body = ErrorBody, content_type = "application/scim+json"),
        AuthFailures, BadRequest, Unavailable,
    ),
    security(("bearer" = []))
)]
pub async fn inclusion(
    State(state): State<AppState>,
    Path((tenant, id)): Path<(String, String)>,
    headers: HeaderMap,
    options: Result<Query<ProofOptions>, axum::extract::rejection::QueryRejection>,
) -> Response {
    measured(&state, "proof", async {
        let principal = authorize(&state, &headers, &tenant)?;
        let Query(options) =
            options.map_err(|_| QueryError::invalid_value("the query parameter is treeSize (a number)"))?;
        let body: InclusionBody = state.service.inclusion(&principal, id, options.tree_size).await?;
        Ok(scim_json(StatusCode::OK, &body))
    })
    .await
}

/// `GET /scim/{tenant}/v2/AuditRecords/.consistency?first=M&second=N`.
#[utoipa::path(
    get,
    path = "/scim/{tenant}/v2/AuditRecords/.consistency",
    tag = "Proofs",
    params(("tenant" = String, Path, description = "The tenant; it must be the bearer token's"), ConsistencyOptions),
    responses(
        (status = 200, description = "The consistency proof between the two trees", body = ConsistencyBody, content_type = "application/scim+json"),
        (status = 404, description = "No checkpoint of this tenant yet", body = ErrorBody, content_type = "application/scim+json"),
        AuthFailures, BadRequest, Unavailable,
    ),
    security(("bearer" = []))
)]
pub async fn consistency(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    options: Result<Query<ConsistencyOptions>, axum::extract::rejection::QueryRejection>,
) -> Response {
    measured(&state, "consistency", async {
        let principal = authorize(&state, &headers, &tenant)?;
        let Query(options) = options.map_err(|_| {
            QueryError::invalid_value("the query parameters are first and second (tree sizes)")
        })?;
        let body: ConsistencyBody = state.service.consistency(&principal, options).await?;
        Ok(scim_json(StatusCode::OK, &body))
    })
    .await
}

/// `POST /scim/{tenant}/v2/AuditRecords/.bundle`: an offline bundle as JSON lines.
#[utoipa::path(
    post,
    path = "/scim/{tenant}/v2/AuditRecords/.bundle",
    tag = "Proofs",
    params(("tenant" = String, Path, description = "The tenant; it must be the bearer token's")),
    request_body(
        description = "Which records; an empty body bundles every record of the tenant's latest checkpoint",
        content((Option<BundleRequest> = "application/scim+json"), (Option<BundleRequest> = "application/json"))
    ),
    responses(
        (status = 200, description = "A header line (checkpoint, keys, proofs), then the signed records, one per line, in sequence order",
            body = String, content_type = "application/x-ndjson",
            headers(("x-audit-export-count" = u64, description = "How many record lines follow the header"))),
        (status = 404, description = "No checkpoint of this tenant yet", body = ErrorBody, content_type = "application/scim+json"),
        (status = 415, description = "The body is neither application/scim+json nor application/json", body = ErrorBody, content_type = "application/scim+json"),
        AuthFailures, BadRequest, TooLarge, Unavailable,
    ),
    security(("bearer" = []))
)]
pub async fn bundle(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    measured(&state, "bundle", async {
        let principal = authorize(&state, &headers, &tenant)?;
        check_content_type(&headers)?;
        let request: BundleRequest = read_json(&state, body, "a bundle request").await?;
        Ok(ndjson(state.service.bundle(&principal, request).await?))
    })
    .await
}

/// `GET /.well-known/audit-trail`: the trail's name.
#[utoipa::path(
    get,
    path = "/.well-known/audit-trail",
    tag = "Keys",
    responses((status = 200, description = "The trail's name: tenant T's checkpoints are the C2SP log `<trailName>/T`, signed by the keys of the JWK Set", body = TrailBody, content_type = "application/json"))
)]
pub async fn trail(State(state): State<AppState>) -> Response {
    let body = TrailBody { trail_name: state.service.checkpoints.trail_name().to_owned() };
    axum::Json(body).into_response()
}
