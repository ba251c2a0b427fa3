//! Recursive-descent parser from tokens to a [`Filter`].
//!
//! Owns the grammar and its limits:
//!
//! ```text
//! filter  = and *("or" and)
//! and     = factor *("and" factor)
//! factor  = "(" filter ")" / "not" "(" filter ")" / attr
//! attr    = path "pr" / path op value / path "[" filter "]"   ; no "[" inside "[ ]"
//! ```
//!
//! One token of lookahead decides every step, so parsing is linear. Depth is counted
//! before each descent into `( )`, `not ( )` or `[ ]` and refused beyond
//! [`MAX_DEPTH`], which bounds the stack whatever the input.

use super::ast::{AttrPath, CompareOp, Comparison, Filter, Value};
use super::lexer::{Lexer, Token, TokenKind, is, is_reserved};
use super::{FilterError, MAX_COMPARISONS, MAX_DEPTH};

/// Parses a whole filter text (whose length has already been checked).
pub(super) fn parse_tokens(text: &str) -> Result<Filter, FilterError> {
    let mut parser = Parser::new(text)?;
    if parser.next.kind == TokenKind::End {
        return Err(FilterError::new(parser.next.position, "empty filter"));
    }
    let filter = parser.or_expr()?;
    match &parser.next.kind {
        TokenKind::End => Ok(filter),
        other => Err(FilterError::new(parser.next.position, format!("unexpected {}", other.describe()))),
    }
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    /// The lookahead token.
    next: Token<'a>,
    /// How many `( )`, `not ( )` and `[ ]` enclose the current position.
    depth: usize,
    comparisons: usize,
    in_value_path: bool,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Result<Self, FilterError> {
        let mut lexer = Lexer::new(text);
        let next = lexer.next_token()?;
        Ok(Self { lexer, next, depth: 0, comparisons: 0, in_value_path: false })
    }

    /// Consumes the lookahead token and returns it.
    fn bump(&mut self) -> Result<Token<'a>, FilterError> {
        let following = self.lexer.next_token()?;
        Ok(std::mem::replace(&mut self.next, following))
    }

    fn next_is(&self, keyword: &str) -> bool {
        matches!(self.next.kind, TokenKind::Word(word) if is(word, keyword))
    }

    fn or_expr(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.and_expr()?;
        while self.next_is("or") {
            self.bump()?;
            self.expect_operand("or")?;
            let right = self.and_expr()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.factor()?;
        while self.next_is("and") {
            self.bump()?;
            self.expect_operand("and")?;
            let right = self.factor()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    /// Refuses a missing right operand here, where the message can name the keyword.
    fn expect_operand(&self, keyword: &str) -> Result<(), FilterError> {
        let starts_factor = match self.next.kind {
            TokenKind::Open => true,
            TokenKind::Word(word) => !is(word, "and") && !is(word, "or"),
            _ => false,
        };
        if starts_factor {
            Ok(())
        } else {
            Err(FilterError::new(self.next.position, format!("expected a filter after {keyword}")))
        }
    }

    fn factor(&mut self) -> Result<Filter, FilterError> {
        let token = self.bump()?;
        match token.kind {
            TokenKind::Open => self.group(token.position, TokenKind::Close),
            TokenKind::Word(word) if is(word, "not") => self.negation(),
            TokenKind::Word(word) if is_reserved(word) => Err(FilterError::new(
                token.position,
                format!("expected a filter before {}", word.to_ascii_lowercase()),
            )),
            TokenKind::Word(word) => self.attr_expr(word, token.position),
            other => Err(FilterError::new(
                token.position,
                format!("expected a filter but found {}", other.describe()),
            )),
        }
    }

    fn negation(&mut self) -> Result<Filter, FilterError> {
        let token = self.bump()?;
        if token.kind != TokenKind::Open {
            return Err(FilterError::new(token.position, "expected ( after not"));
        }
        Ok(Filter::Not(Box::new(self.group(token.position, TokenKind::Close)?)))
    }

    /// The filter after an opening `(` or `[` at `open`, through its `closer`.
    fn group(&mut self, open: usize, closer: TokenKind<'static>) -> Result<Filter, FilterError> {
        if self.depth >= MAX_DEPTH {
            return Err(FilterError::new(open, format!("filter nests deeper than {MAX_DEPTH} levels")));
        }
        self.depth += 1;
        let inner = self.or_expr()?;
        let token = self.bump()?;
        if token.kind != closer {
            let detail = format!("expected {} but found {}", closer.describe(), token.kind.describe());
            return Err(FilterError::new(token.position, detail));
        }
        self.depth -= 1;
        Ok(inner)
    }

    /// What follows the attribute path `word` at `position`: `pr`, `op value` or `[`.
    fn attr_expr(&mut self, word: &str, position: usize) -> Result<Filter, FilterError> {
        let path = attr_path(word, position)?;
        let token = self.bump()?;
        match token.kind {
            TokenKind::OpenBracket => self.value_path(path, token.position),
            TokenKind::Word(op) if is(op, "pr") => {
                self.count_comparison(position)?;
                Ok(Filter::Present(path))
            }
            TokenKind::Word(op) => {
                let op = CompareOp::from_keyword(op).ok_or_else(|| unknown_operator(token.position))?;
                self.count_comparison(position)?;
                let value = self.value(op)?;
                Ok(Filter::Compare(Comparison { path, op, value }))
            }
            other => Err(FilterError::new(
                token.position,
                format!("expected an operator after {path} but found {}", other.describe()),
            )),
        }
    }

    fn count_comparison(&mut self, position: usize) -> Result<(), FilterError> {
        self.comparisons += 1;
        if self.comparisons > MAX_COMPARISONS {
            let detail = format!("filter has more than {MAX_COMPARISONS} comparisons");
            return Err(FilterError::new(position, detail));
        }
        Ok(())
    }

    fn value(&mut self, op: CompareOp) -> Result<Value, FilterError> {
        let token = self.bump()?;
        match token.kind {
            TokenKind::Quoted(text) => Ok(Value::String(text)),
            TokenKind::Word(word) if !is_reserved(word) => Ok(Value::Bare(word.to_owned())),
            _ => Err(FilterError::new(token.position, format!("expected a value after {}", op.name()))),
        }
    }

    /// `path[ filter ]` after the `[` at `open`.
    fn value_path(&mut self, path: AttrPath, open: usize) -> Result<Filter, FilterError> {
        if self.in_value_path {
            return Err(FilterError::new(open, "unexpected [ inside a value filter"));
        }
        self.in_value_path = true;
        let filter = self.group(open, TokenKind::CloseBracket)?;
        self.in_value_path = false;
        Ok(Filter::ValuePath { path, filter: Box::new(filter) })
    }
}

/// Never names the word found: in operator position it is as likely a misplaced value
/// (a first name, say) as a mistyped operator, and values must not be echoed.
fn unknown_operator(position: usize) -> FilterError {
    FilterError::new(position, "unknown operator: expected eq, ne, co, sw, ew, gt, ge, lt, le or pr")
}

/// Splits an attribute word into schema URN and names. The schema is everything up to
/// the last `:` when the word starts with `urn:`; names are checked one by one so the
/// error points at the offending byte (without echoing the word, which may be a
/// misplaced value).
fn attr_path(word: &str, position: usize) -> Result<AttrPath, FilterError> {
    let has_schema = word.get(..4).is_some_and(|prefix| prefix.eq_ignore_ascii_case("urn:"));
    let (schema, names_start) = match word.rfind(':') {
        Some(colon) if has_schema => (word.get(..colon).map(str::to_owned), colon + 1),
        _ => (None, 0),
    };
    let mut names = Vec::new();
    let mut offset = position + names_start;
    for name in word.get(names_start..).unwrap_or_default().split('.') {
        check_name(name, offset)?;
        names.push(name.to_owned());
        offset += name.len() + 1;
    }
    Ok(AttrPath { schema, names })
}

/// `ALPHA *(ALPHA / DIGIT / "_" / "-" / "$")`, with `position` the name's first byte.
fn check_name(name: &str, position: usize) -> Result<(), FilterError> {
    let mut chars = name.char_indices();
    match chars.next() {
        None => Err(FilterError::new(position, "empty attribute name")),
        Some((_, first)) if !first.is_ascii_alphabetic() => {
            Err(FilterError::new(position, "attribute name must start with a letter"))
        }
        Some(_) => match chars.find(|&(_, c)| !(c.is_ascii_alphanumeric() || "_-$".contains(c))) {
            Some((index, _)) => {
                Err(FilterError::new(position + index, "invalid character in attribute name"))
            }
            None => Ok(()),
        },
    }
}
