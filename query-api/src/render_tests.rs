use std::collections::BTreeMap;

use audit_integrity::keys::{PublicKeys, thumbprint};
use audit_integrity::{ChainLink, SigningKeyPair, seal};
use audit_schemas::{Action, TokenizedRecord, UserRef};
use ed25519_dalek::SigningKey;

use super::*;

const USER_TOKEN: &str = "0b6f8a4e-3c2d-4e5f-8a9b-1c2d3e4f5a6b";
const HOST_TOKEN: &str = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a";

fn key() -> SigningKeyPair {
    let key = SigningKey::from_bytes(&[9; 32]);
    SigningKeyPair { kid: thumbprint(&key.verifying_key()), key }
}

fn verifier() -> Verifier {
    let key = key();
    let jwks = audit_integrity::keys::Jwks {
        keys: vec![audit_integrity::keys::Jwk::ed25519(&key.kid, &key.key.verifying_key())],
    };
    Verifier::new(PublicKeys::from_jwks(&jwks).unwrap())
}

fn record(tenant: &str) -> TokenizedRecord {
    TokenizedRecord {
        id: "r-1".into(),
        tenant_id: tenant.into(),
        created: 1_672_848_274_678,
        action: Action {
            action_name: "indirectPrimaryAuthenticateUP".into(),
            action_parameters: BTreeMap::from([
                ("ATC".into(), "AT_STDPWD".into()),
                ("ARP".into(), format!("CONTEXT[x],HOSTADDRESS[{HOST_TOKEN}]")),
            ]),
        },
        result: Some("RESPONSE_SUCCESS".into()),
        return_value: Some(BTreeMap::from([("response".into(), "SUCCESS".into())])),
        message: None,
        host: Some(HOST_TOKEN.into()),
        target_user: Some(UserRef {
            id: Some(USER_TOKEN.into()),
            immutable_id: Some("11092".into()),
            session: None,
        }),
        acting_user: None,
        external_id: Some("IDP-test-company".into()),
        event_id: Some("e-1".into()),
        tokenized_paths: vec!["targetUserId.id".into(), "host".into(), "action.actionParameters.ARP".into()],
    }
}

/// Resources of `records`, settled by `verifier`'s signature checks.
fn verified(records: &[String], tenant: &str) -> Vec<Resource> {
    let mut page = resources(records, tenant);
    settle(&mut page, &signatures(records, &verifier()));
    page
}

fn jws(tenant: &str) -> String {
    seal(&key(), &record(tenant), ChainLink { sequence: 2, prev_hash: Some([3; 32]) }).envelope.jws
}

#[test]
fn a_record_comes_back_in_the_seed_shape_without_its_jws() {
    let resources = resources(&[jws("t1")], "t1");
    let body = &resources[0].body;
    assert_eq!(body["schemas"], serde_json::json!([RECORD_SCHEMA]));
    assert_eq!(body["created"], "2023-01-04T16:04:34.678Z");
    assert_eq!(body["integrityStatus"], "unverified");
    assert_eq!(body["externalId"], "IDP-test-company");
    assert_eq!(body["targetUserId"]["immutableId"], "11092");
    assert_eq!(body["return_value"]["response"], "SUCCESS");
    for absent in ["jws", "sequence", "prevHash", "tokenizedPaths", "eventId", "message", "actingUserId"] {
        assert!(body.get(absent).is_none(), "{absent} must not be returned");
    }
    assert!(body["targetUserId"].get("session").is_none(), "nulls are dropped");
}

#[test]
fn tokens_are_found_at_tokenized_paths_and_replaced_by_revealed_values() {
    let mut page = resources(&[jws("t1"), jws("t1")], "t1");
    assert_eq!(tokens(&page), vec![USER_TOKEN.to_owned(), HOST_TOKEN.to_owned()]);
    let revealed = revealed_values(
        vec![USER_TOKEN.into(), HOST_TOKEN.into()],
        vec![Revealed::Value { value: "admin@company.com".into() }, Revealed::Erased],
    );
    detokenize(&mut page, &revealed);
    assert_eq!(page[1].body["targetUserId"]["id"], "admin@company.com");
    assert_eq!(page[1].body["host"], HOST_TOKEN, "an erased value keeps its token");
    assert_eq!(page[1].body["action"]["actionParameters"]["ATC"], "AT_STDPWD");
}

#[test]
fn verification_validates_good_records_and_taints_the_rest() {
    let good = jws("t1");
    let (head, rest) = good.split_once('.').unwrap();
    let (payload, signature) = rest.split_once('.').unwrap();
    let mut bytes = payload.as_bytes().to_vec();
    bytes[10] = if bytes[10] == b'A' { b'B' } else { b'A' };
    let tampered = format!("{head}.{}.{signature}", String::from_utf8(bytes).unwrap());
    let page = verified(&[good.clone(), tampered, "not a jws".into(), jws("t2")], "t1");
    let statuses: Vec<&str> = page.iter().map(|resource| resource.integrity.as_str()).collect();
    assert_eq!(statuses, ["validated", "tainted", "tainted", "tainted"]);
    assert!(tokens(&page[3..]).is_empty(), "another tenant's payload is never detokenized");
}

#[test]
fn uuid_shapes_are_found_inside_text() {
    let text = format!("login of {USER_TOKEN} from {HOST_TOKEN}; not-a-uuid-0b6f8a4e-3c2d é");
    assert_eq!(uuids(&text).collect::<Vec<_>>(), vec![USER_TOKEN, HOST_TOKEN]);
    assert_eq!(uuids("").count(), 0);
}

#[test]
fn a_page_split_across_threads_keeps_its_order_and_verdicts() {
    let good = jws("t1");
    let page: Vec<String> =
        (0..40).map(|n| if n % 13 == 5 { "not a jws".to_owned() } else { good.clone() }).collect();
    let rendered = verified(&page, "t1");
    let statuses: Vec<&str> = rendered.iter().map(|resource| resource.integrity.as_str()).collect();
    let expected: Vec<&str> = (0..40).map(|n| if n % 13 == 5 { "tainted" } else { "validated" }).collect();
    assert_eq!(statuses, expected);
}

#[test]
fn revealed_tokens_inside_text_are_replaced_and_the_rest_kept() {
    let revealed = HashMap::from([(HOST_TOKEN.to_owned(), "10.1.2.3".to_owned())]);
    let text = format!("{HOST_TOKEN} CONTEXT[x],HOSTADDRESS[{HOST_TOKEN}] by {USER_TOKEN}.");
    let expected = format!("10.1.2.3 CONTEXT[x],HOSTADDRESS[10.1.2.3] by {USER_TOKEN}.");
    assert_eq!(revealed_text(&text, &revealed), Some(expected));
    assert_eq!(revealed_text(USER_TOKEN, &revealed), None, "nothing revealed, nothing rewritten");
    assert_eq!(revealed_text(HOST_TOKEN, &revealed).as_deref(), Some("10.1.2.3"));
}
