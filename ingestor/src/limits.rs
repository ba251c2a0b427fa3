//! The bounds a raw event must stay within, and the checks that enforce them.
//!
//! The bounds are `audit_schemas::limits`' (the trail's own events are built within
//! them). Bounds protect every later stage (vault, signer, index) from oversized or
//! hostile input; each failed check is a [`Rejection`] with its own reason code.

use std::collections::BTreeMap;

use audit_runtime::dlq::Rejection;
use audit_schemas::{NormalizedRecord, UserRef};
use chrono::{DateTime, TimeZone, Utc};

pub use audit_schemas::limits::{
    MAX_DEPTH, MAX_IDENTIFIER, MAX_MESSAGE, MAX_PARAMETER_VALUE, MAX_PARAMETERS, MAX_RETURN_VALUES,
};
use audit_schemas::limits::{is_action_name, is_parameter_name, is_tenant_id};

/// Limits that depend on configuration or on the clock.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest accepted message, in bytes.
    pub max_message_bytes: usize,
    /// Earliest accepted `created`, milliseconds since the epoch.
    pub min_created_ms: i64,
    /// How far in the future of the ingestor's clock `created` may lie.
    pub max_future_skew_ms: i64,
}

impl Limits {
    /// Events before 2000-01-01 predate the platforms that emit them.
    pub fn earliest_plausible_ms() -> i64 {
        Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).single().expect("valid date").timestamp_millis()
    }
}

/// Size and nesting, checked on the bytes before parsing.
pub fn check_envelope(bytes: &[u8], limits: &Limits) -> Result<(), Rejection> {
    if bytes.is_empty() || bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Rejection::new("empty_message", "the message is empty"));
    }
    if bytes.len() > limits.max_message_bytes {
        let detail = format!("message of {} bytes exceeds {} bytes", bytes.len(), limits.max_message_bytes);
        return Err(Rejection::new("oversize_message", detail));
    }
    if nesting_depth(bytes) > MAX_DEPTH {
        return Err(Rejection::new("too_deep", format!("nesting deeper than {MAX_DEPTH} levels")));
    }
    Ok(())
}

/// Deepest nesting of `{`/`[` outside strings; a linear scan, so a hostile message
/// is refused before any recursive parsing.
fn nesting_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for byte in bytes {
        match (in_string, escaped, byte) {
            (true, true, _) => escaped = false,
            (true, false, b'\\') => escaped = true,
            (true, false, b'"') => in_string = false,
            (true, false, _) => {}
            (false, _, b'"') => in_string = true,
            (false, _, b'{' | b'[') => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            (false, _, b'}' | b']') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// Parses `created` (RFC 3339, offset required) to milliseconds; finer precision is cut.
pub fn check_created(created: &str, limits: &Limits) -> Result<i64, Rejection> {
    let parsed = DateTime::parse_from_rfc3339(created).map_err(|error| {
        Rejection::new("invalid_timestamp", format!("created is not an rfc 3339 timestamp: {error}"))
    })?;
    let millis = parsed.timestamp_millis();
    let latest = Utc::now().timestamp_millis() + limits.max_future_skew_ms;
    if millis < limits.min_created_ms || millis > latest {
        let detail = format!("created {created} is outside the accepted range");
        return Err(Rejection::new("timestamp_out_of_range", detail));
    }
    Ok(millis)
}

/// Tenant ids appear in URLs and Kafka keys: 1 to 64 of `[A-Za-z0-9_-]`.
pub fn check_tenant(tenant: &str) -> Result<(), Rejection> {
    if is_tenant_id(tenant) {
        Ok(())
    } else {
        Err(Rejection::new("invalid_tenant_id", "tenantId must be 1 to 64 characters of A-Z a-z 0-9 _ -"))
    }
}

/// Action names are identifiers: 1 to 128 of `[A-Za-z0-9_.:-]`.
pub fn check_action_name(name: &str) -> Result<(), Rejection> {
    if is_action_name(name) {
        Ok(())
    } else {
        let detail = "action.actionName must be 1 to 128 characters of A-Z a-z 0-9 _ . : -";
        Err(Rejection::new("invalid_action_name", detail))
    }
}

/// Event codes: a bounded count of short alphanumeric names with bounded values.
pub fn check_parameters(parameters: &BTreeMap<String, String>) -> Result<(), Rejection> {
    if parameters.len() > MAX_PARAMETERS {
        let detail = format!("{} event codes exceed {MAX_PARAMETERS}", parameters.len());
        return Err(Rejection::new("too_many_parameters", detail));
    }
    for (name, value) in parameters {
        if !is_parameter_name(name) {
            let detail = "event code names must be 1 to 64 characters of A-Z a-z 0-9 _";
            return Err(Rejection::new("invalid_parameter_name", detail));
        }
        if value.len() > MAX_PARAMETER_VALUE {
            return Err(too_long(&format!("action.actionParameters.{name}"), MAX_PARAMETER_VALUE));
        }
    }
    Ok(())
}

/// Every other string field against its bound.
pub fn check_field_lengths(record: &NormalizedRecord) -> Result<(), Rejection> {
    let identifiers = [
        ("result", &record.result),
        ("host", &record.host),
        ("id", &record.external_id),
        ("eventId", &record.event_id),
    ];
    for (name, value) in identifiers {
        check_length(name, value.as_deref(), MAX_IDENTIFIER)?;
    }
    check_length("message", record.message.as_deref(), MAX_MESSAGE)?;
    if record.event_id.as_deref() == Some("") {
        return Err(Rejection::new("invalid_event_id", "eventId must not be empty"));
    }
    check_user("targetUserId", record.target_user.as_ref())?;
    check_user("actingUserId", record.acting_user.as_ref())?;
    check_return_value(record.return_value.as_ref())
}

fn check_user(name: &str, user: Option<&UserRef>) -> Result<(), Rejection> {
    let Some(user) = user else { return Ok(()) };
    check_length(&format!("{name}.id"), user.id.as_deref(), MAX_IDENTIFIER)?;
    check_length(&format!("{name}.immutableId"), user.immutable_id.as_deref(), MAX_IDENTIFIER)?;
    let Some(session) = &user.session else { return Ok(()) };
    check_length(&format!("{name}.session.id"), session.id.as_deref(), MAX_IDENTIFIER)?;
    let method = session.authentication_method.as_deref();
    check_length(&format!("{name}.session.authenticationMethod"), method, MAX_IDENTIFIER)
}

fn check_return_value(return_value: Option<&BTreeMap<String, String>>) -> Result<(), Rejection> {
    let Some(entries) = return_value else { return Ok(()) };
    if entries.len() > MAX_RETURN_VALUES {
        let detail = format!("return_value has {} entries, more than {MAX_RETURN_VALUES}", entries.len());
        return Err(Rejection::new("too_many_return_values", detail));
    }
    for (name, value) in entries {
        check_length("return_value key", Some(name), MAX_IDENTIFIER)?;
        check_length("return_value value", Some(value), MAX_PARAMETER_VALUE)?;
    }
    Ok(())
}

fn check_length(name: &str, value: Option<&str>, max: usize) -> Result<(), Rejection> {
    match value {
        Some(value) if value.len() > max => Err(too_long(name, max)),
        _ => Ok(()),
    }
}

fn too_long(name: &str, max: usize) -> Rejection {
    Rejection::new("field_too_long", format!("{name} is longer than {max} bytes"))
}
