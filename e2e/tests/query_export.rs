//! Exports through the API: a tenant's signed records as JSON lines in chain order,
//! which the offline check accepts whole; a filter narrows them; nothing of another
//! tenant comes along.

mod query_support;
use query_support as support;

use audit_integrity::PublicKeys;
use audit_integrity::Verifier;
use audit_integrity::export::{ChainMode, ExportCheck, ExportLine, verify_export};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_is_the_whole_chain_and_verifies_offline() {
    let stack = support::start().await;
    let export = |tenant: &'static str, body: Value| {
        let stack = &stack;
        async move {
            let url = format!("{}/scim/{tenant}/v2/AuditRecords/.export", stack.base);
            let response =
                stack.http.post(url).bearer_auth(stack.admin(tenant)).json(&body).send().await.unwrap();
            assert_eq!(response.status(), 200);
            assert_eq!(response.headers()["content-type"], "application/x-ndjson");
            let count: usize = response.headers()["x-audit-export-count"].to_str().unwrap().parse().unwrap();
            let text = response.text().await.unwrap();
            assert_eq!(text.lines().count(), count);
            text
        }
    };
    let whole = export("t1", json!({})).await;
    let lines: Vec<ExportLine<Value>> =
        whole.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    let sequences: Vec<i64> = lines.iter().map(|line| line.sequence).collect();
    assert_eq!(
        sequences,
        (1..=stack.of("t1").len() as i64).collect::<Vec<_>>(),
        "chain order, nothing missing"
    );
    assert!(lines.iter().all(|line| line.tenant_id == "t1" && line.record.is_none()));

    let keys = PublicKeys::from_jwks_file(&stack.signing_jwks).unwrap();
    let report = verify_export(
        whole.as_bytes(),
        &Verifier::new(keys),
        ExportCheck { chain: ChainMode::Check },
        |_| {},
    )
    .unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.chain.as_ref().map(|chain| chain.tenants), Some(1), "{report:?}");
    assert_eq!(report.validated, stack.of("t1").len() as u64);

    let failures = export("t1", json!({"filter": "result eq RESPONSE_FAILURE"})).await;
    let expected = stack.of("t1").iter().filter(|clear| clear.result() == "RESPONSE_FAILURE").count();
    assert_eq!(failures.lines().count(), expected);
    let t2 = export("t2", json!({})).await;
    assert_eq!(t2.lines().count(), stack.of("t2").len());
    assert!(!t2.contains("\"tenantId\":\"t1\""));

    let refused = stack
        .http
        .post(format!("{}/scim/t2/v2/AuditRecords/.export", stack.base))
        .bearer_auth(stack.admin("t1"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403, "a token of t1 exports nothing of t2");
}
