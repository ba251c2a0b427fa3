//! The record's attributes and which of them hold personal data, defined once.
//!
//! The tokenizer replaces what a [`PiiPolicy`] names; the query-api lets a filter name
//! the [`ATTRIBUTES`] (and one name below the [`OPEN_MAPS`]) and resolves the personal
//! ones through the vault; the tests below hold both to the `.avsc` files, so a field
//! added to a schema and forgotten here fails the build's tests.
//!
//! Defaults follow SPEC section 5: `targetUserId.id`, `actingUserId.id`, `host`, the
//! event codes `USN`, `ERI`, `UER`, `ATV` whole, and addresses inside `ARP` (its
//! `HOSTADDRESS[...]` and any e-mail or IP address) and inside `message`.

use std::collections::BTreeSet;

use clap::{ArgAction, Args};

/// The time attribute: milliseconds since the epoch, compared as a time.
pub const CREATED: &str = "created";

/// The string attributes of a record (dotted paths, as the Avro schemas name them),
/// besides [`CREATED`] and the entries of the [`OPEN_MAPS`].
pub const ATTRIBUTES: [&str; 16] = [
    "id",
    "externalId",
    "tenantId",
    "eventId",
    "result",
    "message",
    "host",
    "action.actionName",
    "targetUserId.id",
    "targetUserId.immutableId",
    "targetUserId.session.id",
    "targetUserId.session.authenticationMethod",
    "actingUserId.id",
    "actingUserId.immutableId",
    "actingUserId.session.id",
    "actingUserId.session.authenticationMethod",
];

/// Maps whose keys are open-ended (event codes, return values): each key is an
/// attribute one name below the map.
pub const OPEN_MAPS: [&str; 2] = ["action.actionParameters", "return_value"];

/// The event-code map: where the policy's codes live.
const CODES: &str = "action.actionParameters";

/// Which fields hold personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PiiPolicy {
    /// `targetUserId.id` and `actingUserId.id`, whole.
    pub user_ids: bool,
    /// `host`, whole.
    pub host: bool,
    /// E-mail and IP addresses in `message`.
    pub message: bool,
    /// Event codes tokenized whole.
    pub whole_codes: BTreeSet<String>,
    /// Event codes scanned for host, e-mail and IP addresses.
    pub scanned_codes: BTreeSet<String>,
}

impl Default for PiiPolicy {
    fn default() -> Self {
        PiiPolicy {
            user_ids: true,
            host: true,
            message: true,
            whole_codes: ["USN", "ERI", "UER", "ATV"].into_iter().map(String::from).collect(),
            scanned_codes: ["ARP"].into_iter().map(String::from).collect(),
        }
    }
}

impl PiiPolicy {
    /// The paths whose whole value is personal (a token once tokenized).
    pub fn whole_paths(&self) -> Vec<String> {
        let mut paths = Vec::new();
        if self.user_ids {
            paths.extend(["targetUserId.id".to_owned(), "actingUserId.id".to_owned()]);
        }
        if self.host {
            paths.push("host".to_owned());
        }
        paths.extend(self.whole_codes.iter().map(|code| code_path(code)));
        paths
    }

    /// The paths of text with personal values inside (tokens inside once tokenized).
    pub fn embedded_paths(&self) -> Vec<String> {
        let mut paths: Vec<String> = self.scanned_codes.iter().map(|code| code_path(code)).collect();
        if self.message {
            paths.push("message".to_owned());
        }
        paths
    }
}

/// The path of event code `code`.
pub fn code_path(code: &str) -> String {
    format!("{CODES}.{code}")
}

/// The policy's flags: the tokenizer replaces what they name and the query-api
/// resolves filters on it through the vault, so both take the same flags.
#[derive(Debug, Clone, Args)]
pub struct PiiPolicyArgs {
    /// Tokenize `targetUserId.id` and `actingUserId.id`.
    #[arg(long, env = "AUDIT_TOKENIZE_USER_IDS", default_value_t = true, action = ArgAction::Set)]
    pub tokenize_user_ids: bool,
    /// Tokenize `host`.
    #[arg(long, env = "AUDIT_TOKENIZE_HOST", default_value_t = true, action = ArgAction::Set)]
    pub tokenize_host: bool,
    /// Tokenize e-mail and IP addresses in `message`.
    #[arg(long, env = "AUDIT_TOKENIZE_MESSAGE", default_value_t = true, action = ArgAction::Set)]
    pub tokenize_message: bool,
    /// Event codes tokenized whole, comma-separated.
    #[arg(long, env = "AUDIT_TOKENIZE_CODES", value_delimiter = ',', default_value = "USN,ERI,UER,ATV")]
    pub tokenize_codes: Vec<String>,
    /// Event codes scanned for HOSTADDRESS[...], e-mail and IP addresses, comma-separated.
    #[arg(long, env = "AUDIT_SCAN_CODES", value_delimiter = ',', default_value = "ARP")]
    pub scan_codes: Vec<String>,
}

impl PiiPolicyArgs {
    /// The policy these flags describe (codes trimmed, empty entries dropped).
    pub fn policy(&self) -> PiiPolicy {
        let clean = |codes: &[String]| {
            codes.iter().map(|code| code.trim().to_owned()).filter(|code| !code.is_empty()).collect()
        };
        PiiPolicy {
            user_ids: self.tokenize_user_ids,
            host: self.tokenize_host,
            message: self.tokenize_message,
            whole_codes: clean(&self.tokenize_codes),
            scanned_codes: clean(&self.scan_codes),
        }
    }
}

/// The JSON shape of the newest `family` record as JSON Schema (2020-12), for the
/// HTTP documents that show records: optional fields (`null` unions, defaults) are not
/// required, maps are objects of strings, times are integers of milliseconds.
pub fn json_schema(family: &str) -> Option<serde_json::Value> {
    let entry = crate::Catalogue::published().latest(family)?;
    let mut named = std::collections::HashMap::new();
    Some(to_json_schema(&entry.schema, &mut named))
}

fn to_json_schema(
    schema: &apache_avro::Schema,
    named: &mut std::collections::HashMap<apache_avro::schema::Name, serde_json::Value>,
) -> serde_json::Value {
    use apache_avro::Schema;
    use serde_json::json;
    match schema {
        Schema::Record(record) => {
            let mut properties = serde_json::Map::new();
            let mut required = Vec::new();
            for field in &record.fields {
                let optional = field.default.is_some()
                    || matches!(&field.schema, Schema::Union(union) if union.is_nullable());
                if !optional {
                    required.push(field.name.clone());
                }
                properties.insert(field.name.clone(), to_json_schema(&field.schema, named));
            }
            let object = json!({ "type": "object", "properties": properties, "required": required });
            named.insert(record.name.clone(), object.clone());
            object
        }
        Schema::Ref { name } => named.get(name).cloned().unwrap_or_else(|| json!({})),
        Schema::Union(union) => {
            let variants: Vec<serde_json::Value> = union
                .variants()
                .iter()
                .filter(|variant| **variant != Schema::Null)
                .map(|variant| to_json_schema(variant, named))
                .collect();
            match <[serde_json::Value; 1]>::try_from(variants) {
                Ok([only]) => only,
                Err(variants) => json!({ "anyOf": variants }),
            }
        }
        Schema::String => json!({ "type": "string" }),
        Schema::Long | Schema::Int | Schema::TimestampMillis => {
            json!({ "type": "integer", "format": "int64" })
        }
        Schema::Boolean => json!({ "type": "boolean" }),
        Schema::Map(map) => {
            json!({ "type": "object", "additionalProperties": to_json_schema(&map.types, named) })
        }
        Schema::Array(array) => json!({ "type": "array", "items": to_json_schema(&array.items, named) }),
        _ => json!({}),
    }
}

#[cfg(test)]
#[path = "fields_tests.rs"]
mod tests;
