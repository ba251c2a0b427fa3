use std::collections::BTreeMap;

use audit_auth::service::ServiceCredential;
use audit_schemas::{Action, UserRef};
use audit_vault_api::{TenantFound, TenantTokens};

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

/// The token the fake vault gives a value: its tenant and length.
fn token_for(tenant: &str, item: &TokenizeItem) -> String {
    format!("tok[{tenant}:{}]", item.value.len())
}

/// A vault that knows the values `known` says it knows.
fn found_for(request: &TokenizeRequest, known: impl Fn(&str) -> bool) -> FindResponse {
    let tenants = request
        .tenants
        .iter()
        .map(|tenant| TenantFound {
            tenant: tenant.tenant.clone(),
            tokens: tenant
                .items
                .iter()
                .map(|item| known(&item.value).then(|| token_for(&tenant.tenant, item)))
                .collect(),
        })
        .collect();
    FindResponse { tenants }
}

/// What the vault would create: a distinct token per asked value.
fn created_for(request: &TokenizeRequest) -> TokenizeResponse {
    let tenants = request
        .tenants
        .iter()
        .map(|tenant| TenantTokens {
            tenant: tenant.tenant.clone(),
            tokens: tenant.items.iter().map(|item| token_for(&tenant.tenant, item)).collect(),
        })
        .collect();
    TokenizeResponse { tenants }
}

fn values_of(request: &TokenizeRequest) -> Vec<(String, Vec<String>)> {
    request
        .tenants
        .iter()
        .map(|tenant| (tenant.tenant.clone(), tenant.items.iter().map(|item| item.value.clone()).collect()))
        .collect()
}

/// Runs one part through find (the vault knowing nothing) and create, as `process` does.
fn tokenize_new(stage: &mut TokenizeStage, messages: &[InputMessage]) -> (TokenizeRequest, Vec<Outcome>) {
    let mut batch = BatchTokens::new(checked());
    let (part, request) = stage.prepare(&mut batch, messages);
    let asked = request.clone();
    let found = found_for(&request, |_| false);
    let settled = stage.settle(&mut batch, (part, request), found).unwrap();
    if let Some(missing) = batch.take_missing() {
        let answer = created_for(&missing.request);
        stage.created(&mut batch, missing, answer).unwrap();
    }
    let outcomes = match settled {
        Settled::Encoded(outcomes) => outcomes,
        Settled::Waiting(part) => stage.encode(&batch, part),
    };
    (asked, outcomes)
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
    let (asked, outcomes) = tokenize_new(&mut stage, &batch(&records));
    let alice = "alice@example.com".to_owned();
    assert_eq!(
        values_of(&asked),
        vec![
            ("t1".into(), vec![alice.clone(), "10.0.0.1".into(), "10.0.0.2".into()]),
            ("t2".into(), vec![alice.clone(), "10.0.0.1".into()]),
        ]
    );
    assert_eq!(asked.tenants[0].items[0].owner.id.as_deref(), Some("7"));
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
    tokenize_new(&mut stage, &batch(&[record("r1", "t1", "bob", "10.0.0.9")]));
    let mut batch_tokens = BatchTokens::new(checked());
    let (part, request) = stage.prepare(&mut batch_tokens, &batch(&[record("r2", "t1", "bob", "10.0.0.9")]));
    assert!(request.tenants.is_empty(), "all from the cache");
    let empty = FindResponse { tenants: Vec::new() };
    let Settled::Encoded(outcomes) = stage.settle(&mut batch_tokens, (part, request), empty).unwrap() else {
        panic!("a part with every token cached waits for nothing")
    };
    assert_eq!(decoded(&outcomes)[0].host.as_deref(), Some("tok[t1:8]"));
}

#[test]
fn values_the_vault_has_are_not_created_and_new_ones_wait_for_one_call() {
    let mut stage = stage();
    let mut batch_tokens = BatchTokens::new(checked());
    let known = |value: &str| value != "10.0.0.7";
    let (part, request) = stage.prepare(&mut batch_tokens, &batch(&[record("r1", "t1", "finn", "10.0.0.8")]));
    let found = found_for(&request, known);
    let first = stage.settle(&mut batch_tokens, (part, request), found).unwrap();
    assert!(matches!(first, Settled::Encoded(_)), "every value found: encoded at once");
    let (part, request) = stage.prepare(&mut batch_tokens, &batch(&[record("r2", "t1", "finn", "10.0.0.7")]));
    assert_eq!(values_of(&request), [("t1".to_owned(), vec!["10.0.0.7".to_owned()])], "finn asked once");
    let found = found_for(&request, known);
    let Settled::Waiting(part) = stage.settle(&mut batch_tokens, (part, request), found).unwrap() else {
        panic!("a part with a new value waits")
    };
    let missing = batch_tokens.take_missing().expect("one value to create");
    assert_eq!(values_of(&missing.request), [("t1".to_owned(), vec!["10.0.0.7".to_owned()])]);
    let answer = created_for(&missing.request);
    stage.created(&mut batch_tokens, missing, answer).unwrap();
    assert_eq!(decoded(&stage.encode(&batch_tokens, part))[0].host.as_deref(), Some("tok[t1:8]"));
    assert!(batch_tokens.take_missing().is_none());
}

#[test]
fn a_value_listed_by_an_earlier_part_waits_with_it_when_it_is_new() {
    let mut stage = stage();
    let mut batch_tokens = BatchTokens::new(checked());
    let first = stage.prepare(&mut batch_tokens, &batch(&[record("r1", "t1", "erin", "10.0.0.5")]));
    // The second part is prepared while the first one's find call is in flight.
    let (second, request) =
        stage.prepare(&mut batch_tokens, &batch(&[record("r2", "t1", "erin", "10.0.0.5")]));
    assert!(request.tenants.is_empty(), "erin and her address are the first part's to ask");
    let found = found_for(&first.1, |_| false);
    assert!(matches!(stage.settle(&mut batch_tokens, first, found).unwrap(), Settled::Waiting(_)));
    let empty = FindResponse { tenants: Vec::new() };
    let settled = stage.settle(&mut batch_tokens, (second, request), empty).unwrap();
    assert!(matches!(settled, Settled::Waiting(_)), "its values are created with the first part's");
}

#[test]
fn undecodable_input_goes_to_the_dlq_and_a_wrong_answer_fails_the_batch() {
    let mut stage = stage();
    let mut messages = batch(&[record("r1", "t1", "carol", "10.0.0.3")]);
    messages.push(message(9, b"{\"not\":\"avro\"}".to_vec()));
    let (_, outcomes) = tokenize_new(&mut stage, &messages);
    assert!(matches!(&outcomes[1], Outcome::Reject(rejection) if rejection.code == "undecodable_record"));

    let mut batch_tokens = BatchTokens::new(checked());
    let (part, request) = stage.prepare(&mut batch_tokens, &batch(&[record("r2", "t1", "dave", "10.0.0.4")]));
    let mut found = found_for(&request, |_| true);
    found.tenants[0].tokens.pop();
    assert!(
        stage.settle(&mut batch_tokens, (part, request), found).is_err(),
        "a short answer is not applied"
    );
}

/// The tenants of these tests, their erasures checked.
fn checked() -> HashSet<String> {
    ["t1", "t2"].map(str::to_owned).into()
}
