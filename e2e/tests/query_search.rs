//! The search API as data: each case is a request and what must come back, checked by
//! one helper against the suite's records (computed from their clear values). Every
//! returned record is also checked whole: detokenized to its clear values, no JWS,
//! the integrity status asked for.

mod query_support;
use query_support as support;

use serde_json::{Value, json};
use support::Stack;
use support::dataset::{BASE, Clear, HOUR};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Order {
    Asc,
    Desc,
}

enum Expect {
    /// Tenant t1's records for which `keep` holds, sorted, the page from `start` (1-based).
    Records { keep: fn(&Clear) -> bool, order: Order, start: usize, count: usize },
    /// A SCIM error.
    Error { status: u16, scim_type: Option<&'static str> },
}

struct Case {
    body: Value,
    expect: Expect,
}

fn page(filter: &str, keep: fn(&Clear) -> bool) -> Case {
    Case {
        body: json!({ "filter": filter, "count": 100, "sortOrder": "ascending" }),
        expect: Expect::Records { keep, order: Order::Asc, start: 1, count: 100 },
    }
}

fn error(body: Value, status: u16, scim_type: Option<&'static str>) -> Case {
    Case { body, expect: Expect::Error { status, scim_type } }
}

fn invalid_filter(filter: &str) -> Case {
    error(json!({ "filter": filter }), 400, Some("invalidFilter"))
}

fn paged(body: Value, order: Order, start: usize, count: usize) -> Case {
    Case { body, expect: Expect::Records { keep: |_| true, order, start, count } }
}

const D12: i64 = BASE + 12 * HOUR;

fn cases() -> Vec<Case> {
    vec![
        // The seed's examples.
        Case {
            body: json!({"filter": "created gt 2022-11-27T12:00:00Z and verify eq true", "count": 10, "startIndex": 1, "sortBy": "created", "sortOrder": "ascending"}),
            expect: Expect::Records { keep: |r| r.created() > D12, order: Order::Asc, start: 1, count: 10 },
        },
        page("verify eq true", |_| true),
        page("result eq RESPONSE_SUCCESS", |r| r.result() == "RESPONSE_SUCCESS"),
        page("result eq RESPONSE_FAILURE", |r| r.result() == "RESPONSE_FAILURE"),
        page("created gt 2022-11-27T09:00:00Z and created lt 2022-11-28T12:00:00Z", |r| {
            r.created() > BASE + 9 * HOUR && r.created() < BASE + 36 * HOUR
        }),
        // Each operator.
        page("action.actionName eq \"createUser\"", |r| r.action() == "createUser"),
        page("result ne RESPONSE_SUCCESS", |r| r.result() != "RESPONSE_SUCCESS"),
        page("action.actionName co \"User\"", |r| r.action().contains("User")),
        page("action.actionName sw \"update\"", |r| r.action().starts_with("update")),
        page("action.actionName ew \"Password\"", |r| r.action().ends_with("Password")),
        page("externalId gt \"API-test-company\"", |r| r.n % 2 == 0),
        page("externalId ge \"IDP-test-company\"", |r| r.n % 2 == 0),
        page("externalId lt \"IDP\"", |r| r.n % 2 == 1),
        page("externalId le \"API-test-company\"", |r| r.n % 2 == 1),
        page("message pr", |r| r.record.message.is_some()),
        page("created eq 2022-11-27T05:00:05Z", |r| r.n == 5),
        page("created ge 2022-11-27T05:00:05Z and created le 2022-11-27T07:00:07Z", |r| {
            (5..=7).contains(&r.n)
        }),
        page("created ne 2022-11-27T05:00:05Z", |r| r.n != 5),
        page("created lt \"2022-11-27T10:00:00Z\"", |r| r.created() < BASE + 10 * HOUR),
        // Boolean structure.
        page(
            "(action.actionName eq \"createUser\" or action.actionName eq \"deleteUser\") and result eq RESPONSE_SUCCESS",
            |r| matches!(r.action(), "createUser" | "deleteUser") && r.result() == "RESPONSE_SUCCESS",
        ),
        page("not (result eq RESPONSE_SUCCESS)", |r| r.result() != "RESPONSE_SUCCESS"),
        page(
            "not (action.actionName eq createUser or action.actionName eq deleteUser) and result eq RESPONSE_FAILURE",
            |r| !matches!(r.action(), "createUser" | "deleteUser") && r.result() == "RESPONSE_FAILURE",
        ),
        page(
            "((action.actionName eq updateUser) or (externalId eq API-test-company and result eq RESPONSE_FAILURE))",
            |r| r.action() == "updateUser" || (r.n % 2 == 1 && r.result() == "RESPONSE_FAILURE"),
        ),
        page(
            "action.actionName eq updateUser or action.actionName eq deleteUser and result eq RESPONSE_FAILURE",
            |r| {
                r.action() == "updateUser" || (r.action() == "deleteUser" && r.result() == "RESPONSE_FAILURE")
            },
        ),
        page("not (created lt 2022-11-29T00:00:00Z) and not (result eq RESPONSE_FAILURE)", |r| {
            r.created() >= BASE + 48 * HOUR && r.result() != "RESPONSE_FAILURE"
        }),
        // Wildcards.
        page("action.actionName eq \"*User\"", |r| r.action().ends_with("User")),
        page("action.actionName eq update*", |r| r.action().starts_with("update")),
        page("externalId eq \"*-test-*\"", |_| true),
        page("message eq \"*\"", |r| r.record.message.is_some()),
        // Tokenized attributes take clear values.
        page("targetUserId.id eq \"user1@company.com\"", |r| r.target() == "user1@company.com"),
        page("actingUserId.id eq \"admin@company.com\"", |r| r.n % 2 == 0),
        page("host eq \"10.7.252.3\"", |r| r.n % 5 == 3),
        page("targetUserId.id sw \"user2\"", |r| r.target().starts_with("user2")),
        page("targetUserId.id eq \"*@company.com\" and result eq RESPONSE_FAILURE", |r| {
            r.result() == "RESPONSE_FAILURE"
        }),
        page("message co \"user0@company.com\"", |r| r.n % 10 == 0 && r.n % 4 == 0),
        page("action.actionParameters.USN eq user3", |r| r.n % 4 == 3),
        page("action.actionParameters.ARP co \"10.7.252.38\"", |r| r.n % 5 == 4),
        page("targetUserId.id eq \"nobody@company.com\"", |_| false),
        // Names are case-insensitive; the schema may prefix them.
        page("ACTION.ACTIONNAME eq createUser and Result EQ RESPONSE_SUCCESS", |r| {
            r.action() == "createUser" && r.result() == "RESPONSE_SUCCESS"
        }),
        page("urn:hid:scim:api:idp:2.0:AuditRecord:result eq RESPONSE_FAILURE", |r| {
            r.result() == "RESPONSE_FAILURE"
        }),
        // Paging and sorting.
        paged(json!({"startIndex": 0, "count": 5}), Order::Asc, 1, 5),
        paged(json!({"startIndex": 1, "count": 1, "sortOrder": "desc"}), Order::Desc, 1, 1),
        paged(json!({"startIndex": 149, "count": 10}), Order::Asc, 149, 10),
        paged(json!({"startIndex": 1000, "count": 10}), Order::Asc, 1000, 10),
        paged(json!({"count": 0}), Order::Asc, 1, 0),
        paged(json!({"count": -3}), Order::Asc, 1, 0),
        paged(json!({"count": 500}), Order::Asc, 1, 100),
        paged(
            json!({"startIndex": 101, "count": 500, "sortBy": "CREATED", "sortOrder": "descending"}),
            Order::Desc,
            101,
            100,
        ),
        paged(json!({"filter": "", "sortOrder": "asc", "count": 7, "startIndex": 3}), Order::Asc, 3, 7),
        paged(
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "count": 2}),
            Order::Asc,
            1,
            2,
        ),
        // Refused.
        invalid_filter("password eq secret"),
        invalid_filter("result eq"),
        invalid_filter("(result eq RESPONSE_SUCCESS"),
        invalid_filter("result is RESPONSE_SUCCESS"),
        invalid_filter("result eq A and"),
        invalid_filter("created eq 2022-11-27T*"),
        invalid_filter("created co 2022"),
        invalid_filter("result eq A or verify eq true"),
        invalid_filter("not result eq A"),
        invalid_filter("emails[type eq work]"),
        error(json!({"sortBy": "id"}), 400, Some("invalidValue")),
        error(json!({"sortOrder": "sideways"}), 400, Some("invalidValue")),
        error(json!({"count": "ten"}), 400, Some("invalidSyntax")),
        error(json!({"filter": "x".repeat(5000)}), 413, None),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_cases() {
    let stack = support::start().await;
    let cases = cases();
    assert!(cases.len() >= 40, "{} cases", cases.len());
    for (number, case) in cases.iter().enumerate() {
        check(&stack, number, case).await;
    }
}

async fn check(stack: &Stack, number: usize, case: &Case) {
    let response = stack
        .http
        .post(format!("{}/scim/t1/v2/AuditRecords/.search", stack.base))
        .bearer_auth(stack.admin("t1"))
        .header("content-type", "application/scim+json")
        .body(case.body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("application/scim+json"), "case {number}: {content_type}");
    let body: Value = response.json().await.unwrap();
    let context = format!("case {number} {}: {body}", case.body);
    match &case.expect {
        Expect::Error { status: expected, scim_type } => {
            assert_eq!(status, *expected, "{context}");
            assert_eq!(body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error", "{context}");
            assert_eq!(body["scimType"].as_str(), *scim_type, "{context}");
            assert!(body["detail"].as_str().is_some_and(|detail| !detail.is_empty()), "{context}");
        }
        Expect::Records { keep, order, start, count } => {
            assert_eq!(status, 200, "{context}");
            let mut expected: Vec<&Clear> = stack.of("t1").into_iter().filter(|clear| keep(clear)).collect();
            expected.sort_by_key(|clear| clear.created());
            if *order == Order::Desc {
                expected.reverse();
            }
            assert_eq!(body["totalResults"], expected.len(), "{context}");
            assert_eq!(body["startIndex"], *start, "{context}");
            let page: Vec<&Clear> = expected.into_iter().skip(start - 1).take(*count).collect();
            let resources = body["Resources"].as_array().unwrap();
            assert_eq!(body["itemsPerPage"], resources.len(), "{context}");
            let ids: Vec<&str> = resources.iter().map(|resource| resource["id"].as_str().unwrap()).collect();
            let expected_ids: Vec<&str> = page.iter().map(|clear| clear.id()).collect();
            assert_eq!(ids, expected_ids, "{context}");
            let verify = case.body["filter"].as_str().is_some_and(|filter| filter.contains("verify eq true"));
            for (resource, clear) in resources.iter().zip(page) {
                assert_whole(resource, clear, if verify { "validated" } else { "unverified" }, &context);
            }
        }
    }
}

/// The resource is the clear record in the seed's shape.
fn assert_whole(resource: &Value, clear: &Clear, integrity: &str, context: &str) {
    let record = &clear.record;
    assert_eq!(resource["schemas"], json!(["urn:hid:scim:api:idp:2.0:AuditRecord"]), "{context}");
    assert_eq!(resource["integrityStatus"], integrity, "{context}");
    assert_eq!(resource["tenantId"], "t1", "{context}");
    assert_eq!(resource["targetUserId"]["id"], clear.target(), "{context}");
    assert_eq!(
        resource["actingUserId"]["id"],
        record.acting_user.as_ref().unwrap().id.as_deref().unwrap(),
        "{context}"
    );
    assert_eq!(resource["host"], record.host.as_deref().unwrap(), "{context}");
    assert_eq!(resource["action"]["actionParameters"], json!(record.action.action_parameters), "{context}");
    assert_eq!(resource["message"].as_str(), record.message.as_deref(), "{context}");
    assert!(resource["created"].as_str().is_some_and(|created| created.ends_with('Z')), "{context}");
    for absent in ["jws", "sequence", "prevHash", "tokenizedPaths"] {
        assert!(resource.get(absent).is_none(), "{absent} returned: {context}");
    }
}
