use std::ops::Bound;

use super::*;
use crate::filter::parse;

/// A vault that knows one value and matches one pattern.
struct Vault;

impl Resolver for Vault {
    fn token(&mut self, value: &str) -> Option<String> {
        (value == "admin@company.com").then(|| "tok-admin".to_owned())
    }

    fn matches(&mut self, op: MatchOp, value: &str) -> Vec<String> {
        if op == MatchOp::Sw && value == "adm" { vec!["tok-admin".into()] } else { Vec::new() }
    }
}

fn planned(filter: &str) -> Result<Plan, QueryError> {
    plan(Some(&parse(filter).unwrap()), &Catalogue::default(), &mut Vault)
}

fn term(text: &str) -> Node {
    Node::Terms(vec![text.to_owned()])
}

const D: i64 = 1_669_550_400_000; // 2022-11-27T12:00:00Z

#[test]
fn filters_become_index_conditions() {
    let cases: Vec<(&str, Node)> = vec![
        ("result eq RESPONSE_SUCCESS", term("result=RESPONSE_SUCCESS")),
        ("RESULT EQ \"RESPONSE_FAILURE\"", term("result=RESPONSE_FAILURE")),
        ("action.actionParameters.ATC eq AT_STDPWD", term("action.actionparameters.atc=AT_STDPWD")),
        ("result ne RESPONSE_SUCCESS", Node::Not(Box::new(term("result=RESPONSE_SUCCESS")))),
        ("action.actionName sw \"update\"", Node::Regex("(?s)action\\.actionname=update.*".into())),
        ("action.actionName ew User", Node::Regex("(?s)action\\.actionname=.*User".into())),
        ("message co \"a.b\"", Node::Regex("(?s)message=.*a\\.b.*".into())),
        ("action.actionName eq *User", Node::Regex("(?s)action\\.actionname=.*User".into())),
        ("externalId pr", present("externalid")),
        ("created gt 2022-11-27T12:00:00Z", Node::Created { start: D + 1, end: i64::MAX }),
        ("created eq 2022-11-27T12:00:00.250Z", Node::Created { start: D + 250, end: D + 251 }),
        (
            "created ge 2022-11-27T12:00:00Z and created lt 2022-11-28T12:00:00Z",
            Node::Created { start: D, end: D + 86_400_000 },
        ),
        ("created pr", Node::All),
        (
            "result gt RESPONSE_F",
            Node::TermRange {
                lower: Bound::Excluded("result=RESPONSE_F".into()),
                upper: Bound::Excluded("result>".into()),
            },
        ),
        ("externalId eq null", Node::Not(Box::new(present("externalid")))),
    ];
    for (filter, expected) in cases {
        assert_eq!(planned(filter).unwrap().node, expected, "{filter}");
    }
}

#[test]
fn boolean_structure_is_kept_and_flattened() {
    let plan = planned("(action.actionName eq \"createUser\" or action.actionName eq \"deleteUser\") and result eq RESPONSE_SUCCESS").unwrap();
    let names = Node::Or(vec![term("action.actionname=createUser"), term("action.actionname=deleteUser")]);
    assert_eq!(plan.node, Node::And(vec![names, term("result=RESPONSE_SUCCESS")]));
    let negated = planned("not (result eq A or result eq B)").unwrap();
    assert_eq!(negated.node, Node::Not(Box::new(Node::Or(vec![term("result=A"), term("result=B")]))));
}

#[test]
fn verify_is_taken_from_the_top_level_conjunction_only() {
    let plan = planned("created gt 2022-11-27T12:00:00Z and verify eq true").unwrap();
    assert!(plan.verify);
    assert_eq!(plan.node, Node::Created { start: D + 1, end: i64::MAX });
    let alone = planned("verify eq true").unwrap();
    assert!(alone.verify);
    assert_eq!(alone.node, Node::All);
    assert!(!planned("verify eq false and result eq X").unwrap().verify);
    for misplaced in ["result eq X or verify eq true", "not (verify eq true)", "verify eq yes", "verify pr"] {
        assert!(matches!(planned(misplaced), Err(QueryError::InvalidFilter(_))), "{misplaced}");
    }
}

#[test]
fn tokenized_attributes_are_searched_by_their_tokens() {
    let whole = planned("targetUserId.id eq \"admin@company.com\"").unwrap();
    assert_eq!(
        whole.node,
        Node::Or(vec![term("targetuserid.id=admin@company.com"), term("targetuserid.id=tok-admin")])
    );
    let unknown = planned("targetUserId.id eq \"nobody@company.com\"").unwrap();
    assert_eq!(unknown.node, term("targetuserid.id=nobody@company.com"));
    let pattern = planned("targetUserId.id sw adm").unwrap();
    assert_eq!(
        pattern.node,
        Node::Or(vec![Node::Regex("(?s)targetuserid\\.id=adm.*".into()), term("targetuserid.id=tok-admin")])
    );
    let embedded = planned("message co \"admin@company.com\"").unwrap();
    assert_eq!(
        embedded.node,
        Node::Or(vec![
            Node::Regex("(?s)message=.*admin@company\\.com.*".into()),
            Node::Regex("(?s)message=.*tok\\-admin.*".into()),
        ])
    );
}

#[test]
fn the_first_pass_collects_what_the_vault_must_answer() {
    let filter =
        parse("targetUserId.id eq \"a@x.com\" or actingUserId.id eq \"a@x.com\" or host sw 10.").unwrap();
    let mut needs = Needs::default();
    plan(Some(&filter), &Catalogue::default(), &mut needs).unwrap();
    assert_eq!(needs.lookups, vec!["a@x.com".to_owned()]);
    assert_eq!(needs.matches, vec![(MatchOp::Sw, "10.".to_owned())]);
    let mut none = Needs::default();
    plan(
        Some(&parse("result eq X and created gt 2022-11-27T12:00:00Z").unwrap()),
        &Catalogue::default(),
        &mut none,
    )
    .unwrap();
    assert!(none.lookups.is_empty() && none.matches.is_empty(), "no vault call for clear attributes");
}

#[test]
fn unknown_attributes_and_bad_values_are_invalid_filters() {
    let cases = [
        ("password eq x", "unknown attribute password"),
        ("urn:other:schema:result eq x", "unknown schema"),
        ("created eq 2022-11-27", "RFC 3339"),
        ("created eq *", "wildcard"),
        ("created sw 2022", "not sw"),
        ("result gt null", "null compares only"),
        ("emails[type eq work]", "not supported"),
    ];
    for (filter, expected) in cases {
        match planned(filter) {
            Err(QueryError::InvalidFilter(detail)) => {
                assert!(detail.contains(expected), "{filter}: {detail}");
            }
            other => panic!("{filter}: {other:?}"),
        }
    }
}
