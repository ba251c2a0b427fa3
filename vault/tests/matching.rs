//! `/v1/match` through the running vault (`run()` on a free port, the embedded broker
//! for its access events), on SQLite and on PostgreSQL, called with the services'
//! own client.

mod support;

use std::time::Duration;

use audit_auth::service::ServiceCredential;
use audit_vault_api::client::{VaultClient, VaultClientError};
use audit_vault_api::{MATCH_PATH, MatchOp, MatchRequest, TokenizeResponse};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{Vault, start};
use testkit::kafka::{ReadSpec, broker, kafka, read};

/// Values of tenant `t1`, by index; the last one's subject is erased.
const T1: [&str; 6] = [
    "alice@x.com",
    "alicia@company.com",
    "bob@company.com",
    "a.b+c?@odd.example",
    "Zoë@bücher.example",
    "erased@company.com",
];
const ERASED_OWNER: &str = "9";

impl Vault {
    fn client(&self) -> VaultClient {
        VaultClient::new(&self.base, &self.service)
    }

    async fn tokenize(&self, tenant: &str, items: Value) -> Vec<String> {
        let body = json!({"tenants": [{"tenant": tenant, "items": items}]});
        let response = self.post("/v1/tokenize", Some(self.service.authorization()), &body).await;
        assert_eq!(response.0, StatusCode::OK, "{}", response.1);
        let parsed: TokenizeResponse = serde_json::from_value(response.1).unwrap();
        parsed.tenants[0].tokens.clone()
    }

    async fn erase(&self, tenant: &str, owner_id: &str) {
        let bearer = self.bearer(tenant, &["ORG_ADMIN"]);
        let path = format!("/scim/{tenant}/v2/TokensVault/.erase");
        let (status, body) = self.post(&path, Some(bearer), &json!({"ownerId": owner_id})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    async fn post(&self, path: &str, authorization: Option<String>, body: &Value) -> (StatusCode, Value) {
        let mut request = self.http.post(format!("{}{path}", self.base)).json(body);
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.server.await.unwrap().unwrap();
    }
}

fn request(tenant: &str, op: MatchOp, value: &str, limit: usize) -> MatchRequest {
    MatchRequest { tenant: tenant.into(), op, value: value.into(), limit }
}

/// The tokens of `T1` at `indexes`, sorted as the vault answers.
fn tokens_at(tokens: &[String], indexes: &[usize]) -> Vec<String> {
    let mut picked: Vec<String> = indexes.iter().map(|index| tokens[*index].clone()).collect();
    picked.sort();
    picked
}

/// `(op, operand, indexes into T1 of the values that match)`, after the erasure.
fn cases() -> Vec<(MatchOp, &'static str, Vec<usize>)> {
    vec![
        (MatchOp::Eq, "alice@x.com", vec![0]),
        (MatchOp::Eq, "*@company.com", vec![1, 2]),
        (MatchOp::Eq, "a*@*.com", vec![0, 1]),
        (MatchOp::Eq, "*", vec![0, 1, 2, 3, 4]),
        (MatchOp::Eq, "a.b+c?@*", vec![3]),
        (MatchOp::Eq, "a?b*", vec![]),
        (MatchOp::Eq, "carol@company.com", vec![]),
        (MatchOp::Sw, "ali", vec![0, 1]),
        (MatchOp::Ew, ".example", vec![3, 4]),
        (MatchOp::Co, "ü", vec![4]),
        (MatchOp::Co, "company", vec![1, 2]),
        (MatchOp::Gt, "b", vec![2]),
        (MatchOp::Ge, "bob@company.com", vec![2]),
        (MatchOp::Lt, "alicia", vec![0, 3, 4]),
        (MatchOp::Le, "Zoë@bücher.example", vec![4]),
    ]
}

async fn each_operator_finds_exactly_its_tenants_tokens(database: Option<String>) {
    let (broker, _broker_dir) = broker().await;
    let vault = start(database, &broker.bootstrap(), "query-api").await;
    let owners = ["1", "2", "3", "", "4", ERASED_OWNER];
    let items: Vec<Value> = T1
        .iter()
        .zip(owners)
        .map(|(value, owner)| match owner {
            "" => json!({"value": value}),
            owner => json!({"value": value, "owner": {"id": owner}}),
        })
        .collect();
    let t1 = vault.tokenize("t1", Value::Array(items)).await;
    let t2 = vault.tokenize("t2", json!([{"value": "alice@x.com"}, {"value": "carol@company.com"}])).await;
    let client = vault.client();
    let all = client.match_values(&request("t1", MatchOp::Eq, "*", 100)).await.unwrap();
    assert_eq!(all.tokens, tokens_at(&t1, &[0, 1, 2, 3, 4, 5]), "before the erasure");

    vault.erase("t1", ERASED_OWNER).await;
    for (op, operand, indexes) in cases() {
        let found = client.match_values(&request("t1", op, operand, 100)).await.unwrap();
        assert_eq!(found.tokens, tokens_at(&t1, &indexes), "{op:?} {operand}");
    }
    let elsewhere = client.match_values(&request("t2", MatchOp::Co, "alice", 100)).await.unwrap();
    assert_eq!(elsewhere.tokens, vec![t2[0].clone()], "another tenant's values never match");
    let unknown = client.match_values(&request("t9", MatchOp::Eq, "*", 100)).await.unwrap();
    assert!(unknown.tokens.is_empty());

    refusals(&vault).await;
    assert_only_the_erasure_was_recorded(&broker).await;
    vault.stop().await;
}

/// Too many matches and missing credentials are refused, without echoing the pattern.
async fn refusals(vault: &Vault) {
    let Err(error) = vault.client().match_values(&request("t1", MatchOp::Ew, "company.com", 1)).await else {
        panic!("two matches answered under a limit of one");
    };
    assert!(matches!(error, VaultClientError::Status { status: 400, .. }), "{error}");
    let body = serde_json::to_value(request("t1", MatchOp::Eq, "*@company.com", 1)).unwrap();
    let (status, answer) = vault.post(MATCH_PATH, Some(vault.service.authorization()), &body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["scimType"], "tooMany");
    assert_eq!(answer["detail"], "pattern matches more than 1 values: narrow it");
    assert!(!answer.to_string().contains("company.com"), "the pattern is not echoed: {answer}");

    let impostor: ServiceCredential = "query-api:not-the-real-secret-at-all".parse().unwrap();
    for authorization in [None, Some("Bearer x.y.z".to_owned()), Some(impostor.authorization())] {
        let (status, answer) = vault.post(MATCH_PATH, authorization.clone(), &body).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{authorization:?}: {answer}");
        assert!(answer.get("tokens").is_none());
    }
    let metrics = vault.http.get(format!("{}/metrics", vault.base)).send().await.unwrap();
    let metrics = metrics.text().await.unwrap();
    assert!(metrics.contains(r#"vault_requests_total{endpoint="match",outcome="2xx"}"#), "{metrics}");
    assert!(metrics.contains(r#"vault_requests_total{endpoint="match",outcome="4xx"}"#));
    assert!(metrics.contains(r#"vault_values_total{operation="match"}"#));
    assert!(T1.iter().all(|value| !metrics.contains(value)), "no clear value in metrics");
}

/// A match answers tokens, not values: the erasure is the one access on record.
async fn assert_only_the_erasure_was_recorded(broker: &audit_broker::EmbeddedBroker) {
    let spec = ReadSpec {
        topic: "audit.raw",
        expected: 1,
        settle: Duration::from_millis(500),
        timeout: Duration::from_secs(30),
    };
    let events = read(&kafka(broker), spec).await;
    let names: Vec<String> = events
        .iter()
        .map(|message| serde_json::from_slice::<Value>(&message.payload).unwrap())
        .map(|event| event["action"]["actionName"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(names, vec!["eraseDataSubject".to_owned()]);
}

#[tokio::test]
async fn each_operator_finds_exactly_its_tenants_tokens_on_sqlite() {
    each_operator_finds_exactly_its_tenants_tokens(None).await;
}

#[tokio::test]
async fn each_operator_finds_exactly_its_tenants_tokens_on_postgres() {
    each_operator_finds_exactly_its_tenants_tokens(Some(testkit::postgres::fresh_database().await)).await;
}
