use std::collections::BTreeMap;

use audit_core::auth::service::ServiceCredential;
use audit_core::vault_api::TenantTokens;
use audit_schemas::{Action, UserRef};

use super::*;

fn stage() -> TokenizeStage {
    // Never called: these tests cover the pure steps around the vault call.
    let vault = VaultClient::new("http://127.0.0.1:9", &ServiceCredential::generate("tokenizer"));
    TokenizeStage::new(TokenizeParams { policy: Policy::default(), vault, cache_capacity: 1_000 }).unwrap()
}

fn record(id: &str, tenant: &str, user: &str, host: &str) -> NormalizedRecord {
    NormalizedRecord {
        id: id.into(),
        tenant_id: tenant.into(),
        created: 1_672_848_274_678,
        action: Action {
            action_name: "createUser".into(),
            action_parameters: BTreeMap::from([
                ("USN".into(), user.into()),
                ("ATC".into(), "AT_STDPWD".into()),
            ]),
        },
        result: Some("RESPONSE_SUCCESS".into()),
        return_value: None,
        message: None,
        host: Some(host.into()),
        target_user: Some(UserRef { id: Some(user.into()), immutable_id: Some("7".into()), session: None }),
        acting_user: None,
        external_id: None,
        event_id: None,
    }
}

fn message(offset: i64, payload: Vec<u8>) -> InputMessage {
    InputMessage {
        topic: "audit.normalized".into(),
        partition: 0,
        offset,
        key: None,
        payload: Some(payload),
        timestamp_ms: None,
    }
}

fn batch(records: &[NormalizedRecord]) -> Vec<InputMessage> {
    let codec = Codec::<NormalizedRecord>::published("NormalizedRecord").unwrap();
    records.iter().enumerate().map(|(n, record)| message(n as i64, codec.encode(record).unwrap())).collect()
}

/// What the vault would answer: a distinct token per asked value.
fn answer_for(request: &TokenizeRequest) -> TokenizeResponse {
    let tenants = request
        .tenants
        .iter()
        .map(|tenant| TenantTokens {
            tenant: tenant.tenant.clone(),
            tokens: tenant
                .items
                .iter()
                .map(|item| format!("tok[{}:{}]", tenant.tenant, item.value.len()))
                .collect(),
        })
        .collect();
    TokenizeResponse { tenants }
}

fn decoded(outcomes: &[Outcome]) -> Vec<TokenizedRecord> {
    let codec = Codec::<TokenizedRecord>::published("TokenizedRecord").unwrap();
    outcomes
        .iter()
        .map(|outcome| match outcome {
            Outcome::Forward(records) => codec.decode(&records[0].payload).unwrap(),
            other => panic!("not forwarded: {other:?}"),
        })
        .collect()
}

#[test]
fn a_batch_asks_each_unknown_value_once_and_forwards_no_clear_value() {
    let mut stage = stage();
    let records = [
        record("r1", "t1", "alice@example.com", "10.0.0.1"),
        record("r2", "t1", "alice@example.com", "10.0.0.2"),
        record("r3", "t2", "alice@example.com", "10.0.0.1"),
    ];
    let prepared = stage.prepare(&batch(&records));
    let asked: Vec<(String, Vec<String>)> = prepared
        .request
        .tenants
        .iter()
        .map(|tenant| (tenant.tenant.clone(), tenant.items.iter().map(|item| item.value.clone()).collect()))
        .collect();
    let alice = "alice@example.com".to_owned();
    assert_eq!(
        asked,
        vec![
            ("t1".into(), vec![alice.clone(), "10.0.0.1".into(), "10.0.0.2".into()]),
            ("t2".into(), vec![alice.clone(), "10.0.0.1".into()]),
        ]
    );
    assert_eq!(prepared.request.tenants[0].items[0].owner.id.as_deref(), Some("7"));
    let answer = answer_for(&prepared.request);
    let outcomes = stage.complete(prepared, answer).unwrap();
    let tokenized = decoded(&outcomes);
    assert_eq!(tokenized[0].target_user.as_ref().unwrap().id.as_deref(), Some("tok[t1:17]"));
    assert_eq!(tokenized[0].action.action_parameters["USN"], "tok[t1:17]");
    assert_eq!(tokenized[2].host.as_deref(), Some("tok[t2:8]"));
    assert_eq!(tokenized[1].tokenized_paths, ["targetUserId.id", "host", "action.actionParameters.USN"]);
    for (outcome, record) in outcomes.iter().zip(&records) {
        let Outcome::Forward(out) = outcome else { unreachable!() };
        assert_eq!(out[0].key, record.tenant_id.as_bytes(), "keyed by tenant");
        let bytes = String::from_utf8_lossy(&out[0].payload);
        assert!(!bytes.contains("alice") && !bytes.contains("10.0.0."), "clear value in {bytes}");
    }
}

#[test]
fn cached_values_need_no_vault_call() {
    let mut stage = stage();
    let first = stage.prepare(&batch(&[record("r1", "t1", "bob", "10.0.0.9")]));
    let answer = answer_for(&first.request);
    stage.complete(first, answer).unwrap();
    let again = stage.prepare(&batch(&[record("r2", "t1", "bob", "10.0.0.9")]));
    assert!(again.request.tenants.is_empty(), "all from the cache");
    let outcomes = stage.complete(again, TokenizeResponse { tenants: Vec::new() }).unwrap();
    assert_eq!(decoded(&outcomes)[0].host.as_deref(), Some("tok[t1:8]"));
}

#[test]
fn undecodable_input_goes_to_the_dlq_and_a_wrong_answer_fails_the_batch() {
    let mut stage = stage();
    let mut messages = batch(&[record("r1", "t1", "carol", "10.0.0.3")]);
    messages.push(message(9, b"{\"not\":\"avro\"}".to_vec()));
    let prepared = stage.prepare(&messages);
    let answer = answer_for(&prepared.request);
    let outcomes = stage.complete(prepared, answer).unwrap();
    assert!(matches!(&outcomes[1], Outcome::Reject(rejection) if rejection.code == "undecodable_record"));

    let prepared = stage.prepare(&batch(&[record("r2", "t1", "dave", "10.0.0.4")]));
    let mut answer = answer_for(&prepared.request);
    answer.tenants[0].tokens.pop();
    assert!(stage.complete(prepared, answer).is_err(), "a short answer is not applied");
}
