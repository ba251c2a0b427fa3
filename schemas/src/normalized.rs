//! Rust shape of `audit.trail.NormalizedRecord` (topic `audit.normalized`).
//!
//! Field names and order follow `avro/normalized_record.v1.avsc`; the serde derive is
//! the only mapping between the two, checked by the round-trip tests.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// An audit event after validation and normalization by the ingestor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NormalizedRecord {
    /// Record id, stable under redelivery.
    pub id: String,
    /// Tenant the event belongs to.
    #[serde(rename = "tenantId")]
    pub tenant_id: String,
    /// Milliseconds since the Unix epoch, UTC.
    pub created: i64,
    /// What happened.
    pub action: Action,
    /// `RESPONSE_SUCCESS`, `RESPONSE_FAILURE`, ...
    pub result: Option<String>,
    /// The operation's return value, as in the seed records.
    pub return_value: Option<BTreeMap<String, String>>,
    /// Free text.
    pub message: Option<String>,
    /// Client address.
    pub host: Option<String>,
    /// The user the event is about.
    #[serde(rename = "targetUserId")]
    pub target_user: Option<UserRef>,
    /// The user or client that acted.
    #[serde(rename = "actingUserId")]
    pub acting_user: Option<UserRef>,
    /// The emitting component (raw `id`).
    #[serde(rename = "externalId")]
    pub external_id: Option<String>,
    /// The producer's event id.
    #[serde(rename = "eventId")]
    pub event_id: Option<String>,
}

/// Event type and its codes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    /// Event type, e.g. `createUser`.
    #[serde(rename = "actionName")]
    pub action_name: String,
    /// Event codes (`ATC`, `USN`, ...) to values; sorted for deterministic encoding.
    #[serde(rename = "actionParameters")]
    pub action_parameters: BTreeMap<String, String>,
}

/// A user or client reference.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRef {
    /// User name, e-mail or client id.
    pub id: Option<String>,
    /// The platform's immutable identifier.
    #[serde(rename = "immutableId")]
    pub immutable_id: Option<String>,
    /// The session the action ran in.
    pub session: Option<Session>,
}

/// A login session.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Session identifier.
    pub id: Option<String>,
    /// Authentication method code, e.g. `AT_STDPWD`.
    #[serde(rename = "authenticationMethod")]
    pub authentication_method: Option<String>,
}
