//! The bodies of the management API, as the server reads and writes them and as its
//! OpenAPI document describes them (the same types).

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::store::{Delivery, Webhook};

/// A webhook to register.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateWebhook {
    /// Target URL: absolute, `https://` unless `insecure`, without credentials.
    pub url: String,
    /// actionNames that trigger it (from the event catalogue), or `["*"]` for all.
    pub events: Vec<String>,
    /// The API key sent as `X-API-Key` with every notification; generated when absent.
    pub api_key: Option<String>,
    /// Allow an `http://` URL.
    #[serde(default)]
    pub insecure: bool,
    /// Whether notifications are sent.
    #[serde(default = "active_by_default")]
    pub active: bool,
    /// Free text, for people.
    pub description: Option<String>,
}

fn active_by_default() -> bool {
    true
}

/// Changes to a webhook: only the members given change.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateWebhook {
    /// Target URL, under the same rules as at registration.
    pub url: Option<String>,
    /// actionNames that trigger it, or `["*"]`.
    pub events: Option<Vec<String>>,
    /// A new API key (16 to 256 printable ASCII characters).
    pub api_key: Option<String>,
    /// Allow an `http://` URL.
    pub insecure: Option<bool>,
    /// Whether notifications are sent.
    pub active: Option<bool>,
    /// Free text.
    pub description: Option<String>,
}

/// What a ping's target answered.
#[derive(Debug, Serialize, ToSchema)]
pub struct Pinged {
    /// The target answered 2xx.
    pub delivered: bool,
    /// The answer's status code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Why there was no answer (timeout, refused connection, webhook inactive).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A new signing secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct RotatedSecret {
    /// The Standard Webhooks signing secret (`whsec_...`); the old one stops signing at once.
    pub secret: String,
}

/// A webhook as shown: never its API key or secret.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookView {
    /// Its id.
    pub id: String,
    /// Target URL.
    pub url: String,
    /// actionNames that trigger it, or `*`.
    pub events: Vec<String>,
    /// `http://` allowed.
    pub insecure: bool,
    /// Notifications are sent.
    pub active: bool,
    /// Free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// When it was registered, milliseconds since the epoch.
    pub created: i64,
}

impl From<Webhook> for WebhookView {
    fn from(webhook: Webhook) -> WebhookView {
        let Webhook { id, url, events, insecure, active, description, created_ms, .. } = webhook;
        WebhookView { id, url, events, insecure, active, description, created: created_ms }
    }
}

/// A registered webhook with its API key and signing secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedWebhook {
    /// The webhook.
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// The API key sent as `X-API-Key`.
    pub api_key: String,
    /// The Standard Webhooks signing secret (`whsec_...`).
    pub secret: String,
}

/// A tenant's webhooks.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookList {
    /// Oldest first.
    pub webhooks: Vec<WebhookView>,
}

/// One delivery of a record to a webhook.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView {
    /// Its id.
    pub id: String,
    /// The record delivered (the `webhook-id` header).
    pub record_id: String,
    /// `pending`, `delivered` or `dead`.
    pub status: String,
    /// Attempts made.
    pub attempts: i64,
    /// The last answer's status code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_status: Option<i64>,
    /// The last failure without an answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When the next attempt is due, milliseconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt: Option<i64>,
    /// When it was queued.
    pub created: i64,
}

impl From<Delivery> for DeliveryView {
    fn from(delivery: Delivery) -> DeliveryView {
        DeliveryView {
            id: delivery.id,
            record_id: delivery.record_id,
            status: delivery.status.as_str().to_owned(),
            attempts: delivery.attempts,
            last_status: delivery.last_status,
            last_error: delivery.last_error,
            next_attempt: delivery.next_attempt_ms,
            created: delivery.created_ms,
        }
    }
}

/// A webhook's deliveries.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryList {
    /// Newest first, at most 100.
    pub deliveries: Vec<DeliveryView>,
}

/// Which deliveries to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// Only those with this status.
    #[param(schema_with = statuses)]
    pub status: Option<String>,
}

fn statuses() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["pending", "delivered", "dead"]))
        .build()
}
