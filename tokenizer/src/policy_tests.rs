use std::collections::{BTreeMap, HashMap};

use audit_schemas::{Action, Session};

use super::*;

fn seed_record() -> NormalizedRecord {
    NormalizedRecord {
        id: "r1".into(),
        tenant_id: "t1".into(),
        created: 1_672_848_274_678,
        action: Action {
            action_name: "indirectPrimaryAuthenticateUP".into(),
            action_parameters: BTreeMap::from([
                ("ATC".into(), "AT_STDPWD".into()),
                ("USN".into(), "admin".into()),
                ("ERI".into(), "null".into()),
                ("ATV".into(), "+33 6 12 34 56 78".into()),
                ("ARP".into(), "HOSTADDRESS[10.7.252.38] CONTEXT[{\"mail\":\"zoë@bücher.example\"}]".into()),
            ]),
        },
        result: Some("RESPONSE_SUCCESS".into()),
        return_value: None,
        message: Some("login of admin@company.com from 2001:db8::1 failed".into()),
        host: Some("192.0.2.10".into()),
        target_user: Some(UserRef {
            id: Some("admin@company.com".into()),
            immutable_id: Some("11092".into()),
            session: Some(Session { id: Some("1ea9ac7d".into()), authentication_method: None }),
        }),
        acting_user: Some(UserRef {
            id: Some("r7wcHxsAGjT7jweAjtQCwMw6".into()),
            immutable_id: Some("200".into()),
            session: None,
        }),
        external_id: Some("IDP-test-company".into()),
        event_id: None,
    }
}

fn owner(id: &str, ext: &str) -> Owner {
    Owner { id: Some(id.into()), ext_id: Some(ext.into()) }
}

#[test]
fn the_default_policy_finds_every_personal_value_with_its_owner() {
    let mut record = seed_record();
    let untouched = record.clone();
    let mut found: Vec<(String, Owner)> = Vec::new();
    let paths = Policy::default().visit(&mut record, &mut |value, owner| {
        found.push((value.to_owned(), owner.clone()));
        None
    });
    assert!(paths.is_empty());
    assert_eq!(record, untouched, "collecting changes nothing");
    let target = owner("11092", "admin@company.com");
    let acting = owner("200", "r7wcHxsAGjT7jweAjtQCwMw6");
    let expected = vec![
        ("admin@company.com", &target),
        ("r7wcHxsAGjT7jweAjtQCwMw6", &acting),
        ("192.0.2.10", &target),
        ("admin@company.com", &target),
        ("2001:db8::1", &target),
        ("10.7.252.38", &target),
        ("zoë@bücher.example", &target),
        ("+33 6 12 34 56 78", &target),
        ("admin", &target),
    ];
    let found: Vec<(&str, &Owner)> = found.iter().map(|(value, owner)| (value.as_str(), owner)).collect();
    assert_eq!(found, expected);
}

#[test]
fn replacing_leaves_no_clear_value_and_lists_the_paths() {
    let mut record = seed_record();
    let mut tokens: HashMap<String, String> = HashMap::new();
    let paths = Policy::default().visit(&mut record, &mut |value, _| {
        let next = format!("tok-{}", tokens.len());
        Some(tokens.entry(value.to_owned()).or_insert(next).clone())
    });
    assert_eq!(
        paths,
        [
            "targetUserId.id",
            "actingUserId.id",
            "host",
            "message",
            "action.actionParameters.ARP",
            "action.actionParameters.ATV",
            "action.actionParameters.USN"
        ]
    );
    let text = format!("{record:?}");
    for clear in tokens.keys() {
        assert!(!text.contains(clear.as_str()), "{clear} left in {text}");
    }
    assert_eq!(record.message.as_deref(), Some("login of tok-0 from tok-3 failed"));
    let arp = &record.action.action_parameters["ARP"];
    assert_eq!(arp, "HOSTADDRESS[tok-4] CONTEXT[{\"mail\":\"tok-5\"}]");
    assert_eq!(record.action.action_parameters["ERI"], "null", "the null placeholder stays");
    assert_eq!(record.action.action_parameters["ATC"], "AT_STDPWD");
    assert_eq!(record.target_user.as_ref().unwrap().immutable_id.as_deref(), Some("11092"));
}

#[test]
fn a_narrower_policy_leaves_other_fields_alone() {
    let policy = Policy::from(PiiPolicy {
        user_ids: false,
        host: false,
        message: false,
        whole_codes: ["USN".to_owned()].into(),
        scanned_codes: Default::default(),
    });
    let mut record = seed_record();
    let paths = policy.visit(&mut record, &mut |_, _| Some("tok".into()));
    assert_eq!(paths, ["action.actionParameters.USN"]);
    assert_eq!(record.host.as_deref(), Some("192.0.2.10"));
}

#[test]
fn values_without_a_target_belong_to_the_acting_user() {
    let mut record = seed_record();
    record.target_user = None;
    let mut owners = Vec::new();
    Policy::default().visit(&mut record, &mut |_, owner| {
        owners.push(owner.clone());
        None
    });
    assert!(owners.iter().all(|found| found.id.as_deref() == Some("200")), "{}", owners.len());
}
