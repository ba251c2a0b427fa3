//! The vault's service API on the wire: what the tokenizer and the query-api send and
//! receive. The vault serves it; [`client`] calls it.
//!
//! Every call is batched, so a pipeline batch costs one round trip whatever its size.
//! These types carry clear values: they are never logged (no `Debug` on values).

#![warn(missing_docs)]

pub mod client;

use serde::{Deserialize, Serialize};

/// Path of the batched tokenize call.
pub const TOKENIZE_PATH: &str = "/v1/tokenize";
/// Path of the batched find call: the tokens many tenants' values have already.
pub const FIND_PATH: &str = "/v1/find";
/// Path of the value-to-token lookup (search by clear value).
pub const LOOKUP_PATH: &str = "/v1/lookup";
/// Path of the batched detokenize call.
pub const DETOKENIZE_PATH: &str = "/v1/detokenize";
/// Path of the pattern match on clear values (search by pattern).
pub const MATCH_PATH: &str = "/v1/match";
/// Path of the erasure counts: a tokenizer forgets a tenant's cached tokens when its
/// count moves.
pub const ERASURES_PATH: &str = "/v1/erasures";

/// `POST /v1/erasures`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErasuresRequest {
    /// Tenant ids.
    pub tenants: Vec<String>,
}

/// How many erasures each asked tenant had, in request order; a count never goes back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErasuresResponse {
    /// One count per asked tenant.
    pub counts: Vec<u64>,
}

/// The data subject a value belongs to.
#[derive(Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Owner {
    /// The subject's stable internal id (an event's `immutableId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The subject's external id (an event's user `id`); clear, kept only as a keyed index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ext_id: Option<String>,
}

/// Debug shows the internal id only: the external id is personal data.
impl std::fmt::Debug for Owner {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ext_id = self.ext_id.as_ref().map(|_| "<redacted>");
        formatter.debug_struct("Owner").field("id", &self.id).field("ext_id", &ext_id).finish()
    }
}

/// One clear value to tokenize.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenizeItem {
    /// The clear value.
    pub value: String,
    /// Whose value it is; the first owner of a value keeps it.
    #[serde(default)]
    pub owner: Owner,
}

/// The values of one tenant within a tokenize call.
#[derive(Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantValues {
    /// Tenant id.
    pub tenant: String,
    /// Values in request order.
    pub items: Vec<TokenizeItem>,
}

/// `POST /v1/tokenize`.
#[derive(Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenizeRequest {
    /// Per tenant, the values to tokenize.
    pub tenants: Vec<TenantValues>,
}

/// The tokens of one tenant, in the order of its items.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantTokens {
    /// Tenant id.
    pub tenant: String,
    /// One token per item.
    pub tokens: Vec<String>,
}

/// Answer to [`TokenizeRequest`], tenants in request order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenizeResponse {
    /// Per tenant, the tokens.
    pub tenants: Vec<TenantTokens>,
}

/// The tokens one tenant's values have already, in the order of its items; `None`
/// for a value never tokenized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantFound {
    /// Tenant id.
    pub tenant: String,
    /// One entry per item.
    pub tokens: Vec<Option<String>>,
}

/// `POST /v1/find` as a client sends it: the values of a [`TokenizeRequest`] without
/// their owners, which finding does not use, so the body is a third of the size. The
/// vault reads it as a [`TokenizeRequest`] whose owners are empty.
#[derive(Serialize)]
pub struct FindRequest<'a> {
    tenants: Vec<FindTenant<'a>>,
}

#[derive(Serialize)]
struct FindTenant<'a> {
    tenant: &'a str,
    items: Vec<FindItem<'a>>,
}

#[derive(Serialize)]
struct FindItem<'a> {
    value: &'a str,
}

impl<'a> From<&'a TokenizeRequest> for FindRequest<'a> {
    fn from(request: &'a TokenizeRequest) -> FindRequest<'a> {
        let tenant = |values: &'a TenantValues| FindTenant {
            tenant: &values.tenant,
            items: values.items.iter().map(|item| FindItem { value: &item.value }).collect(),
        };
        FindRequest { tenants: request.tenants.iter().map(tenant).collect() }
    }
}

/// Answer to a [`FindRequest`] sent to [`FIND_PATH`], tenants in request order:
/// the same values as a tokenize call, so the values found missing can be sent on
/// to be tokenized. Nothing is created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FindResponse {
    /// Per tenant, the tokens found.
    pub tenants: Vec<TenantFound>,
}

/// `POST /v1/lookup`: the tokens of clear values, without creating any.
#[derive(Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LookupRequest {
    /// Tenant id.
    pub tenant: String,
    /// Clear values.
    pub values: Vec<String>,
}

/// Answer to [`LookupRequest`]: a token per value, `None` for values never seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LookupResponse {
    /// Tokens in request order.
    pub tokens: Vec<Option<String>>,
}

/// Who a service detokenizes for, and why: it goes into the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Requester {
    /// The end user's subject (`sub` of their bearer token).
    pub subject: String,
    /// Why the values are revealed, e.g. `search`.
    pub reason: String,
}

/// `POST /v1/detokenize`.
#[derive(Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DetokenizeRequest {
    /// Tenant id.
    pub tenant: String,
    /// Tokens to reveal.
    pub tokens: Vec<String>,
    /// The user the calling service acts for.
    pub on_behalf_of: Requester,
}

/// What a token reveals.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", tag = "status")]
pub enum Revealed {
    /// The clear value.
    Value {
        /// The clear value.
        value: String,
    },
    /// The value's data subject was erased: the value is gone for good.
    Erased,
    /// Not a token of this tenant.
    Unknown,
}

/// Answer to [`DetokenizeRequest`]: one entry per token, in request order.
#[derive(Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DetokenizeResponse {
    /// What each token revealed.
    pub values: Vec<Revealed>,
}

/// How a [`MatchRequest`] compares each clear value with its operand. Comparisons are
/// case-sensitive and byte-wise; only [`MatchOp::Eq`] knows wildcards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MatchOp {
    /// The whole value; each `*` in the operand stands for any run of characters.
    Eq,
    /// Starts with the operand.
    Sw,
    /// Ends with the operand.
    Ew,
    /// Contains the operand.
    Co,
    /// Greater than the operand.
    Gt,
    /// Greater than or equal to the operand.
    Ge,
    /// Less than the operand.
    Lt,
    /// Less than or equal to the operand.
    Le,
}

/// `POST /v1/match`: the tokens of the tenant's values that match a condition. The
/// vault decrypts the tenant's values to answer, so it refuses tenants with more
/// values than it will scan and conditions matching more than `limit` values.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MatchRequest {
    /// Tenant id.
    pub tenant: String,
    /// How values are compared with `value`.
    pub op: MatchOp,
    /// The operand (clear, personal data).
    pub value: String,
    /// Most tokens wanted; more matches are an error. The vault caps it.
    pub limit: usize,
}

/// Debug hides the operand: a pattern is as personal as the values it matches.
impl std::fmt::Debug for MatchRequest {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("MatchRequest")
            .field("tenant", &self.tenant)
            .field("op", &self.op)
            .field("value", &"<redacted>")
            .field("limit", &self.limit)
            .finish()
    }
}

/// Answer to [`MatchRequest`]: the matching tokens, sorted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MatchResponse {
    /// Tokens of the matching values, in ascending order.
    pub tokens: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn match_requests_are_camel_case_with_lowercase_ops() {
        let request = MatchRequest { tenant: "t1".into(), op: MatchOp::Sw, value: "alice".into(), limit: 10 };
        let wire = serde_json::to_value(&request).unwrap();
        assert_eq!(wire, serde_json::json!({"tenant": "t1", "op": "sw", "value": "alice", "limit": 10}));
        let ops = ["eq", "sw", "ew", "co", "gt", "ge", "lt", "le"];
        for op in ops {
            let parsed: MatchOp = serde_json::from_value(serde_json::json!(op)).unwrap();
            assert_eq!(serde_json::to_value(parsed).unwrap(), op);
        }
        assert!(serde_json::from_value::<MatchOp>(serde_json::json!("pr")).is_err());
    }

    #[test]
    fn a_find_request_is_a_tokenize_request_without_owners() {
        let owner = Owner { id: Some("12345".into()), ext_id: Some("anna@example.org".into()) };
        let item = |value: &str| TokenizeItem { value: value.into(), owner: owner.clone() };
        let request = TokenizeRequest {
            tenants: vec![
                TenantValues { tenant: "t1".into(), items: vec![item("anna"), item("10.0.0.1")] },
                TenantValues { tenant: "t2".into(), items: vec![item("anna")] },
            ],
        };
        let wire = serde_json::to_vec(&FindRequest::from(&request)).unwrap();
        assert!(!String::from_utf8_lossy(&wire).contains("anna@example.org"));
        let read: TokenizeRequest = serde_json::from_slice(&wire).unwrap();
        let values = |request: &TokenizeRequest| -> Vec<(String, Vec<String>)> {
            let items = |tenant: &TenantValues| tenant.items.iter().map(|item| item.value.clone()).collect();
            request.tenants.iter().map(|tenant| (tenant.tenant.clone(), items(tenant))).collect()
        };
        assert_eq!(values(&read), values(&request));
        assert!(
            read.tenants.iter().flat_map(|tenant| &tenant.items).all(|item| item.owner == Owner::default())
        );
    }

    #[test]
    fn match_requests_never_debug_their_operand() {
        let request =
            MatchRequest { tenant: "t1".into(), op: MatchOp::Eq, value: "*@secret.example".into(), limit: 1 };
        let debug = format!("{request:?}");
        assert!(!debug.contains("secret") && debug.contains("Eq"), "{debug}");
    }
}
