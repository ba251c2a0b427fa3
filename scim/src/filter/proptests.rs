//! Property tests of the filter parser: no input makes it panic or misreport a
//! position, it never echoes quoted content, whatever it accepts prints canonically,
//! and every well-formed tree survives printing and parsing back.

use proptest::prelude::*;

use super::*;

const CASES: u32 = 2_000;

/// Content of a quoted value that must never appear in an error; the `~` keeps random
/// junk from spelling it as an operator or attribute name, which errors may name.
const SECRET: &str = "s3cr~3t";

/// Space-separated pieces of filters, valid and broken.
const GRAMMAR_TOKENS: &str = concat!(
    r#"( ) [ ] not NOT not( and AND or Or eq Ne co sw ew gt ge lt le pr is result created a.b "#,
    r#"targetUserId.id a..b a. urn:x:y:z urn: emails[ "s3cr~3t" "a\"b" "\u00e9" "open "\q" "#,
    r#"RESPONSE_SUCCESS 2022-11-27T12:00:00Z *admin* true \ é : . ""#,
);

/// Pieces of filters, valid and broken, so that random sequences of them reach deep
/// into the grammar far more often than random characters do.
fn grammar_token() -> impl Strategy<Value = String> {
    let fixed = prop::sample::select(GRAMMAR_TOKENS.split(' ').collect::<Vec<_>>());
    prop_oneof![
        4 => fixed.prop_map(str::to_owned),
        1 => "[ -~\t\r\n]{1,3}",
    ]
}

fn token_soup() -> impl Strategy<Value = String> {
    let separator = prop::sample::select(vec!["", " ", "  ", "\t", "\n"]);
    prop::collection::vec((grammar_token(), separator), 0..60)
        .prop_map(|pieces| pieces.into_iter().flat_map(|(token, sep)| [token, sep.to_owned()]).collect())
}

/// What must hold for any input: a result, not a panic; an error inside the text and
/// without quoted content; an accepted filter that prints to a fixed point.
fn check_any_input(text: &str) -> Result<(), TestCaseError> {
    match parse(text) {
        Ok(filter) => {
            let canonical = filter.to_string();
            prop_assert_eq!(parse(&canonical), Ok(filter), "canonical form {:?}", canonical);
        }
        Err(error) => {
            prop_assert!(error.position <= text.len().min(MAX_FILTER_BYTES), "{error:?} for {text:?}");
            prop_assert!(!error.detail.contains(SECRET), "{error:?}");
        }
    }
    Ok(())
}

fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z][a-zA-Z0-9_$-]{0,6}".prop_filter("reserved keyword", |name| {
        !["and", "or", "not"].iter().any(|keyword| name.eq_ignore_ascii_case(keyword))
    })
}

fn attr_path() -> impl Strategy<Value = AttrPath> {
    (prop::option::of("urn:[a-zA-Z0-9.:-]{0,12}"), prop::collection::vec(name(), 1..4))
        .prop_map(|(schema, names)| AttrPath { schema, names })
}

fn value() -> impl Strategy<Value = Value> {
    let bare = "[^ \t\r\n()\\[\\]\"]{1,10}".prop_filter("reserved keyword", |word| {
        !["and", "or", "not"].iter().any(|keyword| word.eq_ignore_ascii_case(keyword))
    });
    let text = prop::collection::vec(any::<char>(), 0..12).prop_map(String::from_iter);
    prop_oneof![text.prop_map(Value::String), bare.prop_map(Value::Bare)]
}

fn simple_leaf() -> impl Strategy<Value = Filter> {
    let op = prop::sample::select(CompareOp::ALL.to_vec());
    prop_oneof![
        3 => (attr_path(), op, value()).prop_map(|(path, op, value)| Filter::Compare(Comparison { path, op, value })),
        1 => attr_path().prop_map(Filter::Present),
    ]
}

/// Trees of `and`, `or` and `not` over `leaf`, at most `depth` levels above the leaves.
fn tree(leaf: BoxedStrategy<Filter>, depth: u32) -> BoxedStrategy<Filter> {
    leaf.prop_recursive(depth, 24, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(l, r)| Filter::And(Box::new(l), Box::new(r))),
            (inner.clone(), inner.clone()).prop_map(|(l, r)| Filter::Or(Box::new(l), Box::new(r))),
            inner.prop_map(|f| Filter::Not(Box::new(f))),
        ]
    })
    .boxed()
}

/// Well-formed filters: at most 4 + 1 + 2 levels deep and 2^4 * 2^2 comparisons, both
/// within the parser's limits, and no valuePath inside another.
fn filter() -> BoxedStrategy<Filter> {
    let value_path = (attr_path(), tree(simple_leaf().boxed(), 2))
        .prop_map(|(path, filter)| Filter::ValuePath { path, filter: Box::new(filter) });
    tree(prop_oneof![4 => simple_leaf(), 1 => value_path].boxed(), 4)
}

/// The largest char boundary of `text` at or before `index`.
fn floor_boundary(text: &str, index: usize) -> usize {
    (0..=index.min(text.len())).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0)
}

/// A well-formed filter's text with a few bytes cut out and a grammar token put in
/// their place: reaches errors deep inside nesting, which random soups rarely do.
fn damaged_filter() -> impl Strategy<Value = String> {
    (filter(), any::<prop::sample::Index>(), 0..8usize, grammar_token()).prop_map(
        |(filter, at, cut, token)| {
            let text = filter.to_string();
            let start = floor_boundary(&text, at.index(text.len() + 1));
            let end = floor_boundary(&text, start + cut);
            format!("{}{token}{}", &text[..start], &text[end..])
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,300}") {
        check_any_input(&text)?;
    }

    #[test]
    fn grammar_token_soup_never_panics(text in token_soup()) {
        check_any_input(&text)?;
    }

    #[test]
    fn damaged_filters_never_panic(text in damaged_filter()) {
        check_any_input(&text)?;
    }

    #[test]
    fn display_then_parse_gives_back_the_tree(filter in filter()) {
        let text = filter.to_string();
        if text.len() > MAX_FILTER_BYTES {
            prop_assert_eq!(parse(&text).map_err(|e| e.position), Err(MAX_FILTER_BYTES));
        } else {
            prop_assert_eq!(parse(&text), Ok(filter), "printed as {:?}", text);
        }
    }
}
