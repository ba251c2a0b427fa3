//! Reads of clear values and erasures are themselves audit events: each one is written
//! to the raw topic, as any platform service would, before the answer leaves the vault.
//!
//! Fail closed: if the event is not acknowledged by Kafka, the request fails and no
//! value is revealed. Events name the user and service and the count, never a value.

use std::time::Duration;

use audit_runtime::config::KafkaConfig;
use chrono::{SecondsFormat, Utc};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use serde_json::json;

use crate::VaultError;

/// Component id in the events' `id` field.
pub const COMPONENT: &str = "token-vault";
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// An access to record.
#[derive(Debug, Clone)]
pub struct Access<'a> {
    /// Tenant whose data was accessed.
    pub tenant: &'a str,
    /// What was done.
    pub kind: AccessKind,
    /// The user on whose behalf (bearer `sub`).
    pub subject: &'a str,
    /// The calling service, when a service called.
    pub service: Option<&'a str>,
    /// Why, as the caller stated it.
    pub reason: &'a str,
    /// How many values were revealed or erased.
    pub count: usize,
    /// For erasures by internal id: the erased subject.
    pub erased_owner_id: Option<&'a str>,
}

/// Kinds of recorded access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessKind {
    /// Tokens were turned back into clear values.
    Detokenize,
    /// A data subject's values were destroyed.
    Erase,
}

impl AccessKind {
    /// The event's `actionName`.
    pub fn action_name(self) -> &'static str {
        match self {
            AccessKind::Detokenize => "detokenizeTokens",
            AccessKind::Erase => "eraseDataSubject",
        }
    }
}

/// Writes access events to the raw topic.
pub struct AccessLog {
    producer: FutureProducer,
    topic: String,
}

impl AccessLog {
    /// A log writing to `topic`.
    pub fn new(kafka: &KafkaConfig, topic: &str) -> Result<AccessLog, VaultError> {
        Ok(AccessLog { producer: audit_runtime::kafka::immediate_producer(kafka)?, topic: topic.to_owned() })
    }

    /// Hands `access` to the producer without waiting: the caller does its work while
    /// the broker acknowledges, and answers only once [`Recording::acknowledged`].
    pub fn begin(&self, access: &Access<'_>) -> Recording {
        let payload = event(access).to_string();
        let record = FutureRecord::to(&self.topic).key(access.tenant).payload(&payload);
        match self.producer.send_result(record) {
            Ok(delivery) => Recording(Ok(delivery)),
            Err((error, _)) => Recording(Err(error.to_string())),
        }
    }

    /// Writes `access` and waits for the broker's acknowledgement.
    pub async fn record(&self, access: &Access<'_>) -> Result<(), VaultError> {
        self.begin(access).acknowledged().await
    }
}

/// An access event handed to the producer, not yet acknowledged.
pub struct Recording(Result<DeliveryFuture, String>);

impl Recording {
    /// Waits for the broker's acknowledgement; fails closed on any error, and after
    /// [`DELIVERY_TIMEOUT`] (the event may still arrive later: the trail can hold an
    /// access that was refused, never miss one that was answered).
    pub async fn acknowledged(self) -> Result<(), VaultError> {
        let unavailable = VaultError::AuditUnavailable;
        let delivery = self.0.map_err(unavailable)?;
        match tokio::time::timeout(DELIVERY_TIMEOUT, delivery).await {
            Ok(Ok(Ok(_))) => Ok(()),
            Ok(Ok(Err((error, _)))) => Err(unavailable(error.to_string())),
            Ok(Err(_)) => Err(unavailable("the producer dropped the event".into())),
            Err(_) => Err(unavailable(format!("not acknowledged within {DELIVERY_TIMEOUT:?}"))),
        }
    }
}

/// The raw event of an access, shaped like every other platform event.
pub fn event(access: &Access<'_>) -> serde_json::Value {
    let mut parameters = json!({ "CNT": access.count.to_string(), "RSN": access.reason });
    if let Some(service) = access.service {
        parameters["CLI"] = json!(service);
    }
    let mut event = json!({
        "tenantId": access.tenant,
        "created": Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        "eventId": uuid::Uuid::new_v4().to_string(),
        "id": COMPONENT,
        "action": { "actionName": access.kind.action_name(), "actionParameters": parameters },
        "result": "RESPONSE_SUCCESS",
        "actingUserId": { "id": access.subject },
    });
    if let Some(owner) = access.erased_owner_id {
        event["targetUserId"] = json!({ "immutableId": owner });
    }
    event
}
