//! The query-api and the vault against their own `/openapi.json`: both documents are
//! generated from the handlers, and every request a document allows, generated from
//! its schemas (seeded, `AUDIT_OPENAPI_SEED` replays one), gets an answer the document
//! describes.

mod query_support;

use std::collections::HashMap;

use serde_json::Value;
use testkit::openapi::Conformance;

/// Requests per operation.
const ROUNDS: usize = 60;

async fn document(stack: &query_support::Stack, base: &str) -> Value {
    let response = stack.http.get(format!("{base}/openapi.json")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    response.json().await.unwrap()
}

fn seed() -> u64 {
    let seed = std::env::var("AUDIT_OPENAPI_SEED").ok().and_then(|seed| seed.parse().ok());
    let seed = seed.unwrap_or_else(rand::random);
    println!("AUDIT_OPENAPI_SEED={seed}");
    seed
}

/// Values the generated requests draw on, so many of them find something.
fn strings(stack: &query_support::Stack) -> Vec<String> {
    let mut strings = Vec::new();
    for clear in stack.of("t1").into_iter().take(5) {
        strings.push(clear.target().to_owned());
        strings.push(format!("targetUserId.id eq \"{}\"", clear.target()));
        strings.push(format!(
            "action.actionName eq \"{}\" and result eq \"{}\"",
            clear.action(),
            clear.result()
        ));
        strings.push(format!("value eq \"{}\"", clear.target()));
    }
    strings.extend(["created gt \"2023-01-01T00:00:00Z\"".to_owned(), "verify eq true".to_owned()]);
    strings
}

/// Tokens of `t1`'s target users, as the vault knows them.
async fn tokens(stack: &query_support::Stack) -> Vec<String> {
    let values: Vec<String> = stack.of("t1").iter().take(5).map(|clear| clear.target().to_owned()).collect();
    let vault = audit_vault_api::client::VaultClient::new(&stack.vault, &stack.credential);
    let request = audit_vault_api::LookupRequest { tenant: "t1".into(), values };
    vault.lookup(&request).await.unwrap().tokens.into_iter().flatten().collect()
}

fn assert_conforms(service: &str, report: testkit::openapi::Report) {
    for (operation, statuses) in &report.statuses {
        println!("{service} {operation}: {statuses:?}");
        assert!(
            statuses.keys().any(|status| (200..300).contains(status)),
            "{service} {operation}: never succeeded"
        );
    }
    let failures = report.failures;
    for failure in failures.iter().take(10) {
        eprintln!("{service}: {failure:?}");
    }
    assert!(failures.is_empty(), "{service}: {} answers the document does not describe", failures.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_the_documents_allow_gets_an_answer_they_describe() {
    let stack = query_support::start().await;
    let seed = seed();
    let ids: Vec<String> = stack.of("t1").iter().take(5).map(|clear| clear.id().to_owned()).collect();
    let query = Conformance {
        base: stack.base.clone(),
        document: document(&stack, &stack.base).await,
        credentials: HashMap::from([("bearer".to_owned(), format!("Bearer {}", stack.admin("t1")))]),
        path_values: HashMap::from([("tenant".to_owned(), vec!["t1".to_owned()]), ("id".to_owned(), ids)]),
        strings: strings(&stack),
        rounds: ROUNDS,
        seed,
    };
    assert_conforms("query-api", query.check().await);

    let vault = Conformance {
        path_values: HashMap::from([
            ("tenant".to_owned(), vec!["t1".to_owned()]),
            ("token".to_owned(), tokens(&stack).await),
        ]),
        base: stack.vault.clone(),
        document: document(&stack, &stack.vault).await,
        credentials: HashMap::from([
            ("bearer".to_owned(), format!("Bearer {}", stack.admin("t1"))),
            ("basic".to_owned(), stack.credential.authorization()),
        ]),
        strings: strings(&stack),
        rounds: ROUNDS,
        seed,
    };
    assert_conforms("vault", vault.check().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documents_name_every_route_the_clients_call() {
    let stack = query_support::start().await;
    let vault = document(&stack, &stack.vault).await;
    for path in [
        audit_vault_api::TOKENIZE_PATH,
        audit_vault_api::FIND_PATH,
        audit_vault_api::LOOKUP_PATH,
        audit_vault_api::DETOKENIZE_PATH,
        audit_vault_api::MATCH_PATH,
    ] {
        assert!(vault["paths"][path]["post"].is_object(), "{path}");
    }
    let query = document(&stack, &stack.base).await;
    for path in ["/scim/{tenant}/v2/AuditRecords/.search", "/scim/{tenant}/v2/AuditRecords/.export"] {
        assert!(query["paths"][path]["post"].is_object(), "{path}");
    }
    for document in [&vault, &query] {
        assert_eq!(document["openapi"], "3.1.0");
        assert!(document["paths"]["/healthz"]["get"].is_object());
    }
}
