//! The TokensVault API for privileged users: read one token, search tokens, erase a
//! data subject. Every reveal and every erasure is recorded in the audit trail before
//! the answer is sent.

use audit_auth::Principal;
use audit_scim::ErrorBody;
use audit_scim::ScimType;
use audit_scim::responses::{AuthFailures, BadRequest, TooLarge, Unavailable};
use audit_vault_api::{Owner, Revealed};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{AppState, authorization, filter, measured, parse_body, scim_json};
use crate::VaultError;
use crate::audit::{Access, AccessKind};
use crate::tokens::{Page, RevealedToken};

const TOKEN_SCHEMA: &str = "urn:hid:scim:api:idp:2.0:PseudonymizationToken";
const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// Largest page, as the seed's API caps it.
const MAX_COUNT: u64 = 100;

/// `GET /scim/{tenant}/v2/TokensVault/{token}`.
#[utoipa::path(
    get,
    path = "/scim/{tenant}/v2/TokensVault/{token}",
    tag = "TokensVault",
    params(("tenant" = String, Path, description = "The tenant; it must be the bearer token's"), ("token" = String, Path, description = "The token")),
    responses(
        (status = 200, description = "The token and its value; the reveal is recorded", body = TokenResource, content_type = "application/scim+json"),
        (status = 404, description = "No such token in this tenant", body = ErrorBody, content_type = "application/scim+json"),
        (status = 410, description = "The token's value was erased", body = ErrorBody, content_type = "application/scim+json"),
        AuthFailures, Unavailable,
    ),
    security(("bearer" = []))
)]
pub async fn get_token(
    State(state): State<AppState>,
    Path((tenant, token)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    measured(&state.metrics, "get_token", async {
        let principal = state.auth.authorize(authorization(&headers), &tenant)?;
        let mut revealed = state.vault.detokenize(&tenant, std::slice::from_ref(&token)).await?;
        let entry = revealed.pop().ok_or(VaultError::TokenNotFound)?;
        match entry.revealed {
            Revealed::Unknown => return Err(VaultError::TokenNotFound),
            Revealed::Erased => return Err(VaultError::ValueErased),
            Revealed::Value { .. } => {}
        }
        record(&state, &principal, AccessKind::Detokenize, 1, None).await?;
        state.metrics.values("reveal", 1);
        Ok(scim_json(StatusCode::OK, &resource(&entry)))
    })
    .await
}

/// A SCIM SearchRequest over tokens; unknown members are ignored.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenSearchRequest {
    /// `value`, `token` or `ownerId` compared with `eq`, `sw`, `ew` or `co`, joined
    /// by `and`; none matches every token.
    #[serde(default)]
    filter: Option<String>,
    /// Page size: at most 100 (larger is 100).
    #[serde(default)]
    count: Option<u64>,
    /// 1-based index of the first result (0 behaves as 1).
    #[serde(default)]
    start_index: Option<u64>,
}

/// A token in the PseudonymizationToken shape.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenResource {
    /// `["urn:hid:scim:api:idp:2.0:PseudonymizationToken"]`.
    #[schema(value_type = Vec<String>)]
    schemas: [&'static str; 1],
    /// The token.
    token: String,
    /// Its clear value, unless erased.
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<String>,
    /// Whether the value was erased.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    erased: bool,
    /// The data subject's internal id, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    owner_id: Option<String>,
}

/// One page of tokens.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenListResponse {
    /// `["urn:ietf:params:scim:api:messages:2.0:ListResponse"]`.
    #[schema(value_type = Vec<String>)]
    schemas: [&'static str; 1],
    /// Tokens matching the filter, all pages together.
    total_results: u64,
    /// 1-based index of this page's first token.
    start_index: u64,
    /// Tokens on this page.
    items_per_page: u64,
    /// The page's tokens.
    #[serde(rename = "Resources")]
    resources: Vec<TokenResource>,
}

/// What an erasure did.
#[derive(Serialize, ToSchema)]
pub struct Erased {
    /// Values erased.
    erased: u64,
}

/// `POST /scim/{tenant}/v2/TokensVault/.search`.
#[utoipa::path(
    post,
    path = "/scim/{tenant}/v2/TokensVault/.search",
    tag = "TokensVault",
    params(("tenant" = String, Path, description = "The tenant; it must be the bearer token's")),
    request_body(content = TokenSearchRequest, content_type = "application/scim+json"),
    responses(
        (status = 200, description = "One page of tokens with their values; the reveal is recorded", body = TokenListResponse, content_type = "application/scim+json"),
        AuthFailures, BadRequest, TooLarge, Unavailable,
    ),
    security(("bearer" = []))
)]
pub async fn search(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    measured(&state.metrics, "search", async {
        let principal = state.auth.authorize(authorization(&headers), &tenant)?;
        let request: TokenSearchRequest = parse_body(body)?;
        let filter = match request.filter.as_deref() {
            Some(text) => filter::parse(text)?,
            None => Default::default(),
        };
        let count = request.count.unwrap_or(MAX_COUNT).min(MAX_COUNT);
        let start_index = request.start_index.unwrap_or(1).max(1);
        let page = Page { offset: start_index - 1, limit: count };
        let (total, found) = state.vault.search(&tenant, &filter, page).await?;
        let revealed = found.iter().filter(|entry| matches!(entry.revealed, Revealed::Value { .. })).count();
        if revealed > 0 {
            record(&state, &principal, AccessKind::Detokenize, revealed, None).await?;
        }
        state.metrics.values("reveal", revealed);
        let resources: Vec<TokenResource> = found.iter().map(resource).collect();
        let items_per_page = resources.len() as u64;
        let list = TokenListResponse {
            schemas: [LIST_SCHEMA],
            total_results: total,
            start_index,
            items_per_page,
            resources,
        };
        Ok(scim_json(StatusCode::OK, &list))
    })
    .await
}

/// Whose values to erase: at least one of the two.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EraseRequest {
    /// The data subject's internal id.
    #[serde(default)]
    owner_id: Option<String>,
    /// The data subject's external id (user name, e-mail).
    #[serde(default)]
    owner_ext_id: Option<String>,
}

/// `POST /scim/{tenant}/v2/TokensVault/.erase` with `{"ownerId": ..}` or `{"ownerExtId": ..}`.
#[utoipa::path(
    post,
    path = "/scim/{tenant}/v2/TokensVault/.erase",
    tag = "TokensVault",
    params(("tenant" = String, Path, description = "The tenant; it must be the bearer token's")),
    request_body(content = EraseRequest, content_type = "application/scim+json"),
    responses(
        (status = 200, description = "How many values were erased; the erasure is recorded", body = Erased, content_type = "application/scim+json"),
        AuthFailures, BadRequest, TooLarge, Unavailable,
    ),
    security(("bearer" = []))
)]
pub async fn erase(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    measured(&state.metrics, "erase", async {
        let principal = state.auth.authorize(authorization(&headers), &tenant)?;
        let request: EraseRequest = parse_body(body)?;
        let owner = Owner { id: request.owner_id, ext_id: request.owner_ext_id };
        if owner.id.is_none() && owner.ext_id.is_none() {
            let detail = "name the data subject with ownerId or ownerExtId".into();
            return Err(VaultError::InvalidRequest { scim_type: ScimType::InvalidValue, detail });
        }
        let erased = usize::try_from(state.vault.erase(&tenant, &owner).await?).unwrap_or(usize::MAX);
        record(&state, &principal, AccessKind::Erase, erased, owner.id.as_deref()).await?;
        state.metrics.values("erase", erased);
        Ok(scim_json(StatusCode::OK, &Erased { erased: erased as u64 }))
    })
    .await
}

async fn record(
    state: &AppState,
    principal: &Principal,
    kind: AccessKind,
    count: usize,
    erased_owner_id: Option<&str>,
) -> Result<(), VaultError> {
    let reason = match kind {
        AccessKind::Detokenize => "token vault api",
        AccessKind::Erase => "data subject erasure",
    };
    let access = Access {
        tenant: &principal.tenant,
        kind,
        subject: &principal.subject,
        service: None,
        reason,
        count,
        erased_owner_id,
    };
    state.access_log.record(&access).await
}

/// A token in the PseudonymizationToken shape; an erased one has no value.
fn resource(entry: &RevealedToken) -> TokenResource {
    let (value, erased) = match &entry.revealed {
        Revealed::Value { value } => (Some(value.clone()), false),
        Revealed::Erased => (None, true),
        Revealed::Unknown => (None, false),
    };
    TokenResource {
        schemas: [TOKEN_SCHEMA],
        token: entry.token.clone(),
        value,
        erased,
        owner_id: entry.owner_id.clone(),
    }
}
