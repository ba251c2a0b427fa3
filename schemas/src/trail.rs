//! The trail's own events (a reveal of clear values, an erasure, a change to a
//! webhook) as raw events, built so that every ingestor accepts them: an access that
//! happened must reach the signed trail, never the DLQ.
//!
//! Guarantee: [`TrailEvent::to_json`] of any event [`TrailEvent::new`] accepted passes
//! the ingestor's validation with its smallest settings (the ingestor's tests check it
//! over arbitrary values). Values given by callers (a reason, a bearer token's
//! subject, a URL) are cut to the field's bound at a character boundary, marked with
//! `…`, and their control characters replaced, so the JSON stays within
//! [`MIN_MESSAGE_BYTES`](crate::limits::MIN_MESSAGE_BYTES) whatever they hold. Only the
//! tenant id cannot be repaired: an event of an invalid tenant id is refused, and the
//! action it would record must not happen.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::limits::{MAX_IDENTIFIER, is_action_name, is_parameter_name, is_tenant_id};

/// Longest value of an event code in a trail event: well within the ingestor's bound,
/// so that a whole event stays small.
pub const MAX_TRAIL_VALUE: usize = 2048;
/// Most event codes in a trail event.
pub const MAX_TRAIL_PARAMETERS: usize = 8;

/// Why a trail event cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrailEventError {
    /// The tenant id is not one the ingestor accepts.
    #[error(
        "tenant id is not 1 to 64 characters of A-Z a-z 0-9 _ -: the trail cannot record an action in it"
    )]
    InvalidTenant,
}

/// One event of the trail's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailEvent {
    tenant: String,
    component: &'static str,
    action_name: &'static str,
    parameters: BTreeMap<&'static str, String>,
    actor: Option<String>,
    target_immutable_id: Option<String>,
}

impl TrailEvent {
    /// An event of `component` (the event's `id`) in `tenant`: `action_name` done.
    pub fn new(
        tenant: &str,
        component: &'static str,
        action_name: &'static str,
    ) -> Result<TrailEvent, TrailEventError> {
        if !is_tenant_id(tenant) {
            return Err(TrailEventError::InvalidTenant);
        }
        debug_assert!(is_action_name(action_name) && component.len() <= MAX_IDENTIFIER);
        Ok(TrailEvent {
            tenant: tenant.to_owned(),
            component,
            action_name,
            parameters: BTreeMap::new(),
            actor: None,
            target_immutable_id: None,
        })
    }

    /// Adds event code `name` (a constant of the catalogue) with `value`, bounded.
    pub fn parameter(mut self, name: &'static str, value: &str) -> TrailEvent {
        debug_assert!(is_parameter_name(name));
        if self.parameters.len() < MAX_TRAIL_PARAMETERS || self.parameters.contains_key(name) {
            self.parameters.insert(name, bounded(value, MAX_TRAIL_VALUE));
        }
        self
    }

    /// Who acted (`actingUserId.id`), bounded.
    pub fn actor(mut self, id: &str) -> TrailEvent {
        self.actor = Some(bounded(id, MAX_IDENTIFIER));
        self
    }

    /// Whom it concerned (`targetUserId.immutableId`), bounded.
    pub fn target(mut self, immutable_id: &str) -> TrailEvent {
        self.target_immutable_id = Some(bounded(immutable_id, MAX_IDENTIFIER));
        self
    }

    /// The tenant.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The raw event, created now, with a fresh event id.
    pub fn to_json(&self) -> Value {
        let created = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut event = json!({
            "tenantId": self.tenant,
            "created": created,
            "eventId": uuid::Uuid::new_v4().to_string(),
            "id": self.component,
            "action": { "actionName": self.action_name, "actionParameters": self.parameters },
            "result": "RESPONSE_SUCCESS",
        });
        if let Some(actor) = &self.actor {
            event["actingUserId"] = json!({ "id": actor });
        }
        if let Some(target) = &self.target_immutable_id {
            event["targetUserId"] = json!({ "immutableId": target });
        }
        event
    }
}

/// `value` without control characters, cut to at most `max` bytes at a character
/// boundary (the cut marked with `…`).
fn bounded(value: &str, max: usize) -> String {
    const CUT: char = '…';
    let clean: String = value.chars().map(|c| if c.is_control() { '\u{fffd}' } else { c }).collect();
    if clean.len() <= max {
        return clean;
    }
    let mut end = max - CUT.len_utf8();
    while !clean.is_char_boundary(end) {
        end -= 1;
    }
    let mut cut = clean[..end].to_owned();
    cut.push(CUT);
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_bounded_and_cleaned_and_bad_tenants_refused() {
        assert_eq!(TrailEvent::new("a.b", "c", "x"), Err(TrailEventError::InvalidTenant));
        let long = "é".repeat(5_000);
        let event = TrailEvent::new("t1", "token-vault", "detokenizeTokens")
            .unwrap()
            .parameter("RSN", &long)
            .actor(&format!("bad\u{0}actor{long}"))
            .to_json();
        let reason = event["action"]["actionParameters"]["RSN"].as_str().unwrap();
        assert!(reason.len() <= MAX_TRAIL_VALUE && reason.ends_with('…'), "{}", reason.len());
        let actor = event["actingUserId"]["id"].as_str().unwrap();
        assert!(actor.starts_with("bad\u{fffd}actor") && actor.len() <= MAX_IDENTIFIER);
        assert_eq!(bounded("short", 10), "short");
    }
}
