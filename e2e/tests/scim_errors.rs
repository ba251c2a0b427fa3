//! The vault and the query-api read filters with one grammar: a malformed filter gets
//! the same SCIM error from both, and no error repeats a value searched for, which may
//! be personal data.

mod query_support;

use serde_json::{Value, json};

/// Filters both must refuse alike, each with personal-looking values in it.
const MALFORMED: &[&str] = &[
    "value eq jane doe",
    r#"value eq "jane.doe@example.com"#,
    "value eq",
    "(value eq jane.doe@example.com",
    "value zz jane.doe@example.com",
    "value eq jane.doe@example.com and",
    "value[ eq jane ]",
];

/// Parts of the values above that must never appear in an error.
const SECRETS: &[&str] = &["jane", "doe", "example"];

async fn refusal(stack: &query_support::Stack, url: String, filter: &str) -> (u16, Value) {
    let body = json!({ "filter": filter });
    let response = stack.http.post(url).bearer_auth(stack.admin("t1")).json(&body).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_filter_gets_the_same_error_from_the_vault_and_the_query_api_and_no_value_back() {
    let stack = query_support::start().await;
    for filter in MALFORMED {
        let query = refusal(&stack, format!("{}/scim/t1/v2/AuditRecords/.search", stack.base), filter).await;
        let vault = refusal(&stack, format!("{}/scim/t1/v2/TokensVault/.search", stack.vault), filter).await;
        assert_eq!(query.0, 400, "{filter}: {query:?}");
        assert_eq!(query.1["scimType"], "invalidFilter", "{filter}: {query:?}");
        assert_eq!(
            (query.0, &query.1["scimType"], &query.1["detail"]),
            (vault.0, &vault.1["scimType"], &vault.1["detail"]),
            "{filter}"
        );
        for body in [&query.1, &vault.1] {
            let text = body.to_string();
            assert!(SECRETS.iter().all(|secret| !text.contains(secret)), "{filter}: {text}");
        }
    }
}
