//! Validation and normalization of one raw event (SPEC section 3), without Kafka.
//!
//! Input is untrusted bytes. Every way it can be wrong maps to a stable reason code
//! (the DLQ's `dlq.code` and the `code` label of `ingestor_records_rejected_total`),
//! with a detail that names the field but never echoes a value, since values may be
//! personal data. Size, depth and count limits are checked before the data is kept.

use std::collections::BTreeMap;

use audit_runtime::dlq::Rejection;
use audit_schemas::{Action, NormalizedRecord, Session, UserRef};
use serde::Deserialize;

use crate::limits::{self, Limits};

/// A raw event as producers send it; unknown fields are refused, not dropped.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvent {
    #[serde(rename = "tenantId")]
    tenant_id: String,
    created: String,
    action: RawAction,
    result: Option<String>,
    return_value: Option<BTreeMap<String, String>>,
    message: Option<String>,
    host: Option<String>,
    #[serde(rename = "targetUserId")]
    target_user: Option<RawUser>,
    #[serde(rename = "actingUserId")]
    acting_user: Option<RawUser>,
    id: Option<String>,
    #[serde(rename = "eventId")]
    event_id: Option<String>,
    /// Present on records shaped like the seed's; carries no event data.
    #[serde(rename = "schemas")]
    _schemas: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAction {
    #[serde(rename = "actionName")]
    action_name: String,
    #[serde(rename = "actionParameters")]
    action_parameters: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    id: Option<String>,
    #[serde(rename = "immutableId")]
    immutable_id: Option<IdValue>,
    session: Option<RawSession>,
}

/// Platforms send numeric ids as numbers or strings; both are kept as text.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum IdValue {
    Text(String),
    Number(u64),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSession {
    id: Option<String>,
    #[serde(rename = "authenticationMethod")]
    authentication_method: Option<String>,
}

/// Validates `bytes` and returns the normalized record, with `id` left empty for the
/// caller to derive.
pub fn normalize(bytes: &[u8], limits: &Limits) -> Result<NormalizedRecord, Rejection> {
    limits::check_envelope(bytes, limits)?;
    let raw = parse(bytes)?;
    let created = limits::check_created(&raw.created, limits)?;
    limits::check_tenant(&raw.tenant_id)?;
    limits::check_action_name(&raw.action.action_name)?;
    let action_parameters = raw.action.action_parameters.unwrap_or_default();
    limits::check_parameters(&action_parameters)?;
    let record = NormalizedRecord {
        id: String::new(),
        tenant_id: raw.tenant_id,
        created,
        action: Action { action_name: raw.action.action_name, action_parameters },
        result: raw.result,
        return_value: raw.return_value,
        message: raw.message,
        host: raw.host,
        target_user: raw.target_user.map(user_ref),
        acting_user: raw.acting_user.map(user_ref),
        external_id: raw.id,
        event_id: raw.event_id,
    };
    limits::check_field_lengths(&record)?;
    Ok(record)
}

fn user_ref(raw: RawUser) -> UserRef {
    UserRef {
        id: raw.id,
        immutable_id: raw.immutable_id.map(|id| match id {
            IdValue::Text(text) => text,
            IdValue::Number(number) => number.to_string(),
        }),
        session: raw
            .session
            .map(|session| Session { id: session.id, authentication_method: session.authentication_method }),
    }
}

fn parse(bytes: &[u8]) -> Result<RawEvent, Rejection> {
    let text = std::str::from_utf8(bytes).map_err(|error| {
        Rejection::new("invalid_utf8", format!("invalid utf-8 at byte {}", error.valid_up_to()))
    })?;
    if !text.trim_start().starts_with('{') {
        // serde would read a JSON array positionally into the struct: refuse it first.
        return Err(match serde_json::from_str::<serde::de::IgnoredAny>(text) {
            Ok(_) => Rejection::new("not_an_object", "the event must be a json object"),
            Err(error) => Rejection::new("invalid_json", error.to_string()),
        });
    }
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let raw: RawEvent = serde_path_to_error::deserialize(&mut deserializer).map_err(classify)?;
    deserializer.end().map_err(|error| Rejection::new("invalid_json", error.to_string()))?;
    Ok(raw)
}

/// Maps a serde error to a reason code. serde_json reports data errors only as text,
/// so the message prefixes are matched; each is pinned by a test.
fn classify(error: serde_path_to_error::Error<serde_json::Error>) -> Rejection {
    let path = error.path().to_string();
    let inner = error.into_inner();
    if inner.is_syntax() || inner.is_eof() {
        return Rejection::new("invalid_json", inner.to_string());
    }
    let text = inner.to_string();
    // The path names the containing struct, or already the field itself for unknown ones.
    let field = |message: &str| -> String {
        let name = message.split('`').nth(1).unwrap_or_default();
        match path.as_str() {
            "." => name.to_owned(),
            _ if path == name || path.ends_with(&format!(".{name}")) => path.clone(),
            _ => format!("{path}.{name}"),
        }
    };
    if text.starts_with("missing field") {
        Rejection::new("missing_field", format!("missing required field {}", field(&text)))
    } else if text.starts_with("unknown field") {
        Rejection::new("unknown_field", format!("unknown field {}", field(&text)))
    } else if text.starts_with("duplicate field") {
        Rejection::new("duplicate_field", format!("field {} appears twice", field(&text)))
    } else if path == "." && text.starts_with("invalid type") {
        Rejection::new("not_an_object", "the event must be a json object")
    } else {
        let expected = text.split("expected ").nth(1).and_then(|rest| rest.split(" at line").next());
        let expected = expected.unwrap_or("another type");
        Rejection::new("wrong_type", format!("field {path} has the wrong type, expected {expected}"))
    }
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
