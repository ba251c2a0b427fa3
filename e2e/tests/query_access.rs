//! Who may read what: the auth matrix on every endpoint, tenant isolation by search and
//! by id, reads by id and by query string, the public endpoints, and a record edited
//! inside the index coming back `tainted`.

mod query_support;
use query_support as support;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{Value, json};
use support::Stack;

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

fn claims(overrides: Value) -> Value {
    let mut claims = json!({
        "iss": "audit-trail-local", "aud": "audit-trail", "sub": "auditor@corp", "tenant": "t1",
        "roles": ["ORG_ADMIN"], "iat": now(), "exp": now() + 300,
    });
    for (name, value) in overrides.as_object().unwrap() {
        claims[name] = value.clone();
    }
    claims
}

/// (what, Authorization header or none, expected status).
fn matrix(stack: &Stack) -> Vec<(&'static str, Option<String>, u16)> {
    let signed = |overrides: Value| Some(format!("Bearer {}", stack.issuer.sign(&claims(overrides))));
    let jwks = serde_json::to_value(stack.issuer.jwks()).unwrap();
    let x = URL_SAFE_NO_PAD.decode(jwks["keys"][0]["x"].as_str().unwrap()).unwrap();
    let mut confused = Header::new(Algorithm::HS256);
    confused.kid = jwks["keys"][0]["kid"].as_str().map(str::to_owned);
    let hs256 = jsonwebtoken::encode(&confused, &claims(json!({})), &EncodingKey::from_secret(&x)).unwrap();
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims(json!({})).to_string())
    );
    let good = stack.issuer.sign(&claims(json!({})));
    let (head, _) = good.rsplit_once('.').unwrap();
    let forged = format!("{head}.{}", URL_SAFE_NO_PAD.encode([7u8; 64]));
    vec![
        ("no token", None, 401),
        ("malformed header", Some("Bearer".into()), 401),
        ("not a jwt", Some("Bearer not.a.jwt".into()), 401),
        ("basic scheme", Some("Basic dXNlcjpwYXNz".into()), 401),
        ("expired", signed(json!({"iat": now() - 7200, "exp": now() - 3600})), 401),
        ("not yet valid", signed(json!({"nbf": now() + 3600})), 401),
        ("bad signature", Some(format!("Bearer {forged}")), 401),
        ("alg none", Some(format!("Bearer {unsigned}")), 401),
        ("hs256 with the public key", Some(format!("Bearer {hs256}")), 401),
        ("wrong issuer", signed(json!({"iss": "someone-else"})), 401),
        ("wrong audience", signed(json!({"aud": "another-api"})), 401),
        ("wrong tenant", signed(json!({"tenant": "t2"})), 403),
        ("unprivileged role", signed(json!({"roles": ["END_USER"]})), 403),
        ("no roles", signed(json!({"roles": []})), 403),
        ("org admin", signed(json!({})), 200),
        ("m2m client", signed(json!({"roles": ["M2M_CLIENT"]})), 200),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_rules_hold_on_every_endpoint() {
    let stack = support::start().await;
    let record = stack.of("t1")[0].id().to_owned();
    let endpoints = [
        (Method::POST, "/scim/t1/v2/AuditRecords/.search".to_owned()),
        (Method::GET, "/scim/t1/v2/AuditRecords?filter=result%20eq%20RESPONSE_FAILURE".to_owned()),
        (Method::GET, format!("/scim/t1/v2/AuditRecords/{record}")),
    ];
    for (method, path) in &endpoints {
        for (what, authorization, expected) in matrix(&stack) {
            let mut request = stack.http.request(method.clone(), format!("{}{path}", stack.base));
            if let Some(authorization) = authorization {
                request = request.header("authorization", authorization);
            }
            if method == Method::POST {
                request = request.header("content-type", "application/scim+json").body(r#"{"count":1}"#);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status().as_u16(), expected, "{what} on {method} {path}");
            if expected == 401 {
                assert_eq!(response.headers()["www-authenticate"], "Bearer", "{what}");
            }
            let body: Value = response.json().await.unwrap();
            if expected != 200 {
                assert_eq!(body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error", "{what}");
            }
        }
    }
    for public in ["/.well-known/jwks.json", "/openapi.json", "/healthz", "/metrics"] {
        let response = stack.http.get(format!("{}{public}", stack.base)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{public} needs no token");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_never_see_each_other() {
    let stack = support::start().await;
    let search =
        |tenant: &'static str, filter: String| stack.search(tenant, json!({"filter": filter, "count": 100}));
    let t2 = search("t2", String::new()).await;
    assert_eq!(t2["totalResults"], stack.of("t2").len());
    assert!(t2["Resources"].as_array().unwrap().iter().all(|resource| resource["tenantId"] == "t2"));
    let t1_id = stack.of("t1")[0].id().to_owned();
    for filter in [
        format!("id eq \"{t1_id}\""),
        "tenantId eq t1".into(),
        "targetUserId.id eq \"user1@company.com\" and tenantId pr".into(),
    ] {
        let leaked = search("t2", filter.clone()).await;
        let ids: Vec<&str> =
            leaked["Resources"].as_array().unwrap().iter().filter_map(|r| r["id"].as_str()).collect();
        assert!(ids.iter().all(|id| id.starts_with("t2-")), "{filter}: {ids:?}");
    }
    let by_id = stack.get_record("t2", &t1_id).await;
    assert_eq!(by_id.status(), 404, "another tenant's record is not found");
    let own = stack.get_record("t1", &t1_id).await;
    assert_eq!(own.status(), 200);
    let record: Value = own.json().await.unwrap();
    assert_eq!(record["integrityStatus"], "validated");
    assert_eq!(record["targetUserId"]["id"], stack.of("t1")[0].target(), "detokenized");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_edited_in_the_index_is_tainted() {
    let stack = support::start().await;
    let victim = stack.of("t1")[3].id().to_owned();
    tamper(&stack, &victim).await;
    let body = json!({ "filter": "verify eq true", "count": 100 });
    let mut statuses: Vec<(String, String)> = Vec::new();
    // The query-api sees the edit once its reader reloads on the commit.
    for _ in 0..100 {
        let page = stack.search("t1", body.clone()).await;
        let resources = page["Resources"].as_array().unwrap();
        statuses = resources
            .iter()
            .map(|r| (r["id"].as_str().unwrap_or("?").into(), r["integrityStatus"].as_str().unwrap().into()))
            .collect();
        if statuses.iter().any(|(_, status)| status == "tainted") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for (id, status) in &statuses {
        let expected = if *id == victim { "tainted" } else { "validated" };
        assert_eq!(status, expected, "{id}");
    }
    assert!(statuses.iter().any(|(id, _)| *id == victim), "the edited record is still found");
    let unverified = stack.search("t1", json!({"count": 1})).await;
    assert_eq!(unverified["Resources"][0]["integrityStatus"], "unverified");
}

/// Writes to the signed topic a forgery of record `id`: its payload says
/// `RESPONSE_SUCCESS` where it said `RESPONSE_FAILURE` (or the reverse), its signature
/// unchanged. The indexer takes it in place of the original (same id).
async fn tamper(stack: &Stack, id: &str) {
    let found = stack.get_record("t1", id).await;
    assert_eq!(found.status(), 200);
    let export = stack.export("t1").await;
    let line = export.lines().find(|line| line.contains(id)).expect("the record is exported");
    let line: Value = serde_json::from_str(line).unwrap();
    let jws = line["jws"].as_str().unwrap();
    let mut parts: Vec<String> = jws.split('.').map(str::to_owned).collect();
    let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
    let edited = if payload.contains("RESPONSE_FAILURE") {
        payload.replace("RESPONSE_FAILURE", "RESPONSE_SUCCESS")
    } else {
        payload.replace("RESPONSE_SUCCESS", "RESPONSE_FAILURE")
    };
    parts[1] = URL_SAFE_NO_PAD.encode(&edited);
    let fields: Value = serde_json::from_str(&edited).unwrap();
    let envelope = audit_schemas::SignedRecord {
        tenant_id: "t1".into(),
        id: id.to_owned(),
        created: fields["created"].as_i64().unwrap(),
        sequence: fields["sequence"].as_i64().unwrap(),
        jws: parts.join("."),
        tree_hashes: Vec::new(),
    };
    let place = stack.records.iter().position(|clear| clear.id() == id).unwrap();
    support::dataset::publish(&stack.kafka, &[envelope], place).await;
}
