//! Rust shape of `audit.trail.TokenizedRecord` (topic `audit.tokenized`).
//!
//! The normalized record's fields, with personal values replaced by vault tokens,
//! plus `tokenizedPaths`: which fields hold tokens. Field names and order follow
//! `avro/tokenized_record.v1.avsc`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{
    binary::{
        Datum, DecodeError, Reader, write_long, write_map, write_optional, write_optional_string,
        write_string, write_strings,
    },
    normalized::{Action, NormalizedRecord, UserRef},
};

/// An audit record without clear personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenizedRecord {
    /// Record id, stable under redelivery.
    pub id: String,
    /// Tenant the event belongs to.
    #[serde(rename = "tenantId")]
    pub tenant_id: String,
    /// Milliseconds since the Unix epoch, UTC.
    pub created: i64,
    /// What happened; personal event codes hold tokens.
    pub action: Action,
    /// `RESPONSE_SUCCESS`, `RESPONSE_FAILURE`, ...
    pub result: Option<String>,
    /// The operation's return value.
    pub return_value: Option<BTreeMap<String, String>>,
    /// Free text with addresses replaced by tokens.
    pub message: Option<String>,
    /// Token of the client address.
    pub host: Option<String>,
    /// The user the event is about (`id` tokenized).
    #[serde(rename = "targetUserId")]
    pub target_user: Option<UserRef>,
    /// The user or client that acted (`id` tokenized).
    #[serde(rename = "actingUserId")]
    pub acting_user: Option<UserRef>,
    /// The emitting component.
    #[serde(rename = "externalId")]
    pub external_id: Option<String>,
    /// The producer's event id.
    #[serde(rename = "eventId")]
    pub event_id: Option<String>,
    /// Paths of the fields that hold tokens.
    #[serde(rename = "tokenizedPaths")]
    pub tokenized_paths: Vec<String>,
}

impl TokenizedRecord {
    /// `record`, whose personal values were already replaced, with the paths that hold tokens.
    pub fn new(record: NormalizedRecord, tokenized_paths: Vec<String>) -> TokenizedRecord {
        TokenizedRecord {
            id: record.id,
            tenant_id: record.tenant_id,
            created: record.created,
            action: record.action,
            result: record.result,
            return_value: record.return_value,
            message: record.message,
            host: record.host,
            target_user: record.target_user,
            acting_user: record.acting_user,
            external_id: record.external_id,
            event_id: record.event_id,
            tokenized_paths,
        }
    }
}

impl Datum for TokenizedRecord {
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
        write_strings(out, &self.tokenized_paths);
    }

    fn read(input: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(TokenizedRecord {
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
            tokenized_paths: input.strings()?,
        })
    }
}
