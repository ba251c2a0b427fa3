//! The trail records its own reads: every reveal of clear values (searches of users
//! with ordinary and hostile token subjects, a read of one token at the vault) and
//! every erasure reaches the signed trail, searchable and validated in the tenant,
//! and nothing of it reaches the DLQ. An erased subject's records stay `validated` in
//! search and export, its tokens answer as erased, and the same value arriving after
//! the erasure gets a new token the tokenizer does not take from its cache.

mod support;

use std::time::{Duration, Instant};

use audit_integrity::export::{ChainMode, ExportCheck, verify_export};
use audit_integrity::{PublicKeys, Verifier};
use serde_json::{Value, json};
use support::stack::Stack;

const TENANT: &str = "treads";
const EVENTS: usize = 20;

/// Event `n` of the tenant: user `n % 4` created, the same four people throughout.
fn event(n: usize, created: &str) -> Vec<u8> {
    let subject = n % 4;
    let event = json!({
        "tenantId": TENANT,
        "created": created,
        "eventId": format!("reads-{n}-{created}"),
        "id": "IDP-test",
        "action": {"actionName": "createUser", "actionParameters": {"ATC": "AT_STDPWD"}},
        "result": "RESPONSE_SUCCESS",
        "targetUserId": {"id": format!("person{subject}@reads.example"), "immutableId": subject.to_string()},
    });
    serde_json::to_vec(&event).unwrap()
}

async fn produce(stack: &Stack, range: std::ops::Range<usize>) {
    let created = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let messages: Vec<(Option<Vec<u8>>, Vec<u8>)> = range.map(|n| (None, event(n, &created))).collect();
    testkit::kafka::produce(&stack.kafka, "audit.raw", &messages).await;
}

struct Client<'a> {
    stack: &'a Stack,
    http: reqwest::Client,
}

impl Client<'_> {
    /// A search of the tenant as `subject`: the ListResponse, or `None` while the
    /// query-api is not up.
    async fn search(&self, subject: &str, body: Value) -> Option<Value> {
        let url = format!("http://{}/scim/{TENANT}/v2/AuditRecords/.search", self.stack.query_listen);
        let request = self.http.post(url).bearer_auth(self.stack.token_of(TENANT, subject)).json(&body);
        let response = request.send().await.ok()?;
        response.status().is_success().then_some(())?;
        response.json().await.ok()
    }

    /// Waits until `filter` counts `total` records (searched without revealing).
    async fn wait_for(&self, filter: &str, total: usize) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut last = Value::Null;
        while Instant::now() < deadline {
            let body = json!({"filter": filter, "count": 100, "detokenize": false});
            if let Some(found) = self.search("e2e", body).await {
                if found["totalResults"] == total {
                    return found;
                }
                last = found["totalResults"].clone();
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!("{filter}: {total} records never searchable (last {last})");
    }

    async fn vault(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}/scim/{TENANT}/v2/TokensVault/{path}", self.stack.vault_url());
        let mut request = self.http.request(method, url).bearer_auth(self.stack.token(TENANT));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_reveal_and_erasure_is_a_signed_record_and_an_erased_subject_stays_validated() {
    let data_dir = tempfile::tempdir().unwrap();
    let stack = Stack::start(data_dir.path()).await;
    let client = Client { stack: &stack, http: reqwest::Client::new() };
    produce(&stack, 0..EVENTS).await;
    client.wait_for("action.actionName eq \"createUser\"", EVENTS).await;
    let first = client.wait_for("targetUserId.immutableId eq \"1\"", EVENTS / 4).await;

    // Reveals by users whose token subjects the trail must hold whatever they are.
    let hostile = format!("robot\u{1}\"{}", "€".repeat(3_000));
    for subject in ["alice@corp.example", hostile.as_str(), "svc:reporting"] {
        let page =
            client.search(subject, json!({"filter": "targetUserId.immutableId eq \"2\"", "count": 3})).await;
        let page = page.expect("a reveal answered");
        assert_eq!(page["Resources"][0]["targetUserId"]["id"], "person2@reads.example", "{page}");
    }
    let token = first["Resources"][0]["targetUserId"]["id"].as_str().unwrap().to_owned();
    let (status, revealed) = client.vault(reqwest::Method::GET, &token, None).await;
    assert_eq!((status, revealed["value"].as_str()), (200, Some("person1@reads.example")));
    let (status, erased) = client.vault(reqwest::Method::POST, ".erase", Some(json!({"ownerId": "1"}))).await;
    assert_eq!(status, 200, "{erased}");

    let reveals = client.wait_for("action.actionName eq \"detokenizeTokens\" and verify eq true", 4).await;
    for record in reveals["Resources"].as_array().unwrap() {
        assert_eq!(record["integrityStatus"], "validated", "{record}");
    }
    let erasures = client.wait_for("action.actionName eq \"eraseDataSubject\" and verify eq true", 1).await;
    assert_eq!(erasures["Resources"][0]["integrityStatus"], "validated");
    assert_eq!(erasures["Resources"][0]["targetUserId"]["immutableId"], "1");
    let dead = testkit::kafka::read_topic(&stack.kafka, "audit.dlq", 0, Duration::from_secs(3)).await;
    assert!(dead.is_empty(), "nothing of the trail's own went to the DLQ: {} messages", dead.len());

    erased_subject_stays_validated(&client, &token).await;
    stack.stop().await;
}

/// Subject 1's records: validated in search and export, its token erased at the
/// vault; its value arriving again gets a new token that reveals.
async fn erased_subject_stays_validated(client: &Client<'_>, erased_token: &str) {
    let filter =
        "targetUserId.immutableId eq \"1\" and action.actionName eq \"createUser\" and verify eq true";
    let page = client.search("alice@corp.example", json!({"filter": filter, "count": 100})).await.unwrap();
    let records = page["Resources"].as_array().unwrap();
    assert_eq!(records.len(), EVENTS / 4);
    for record in records {
        assert_eq!(record["integrityStatus"], "validated", "{record}");
        assert_eq!(record["targetUserId"]["id"], erased_token, "the erased value stays a token");
    }
    let (status, answer) = client.vault(reqwest::Method::GET, erased_token, None).await;
    assert_eq!(status, 410, "the token answers as erased: {answer}");

    let url = format!("http://{}/scim/{TENANT}/v2/AuditRecords/.export", client.stack.query_listen);
    let response = client.http.post(url).bearer_auth(client.stack.token(TENANT)).send().await.unwrap();
    let export = response.text().await.unwrap();
    let keys = PublicKeys::from_jwks_file(&client.stack.data_dir.join("keys/signing/jwks.json")).unwrap();
    let report = verify_export(
        export.as_bytes(),
        &Verifier::new(keys),
        ExportCheck { chain: ChainMode::Check },
        |_| {},
    )
    .unwrap();
    assert!(report.is_clean(), "{report:?}");

    // The same person again after the erasure: a new token, not the cached one.
    produce(client.stack, 1..2).await;
    let again = client.wait_for("targetUserId.id eq \"person1@reads.example\"", 1).await;
    let token = again["Resources"][0]["targetUserId"]["id"].as_str().unwrap();
    assert_ne!(token, erased_token, "the tokenizer forgot the erased subject's token");
    let (status, revealed) = client.vault(reqwest::Method::GET, token, None).await;
    assert_eq!((status, revealed["value"].as_str()), (200, Some("person1@reads.example")));
}
