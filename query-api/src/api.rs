//! The bodies of the AuditRecords API, as the server reads and writes them and as its
//! OpenAPI document describes them (the same types), and the record resource's schema,
//! derived from the record's own Avro schema.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::openapi::schema::{ArrayBuilder, Object, ObjectBuilder, Ref, Type};
use utoipa::{IntoParams, ToSchema};

use crate::render::RECORD_SCHEMA;

/// The SCIM ListResponse schema.
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// Name of the record resource's schema in the document.
pub const AUDIT_RECORD: &str = "AuditRecord";
/// Payload fields that are the chain's, not the record's: never in a resource.
pub const CHAIN_FIELDS: [&str; 4] = ["sequence", "prevHash", "tokenizedPaths", "eventId"];

/// A SCIM SearchRequest (RFC 7644 section 3.4.3), as a body or as query parameters;
/// unknown members are ignored.
#[derive(Debug, Clone, Default, Deserialize, ToSchema, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct SearchRequest {
    /// `["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]`, as SCIM clients send
    /// it; not required, not checked.
    #[param(ignore)]
    #[expect(dead_code, reason = "accepted from SCIM clients, never read")]
    pub schemas: Option<Vec<String>>,
    /// A SCIM filter over the record's attributes; none matches every record.
    pub filter: Option<String>,
    /// Page size: at most 100 (larger is 100, negative is 0).
    pub count: Option<i64>,
    /// 1-based index of the first result (0 and below behave as 1).
    pub start_index: Option<i64>,
    /// The attribute to sort by: only `created` (any case).
    #[schema(schema_with = sort_by)]
    #[param(schema_with = sort_by)]
    pub sort_by: Option<String>,
    /// `ascending` (the default) or `descending`, any case; `asc` and `desc` too.
    #[schema(schema_with = sort_order)]
    #[param(schema_with = sort_order)]
    pub sort_order: Option<String>,
    /// Cursor paging (RFC 9865): empty for the first page, then the `nextCursor` of
    /// the page before. Pages continue from the records searchable at the first page:
    /// records arriving meanwhile never shift, repeat or skip one. Not with
    /// `startIndex`.
    pub cursor: Option<String>,
    /// `false` returns records as stored, tokens in place of personal values: no call
    /// to the vault and no access recorded. Clear values by default.
    pub detokenize: Option<bool>,
    /// `true` adds the tenant's latest checkpoint and each record's inclusion proof in
    /// its tree (records signed after it have none yet).
    pub proofs: Option<bool>,
}

/// Options of a read of one record.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReadOptions {
    /// `false` returns the record as stored, tokens in place of personal values.
    pub detokenize: Option<bool>,
}

fn sort_by() -> Object {
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some(["created"])).build()
}

fn sort_order() -> Object {
    let orders = ["ascending", "descending", "asc", "desc"];
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some(orders)).build()
}

/// An export request: which records (every record of the tenant when no filter).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExportRequest {
    /// Accepted and not checked, as in a SearchRequest.
    #[expect(dead_code, reason = "accepted from SCIM clients, never read")]
    pub schemas: Option<Vec<String>>,
    /// A SCIM filter over the record's attributes.
    pub filter: Option<String>,
}

/// One page of records (RFC 7644 section 3.4.2).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListResponse {
    /// `["urn:ietf:params:scim:api:messages:2.0:ListResponse"]`.
    #[schema(value_type = Vec<String>)]
    pub schemas: [&'static str; 1],
    /// Records matching the filter, all pages together (by cursor: as of the first page).
    pub total_results: u64,
    /// 1-based index of this page's first record (not when paging by cursor).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_index: Option<u64>,
    /// Records on this page.
    pub items_per_page: u64,
    /// The page's records.
    #[serde(rename = "Resources")]
    #[schema(schema_with = audit_records)]
    pub resources: Vec<Value>,
    /// The cursor of the next page, when paging by cursor and there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// With `proofs`: the tenant's latest checkpoint, a C2SP signed note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<String>,
    /// With `proofs`: the inclusion proof of each record of the page the checkpoint
    /// covers, in page order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proofs: Option<Vec<PageProof>>,
}

/// A record's inclusion proof in the checkpoint a page carries.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PageProof {
    /// The record.
    pub id: String,
    /// Its leaf index (its sequence minus one).
    pub leaf_index: u64,
    /// SHA-256 of 0x00 and its signed payload (the JWS payload, from an export or a
    /// bundle), base64.
    pub leaf_hash: String,
    /// RFC 9162 inclusion proof in the checkpoint's tree, base64 hashes.
    pub audit_path: Vec<String>,
}

impl ListResponse {
    /// A page of `resources` starting at `start_index` out of `total_results`.
    pub fn new(total_results: u64, start_index: Option<u64>, resources: Vec<Value>) -> ListResponse {
        let items_per_page = resources.len() as u64;
        let schemas = [LIST_RESPONSE];
        ListResponse {
            schemas,
            total_results,
            start_index,
            items_per_page,
            resources,
            next_cursor: None,
            checkpoint: None,
            proofs: None,
        }
    }

    /// The page with its checkpoint and its records' proofs, when asked for.
    pub fn with_proofs(mut self, proofs: Option<(String, Vec<PageProof>)>) -> ListResponse {
        if let Some((checkpoint, proofs)) = proofs {
            self.checkpoint = Some(checkpoint);
            self.proofs = Some(proofs);
        }
        self
    }

    /// The page with the cursor of the next one.
    pub fn with_next_cursor(mut self, next_cursor: Option<String>) -> ListResponse {
        self.next_cursor = next_cursor;
        self
    }
}

fn audit_records() -> utoipa::openapi::schema::Array {
    ArrayBuilder::new().items(Ref::from_schema_name(AUDIT_RECORD)).build()
}

/// The JSON Schema of a record resource: the tokenized record's fields (tokens
/// revealed), without the chain's, `created` as an RFC 3339 time, with `schemas` and
/// `integrityStatus`. A record whose payload cannot be read (tainted) has only those
/// two, so they are all that is required.
pub fn audit_record_schema() -> Value {
    let mut schema = audit_schemas::fields::json_schema("TokenizedRecord").unwrap_or_else(|| json!({}));
    let properties = schema["properties"].as_object_mut().expect("a record schema has properties");
    for field in CHAIN_FIELDS {
        properties.remove(field);
    }
    properties.insert("created".into(), json!({ "type": "string", "format": "date-time" }));
    properties.insert(
        "schemas".into(),
        json!({ "type": "array", "items": { "type": "string", "enum": [RECORD_SCHEMA] } }),
    );
    properties.insert(
        "integrityStatus".into(),
        json!({ "type": "string", "enum": ["validated", "tainted", "unverified"] }),
    );
    schema["required"] = json!(["schemas", "integrityStatus"]);
    schema["description"] = json!("An audit record: who did what, when, and whether its signature holds");
    schema
}

/// A tenant's latest signed checkpoint.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckpointBody {
    /// The tenant's log: `<trail name>/<tenant>`.
    pub origin: String,
    /// Records in the tree.
    pub tree_size: u64,
    /// RFC 9162 root hash, base64.
    pub root_hash: String,
    /// The checkpoint as a C2SP signed note, exactly as signed.
    pub note: String,
    /// C2SP verifier keys of the tenant's log, one per published signing key.
    pub verifier_keys: Vec<String>,
}

/// Which tree a proof is for.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ProofOptions {
    /// The tree size, at most the latest checkpoint's (the default).
    pub tree_size: Option<u64>,
}

/// A record's inclusion proof.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InclusionBody {
    /// The record.
    pub id: String,
    /// Its sequence: it is leaf `sequence - 1`.
    pub sequence: u64,
    /// Its leaf index.
    pub leaf_index: u64,
    /// The tree's size.
    pub tree_size: u64,
    /// SHA-256 of 0x00 and the signed payload, base64.
    pub leaf_hash: String,
    /// RFC 9162 inclusion proof, base64 hashes, nearest the leaf first.
    pub audit_path: Vec<String>,
    /// The signed record (tokenized, as exported).
    pub jws: String,
    /// The signed note of the tree, when it is the latest checkpoint's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<String>,
}

/// The two trees of a consistency proof.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ConsistencyOptions {
    /// The older tree's size (one the caller saved a checkpoint of).
    pub first: Option<u64>,
    /// The newer tree's size, at most the latest checkpoint's (the default).
    pub second: Option<u64>,
}

/// A consistency proof between two trees of a tenant.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConsistencyBody {
    /// The older tree's size.
    pub first: u64,
    /// The newer tree's size.
    pub second: u64,
    /// RFC 9162 consistency proof, base64 hashes.
    pub proof: Vec<String>,
    /// The signed note of the newer tree, when it is the latest checkpoint's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<String>,
}

/// What a bundle holds: every record, or those of a `created` window with what proves
/// the window complete; consistency proofs from trees the caller saved.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BundleRequest {
    /// First instant of the window (RFC 3339), inclusive.
    pub from: Option<String>,
    /// End of the window (RFC 3339), exclusive.
    pub to: Option<String>,
    /// Sizes of trees the caller holds checkpoints of (at most 16): the bundle proves
    /// its tree extends each.
    #[serde(default)]
    pub known_sizes: Vec<u64>,
}

/// The trail's name, public.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrailBody {
    /// Tenant `T`'s checkpoints are the C2SP log `<trailName>/T`.
    pub trail_name: String,
}
