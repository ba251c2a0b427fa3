//! The management API's endpoints. Each authorizes first (nothing about a request is
//! looked at before its caller is known), then reads its input.

use audit_scim::ErrorBody;
use audit_scim::responses::{AuthFailures, BadRequest, TooLarge, Unavailable};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::api::{
    CreateWebhook, CreatedWebhook, DeliveryList, DeliveryQuery, Pinged, RotatedSecret, UpdateWebhook,
    WebhookList, WebhookView,
};
use super::{AppState, measured};
use crate::NotifierError;
use crate::store::DeliveryStatus;

/// `POST /v1/tenants/{tenant}/webhooks`.
#[utoipa::path(
    post,
    path = "/v1/tenants/{tenant}/webhooks",
    tag = "Webhooks",
    params(("tenant" = String, Path, description = "The tenant; it must be the bearer token's")),
    request_body(content = CreateWebhook, content_type = "application/json"),
    responses(
        (status = 201, description = "Registered; the API key and secret are shown this once", body = CreatedWebhook, content_type = "application/json"),
        AuthFailures, BadRequest, TooLarge, Unavailable,
    ),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    measured(&state, "create", async {
        let principal = state.auth.authorize(authorization(&headers), &tenant)?;
        let request: CreateWebhook = parse_body(body)?;
        let created = state.webhooks.create(&principal, request).await?;
        Ok((StatusCode::CREATED, Json(created)).into_response())
    })
    .await
}

/// `GET /v1/tenants/{tenant}/webhooks`.
#[utoipa::path(
    get,
    path = "/v1/tenants/{tenant}/webhooks",
    tag = "Webhooks",
    params(("tenant" = String, Path, description = "The tenant; it must be the bearer token's")),
    responses(
        (status = 200, description = "The tenant's webhooks", body = WebhookList, content_type = "application/json"),
        AuthFailures,
    ),
    security(("bearer" = []))
)]
pub async fn list(State(state): State<AppState>, Path(tenant): Path<String>, headers: HeaderMap) -> Response {
    measured(&state, "list", async {
        let principal = state.auth.authorize(authorization(&headers), &tenant)?;
        let webhooks = state.webhooks.store.webhooks(&principal.tenant).await?;
        Ok(Json(WebhookList { webhooks: webhooks.into_iter().map(WebhookView::from).collect() })
            .into_response())
    })
    .await
}

/// `GET /v1/tenants/{tenant}/webhooks/{id}`.
#[utoipa::path(
    get,
    path = "/v1/tenants/{tenant}/webhooks/{id}",
    tag = "Webhooks",
    params(("tenant" = String, Path, description = "The tenant; it must be the bearer token's"), ("id" = String, Path, description = "The webhook")),
    responses(
        (status = 200, description = "The webhook", body = WebhookView, content_type = "application/json"),
        (status = 404, description = "No such webhook in this tenant", body = ErrorBody, content_type = "application/scim+json"),
        AuthFailures,
    ),
    security(("bearer" = []))
)]
pub async fn get(
    State(state): State<AppState>,
    Path((tenant, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    measured(&state, "get", async {
        let principal = state.auth.authorize(authorization(&headers), &tenant)?;
        let webhook = state.webhooks.store.webhook(&principal.tenant, &id).await?;
        let webhook = webhook.ok_or(NotifierError::NotFound("webhook"))?;
        Ok(Json(WebhookView::from(webhook)).into_response())
    })
    .await
}

/// `PATCH /v1/tenants/{tenant}/webhooks/{id}`.
#[utoipa::path(
    patch,
    path = "/v1/tenants/{tenant}/webhooks/{id}",
    tag = "Webhooks",
    params(("tenant" = String, Path, description = "The tenant; it must be the bearer token's"), ("id" = String, Path, description = "The webhook")),
    request_body(content = UpdateWebhook, content_type = "application/json"),
    responses(
        (status = 200, description = "The webhook as it now is", body = WebhookView, content_type = "application/json"),
        (status = 404, description = "No such webhook in this tenant", body = ErrorBody, content_type = "application/scim+json"),
        AuthFailures, BadRequest, TooLarge, Unavailable,
    ),
    security(("bearer" = []))
)]
pub async fn update(
    State(state): State<AppState>,
    Path((tenant, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    measured(&state, "update", async {
        let principal = state.auth.authorize(authorization(&headers), &tenant)?;
        let changes: UpdateWebhook = parse_body(body)?;
        let webhook = state.webhooks.update(&principal, &id, changes).await?;
        Ok(Json(WebhookView::from(webhook)).into_response())
    })
    .await
}

/// `POST /v1/tenants/{tenant}/webhooks/{id}/rotate-secret`.
#[utoipa::path(
    post,
    path = "/v1/tenants/{tenant}/webhooks/{id}/rotate-secret",
    tag = "Webhooks",
    params(("tenant" = String, Path, description = "The tenant; it must be the bearer token's"), ("id" = String, Path, description = "The webhook")),
    responses(
        (status = 200, description = "The new signing secret, shown this once", body = RotatedSecret, content_type = "application/json"),
        (status = 404, description = "No such webhook in this tenant", body = ErrorBody, content_type = "application/scim+json"),
        AuthFailures, Unavailable,
    ),
    security(("bearer" = []))
)]
pub async fn rotate_secret(
    State(state): State<AppState>,
    Path((tenant, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    measured(&state, "rotate_secret", async {
        let principal = state.auth.authorize(authorization(&headers), &tenant)?;
        let secret = state.webhooks.rotate_secret(&principal, &id).await?;
        Ok(Json(RotatedSecret { secret }).into_response())
    })
    .await
}

/// `POST /v1/tenants/{tenant}/webhooks/{id}/ping`.
#[utoipa::path(
    post,
    path = "/v1/tenants/{tenant}/webhooks/{id}/ping",
    tag = "Webhooks",
    params(("tenant" = String, Path, description = "The tenant; it must be the bearer token's"), ("id" = String, Path, description = "The webhook")),
    responses(
        (status = 200, description = "A ping was sent; what the target answered", body = Pinged, content_type = "application/json"),
        (status = 404, description = "No such webhook in this tenant", body = ErrorBody, content_type = "application/scim+json"),
        AuthFailures,
    ),
    security(("bearer" = []))
)]
pub async fn ping(
    State(state): State<AppState>,
    Path((tenant, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    measured(&state, "ping", async {
        let principal = state.auth.authorize(authorization(&headers), &tenant)?;
        Ok(Json(state.webhooks.ping(&principal, &id).await?).into_response())
    })
    .await
}

/// `POST /v1/tenants/{tenant}/webhooks/{id}/deliveries/{delivery}/retry`.
#[utoipa::path(
    post,
    path = "/v1/tenants/{tenant}/webhooks/{id}/deliveries/{delivery}/retry",
    tag = "Webhooks",
    params(
        ("tenant" = String, Path, description = "The tenant; it must be the bearer token's"),
        ("id" = String, Path, description = "The webhook"),
        ("delivery" = String, Path, description = "A dead delivery of the webhook"),
    ),
    responses(
        (status = 202, description = "Queued again, due now, with a new retry horizon"),
        (status = 404, description = "No such dead delivery of this tenant's webhook", body = ErrorBody, content_type = "application/scim+json"),
        AuthFailures,
    ),
    security(("bearer" = []))
)]
pub async fn retry(
    State(state): State<AppState>,
    Path((tenant, id, delivery)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    measured(&state, "retry", async {
        let principal = state.auth.authorize(authorization(&headers), &tenant)?;
        let store = &state.webhooks.store;
        store.webhook(&principal.tenant, &id).await?.ok_or(NotifierError::NotFound("webhook"))?;
        if !store.requeue(&id, &delivery, crate::sink::now_ms()).await? {
            return Err(NotifierError::NotFound("dead delivery"));
        }
        Ok(StatusCode::ACCEPTED.into_response())
    })
    .await
}

/// `DELETE /v1/tenants/{tenant}/webhooks/{id}`.
#[utoipa::path(
    delete,
    path = "/v1/tenants/{tenant}/webhooks/{id}",
    tag = "Webhooks",
    params(("tenant" = String, Path, description = "The tenant; it must be the bearer token's"), ("id" = String, Path, description = "The webhook")),
    responses(
        (status = 204, description = "Deleted, with its pending deliveries"),
        (status = 404, description = "No such webhook in this tenant", body = ErrorBody, content_type = "application/scim+json"),
        AuthFailures, Unavailable,
    ),
    security(("bearer" = []))
)]
pub async fn delete(
    State(state): State<AppState>,
    Path((tenant, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    measured(&state, "delete", async {
        let principal = state.auth.authorize(authorization(&headers), &tenant)?;
        state.webhooks.delete(&principal, &id).await?;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
    .await
}

/// `GET /v1/tenants/{tenant}/webhooks/{id}/deliveries`.
#[utoipa::path(
    get,
    path = "/v1/tenants/{tenant}/webhooks/{id}/deliveries",
    tag = "Webhooks",
    params(("tenant" = String, Path, description = "The tenant; it must be the bearer token's"), ("id" = String, Path, description = "The webhook"), DeliveryQuery),
    responses(
        (status = 200, description = "The webhook's latest deliveries", body = DeliveryList, content_type = "application/json"),
        (status = 404, description = "No such webhook in this tenant", body = ErrorBody, content_type = "application/scim+json"),
        AuthFailures, BadRequest,
    ),
    security(("bearer" = []))
)]
pub async fn deliveries(
    State(state): State<AppState>,
    Path((tenant, id)): Path<(String, String)>,
    headers: HeaderMap,
    query: Result<Query<DeliveryQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    measured(&state, "deliveries", async {
        let principal = state.auth.authorize(authorization(&headers), &tenant)?;
        let Query(query) = query.map_err(|_| invalid_status())?;
        let status = match query.status.as_deref() {
            None => None,
            Some("pending") => Some(DeliveryStatus::Pending),
            Some("delivered") => Some(DeliveryStatus::Delivered),
            Some("dead") => Some(DeliveryStatus::Dead),
            Some(_) => return Err(invalid_status()),
        };
        let store = &state.webhooks.store;
        store.webhook(&principal.tenant, &id).await?.ok_or(NotifierError::NotFound("webhook"))?;
        let found = store.deliveries(&id, status, 100).await?;
        Ok(Json(DeliveryList { deliveries: found.into_iter().map(Into::into).collect() }).into_response())
    })
    .await
}

fn invalid_status() -> NotifierError {
    NotifierError::InvalidField { field: "status", detail: "expected pending, delivered or dead".into() }
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

fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION).and_then(|value| value.to_str().ok())
}

/// The body parsed as JSON: a 413 over the limit, else a 400 naming the problem but
/// never a value from the body.
fn parse_body<T: serde::de::DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
) -> Result<T, NotifierError> {
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => NotifierError::TooLarge { limit: super::MAX_BODY_BYTES },
        _ => NotifierError::InvalidBody(rejection.body_text()),
    })?;
    serde_json::from_slice(&body).map_err(|error| {
        let message = error.to_string();
        // Missing and unknown members are named; a wrong type's message would quote the value.
        let detail = if message.starts_with("missing field") || message.starts_with("unknown field") {
            message
        } else {
            format!("not the expected json at line {}, column {}", error.line(), error.column())
        };
        NotifierError::InvalidBody(detail)
    })
}
