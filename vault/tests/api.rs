//! The vault as it runs in production: `run()` on a free port, against the embedded
//! broker for its access events, on SQLite and on PostgreSQL.

mod support;

use std::time::Duration;

use audit_auth::issuer::{Issuer, TokenSpec};
use audit_auth::service::ServiceCredential;
use audit_vault_api::{DetokenizeResponse, FindResponse, LookupResponse, TokenizeResponse};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{Vault, start};
use testkit::kafka::{ReadSpec, broker, kafka, read};

impl Vault {
    async fn call(&self, case: &Case) -> (StatusCode, Value) {
        let mut request = self.http.request(case.method.clone(), format!("{}{}", self.base, case.path));
        if let Some(authorization) = &case.authorization {
            request = request.header("authorization", authorization);
        }
        if let Some(body) = &case.body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn tokenize(&self, tenant: &str, items: Value) -> Vec<String> {
        let body = json!({"tenants": [{"tenant": tenant, "items": items}]});
        let response = self.post_service("/v1/tokenize", body).await;
        let parsed: TokenizeResponse = serde_json::from_value(response).unwrap();
        parsed.tenants[0].tokens.clone()
    }

    async fn post_service(&self, path: &str, body: Value) -> Value {
        let case = Case::new(Method::POST, path, Some(self.service.authorization()), Some(body));
        let (status, body) = self.call(&case).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        body
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.server.await.unwrap().unwrap();
    }
}

/// One request and what must come back.
struct Case {
    method: Method,
    path: String,
    authorization: Option<String>,
    body: Option<Value>,
}

impl Case {
    fn new(method: Method, path: &str, authorization: Option<String>, body: Option<Value>) -> Case {
        Case { method, path: path.to_owned(), authorization, body }
    }
}

/// Runs `(name, request, expected status, text the body must contain)` cases.
async fn check(vault: &Vault, cases: Vec<(&str, Case, StatusCode, &str)>) {
    for (name, case, status, contains) in cases {
        let (found, body) = vault.call(&case).await;
        assert_eq!(found, status, "{name}: {body}");
        assert!(body.to_string().contains(contains), "{name}: {body} lacks {contains}");
    }
}

#[tokio::test]
async fn nothing_is_answered_without_the_right_credentials() {
    let (broker, _broker_dir) = broker().await;
    let vault = start(None, &broker.bootstrap(), "tokenizer").await;
    let tokens = vault.tokenize("t1", json!([{"value": "admin@company.com"}])).await;
    let get = format!("/scim/t1/v2/TokensVault/{}", tokens[0]);
    let admin = Some(vault.bearer("t1", &["ORG_ADMIN"]));
    let stranger = Issuer::generate().mint(&TokenSpec {
        subject: "x",
        tenant: "t1",
        roles: &["ORG_ADMIN".into()],
        ttl_seconds: 60,
    });
    let impostor: ServiceCredential = "tokenizer:not-the-real-secret-at-all".parse().unwrap();
    let search = json!({"filter": "value eq admin@company.com"});
    let lookup = json!({"tenant": "t1", "values": ["admin@company.com"]});
    let tokenize = json!({"tenants": [{"tenant": "t1", "items": [{"value": "admin@company.com"}]}]});
    let reveal = json!({"tenant": "t1", "tokens": tokens, "onBehalfOf": {"subject": "a", "reason": "b"}});
    let cases = vec![
        (
            "admin reads",
            Case::new(Method::GET, &get, admin.clone(), None),
            StatusCode::OK,
            "admin@company.com",
        ),
        (
            "no token",
            Case::new(Method::GET, &get, None, None),
            StatusCode::UNAUTHORIZED,
            "authentication required",
        ),
        (
            "garbage",
            Case::new(Method::GET, &get, Some("Bearer x.y.z".into()), None),
            StatusCode::UNAUTHORIZED,
            "urn:ietf:params:scim:api:messages:2.0:Error",
        ),
        (
            "foreign key",
            Case::new(Method::GET, &get, Some(format!("Bearer {stranger}")), None),
            StatusCode::UNAUTHORIZED,
            "401",
        ),
        (
            "wrong tenant",
            Case::new(Method::GET, &get, Some(vault.bearer("t2", &["ORG_ADMIN"])), None),
            StatusCode::FORBIDDEN,
            "tenant",
        ),
        (
            "other tenant's path",
            Case::new(Method::GET, &get.replace("/t1/", "/t2/"), admin.clone(), None),
            StatusCode::FORBIDDEN,
            "tenant",
        ),
        (
            "a tenant the trail cannot name: no access happens in it",
            Case::new(
                Method::POST,
                "/scim/t.1/v2/TokensVault/.erase",
                Some(vault.bearer("t.1", &["ORG_ADMIN"])),
                Some(json!({"ownerId": "11092"})),
            ),
            StatusCode::BAD_REQUEST,
            "invalidValue",
        ),
        (
            "unprivileged",
            Case::new(Method::GET, &get, Some(vault.bearer("t1", &["USER"])), None),
            StatusCode::FORBIDDEN,
            "privileged",
        ),
        (
            "m2m searches",
            Case::new(
                Method::POST,
                "/scim/t1/v2/TokensVault/.search",
                Some(vault.bearer("t1", &["M2M_CLIENT"])),
                Some(search.clone()),
            ),
            StatusCode::OK,
            &tokens[0],
        ),
        (
            "search unauthenticated",
            Case::new(Method::POST, "/scim/t1/v2/TokensVault/.search", None, Some(search)),
            StatusCode::UNAUTHORIZED,
            "",
        ),
        (
            "erase unprivileged",
            Case::new(
                Method::POST,
                "/scim/t1/v2/TokensVault/.erase",
                Some(vault.bearer("t1", &["USER"])),
                Some(json!({"ownerId": "1"})),
            ),
            StatusCode::FORBIDDEN,
            "",
        ),
        (
            "service without credentials",
            Case::new(Method::POST, "/v1/lookup", None, Some(lookup.clone())),
            StatusCode::UNAUTHORIZED,
            "",
        ),
        (
            "find without credentials",
            Case::new(Method::POST, "/v1/find", None, Some(json!({"tenants": []}))),
            StatusCode::UNAUTHORIZED,
            "",
        ),
        (
            "service with a user token",
            Case::new(Method::POST, "/v1/lookup", admin.clone(), Some(lookup.clone())),
            StatusCode::UNAUTHORIZED,
            "",
        ),
        (
            "service with a wrong secret",
            Case::new(
                Method::POST,
                "/v1/detokenize",
                Some(impostor.authorization()),
                Some(
                    json!({"tenant": "t1", "tokens": tokens, "onBehalfOf": {"subject": "a", "reason": "b"}}),
                ),
            ),
            StatusCode::UNAUTHORIZED,
            "",
        ),
        (
            "the tokenizer's credential tokenizes",
            Case::new(
                Method::POST,
                "/v1/tokenize",
                Some(vault.scoped[0].authorization()),
                Some(tokenize.clone()),
            ),
            StatusCode::OK,
            &tokens[0],
        ),
        (
            "the tokenizer's credential reveals nothing",
            Case::new(
                Method::POST,
                "/v1/detokenize",
                Some(vault.scoped[0].authorization()),
                Some(reveal.clone()),
            ),
            StatusCode::FORBIDDEN,
            "may not call /v1/detokenize",
        ),
        (
            "the query-api's credential looks up",
            Case::new(
                Method::POST,
                "/v1/lookup",
                Some(vault.scoped[1].authorization()),
                Some(lookup.clone()),
            ),
            StatusCode::OK,
            &tokens[0],
        ),
        (
            "the query-api's credential mints no token",
            Case::new(Method::POST, "/v1/tokenize", Some(vault.scoped[1].authorization()), Some(tokenize)),
            StatusCode::FORBIDDEN,
            "may not call /v1/tokenize",
        ),
        (
            "a body over the limit is a SCIM error",
            Case::new(
                Method::POST,
                "/v1/tokenize",
                Some(vault.service.authorization()),
                Some(json!({"tenants": [{"tenant": "t1", "items": [{"value": "x".repeat(5 << 20)}]}]})),
            ),
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body larger than 4194304 bytes",
        ),
        ("health is open", Case::new(Method::GET, "/healthz", None, None), StatusCode::OK, "ready"),
        (
            "metrics are open",
            Case::new(Method::GET, "/metrics", None, None),
            StatusCode::OK,
            "vault_requests_total",
        ),
    ];
    check(&vault, cases).await;
    let (_, metrics) = vault.call(&Case::new(Method::GET, "/metrics", None, None)).await;
    assert!(!metrics.to_string().contains("admin@company.com"), "no clear value in metrics");
    vault.stop().await;
}

async fn tokens_search_erasure_and_access_events(database: Option<String>) {
    let (broker, _broker_dir) = broker().await;
    let vault = start(database, &broker.bootstrap(), "tokenizer").await;
    let admin = Some(vault.bearer("t1", &["ORG_ADMIN"]));
    let subject = json!({"id": "11092", "extId": "admin@company.com"});
    let tokens = vault
        .tokenize(
            "t1",
            json!([
                {"value": "admin@company.com", "owner": subject},
                {"value": "10.7.252.38", "owner": subject},
                {"value": "bob@company.com", "owner": {"id": "200"}},
            ]),
        )
        .await;
    found_tokens_are_the_created_ones_and_finding_creates_nothing(&vault, &tokens).await;
    let search = |filter: &str, count: u64, start: u64| {
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": filter, "count": count, "startIndex": start});
        Case::new(Method::POST, "/scim/t1/v2/TokensVault/.search", admin.clone(), Some(body))
    };
    let get = |token: &str| {
        Case::new(Method::GET, &format!("/scim/t1/v2/TokensVault/{token}"), admin.clone(), None)
    };
    let erase = Case::new(
        Method::POST,
        "/scim/t1/v2/TokensVault/.erase",
        admin.clone(),
        Some(json!({"ownerId": "11092"})),
    );
    let cases = vec![
        (
            "get",
            get(&tokens[0]),
            StatusCode::OK,
            r#""schemas":["urn:hid:scim:api:idp:2.0:PseudonymizationToken"]"#,
        ),
        ("unknown token", get("00000000-0000-4000-8000-000000000000"), StatusCode::NOT_FOUND, "not found"),
        ("by value", search("value eq \"10.7.252.38\"", 10, 1), StatusCode::OK, &tokens[1]),
        ("by owner, paged", search("ownerId eq 11092", 1, 2), StatusCode::OK, r#""totalResults":2"#),
        (
            "by owner ext id and token",
            search(&format!("ownerExtId eq \"admin@company.com\" and token eq {}", tokens[0]), 10, 0),
            StatusCode::OK,
            r#""totalResults":1"#,
        ),
        ("count capped", search("ownerId eq 200", 1000, 1), StatusCode::OK, "bob@company.com"),
        ("bad filter", search("value co admin", 10, 1), StatusCode::BAD_REQUEST, "invalidFilter"),
        (
            "bad body",
            Case::new(
                Method::POST,
                "/scim/t1/v2/TokensVault/.search",
                admin.clone(),
                Some(json!({"count": "ten"})),
            ),
            StatusCode::BAD_REQUEST,
            "invalidSyntax",
        ),
        ("erase", erase, StatusCode::OK, r#""erased":2"#),
        ("erased value", get(&tokens[0]), StatusCode::GONE, "erased"),
        ("other subject untouched", get(&tokens[2]), StatusCode::OK, "bob@company.com"),
        ("erased in search", search("ownerId eq 11092", 10, 1), StatusCode::OK, r#""erased":true"#),
    ];
    check(&vault, cases).await;

    let lookup: LookupResponse = serde_json::from_value(
        vault
            .post_service(
                "/v1/lookup",
                json!({"tenant": "t1", "values": ["bob@company.com", "admin@company.com"]}),
            )
            .await,
    )
    .unwrap();
    assert_eq!(
        lookup.tokens,
        vec![Some(tokens[2].clone()), None],
        "an erased value no longer finds its token"
    );
    let body = json!({"tenant": "t1", "tokens": tokens, "onBehalfOf": {"subject": "carol@corp", "reason": "search"}});
    let revealed: DetokenizeResponse =
        serde_json::from_value(vault.post_service("/v1/detokenize", body).await).unwrap();
    let statuses: Vec<Value> =
        revealed.values.iter().map(|value| serde_json::to_value(value).unwrap()["status"].clone()).collect();
    assert_eq!(statuses, vec![json!("erased"), json!("erased"), json!("value")]);

    let events = access_events(&broker).await;
    let summary: Vec<(String, String, String)> = events
        .iter()
        .map(|event| {
            let name = event["action"]["actionName"].as_str().unwrap().to_owned();
            let count = event["action"]["actionParameters"]["CNT"].as_str().unwrap().to_owned();
            (name, count, event["actingUserId"]["id"].as_str().unwrap().to_owned())
        })
        .collect();
    let expected = [
        ("detokenizeTokens", "1", "auditor@corp"), // get
        ("detokenizeTokens", "1", "auditor@corp"), // by value
        ("detokenizeTokens", "1", "auditor@corp"), // by owner, paged
        ("detokenizeTokens", "1", "auditor@corp"), // by owner ext id and token
        ("detokenizeTokens", "1", "auditor@corp"), // count capped
        ("eraseDataSubject", "2", "auditor@corp"),
        ("detokenizeTokens", "1", "auditor@corp"), // other subject untouched
        ("detokenizeTokens", "1", "carol@corp"),   // the service, for carol
    ];
    let expected: Vec<(String, String, String)> =
        expected.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())).collect();
    assert_eq!(summary, expected);
    assert_eq!(events[7]["action"]["actionParameters"]["CLI"], "tokenizer");
    let raw = serde_json::to_string(&events).unwrap();
    assert!(!raw.contains("admin@company.com") && !raw.contains("bob@company.com"), "events carry no values");
    vault.stop().await;
}

async fn found_tokens_are_the_created_ones_and_finding_creates_nothing(vault: &Vault, tokens: &[String]) {
    let body = json!({"tenants": [
        {"tenant": "t1", "items": [{"value": "bob@company.com"}, {"value": "new@company.com"}]},
        {"tenant": "t2", "items": [{"value": "bob@company.com"}]},
    ]});
    for attempt in ["first", "second"] {
        let found: FindResponse =
            serde_json::from_value(vault.post_service("/v1/find", body.clone()).await).unwrap();
        let tokens_found: Vec<Vec<Option<String>>> =
            found.tenants.into_iter().map(|tenant| tenant.tokens).collect();
        assert_eq!(tokens_found, [vec![Some(tokens[2].clone()), None], vec![None]], "{attempt} find");
    }
}

async fn access_events(broker: &audit_broker::EmbeddedBroker) -> Vec<Value> {
    let spec = ReadSpec {
        topic: "audit.raw",
        expected: 8,
        settle: Duration::from_millis(500),
        timeout: Duration::from_secs(30),
    };
    let mut read = read(&kafka(broker), spec).await;
    read.sort_by_key(|message| (message.partition, message.offset));
    read.iter().map(|message| serde_json::from_slice(&message.payload).unwrap()).collect()
}

#[tokio::test]
async fn tokens_search_erasure_and_access_events_on_sqlite() {
    tokens_search_erasure_and_access_events(None).await;
}

#[tokio::test]
async fn tokens_search_erasure_and_access_events_on_postgres() {
    tokens_search_erasure_and_access_events(Some(testkit::postgres::fresh_database().await)).await;
}

/// Fail closed: with the broker gone, a detokenization is refused (503) rather than
/// answered without its access event, and the refusal reveals nothing.
#[tokio::test]
async fn nothing_is_revealed_when_the_access_event_cannot_be_recorded() {
    let (broker, _broker_dir) = broker().await;
    let vault = start(None, &broker.bootstrap(), "query-api").await;
    let tokens = vault.tokenize("t1", json!([{"value": "admin@company.com"}])).await;
    let body = json!({"tenant": "t1", "tokens": tokens, "onBehalfOf": {"subject": "a", "reason": "b"}});
    let case = Case::new(Method::POST, "/v1/detokenize", Some(vault.service.authorization()), Some(body));
    assert_eq!(vault.call(&case).await.0, StatusCode::OK, "answered while the broker is up");
    broker.stop().await;
    let (status, answer) = vault.call(&case).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
    assert!(!answer.to_string().contains("admin@company.com"), "the refusal reveals nothing");
    vault.stop().await;
}
