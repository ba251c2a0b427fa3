//! Stored records (compact JWS) as SCIM resources in the seed's shape.
//!
//! A resource is the signed payload itself, minus the chain fields, with `created` as
//! an RFC 3339 time, `schemas`, and `integrityStatus`: `validated` when the signature
//! verifies and the payload is this tenant's, `tainted` when not, `unverified` when
//! not asked. The JWS is never returned. Tokens are found at the record's own
//! `tokenizedPaths` (whole values, or UUIDs inside text) and replaced with what the
//! vault reveals; erased or unknown tokens stay as they are.

use std::collections::{HashMap, HashSet};

use audit_integrity::{CompactJws, Verifier};
use audit_runtime::parallel::map_parts;
use audit_vault_api::Revealed;

use crate::api::CHAIN_FIELDS;
use chrono::{SecondsFormat, TimeZone, Utc};
use serde_json::{Map, Value};

/// The SCIM schema of an audit record resource.
pub const RECORD_SCHEMA: &str = "urn:hid:scim:api:idp:2.0:AuditRecord";

/// What a record's integrity check said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Integrity {
    /// Signature verifies and the payload is the tenant's.
    Validated,
    /// It does not.
    Tainted,
    /// Not checked.
    Unverified,
}

impl Integrity {
    /// The status as the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Integrity::Validated => "validated",
            Integrity::Tainted => "tainted",
            Integrity::Unverified => "unverified",
        }
    }
}

/// A record on its way out: its resource and where its tokens are.
#[derive(Debug, Clone)]
pub struct Resource {
    /// The SCIM resource.
    pub body: Value,
    /// Its integrity status.
    pub integrity: Integrity,
    /// Paths whose values hold tokens.
    tokenized_paths: Vec<String>,
}

/// Pages smaller than this are not worth a second thread.
const PARALLEL_FROM: usize = 16;

/// Resources of `records` (JWS) of `tenant`, `unverified` until `settle`d, or
/// `tainted` when a payload is unreadable or another tenant's. Parsing is CPU work,
/// so a page is split across the cores.
pub fn resources(records: &[String], tenant: &str) -> Vec<Resource> {
    map_parts(records, PARALLEL_FROM, |part| part.iter().map(|jws| resource(jws, tenant)).collect())
}

/// Whether each record's signature holds under `verifier`, checked in batches split
/// across the cores. Independent of [`resources`], so it can run while the page is
/// being detokenized.
pub fn signatures(records: &[String], verifier: &Verifier) -> Vec<bool> {
    map_parts(records, PARALLEL_FROM, |part| {
        verifier.verify_signatures(part).iter().map(Result::is_ok).collect()
    })
}

/// Gives each resource of `page` the integrity its signature check said; a resource
/// already tainted by its payload stays tainted.
pub fn settle(page: &mut [Resource], signatures: &[bool]) {
    for (resource, &holds) in page.iter_mut().zip(signatures) {
        if resource.integrity == Integrity::Unverified {
            resource.integrity = if holds { Integrity::Validated } else { Integrity::Tainted };
            resource.body["integrityStatus"] = Value::String(resource.integrity.as_str().into());
        }
    }
}

fn resource(jws: &str, tenant: &str) -> Resource {
    let payload =
        CompactJws::parse(jws).ok().and_then(|parsed| serde_json::from_slice::<Value>(&parsed.payload).ok());
    let Some(Value::Object(mut fields)) = payload else {
        let body =
            serde_json::json!({ "schemas": [RECORD_SCHEMA], "integrityStatus": Integrity::Tainted.as_str() });
        return Resource { body, integrity: Integrity::Tainted, tokenized_paths: Vec::new() };
    };
    // A payload of another tenant is shown as tainted and never detokenized here.
    let foreign = fields.get("tenantId").and_then(Value::as_str) != Some(tenant);
    let integrity = if foreign { Integrity::Tainted } else { Integrity::Unverified };
    let tokenized_paths = match fields.get("tokenizedPaths") {
        Some(Value::Array(paths)) if !foreign => {
            paths.iter().filter_map(Value::as_str).map(str::to_owned).collect()
        }
        _ => Vec::new(),
    };
    for field in CHAIN_FIELDS {
        fields.remove(field);
    }
    drop_nulls(&mut fields);
    if let Some(created) = fields.get("created").and_then(Value::as_i64) {
        fields.insert("created".into(), Value::String(rfc3339(created)));
    }
    fields.insert("schemas".into(), serde_json::json!([RECORD_SCHEMA]));
    fields.insert("integrityStatus".into(), Value::String(integrity.as_str().into()));
    Resource { body: Value::Object(fields), integrity, tokenized_paths }
}

fn drop_nulls(fields: &mut Map<String, Value>) {
    fields.retain(|_, value| !value.is_null());
    for value in fields.values_mut() {
        if let Value::Object(children) = value {
            drop_nulls(children);
        }
    }
}

/// `created` milliseconds as `2023-01-04T16:04:34.678Z`.
pub fn rfc3339(millis: i64) -> String {
    Utc.timestamp_millis_opt(millis)
        .single()
        .map_or_else(|| millis.to_string(), |time| time.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// Every distinct token of `resources`, in first-seen order.
pub fn tokens(resources: &[Resource]) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut tokens = Vec::new();
    for resource in resources {
        for path in &resource.tokenized_paths {
            if let Some(Value::String(text)) = at_path(&resource.body, path) {
                for token in uuids(text) {
                    if seen.insert(token) {
                        tokens.push(token.to_owned());
                    }
                }
            }
        }
    }
    tokens
}

/// Replaces every token the vault revealed by its clear value.
pub fn detokenize(resources: &mut [Resource], revealed: &HashMap<String, String>) {
    for Resource { body, tokenized_paths, .. } in resources {
        for path in tokenized_paths.iter() {
            if let Some(Value::String(text)) = at_path_mut(body, path)
                && let Some(clear) = revealed_text(text, revealed)
            {
                *text = clear;
            }
        }
    }
}

/// `text` with each revealed token replaced, or `None` when it holds none.
fn revealed_text(text: &str, revealed: &HashMap<String, String>) -> Option<String> {
    let mut clear = String::new();
    let mut copied = 0;
    for start in uuid_starts(text) {
        if let Some(value) = revealed.get(&text[start..start + UUID_LEN]) {
            clear.push_str(&text[copied..start]);
            clear.push_str(value);
            copied = start + UUID_LEN;
        }
    }
    if copied == 0 {
        return None;
    }
    clear.push_str(&text[copied..]);
    Some(clear)
}

/// The clear values of a vault answer, by token (erased and unknown ones left out).
pub fn revealed_values(tokens: Vec<String>, answers: Vec<Revealed>) -> HashMap<String, String> {
    tokens
        .into_iter()
        .zip(answers)
        .filter_map(|(token, answer)| match answer {
            Revealed::Value { value } => Some((token, value)),
            Revealed::Erased | Revealed::Unknown => None,
        })
        .collect()
}

fn at_path<'a>(body: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(body, |value, name| value.get(name))
}

fn at_path_mut<'a>(body: &'a mut Value, path: &str) -> Option<&'a mut Value> {
    path.split('.').try_fold(body, |value, name| value.get_mut(name))
}

/// Characters of a UUID in text form.
const UUID_LEN: usize = 36;

/// The UUID-shaped substrings of `text` (tokens are random UUIDs).
fn uuids(text: &str) -> impl Iterator<Item = &str> {
    uuid_starts(text).into_iter().map(|start| &text[start..start + UUID_LEN])
}

/// Where each UUID-shaped substring of `text` starts, without overlaps.
fn uuid_starts(text: &str) -> Vec<usize> {
    const SHAPE: [usize; 5] = [8, 4, 4, 4, 12];
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut start = 0;
    while start + UUID_LEN <= bytes.len() {
        let candidate = &bytes[start..start + UUID_LEN];
        let mut position = 0;
        let shaped = SHAPE.iter().enumerate().all(|(group, &length)| {
            let hex = candidate[position..position + length].iter().all(u8::is_ascii_hexdigit);
            position += length;
            let dash = group == 4 || candidate[position] == b'-';
            position += 1;
            hex && dash
        });
        if shaped {
            found.push(start);
            start += UUID_LEN;
        } else {
            start += 1;
        }
    }
    found
}

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
