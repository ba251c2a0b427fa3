//! Ways a producer gets an event wrong, each with the reason code the ingestor gives.

use rand::{Rng, rngs::StdRng, seq::IndexedRandom};
use serde_json::Value;

use super::RawEvent;

/// Reason codes of the malformed events this module makes.
pub const MALFORMED_KINDS: &[&str] = &[
    "invalid_json",
    "missing_field",
    "invalid_timestamp",
    "timestamp_out_of_range",
    "wrong_type",
    "empty_message",
    "invalid_utf8",
    "not_an_object",
    "invalid_tenant_id",
];

/// Turns a valid event into a malformed one of a random kind.
pub fn corrupt(rng: &mut StdRng, mut event: Value) -> RawEvent {
    let kind = *MALFORMED_KINDS.choose(rng).expect("kinds are not empty");
    let payload = match kind {
        "invalid_json" => {
            let bytes = serde_json::to_vec(&event).expect("json values serialize");
            bytes[..rng.random_range(1..bytes.len() - 1)].to_vec()
        }
        "missing_field" => {
            match rng.random_range(0..3) {
                0 => event.as_object_mut().map(|object| object.remove("tenantId")),
                1 => event.as_object_mut().map(|object| object.remove("created")),
                _ => event["action"].as_object_mut().map(|action| action.remove("actionName")),
            };
            serde_json::to_vec(&event).expect("json values serialize")
        }
        "invalid_timestamp" => {
            let bad = *["yesterday", "2023-13-45T25:61:00Z", "1672848274678", "2023-01-04 16:04:34"]
                .choose(rng)
                .expect("not empty");
            event["created"] = Value::String(bad.into());
            serde_json::to_vec(&event).expect("json values serialize")
        }
        "timestamp_out_of_range" => {
            event["created"] = Value::String("1969-07-20T20:17:40.000Z".into());
            serde_json::to_vec(&event).expect("json values serialize")
        }
        "wrong_type" => {
            event["result"] = Value::from(42);
            serde_json::to_vec(&event).expect("json values serialize")
        }
        "empty_message" => Vec::new(),
        "invalid_utf8" => {
            let mut bytes = serde_json::to_vec(&event).expect("json values serialize");
            let at = bytes.iter().position(|byte| *byte == b':').unwrap_or(0) + 2;
            bytes.splice(at..at, [0xff, 0xfe]);
            bytes
        }
        "not_an_object" => serde_json::to_vec(&Value::Array(vec![event])).expect("json values serialize"),
        _ => {
            event["tenantId"] = Value::String("t/../../etc".into());
            serde_json::to_vec(&event).expect("json values serialize")
        }
    };
    RawEvent { key: None, payload, malformed: Some(kind), event_id: None, duplicate: false }
}
