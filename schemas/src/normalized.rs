//! Rust shape of `audit.trail.NormalizedRecord` (topic `audit.normalized`).
//!
//! Field names and order follow `avro/normalized_record.v1.avsc`; the serde derive is
//! the only mapping between the two, checked by the round-trip tests.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::binary::{
    Datum, DecodeError, Reader, write_long, write_map, write_optional, write_optional_string, write_string,
};

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

impl Datum for NormalizedRecord {
    fn write(&self, out: &mut Vec<u8>) {
        write_string(out, &self.id);
        write_string(out, &self.tenant_id);
        write_long(out, self.created);
        self.action.write(out);
        write_optional_string(out, self.result.as_ref());
        write_optional(out, self.return_value.as_ref(), write_map);
        write_optional_string(out, self.message.as_ref());
        write_optional_string(out, self.host.as_ref());
        write_optional(out, self.target_user.as_ref(), |out, user| user.write(out));
        write_optional(out, self.acting_user.as_ref(), |out, user| user.write(out));
        write_optional_string(out, self.external_id.as_ref());
        write_optional_string(out, self.event_id.as_ref());
    }

    fn read(input: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(NormalizedRecord {
            id: input.string()?,
            tenant_id: input.string()?,
            created: input.long()?,
            action: Action::read(input)?,
            result: input.optional_string()?,
            return_value: input.optional(Reader::map)?,
            message: input.optional_string()?,
            host: input.optional_string()?,
            target_user: input.optional(UserRef::read)?,
            acting_user: input.optional(UserRef::read)?,
            external_id: input.optional_string()?,
            event_id: input.optional_string()?,
        })
    }
}

impl Action {
    /// Appends the `Action` record.
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        write_string(out, &self.action_name);
        write_map(out, &self.action_parameters);
    }

    /// Reads an `Action` record.
    pub(crate) fn read(input: &mut Reader<'_>) -> Result<Action, DecodeError> {
        Ok(Action { action_name: input.string()?, action_parameters: input.map()? })
    }
}

impl UserRef {
    /// Appends the `UserRef` record.
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        write_optional_string(out, self.id.as_ref());
        write_optional_string(out, self.immutable_id.as_ref());
        write_optional(out, self.session.as_ref(), |out, session| {
            write_optional_string(out, session.id.as_ref());
            write_optional_string(out, session.authentication_method.as_ref());
        });
    }

    /// Reads a `UserRef` record.
    pub(crate) fn read(input: &mut Reader<'_>) -> Result<UserRef, DecodeError> {
        Ok(UserRef {
            id: input.optional_string()?,
            immutable_id: input.optional_string()?,
            session: input.optional(|input| {
                Ok(Session { id: input.optional_string()?, authentication_method: input.optional_string()? })
            })?,
        })
    }
}
