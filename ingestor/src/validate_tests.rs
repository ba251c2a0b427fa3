//! Every kind of bad input, as data: (case, input, expected reason code).

use super::*;

fn limits() -> Limits {
    Limits {
        max_message_bytes: 4096,
        min_created_ms: Limits::earliest_plausible_ms(),
        max_future_skew_ms: 3_600_000,
    }
}

/// A valid event with `field` replaced by the raw JSON `value` (or removed if None).
fn event_with(field: &str, value: Option<&str>) -> Vec<u8> {
    let mut fields = vec![
        ("tenantId", r#""tdf1808f3d368517208759""#.to_owned()),
        ("created", r#""2023-01-04T16:04:34.678Z""#.to_owned()),
        (
            "action",
            r#"{"actionName":"indirectPrimaryAuthenticateUP","actionParameters":{"ATC":"AT_STDPWD"}}"#
                .to_owned(),
        ),
        ("result", r#""RESPONSE_SUCCESS""#.to_owned()),
        (
            "targetUserId",
            r#"{"id":"admin@company.com","immutableId":"11092","session":{"id":"1ea9"}}"#.to_owned(),
        ),
    ];
    fields.retain(|(name, _)| *name != field);
    if let Some(value) = value {
        fields.push((field, value.to_owned()));
    }
    let body: Vec<String> = fields.iter().map(|(name, value)| format!(r#""{name}":{value}"#)).collect();
    format!("{{{}}}", body.join(",")).into_bytes()
}

fn nested(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

fn many_parameters(count: usize) -> String {
    let entries: Vec<String> = (0..count).map(|index| format!(r#""P{index}":"v""#)).collect();
    format!(r#"{{"actionName":"createUser","actionParameters":{{{}}}}}"#, entries.join(","))
}

fn cases() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let long = "x".repeat(600);
    vec![
        ("empty message", b"".to_vec(), "empty_message"),
        ("only whitespace", b"  \n ".to_vec(), "empty_message"),
        ("oversize message", event_with("message", Some(&format!(r#""{}""#, "m".repeat(5000)))), "oversize_message"),
        ("invalid utf-8", b"{\"tenantId\":\"t\xff\xfe\"}".to_vec(), "invalid_utf8"),
        ("truncated json", br#"{"tenantId":"t1","created":"2023-01"#.to_vec(), "invalid_json"),
        ("trailing garbage", [event_with("", None), b" }".to_vec()].concat(), "invalid_json"),
        ("two objects", [event_with("", None), event_with("", None)].concat(), "invalid_json"),
        ("single quotes", b"{'tenantId':'t1'}".to_vec(), "invalid_json"),
        ("array instead of object", b"[1,2,3]".to_vec(), "not_an_object"),
        ("string instead of object", br#""hello""#.to_vec(), "not_an_object"),
        ("null", b"null".to_vec(), "not_an_object"),
        ("deep nesting", event_with("message", Some(&nested(50))), "too_deep"),
        ("very deep nesting", nested(100_000).into_bytes(), "oversize_message"),
        ("missing tenantId", event_with("tenantId", None), "missing_field"),
        ("missing created", event_with("created", None), "missing_field"),
        ("missing action", event_with("action", None), "missing_field"),
        ("missing actionName", event_with("action", Some(r#"{"actionParameters":{}}"#)), "missing_field"),
        ("tenantId is a number", event_with("tenantId", Some("42")), "wrong_type"),
        ("tenantId is null", event_with("tenantId", Some("null")), "wrong_type"),
        ("result is a number", event_with("result", Some("42")), "wrong_type"),
        ("parameter value is a number", event_with("action", Some(r#"{"actionName":"x","actionParameters":{"ATC":1}}"#)), "wrong_type"),
        ("actionParameters is a list", event_with("action", Some(r#"{"actionName":"x","actionParameters":["ATC"]}"#)), "wrong_type"),
        ("session is a string", event_with("targetUserId", Some(r#"{"session":"s"}"#)), "wrong_type"),
        ("immutableId is a float", event_with("targetUserId", Some(r#"{"immutableId":1.5}"#)), "wrong_type"),
        ("unknown top-level field", event_with("password", Some(r#""hunter2""#)), "unknown_field"),
        ("unknown nested field", event_with("targetUserId", Some(r#"{"email":"a@b.c"}"#)), "unknown_field"),
        ("duplicate field", br#"{"tenantId":"t1","tenantId":"t2","created":"2023-01-04T16:04:34Z","action":{"actionName":"x"}}"#.to_vec(), "duplicate_field"),
        ("created is not a date", event_with("created", Some(r#""yesterday""#)), "invalid_timestamp"),
        ("created without offset", event_with("created", Some(r#""2023-01-04T16:04:34.678""#)), "invalid_timestamp"),
        ("created month 13", event_with("created", Some(r#""2023-13-04T16:04:34Z""#)), "invalid_timestamp"),
        ("created as epoch number", event_with("created", Some("1672848274678")), "wrong_type"),
        ("created before 2000", event_with("created", Some(r#""1999-12-31T23:59:59.999Z""#)), "timestamp_out_of_range"),
        ("created far in the future", event_with("created", Some(r#""2999-01-01T00:00:00Z""#)), "timestamp_out_of_range"),
        ("tenantId empty", event_with("tenantId", Some(r#""""#)), "invalid_tenant_id"),
        ("tenantId with a slash", event_with("tenantId", Some(r#""t/../x""#)), "invalid_tenant_id"),
        ("tenantId too long", event_with("tenantId", Some(&format!(r#""{}""#, "t".repeat(65)))), "invalid_tenant_id"),
        ("actionName empty", event_with("action", Some(r#"{"actionName":""}"#)), "invalid_action_name"),
        ("actionName with spaces", event_with("action", Some(r#"{"actionName":"drop table"}"#)), "invalid_action_name"),
        ("huge parameter map", event_with("action", Some(&many_parameters(200))), "too_many_parameters"),
        ("parameter name with spaces", event_with("action", Some(r#"{"actionName":"x","actionParameters":{"A B":"v"}}"#)), "invalid_parameter_name"),
        ("identifier too long", event_with("result", Some(&format!(r#""{long}""#))), "field_too_long"),
        ("empty eventId", event_with("eventId", Some(r#""""#)), "invalid_event_id"),
    ]
}

#[test]
fn every_bad_input_gets_its_reason() {
    let limits = limits();
    let mut failures = Vec::new();
    for (case, input, expected) in cases() {
        match normalize(&input, &limits) {
            Ok(_) => failures.push(format!("{case}: accepted")),
            Err(rejection) if rejection.code != expected => {
                failures.push(format!(
                    "{case}: got {} ({}), expected {expected}",
                    rejection.code, rejection.message
                ));
            }
            Err(rejection) => assert!(!rejection.message.is_empty(), "{case}: empty detail"),
        }
    }
    assert!(cases().len() >= 25);
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn details_name_the_field_but_never_echo_a_value() {
    let rejection =
        normalize(&event_with("targetUserId", Some(r#"{"email":"jane@example.com"}"#)), &limits())
            .unwrap_err();
    assert_eq!(rejection.message, "unknown field targetUserId.email");
    let rejection = normalize(&event_with("action", Some(r#"{"parameters":{}}"#)), &limits()).unwrap_err();
    assert!(rejection.message.contains("action"), "{}", rejection.message);
    let rejection = normalize(&event_with("result", Some("42")), &limits()).unwrap_err();
    assert_eq!(rejection.message, "field result has the wrong type, expected a string");
}

#[test]
fn a_seed_record_is_normalized_with_every_field() {
    let seed = br#"{"tenantId":"tdf1808f3d368517208759","created":"2023-01-04T16:04:23.268Z","id":"IDP-test-company",
      "schemas":["urn:hid:scim:api:idp:2.0:AuditRecord"],
      "action":{"actionName":"primaryAuthenticateUP","actionParameters":{"ATC":"AT_SYSLOG","ARP":"HOSTADDRESS[10.7.252.38]"}},
      "result":"RESPONSE_SUCCESS","return_value":{"response":"SUCCESS"},"host":"10.7.252.38","message":"ok",
      "targetUserId":{"id":"r7wcHxsAGjT7jweAjtQCwMw6","immutableId":200,"session":{"authenticationMethod":"AT_SYSLOG"}},
      "actingUserId":{"id":"r7wcHxsAGjT7jweAjtQCwMw6","immutableId":"200","session":{"id":"16c5"}},"eventId":"ev-1"}"#;
    let record = normalize(seed, &limits()).unwrap();
    assert_eq!(record.tenant_id, "tdf1808f3d368517208759");
    assert_eq!(record.created, 1_672_848_263_268);
    assert_eq!(record.action.action_parameters["ARP"], "HOSTADDRESS[10.7.252.38]");
    assert_eq!(record.target_user.as_ref().unwrap().immutable_id.as_deref(), Some("200"));
    assert_eq!(
        record.target_user.unwrap().session.unwrap().authentication_method.as_deref(),
        Some("AT_SYSLOG")
    );
    assert_eq!(record.acting_user.unwrap().session.unwrap().id.as_deref(), Some("16c5"));
    assert_eq!(record.external_id.as_deref(), Some("IDP-test-company"));
    assert_eq!(record.return_value.unwrap()["response"], "SUCCESS");
    assert_eq!(record.event_id.as_deref(), Some("ev-1"));
}

#[test]
fn precision_beyond_milliseconds_is_cut_and_offsets_are_applied() {
    let record =
        normalize(&event_with("created", Some(r#""2023-01-04T17:04:34.678999+01:00""#)), &limits()).unwrap();
    assert_eq!(record.created, 1_672_848_274_678);
}

mod trail_events {
    use audit_schemas::limits::MIN_MESSAGE_BYTES;
    use audit_schemas::trail::TrailEvent;
    use proptest::prelude::*;

    use super::*;

    fn smallest() -> Limits {
        Limits { max_message_bytes: MIN_MESSAGE_BYTES, ..limits() }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Whatever a caller puts in a reason, a subject, a URL or an owner id, the
        /// trail's own event is accepted by the strictest ingestor.
        #[test]
        fn every_trail_event_is_accepted(
            tenant in "[A-Za-z0-9_-]{1,64}",
            values in proptest::collection::vec(any::<String>(), 6),
            long in 0usize..20_000,
            character in any::<char>(),
        ) {
            let huge: String = std::iter::repeat_n(character, long).collect();
            let event = TrailEvent::new(&tenant, "token-vault", "detokenizeTokens")
                .unwrap()
                .parameter("CNT", &values[0])
                .parameter("RSN", &format!("{}{huge}", values[1]))
                .parameter("CLI", &values[2])
                .parameter("URL", &huge)
                .parameter("EVT", &values[3])
                .actor(&format!("{}{huge}", values[4]))
                .target(&format!("{huge}{}", values[5]))
                .to_json();
            let bytes = event.to_string().into_bytes();
            let normalized = normalize(&bytes, &smallest());
            prop_assert!(normalized.is_ok(), "{:?}", normalized.err());
        }
    }

    #[test]
    fn every_action_of_the_trail_is_a_valid_action_name() {
        for name in audit_schemas::actions::TRAIL.iter().copied() {
            let event = TrailEvent::new("t1", "c", name).unwrap().to_json();
            assert!(normalize(event.to_string().as_bytes(), &smallest()).is_ok(), "{name}");
        }
    }
}
