//! The TokensVault API for privileged users: read one token, search tokens, erase a
//! data subject. Every reveal and every erasure is recorded in the audit trail before
//! the answer is sent.

use audit_auth::Principal;
use audit_scim::ScimType;
use audit_vault_api::{Owner, Revealed};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{AppState, authorization, filter, measured, parse_body, scim_json};
use crate::VaultError;
use crate::audit::{Access, AccessKind};
use crate::tokens::{Page, RevealedToken};

const TOKEN_SCHEMA: &str = "urn:hid:scim:api:idp:2.0:PseudonymizationToken";
const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// Largest page, as the seed's API caps it.
const MAX_COUNT: u64 = 100;

/// `GET /scim/{tenant}/v2/TokensVault/{token}`.
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
        Ok(scim_json(StatusCode::OK, resource(&entry)))
    })
    .await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchRequest {
    #[serde(default)]
    filter: Option<String>,
    #[serde(default)]
    count: Option<u64>,
    #[serde(default)]
    start_index: Option<u64>,
}

/// `POST /scim/{tenant}/v2/TokensVault/.search`.
pub async fn search(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    measured(&state.metrics, "search", async {
        let principal = state.auth.authorize(authorization(&headers), &tenant)?;
        let request: SearchRequest = parse_body(&body)?;
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
        let resources: Vec<Value> = found.iter().map(resource).collect();
        Ok(scim_json(
            StatusCode::OK,
            json!({
                "schemas": [LIST_SCHEMA],
                "totalResults": total,
                "startIndex": start_index,
                "itemsPerPage": resources.len(),
                "Resources": resources,
            }),
        ))
    })
    .await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct EraseRequest {
    #[serde(default)]
    owner_id: Option<String>,
    #[serde(default)]
    owner_ext_id: Option<String>,
}

/// `POST /scim/{tenant}/v2/TokensVault/.erase` with `{"ownerId": ..}` or `{"ownerExtId": ..}`.
pub async fn erase(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    measured(&state.metrics, "erase", async {
        let principal = state.auth.authorize(authorization(&headers), &tenant)?;
        let request: EraseRequest = parse_body(&body)?;
        let owner = Owner { id: request.owner_id, ext_id: request.owner_ext_id };
        if owner.id.is_none() && owner.ext_id.is_none() {
            let detail = "name the data subject with ownerId or ownerExtId".into();
            return Err(VaultError::InvalidRequest { scim_type: ScimType::InvalidValue, detail });
        }
        let erased = usize::try_from(state.vault.erase(&tenant, &owner).await?).unwrap_or(usize::MAX);
        record(&state, &principal, AccessKind::Erase, erased, owner.id.as_deref()).await?;
        state.metrics.values("erase", erased);
        Ok(scim_json(StatusCode::OK, json!({ "erased": erased })))
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
fn resource(entry: &RevealedToken) -> Value {
    let mut resource = json!({ "schemas": [TOKEN_SCHEMA], "token": entry.token });
    match &entry.revealed {
        Revealed::Value { value } => resource["value"] = json!(value),
        Revealed::Erased => resource["erased"] = json!(true),
        Revealed::Unknown => {}
    }
    if let Some(owner) = &entry.owner_id {
        resource["ownerId"] = json!(owner);
    }
    resource
}
