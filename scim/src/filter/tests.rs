//! Example-based tests of the filter parser: the product's seed filters, the grammar
//! case by case, canonical printing, every error with its position, and the limits.

use super::*;

fn path(dotted: &str) -> AttrPath {
    AttrPath { schema: None, names: dotted.split('.').map(str::to_owned).collect() }
}

fn cmp(dotted: &str, op: CompareOp, value: Value) -> Filter {
    Filter::Compare(Comparison { path: path(dotted), op, value })
}

fn bare(word: &str) -> Value {
    Value::Bare(word.to_owned())
}

fn quoted(text: &str) -> Value {
    Value::String(text.to_owned())
}

fn and(left: Filter, right: Filter) -> Filter {
    Filter::And(Box::new(left), Box::new(right))
}

fn or(left: Filter, right: Filter) -> Filter {
    Filter::Or(Box::new(left), Box::new(right))
}

fn not(inner: Filter) -> Filter {
    Filter::Not(Box::new(inner))
}

fn eq(dotted: &str, word: &str) -> Filter {
    cmp(dotted, CompareOp::Eq, bare(word))
}

fn valid_cases() -> Vec<(&'static str, Filter)> {
    use CompareOp::*;
    vec![
        // The seed catalogue's filters.
        (
            "created gt 2022-11-27T12:00:00Z and verify eq true",
            and(cmp("created", Gt, bare("2022-11-27T12:00:00Z")), eq("verify", "true")),
        ),
        ("verify eq true", eq("verify", "true")),
        ("result eq RESPONSE_SUCCESS", eq("result", "RESPONSE_SUCCESS")),
        ("result eq RESPONSE_FAILURE", eq("result", "RESPONSE_FAILURE")),
        (
            "created gt 2022-11-27T09:00:00Z and created lt 2022-11-28T12:00:00Z",
            and(
                cmp("created", Gt, bare("2022-11-27T09:00:00Z")),
                cmp("created", Lt, bare("2022-11-28T12:00:00Z")),
            ),
        ),
        ("targetUserId.id eq *admin*", eq("targetUserId.id", "*admin*")),
        ("action.actionName eq \"createUser\"", cmp("action.actionName", Eq, quoted("createUser"))),
        ("action.actionParameters.ATC pr", Filter::Present(path("action.actionParameters.ATC"))),
        ("targetUserId.session.id eq 42", eq("targetUserId.session.id", "42")),
        // Each operator.
        ("a ne 1", cmp("a", Ne, bare("1"))),
        ("a co \"x\"", cmp("a", Co, quoted("x"))),
        ("a sw \"x\"", cmp("a", Sw, quoted("x"))),
        ("a ew \"x\"", cmp("a", Ew, quoted("x"))),
        ("a gt 1", cmp("a", Gt, bare("1"))),
        ("a ge 1", cmp("a", Ge, bare("1"))),
        ("a lt 1", cmp("a", Lt, bare("1"))),
        ("a le 1", cmp("a", Le, bare("1"))),
        ("a pr", Filter::Present(path("a"))),
        // Precedence and associativity.
        ("a eq 1 or b eq 2 and c eq 3", or(eq("a", "1"), and(eq("b", "2"), eq("c", "3")))),
        ("a eq 1 and b eq 2 or c eq 3", or(and(eq("a", "1"), eq("b", "2")), eq("c", "3"))),
        ("a eq 1 and b eq 2 and c eq 3", and(and(eq("a", "1"), eq("b", "2")), eq("c", "3"))),
        ("a eq 1 or b eq 2 or c eq 3", or(or(eq("a", "1"), eq("b", "2")), eq("c", "3"))),
        ("(a eq 1 or b eq 2) and c eq 3", and(or(eq("a", "1"), eq("b", "2")), eq("c", "3"))),
        ("a eq 1 and (b eq 2 and c eq 3)", and(eq("a", "1"), and(eq("b", "2"), eq("c", "3")))),
        // Nesting with not and parentheses; whitespace of every kind.
        ("not (a pr)", not(Filter::Present(path("a")))),
        ("not(a eq 1)and b eq 2", and(not(eq("a", "1")), eq("b", "2"))),
        ("((a eq 1))", eq("a", "1")),
        ("not (not (a eq 1 or (b eq 2)))", not(not(or(eq("a", "1"), eq("b", "2"))))),
        ("\t a eq 1\r\nand\nb pr ", and(eq("a", "1"), Filter::Present(path("b")))),
        // Case-insensitive keywords; names kept as written.
        (
            "Result EQ x AND NOT (B Pr) Or c Gt 1",
            or(and(eq("Result", "x"), not(Filter::Present(path("B")))), cmp("c", Gt, bare("1"))),
        ),
        // Quoted values: JSON escapes, and words that are keywords elsewhere.
        (r#"a eq "a \"b\" \\ c""#, cmp("a", Eq, quoted("a \"b\" \\ c"))),
        (r#"a eq "\u00e9""#, cmp("a", Eq, quoted("é"))),
        (r#"a eq "and (x) [y]""#, cmp("a", Eq, quoted("and (x) [y]"))),
        ("a eq \"\"", cmp("a", Eq, quoted(""))),
        ("a eq pr", eq("a", "pr")),
        ("eq eq eq", eq("eq", "eq")),
        // valuePath.
        (
            "emails[type eq \"work\" and not (value ew \".org\")]",
            Filter::ValuePath {
                path: path("emails"),
                filter: Box::new(and(cmp("type", Eq, quoted("work")), not(cmp("value", Ew, quoted(".org"))))),
            },
        ),
        (
            "a pr or emails [ primary eq true ]",
            or(
                Filter::Present(path("a")),
                Filter::ValuePath { path: path("emails"), filter: Box::new(eq("primary", "true")) },
            ),
        ),
    ]
}

#[test]
fn valid_filters_parse_to_the_expected_tree() {
    for (input, expected) in valid_cases() {
        assert_eq!(parse(input), Ok(expected), "{input}");
    }
}

#[test]
fn schema_urn_is_everything_up_to_the_last_colon() {
    let cases = [
        (
            "urn:hid:scim:api:idp:2.0:AuditRecord:result",
            Some("urn:hid:scim:api:idp:2.0:AuditRecord"),
            "result",
        ),
        (
            "URN:ietf:params:scim:schemas:core:2.0:User:name.givenName",
            Some("URN:ietf:params:scim:schemas:core:2.0:User"),
            "name.givenName",
        ),
        ("urnx.a", None, "urnx.a"),
    ];
    for (attr, schema, names) in cases {
        let expected = AttrPath { schema: schema.map(str::to_owned), ..path(names) };
        let filter = Filter::Compare(Comparison {
            path: expected,
            op: CompareOp::Eq,
            value: bare("RESPONSE_SUCCESS"),
        });
        assert_eq!(parse(&format!("{attr} eq RESPONSE_SUCCESS")), Ok(filter), "{attr}");
    }
}

#[test]
fn dotted_lowercase_leaves_out_the_schema() {
    let attr = AttrPath {
        schema: Some("urn:x".into()),
        names: vec!["action".into(), "actionParameters".into(), "ATC".into()],
    };
    assert_eq!(attr.dotted_lowercase(), "action.actionparameters.atc");
}

#[test]
fn compare_op_names_round_trip() {
    for op in CompareOp::ALL {
        assert_eq!(CompareOp::from_keyword(op.name()), Some(op));
        assert_eq!(CompareOp::from_keyword(&op.name().to_uppercase()), Some(op));
    }
    assert_eq!(CompareOp::from_keyword("pr"), None);
}

#[test]
fn display_is_canonical_and_parses_back() {
    let cases = [
        ("A EQ x", "A eq x"),
        ("a eq 1 or b eq 2 and c eq 3", "a eq 1 or b eq 2 and c eq 3"),
        ("(a eq 1 or b eq 2) and c eq 3", "(a eq 1 or b eq 2) and c eq 3"),
        ("a eq 1 and (b eq 2 and c eq 3)", "a eq 1 and (b eq 2 and c eq 3)"),
        ("a eq 1 or (b eq 2 or c eq 3)", "a eq 1 or (b eq 2 or c eq 3)"),
        ("((a pr))", "a pr"),
        ("NOT(a eq \"x\")", "not (a eq \"x\")"),
        (r#"a eq "a \"b\" \\ c\u00e9\n""#, r#"a eq "a \"b\" \\ cé\n""#),
        ("urn:x:y:a.b pr", "urn:x:y:a.b pr"),
        ("emails[type eq work and (x pr or y pr)]", "emails[type eq work and (x pr or y pr)]"),
    ];
    for (input, canonical) in cases {
        let parsed = parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(parsed.to_string(), canonical, "{input}");
        assert_eq!(parse(canonical), Ok(parsed), "{input}");
    }
}

#[test]
fn debug_shows_value_lengths_only() {
    let filter = parse(r#"mail eq "jane@example.com" and name eq Jane"#).unwrap_or_else(|e| panic!("{e}"));
    let debug = format!("{filter:?}");
    assert!(!debug.contains("jane") && !debug.contains("Jane"), "{debug}");
    assert_eq!(format!("{:?}", quoted("secret")), "String(<6 bytes>)");
    assert_eq!(format!("{:?}", bare("secret")), "Bare(<6 bytes>)");
}

/// (input, position, detail) for every kind of rejected filter.
const ERROR_CASES: &[(&str, usize, &str)] = &[
    ("", 0, "empty filter"),
    ("  \t\n", 4, "empty filter"),
    ("result is X", 7, "unknown operator: expected eq, ne, co, sw, ew, gt, ge, lt, le or pr"),
    ("result jane X", 7, "unknown operator: expected eq, ne, co, sw, ew, gt, ge, lt, le or pr"),
    ("result jane@example.com X", 7, "unknown operator: expected eq, ne, co, sw, ew, gt, ge, lt, le or pr"),
    ("result eq", 9, "expected a value after eq"),
    ("result EQ )", 10, "expected a value after eq"),
    ("a eq and b eq 1", 5, "expected a value after eq"),
    ("a", 1, "expected an operator after a but found end of filter"),
    ("a \"x\"", 2, "expected an operator after a but found quoted value"),
    ("a.b (", 4, "expected an operator after a.b but found ("),
    ("(a eq 1", 7, "expected ) but found end of filter"),
    ("(a eq 1]", 7, "expected ) but found ]"),
    ("a eq 1)", 6, "unexpected )"),
    ("emails[type eq 1", 16, "expected ] but found end of filter"),
    ("emails[type eq 1)", 16, "expected ] but found )"),
    ("a eq 1]", 6, "unexpected ]"),
    ("emails[]", 7, "expected a filter but found ]"),
    ("emails[a[b eq 1]]", 8, "unexpected [ inside a value filter"),
    ("[a eq 1]", 0, "expected a filter but found ["),
    ("()", 1, "expected a filter but found )"),
    ("\"jane\" eq a", 0, "expected a filter but found quoted value"),
    ("a eq 1 b eq 2", 7, "unexpected word"),
    ("a eq \"jane\" \"doe\"", 12, "unexpected quoted value"),
    ("a eq 1 not (b pr)", 7, "unexpected not"),
    ("a eq 1 (b pr)", 7, "unexpected ("),
    ("not a eq 1", 4, "expected ( after not"),
    ("not", 3, "expected ( after not"),
    ("and a eq 1", 0, "expected a filter before and"),
    ("a eq 1 and", 10, "expected a filter after and"),
    ("a eq 1 or", 9, "expected a filter after or"),
    ("a eq 1 and or b eq 1", 11, "expected a filter after and"),
    ("a eq 1 or )", 10, "expected a filter after or"),
    ("(or a pr)", 1, "expected a filter before or"),
    ("a eq \"jane", 5, "unterminated quoted value"),
    ("a eq \"jane\\\"", 5, "unterminated quoted value"),
    ("a eq \"\\q\"", 5, "invalid quoted value"),
    ("a eq \"\\ud800\"", 5, "invalid quoted value"),
    ("a eq \"tab\there\"", 5, "invalid quoted value"),
    ("a..b pr", 2, "empty attribute name"),
    ("a. pr", 2, "empty attribute name"),
    (".a pr", 0, "empty attribute name"),
    ("urn:x: pr", 6, "empty attribute name"),
    ("1a pr", 0, "attribute name must start with a letter"),
    ("a.b_c-d$e.f@g pr", 11, "invalid character in attribute name"),
    ("x:a pr", 1, "invalid character in attribute name"),
    ("né eq 1", 1, "invalid character in attribute name"),
];

#[test]
fn invalid_filters_report_what_and_where() {
    for &(input, position, detail) in ERROR_CASES {
        let expected = FilterError { position, detail: detail.to_owned() };
        assert_eq!(parse(input), Err(expected), "{input:?}");
    }
}

#[test]
fn error_display_gives_the_position() {
    let error = FilterError { position: 7, detail: "unknown operator".into() };
    assert_eq!(error.to_string(), "unknown operator at position 7");
}

#[test]
fn over_long_input_is_refused_before_lexing() {
    let error = parse(&"(".repeat(100_000)).err();
    let detail = format!("filter is longer than {MAX_FILTER_BYTES} bytes");
    assert_eq!(error, Some(FilterError { position: MAX_FILTER_BYTES, detail }));
    let longest = format!("a eq \"{}\"", "x".repeat(MAX_FILTER_BYTES - 7));
    assert!(parse(&longest).is_ok());
    assert!(parse(&format!("{longest} ")).is_err());
}

fn depth_error(position: usize) -> Result<Filter, FilterError> {
    Err(FilterError { position, detail: format!("filter nests deeper than {MAX_DEPTH} levels") })
}

#[test]
fn nesting_is_bounded_without_deep_recursion() {
    let parens = format!("{}a eq 1", "(".repeat(4000));
    assert!(parens.len() <= MAX_FILTER_BYTES);
    assert_eq!(parse(&parens), depth_error(MAX_DEPTH));
    let nots = format!("{}a eq 1", "not (".repeat(800));
    assert_eq!(parse(&nots), depth_error(MAX_DEPTH * 5 + 4));
}

#[test]
fn nesting_up_to_the_limit_is_accepted() {
    let deepest = format!("{}a eq 1{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    assert_eq!(parse(&deepest), Ok(eq("a", "1")));
    let one_more = format!("({deepest})");
    assert_eq!(parse(&one_more), depth_error(MAX_DEPTH));
    // Brackets count as a level too.
    let bracketed = format!("{}a[b eq 1]{}", "(".repeat(MAX_DEPTH - 1), ")".repeat(MAX_DEPTH - 1));
    assert!(parse(&bracketed).is_ok());
    let too_deep = format!("{}a[(b eq 1)]{}", "(".repeat(MAX_DEPTH - 1), ")".repeat(MAX_DEPTH - 1));
    assert_eq!(parse(&too_deep), depth_error(MAX_DEPTH + 1));
}

#[test]
fn right_nested_filters_print_within_the_depth_limit() {
    let mut text = "a eq 0".to_owned();
    for i in 1..MAX_DEPTH {
        text = format!("a eq {i} and ({text})");
    }
    let parsed = parse(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(parse(&parsed.to_string()), Ok(parsed));
}

#[test]
fn comparisons_are_bounded() {
    let terms = |n: usize| vec!["a eq 1"; n].join(" and ");
    let longest = parse(&terms(MAX_COMPARISONS)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(parse(&longest.to_string()), Ok(longest));
    let detail = format!("filter has more than {MAX_COMPARISONS} comparisons");
    let position = MAX_COMPARISONS * "a eq 1 and ".len();
    assert_eq!(parse(&terms(MAX_COMPARISONS + 1)), Err(FilterError { position, detail }));
    assert!(parse(&vec!["e[a pr]"; MAX_COMPARISONS + 1].join(" or ")).is_err());
}
