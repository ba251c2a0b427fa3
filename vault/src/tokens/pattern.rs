//! The condition of a `/v1/match`, compiled once and tested against each clear value.
//!
//! Guarantees: no regular expressions and no escapes. Every character of the operand
//! is literal (`.`, `+`, `?`, `\` ...) except `*` under `eq`, which stands for any run
//! of characters, the empty run included. Comparisons are case-sensitive and
//! byte-wise on UTF-8, which orders strings as their code points do. A pattern holds
//! clear data, so it has no `Debug`.

use std::cmp::Ordering;

use audit_vault_api::MatchOp;

/// The wildcard of `eq` patterns.
const WILDCARD: char = '*';

/// A compiled match condition, borrowing its operand.
pub struct Pattern<'a> {
    test: Test<'a>,
}

enum Test<'a> {
    Whole(&'a str),
    /// The operand split at each `*`: at least two parts, any of them empty.
    Wildcard(Vec<&'a str>),
    Prefix(&'a str),
    Suffix(&'a str),
    Contains(&'a str),
    Ordered {
        operand: &'a str,
        accept: fn(Ordering) -> bool,
    },
}

impl<'a> Pattern<'a> {
    /// The condition `value <op> operand`.
    pub fn new(op: MatchOp, operand: &'a str) -> Pattern<'a> {
        let test = match op {
            MatchOp::Eq if operand.contains(WILDCARD) => Test::Wildcard(operand.split(WILDCARD).collect()),
            MatchOp::Eq => Test::Whole(operand),
            MatchOp::Sw => Test::Prefix(operand),
            MatchOp::Ew => Test::Suffix(operand),
            MatchOp::Co => Test::Contains(operand),
            MatchOp::Gt => Test::Ordered { operand, accept: Ordering::is_gt },
            MatchOp::Ge => Test::Ordered { operand, accept: Ordering::is_ge },
            MatchOp::Lt => Test::Ordered { operand, accept: Ordering::is_lt },
            MatchOp::Le => Test::Ordered { operand, accept: Ordering::is_le },
        };
        Pattern { test }
    }

    /// Whether the clear `value` satisfies the condition.
    pub fn matches(&self, value: &str) -> bool {
        match &self.test {
            Test::Whole(operand) => value == *operand,
            Test::Wildcard(parts) => wildcard_matches(parts, value),
            Test::Prefix(operand) => value.starts_with(operand),
            Test::Suffix(operand) => value.ends_with(operand),
            Test::Contains(operand) => value.contains(operand),
            Test::Ordered { operand, accept } => accept(value.as_bytes().cmp(operand.as_bytes())),
        }
    }
}

/// `parts` are the literal pieces between the `*`s: the first must start the value,
/// the last must end it, and the others must appear in order, without overlapping,
/// in what is left between. Taking the leftmost occurrence of each middle piece is
/// never wrong: it leaves the most room for the pieces after it, so no backtracking.
fn wildcard_matches(parts: &[&str], value: &str) -> bool {
    let (Some((first, rest)), Some(last)) = (parts.split_first(), parts.last()) else {
        return false;
    };
    let Some(middle_parts) = rest.split_last().map(|(_, middle)| middle) else {
        return false;
    };
    let Some(mut remaining) = value.strip_prefix(first).and_then(|tail| tail.strip_suffix(last)) else {
        return false;
    };
    for part in middle_parts {
        match remaining.find(part) {
            Some(at) => remaining = &remaining[at + part.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Which of `values` match `op operand`.
    fn matching<'v>(op: MatchOp, operand: &str, values: &[&'v str]) -> Vec<&'v str> {
        let pattern = Pattern::new(op, operand);
        values.iter().copied().filter(|value| pattern.matches(value)).collect()
    }

    const EMAILS: [&str; 5] =
        ["alice@x.com", "alicia@company.com", "bob@company.com", "mallory@x.com.evil", "alice"];

    #[test]
    fn each_operator_matches_its_values() {
        let cases: [(MatchOp, &str, Vec<&str>); 8] = [
            (MatchOp::Eq, "alice@x.com", vec!["alice@x.com"]),
            (MatchOp::Sw, "ali", vec!["alice@x.com", "alicia@company.com", "alice"]),
            (MatchOp::Ew, "@company.com", vec!["alicia@company.com", "bob@company.com"]),
            (MatchOp::Co, "x.com", vec!["alice@x.com", "mallory@x.com.evil"]),
            (
                MatchOp::Gt,
                "alice",
                vec!["alice@x.com", "alicia@company.com", "bob@company.com", "mallory@x.com.evil"],
            ),
            (
                MatchOp::Ge,
                "alicia@company.com",
                vec!["alicia@company.com", "bob@company.com", "mallory@x.com.evil"],
            ),
            (MatchOp::Lt, "alicia", vec!["alice@x.com", "alice"]),
            (MatchOp::Le, "alice", vec!["alice"]),
        ];
        for (op, operand, expected) in cases {
            assert_eq!(matching(op, operand, &EMAILS), expected, "{op:?} {operand}");
        }
    }

    #[test]
    fn wildcards_stand_for_any_run_including_none() {
        let cases: [(&str, Vec<&str>); 7] = [
            ("*@company.com", vec!["alicia@company.com", "bob@company.com"]),
            ("ali*", vec!["alice@x.com", "alicia@company.com", "alice"]),
            ("*x.com*", vec!["alice@x.com", "mallory@x.com.evil"]),
            ("a*i*@*.com", vec!["alice@x.com", "alicia@company.com"]),
            ("alice*", vec!["alice@x.com", "alice"]),
            ("*", EMAILS.to_vec()),
            ("**", EMAILS.to_vec()),
        ];
        for (operand, expected) in cases {
            assert_eq!(matching(MatchOp::Eq, operand, &EMAILS), expected, "eq {operand}");
        }
    }

    #[test]
    fn wildcard_pieces_neither_overlap_nor_reorder() {
        assert!(!Pattern::new(MatchOp::Eq, "ab*ba").matches("aba"), "prefix and suffix share no byte");
        assert!(Pattern::new(MatchOp::Eq, "ab*ba").matches("abba"));
        assert!(!Pattern::new(MatchOp::Eq, "*b*a*").matches("ab"), "pieces keep their order");
        assert!(Pattern::new(MatchOp::Eq, "*aa*aa*").matches("aaaa"));
        assert!(!Pattern::new(MatchOp::Eq, "*aa*aa*").matches("aaa"));
        assert!(Pattern::new(MatchOp::Eq, "a*a*a").matches("aaa"));
    }

    #[test]
    fn every_other_character_is_literal() {
        let values = ["a.c", "abc", "a+c", "aac", "a?c", "ac", "a\\c", "[a]", "(a|b)", "^a$"];
        for literal in ["a.c", "a+c", "a?c", "a\\c", "[a]", "(a|b)", "^a$"] {
            assert_eq!(matching(MatchOp::Eq, literal, &values), vec![literal], "eq {literal}");
        }
        assert_eq!(matching(MatchOp::Co, ".", &values), vec!["a.c"]);
        assert_eq!(matching(MatchOp::Eq, "a?*", &values), vec!["a?c"]);
        assert_eq!(matching(MatchOp::Sw, "a*", &["a*b", "ab"]), vec!["a*b"], "only eq knows wildcards");
        assert_eq!(matching(MatchOp::Co, "*", &["a*b", "ab"]), vec!["a*b"]);
    }

    #[test]
    fn utf8_values_match_by_character_and_order_by_code_point() {
        let values = ["Zoë@bücher.example", "zoe@buecher.example", "日本語@例え.jp", "émile"];
        assert_eq!(matching(MatchOp::Eq, "Zo*@b*cher.example", &values), vec!["Zoë@bücher.example"]);
        assert_eq!(matching(MatchOp::Co, "ü", &values), vec!["Zoë@bücher.example"]);
        assert_eq!(matching(MatchOp::Eq, "日本*.jp", &values), vec!["日本語@例え.jp"]);
        assert_eq!(matching(MatchOp::Ew, "え.jp", &values), vec!["日本語@例え.jp"]);
        assert_eq!(
            matching(MatchOp::Gt, "z", &values),
            vec!["zoe@buecher.example", "日本語@例え.jp", "émile"]
        );
        assert_eq!(matching(MatchOp::Lt, "a", &values), vec!["Zoë@bücher.example"], "uppercase sorts first");
    }

    #[test]
    fn empty_operands_and_values() {
        let values = ["", "a"];
        assert_eq!(matching(MatchOp::Eq, "", &values), vec![""]);
        assert_eq!(matching(MatchOp::Eq, "*", &values), vec!["", "a"]);
        assert_eq!(matching(MatchOp::Eq, "a*", &values), vec!["a"]);
        for op in [MatchOp::Sw, MatchOp::Ew, MatchOp::Co, MatchOp::Ge] {
            assert_eq!(matching(op, "", &values), vec!["", "a"], "{op:?} of nothing holds for all");
        }
        assert_eq!(matching(MatchOp::Gt, "", &values), vec!["a"]);
        assert_eq!(matching(MatchOp::Lt, "", &values), Vec::<&str>::new());
        assert_eq!(matching(MatchOp::Le, "", &values), vec![""]);
    }
}
