//! The key hierarchy's promises, each as a test.

use super::*;

const TENANT: &str = "tdf1808f3d368517208759";
const TOKEN: &str = "6f1c3c1e-0b7e-4f43-9b57-1d0f6f0d3b11";

#[test]
fn a_sealed_value_opens_in_its_context() {
    let key = Key::generate();
    let context = Context::value(TENANT, TOKEN);
    let sealed = key.seal_text(&context, "admin@company.com");
    assert_eq!(key.open_text(&context, &sealed).unwrap().as_str(), "admin@company.com");
}

#[test]
fn sealed_bytes_hold_no_clear_value_and_never_repeat() {
    let key = Key::generate();
    let context = Context::value(TENANT, TOKEN);
    let first = key.seal_text(&context, "admin@company.com");
    let second = key.seal_text(&context, "admin@company.com");
    assert_ne!(first, second, "random nonces");
    assert!(!first.windows(5).any(|window| window == b"admin"));
}

#[test]
fn a_value_moved_to_another_token_or_tenant_does_not_open() {
    let key = Key::generate();
    let sealed = key.seal_text(&Context::value(TENANT, TOKEN), "10.7.252.38");
    for context in [Context::value(TENANT, "another-token"), Context::value("t-other", TOKEN)] {
        assert!(matches!(key.open_text(&context, &sealed), Err(KeyError::NotAuthentic { .. })), "{context}");
    }
}

#[test]
fn altered_truncated_or_foreign_key_data_does_not_open() {
    let key = Key::generate();
    let context = Context::value(TENANT, TOKEN);
    let sealed = key.seal_text(&context, "jane.doe");
    let mut altered = sealed.clone();
    let last = altered.len() - 1;
    altered[last] ^= 1;
    assert!(key.open(&context, &altered).is_err());
    assert!(key.open(&context, &sealed[..10]).is_err());
    assert!(Key::generate().open(&context, &sealed).is_err());
}

#[test]
fn destroying_a_subject_key_shreds_the_subject_only() {
    let master = Key::generate();
    let tenant_key = Key::generate();
    let wrapped_tenant = master.wrap(&Context::tenant_key(TENANT), &tenant_key);
    let tenant_key = master.unwrap_key(&Context::tenant_key(TENANT), &wrapped_tenant).unwrap();

    let (alice, bob) = (Key::generate(), Key::generate());
    let wrapped_bob = tenant_key.wrap(&Context::subject_key(TENANT, "bob"), &bob);
    let alice_value = alice.seal_text(&Context::value(TENANT, "t-1"), "alice@example.org");
    let bob_value = bob.seal_text(&Context::value(TENANT, "t-2"), "bob@example.org");
    drop(alice); // erasure: alice's wrapped key is deleted from storage

    let bob = tenant_key.unwrap_key(&Context::subject_key(TENANT, "bob"), &wrapped_bob).unwrap();
    assert_eq!(
        bob.open_text(&Context::value(TENANT, "t-2"), &bob_value).unwrap().as_str(),
        "bob@example.org"
    );
    let any_remaining_key = [&master, &tenant_key, &bob];
    for key in any_remaining_key {
        assert!(key.open(&Context::value(TENANT, "t-1"), &alice_value).is_err());
    }
}

#[test]
fn a_wrapped_key_only_unwraps_for_its_own_subject() {
    let tenant_key = Key::generate();
    let wrapped = tenant_key.wrap(&Context::subject_key(TENANT, "alice"), &Key::generate());
    assert!(tenant_key.unwrap_key(&Context::subject_key(TENANT, "mallory"), &wrapped).is_err());
}

#[test]
fn blind_indexes_converge_within_a_key_and_differ_across_keys() {
    let tenant_key = Key::generate();
    let index_key = tenant_key.derive("blind-index");
    assert_eq!(
        index_key.blind_index("admin@company.com"),
        tenant_key.derive("blind-index").blind_index("admin@company.com")
    );
    assert_ne!(index_key.blind_index("admin@company.com"), index_key.blind_index("Admin@company.com"));
    let other_tenant = Key::generate().derive("blind-index");
    assert_ne!(index_key.blind_index("admin@company.com"), other_tenant.blind_index("admin@company.com"));
}

#[test]
fn derived_keys_are_distinct_per_purpose() {
    let key = Key::generate();
    let sealed = key.derive("a").seal(&Context::tenant_key(TENANT), b"x");
    assert!(key.derive("b").open(&Context::tenant_key(TENANT), &sealed).is_err());
    assert!(key.derive("a").open(&Context::tenant_key(TENANT), &sealed).is_ok());
}

#[test]
fn keys_load_from_hex_and_never_print() {
    let hex_key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    let key = Key::from_hex(hex_key).unwrap();
    assert_eq!(format!("{key:?}"), "Key(redacted)");
    assert_eq!(Key::from_hex("abc").unwrap_err(), KeyError::MalformedKey);
    assert_eq!(Key::from_hex(&hex_key.replace('0', "g")).unwrap_err(), KeyError::MalformedKey);
    let error = key.open(&Context::value(TENANT, TOKEN), &[0u8; 40]).unwrap_err();
    assert!(!error.to_string().contains("0011"), "errors carry no key bytes: {error}");
}
