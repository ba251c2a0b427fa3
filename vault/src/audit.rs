//! Reads of clear values and erasures are themselves audit events: each one is written
//! to the raw topic, as any platform service would, before the answer leaves the vault.
//!
//! Fail closed ([`audit_runtime::trail`]): if the event is not acknowledged by Kafka,
//! the request fails and no value is revealed. Events name the user and service and the count, never a value.

use audit_runtime::config::KafkaConfig;
use audit_runtime::trail::{PendingEvent, TrailWriter};
use audit_schemas::trail::{TrailEvent, TrailEventError};
use audit_scim::ScimType;

use crate::VaultError;

/// Component id in the events' `id` field.
pub const COMPONENT: &str = "token-vault";

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
pub struct AccessLog(TrailWriter);

impl AccessLog {
    /// A log writing to `topic`.
    pub fn new(kafka: &KafkaConfig, topic: &str) -> Result<AccessLog, VaultError> {
        Ok(AccessLog(TrailWriter::new(kafka, topic)?))
    }

    /// Hands `access` to the producer without waiting: the caller does its work while
    /// the broker acknowledges, and answers only once [`Recording::acknowledged`]. An
    /// access in a tenant the trail cannot name is refused here, before it happens.
    pub fn begin(&self, access: &Access<'_>) -> Result<Recording, VaultError> {
        // The trail names no such tenant, so no access can happen in it: the caller's error.
        let event = event(access).map_err(|error| VaultError::InvalidRequest {
            scim_type: ScimType::InvalidValue,
            detail: error.to_string(),
        })?;
        Ok(Recording(self.0.begin(access.tenant, event.to_string().as_bytes())))
    }

    /// Writes `access` and waits for the broker's acknowledgement.
    pub async fn record(&self, access: &Access<'_>) -> Result<(), VaultError> {
        self.begin(access)?.acknowledged().await
    }
}

/// An access event handed to the producer, not yet acknowledged.
pub struct Recording(PendingEvent);

impl Recording {
    /// Waits for the broker's acknowledgement; fails closed (see [`audit_runtime::trail`]).
    pub async fn acknowledged(self) -> Result<(), VaultError> {
        self.0.acknowledged().await.map_err(|error| VaultError::AuditUnavailable(error.to_string()))
    }
}

/// The raw event of an access, shaped like every other platform event and within the
/// ingestor's bounds (`audit_schemas::trail`).
pub fn event(access: &Access<'_>) -> Result<serde_json::Value, TrailEventError> {
    let mut event = TrailEvent::new(access.tenant, COMPONENT, access.kind.action_name())?
        .parameter("CNT", &access.count.to_string())
        .parameter("RSN", access.reason)
        .actor(access.subject);
    if let Some(service) = access.service {
        event = event.parameter("CLI", service);
    }
    if let Some(owner) = access.erased_owner_id {
        event = event.target(owner);
    }
    Ok(event.to_json())
}
