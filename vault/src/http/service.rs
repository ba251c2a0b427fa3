//! The batched API for the pipeline's services (tokenizer, query-api), behind
//! service credentials. Detokenization names the end user it acts for and is recorded
//! in the audit trail before any value is returned. Lookup and match answer tokens,
//! never values, so they are not accesses to record.

use audit_auth::service::Scope;
use audit_scim::ScimType;
use audit_scim::responses::{AuthFailures, BadRequest, TooLarge, Unavailable};
use audit_vault_api::{
    DetokenizeRequest, DetokenizeResponse, ErasuresRequest, ErasuresResponse, FindResponse, LookupRequest,
    LookupResponse, MatchRequest, MatchResponse, Revealed, TenantFound, TenantTokens, TokenizeRequest,
    TokenizeResponse,
};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use super::{AppState, authorization, measured, parse_body};
use crate::VaultError;
use crate::audit::{Access, AccessKind};
use crate::tokens::MatchQuery;

/// Most values in one call.
const MAX_BATCH: usize = 20_000;

/// `POST /v1/tokenize`.
#[utoipa::path(
    post,
    path = "/v1/tokenize",
    tag = "Service",
    request_body(content = TokenizeRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "One token per value, in order: the value's existing token or a new one", body = TokenizeResponse, content_type = "application/json"),
        AuthFailures, BadRequest, TooLarge,
    ),
    security(("basic" = []))
)]
pub async fn tokenize(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    measured(&state.metrics, "tokenize", async {
        state.services.verify(authorization(&headers), Scope::Tokenize)?;
        let request: TokenizeRequest = parse_body(body)?;
        let total: usize = request.tenants.iter().map(|tenant| tenant.items.len()).sum();
        check_batch(total)?;
        let tokens = state.vault.tokenize_many(&request.tenants).await?;
        let tenants = request
            .tenants
            .into_iter()
            .zip(tokens)
            .map(|(values, tokens)| TenantTokens { tenant: values.tenant, tokens })
            .collect();
        state.metrics.values("tokenize", total);
        Ok(Json(TokenizeResponse { tenants }).into_response())
    })
    .await
}

/// `POST /v1/find`.
#[utoipa::path(
    post,
    path = "/v1/find",
    tag = "Service",
    request_body(content = TokenizeRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Each value's existing token, or null; nothing is created", body = FindResponse, content_type = "application/json"),
        AuthFailures, BadRequest, TooLarge,
    ),
    security(("basic" = []))
)]
pub async fn find(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    measured(&state.metrics, "find", async {
        state.services.verify(authorization(&headers), Scope::Find)?;
        let request: TokenizeRequest = parse_body(body)?;
        let total: usize = request.tenants.iter().map(|tenant| tenant.items.len()).sum();
        check_batch(total)?;
        let tokens = state.vault.find_many(&request.tenants).await?;
        let tenants = request
            .tenants
            .into_iter()
            .zip(tokens)
            .map(|(values, tokens)| TenantFound { tenant: values.tenant, tokens })
            .collect();
        state.metrics.values("find", total);
        Ok(Json(FindResponse { tenants }).into_response())
    })
    .await
}

/// `POST /v1/erasures`.
#[utoipa::path(
    post,
    path = "/v1/erasures",
    tag = "Service",
    request_body(content = ErasuresRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "How many erasures each tenant had, in request order", body = ErasuresResponse, content_type = "application/json"),
        AuthFailures, BadRequest, TooLarge,
    ),
    security(("basic" = []))
)]
pub async fn erasures(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    measured(&state.metrics, "erasures", async {
        state.services.verify(authorization(&headers), Scope::Find)?;
        let request: ErasuresRequest = parse_body(body)?;
        check_batch(request.tenants.len())?;
        let counts = state.vault.erasures(&request.tenants).await?;
        Ok(Json(ErasuresResponse { counts }).into_response())
    })
    .await
}

/// `POST /v1/lookup`.
#[utoipa::path(
    post,
    path = "/v1/lookup",
    tag = "Service",
    request_body(content = LookupRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Each value's token in the tenant, or null", body = LookupResponse, content_type = "application/json"),
        AuthFailures, BadRequest, TooLarge,
    ),
    security(("basic" = []))
)]
pub async fn lookup(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    measured(&state.metrics, "lookup", async {
        state.services.verify(authorization(&headers), Scope::Lookup)?;
        let request: LookupRequest = parse_body(body)?;
        check_batch(request.values.len())?;
        let tokens = state.vault.lookup(&request.tenant, &request.values).await?;
        state.metrics.values("lookup", tokens.len());
        Ok(Json(LookupResponse { tokens }).into_response())
    })
    .await
}

/// `POST /v1/match`.
#[utoipa::path(
    post,
    path = "/v1/match",
    tag = "Service",
    request_body(content = MatchRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The tokens of the tenant's values the pattern matches", body = MatchResponse, content_type = "application/json"),
        AuthFailures, BadRequest, TooLarge,
    ),
    security(("basic" = []))
)]
pub async fn match_values(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    measured(&state.metrics, "match", async {
        state.services.verify(authorization(&headers), Scope::Match)?;
        let request: MatchRequest = parse_body(body)?;
        let query = MatchQuery::new(request.op, &request.value, request.limit);
        let tokens = state.vault.match_values(&request.tenant, &query).await?;
        state.metrics.values("match", tokens.len());
        Ok(Json(MatchResponse { tokens }).into_response())
    })
    .await
}

/// `POST /v1/detokenize`.
#[utoipa::path(
    post,
    path = "/v1/detokenize",
    tag = "Service",
    request_body(content = DetokenizeRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Each token's value, or that it is erased or unknown; recorded as an access first", body = DetokenizeResponse, content_type = "application/json"),
        AuthFailures, BadRequest, TooLarge, Unavailable,
    ),
    security(("basic" = []))
)]
pub async fn detokenize(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    measured(&state.metrics, "detokenize", async {
        let service = state.services.verify(authorization(&headers), Scope::Detokenize)?;
        let request: DetokenizeRequest = parse_body(body)?;
        check_batch(request.tokens.len())?;
        let sealed = state.vault.sealed(&request.tenant, &request.tokens).await?;
        let count = sealed.revealable();
        // The access is on its way to the broker before any value is opened, and no
        // value leaves before the broker has acknowledged it. A value that then fails
        // to open fails the request: the trail may over-count a reveal, never miss one.
        let recording = (count > 0).then(|| {
            state.access_log.begin(&Access {
                tenant: &request.tenant,
                kind: AccessKind::Detokenize,
                subject: &request.on_behalf_of.subject,
                service: Some(&service),
                reason: &request.on_behalf_of.reason,
                count,
                erased_owner_id: None,
            })
        });
        let recording = recording.transpose()?;
        let revealed = tokio::task::spawn_blocking(move || sealed.open())
            .await
            .map_err(|error| VaultError::Task(error.to_string()))??;
        if let Some(recording) = recording {
            recording.acknowledged().await?;
        }
        let values: Vec<Revealed> = revealed.into_iter().map(|entry| entry.revealed).collect();
        state.metrics.values("reveal", count);
        Ok(Json(DetokenizeResponse { values }).into_response())
    })
    .await
}

fn check_batch(size: usize) -> Result<(), VaultError> {
    if size > MAX_BATCH {
        let detail = format!("batch of {size} values exceeds {MAX_BATCH}");
        return Err(VaultError::InvalidRequest { scim_type: ScimType::TooMany, detail });
    }
    Ok(())
}
