//! A parsed filter becomes a [`Plan`]: an index-level tree of term lookups, term
//! patterns and time ranges, plus whether the caller asked for verification.
//!
//! Translation runs twice over the same filter: once with a [`Needs`] resolver that
//! records which clear values must go to the vault, then with the vault's answers
//! ([`Resolved`]). So a search costs at most one lookup call, plus one match call per
//! pattern on a tokenized attribute, and the second pass cannot disagree with the
//! first. Every check that can fail happens in the first pass, before the vault is
//! called. Errors name attributes and operators, never values.

use std::collections::HashMap;

pub use audit_index::query::Node;
use audit_index::schema::keyword_term;
use audit_vault_api::MatchOp;

use crate::QueryError;
use crate::catalogue::{Catalogue, Kind, RECORD_SCHEMA, Tokens, known_attributes, lowercase};
use crate::filter::{AttrPath, CompareOp, Comparison, Filter, Value};

/// What a search runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The condition.
    pub node: Node,
    /// Whether returned records are verified (`verify eq true`).
    pub verify: bool,
}

/// Answers about clear values of tokenized attributes.
pub trait Resolver {
    /// The token of a clear value, if the vault has one.
    fn token(&mut self, value: &str) -> Option<String>;
    /// Tokens whose clear value matches `op value`.
    fn matches(&mut self, op: MatchOp, value: &str) -> Vec<String>;
}

/// The first pass's resolver: records what to ask the vault.
#[derive(Debug, Default)]
pub struct Needs {
    /// Clear values to look up.
    pub lookups: Vec<String>,
    /// Patterns to match.
    pub matches: Vec<(MatchOp, String)>,
}

impl Resolver for Needs {
    fn token(&mut self, value: &str) -> Option<String> {
        if !self.lookups.iter().any(|known| known == value) {
            self.lookups.push(value.to_owned());
        }
        None
    }

    fn matches(&mut self, op: MatchOp, value: &str) -> Vec<String> {
        self.matches.push((op, value.to_owned()));
        Vec::new()
    }
}

/// The vault's answers to `Needs`.
#[derive(Debug, Default)]
pub struct Resolved {
    /// Token of each clear value found.
    pub tokens: HashMap<String, String>,
    /// Tokens of each pattern, in `Needs::matches` order.
    pub matches: Vec<Vec<String>>,
    next_match: usize,
}

impl Resolved {
    /// Answers built from the vault's replies.
    pub fn new(tokens: HashMap<String, String>, matches: Vec<Vec<String>>) -> Resolved {
        Resolved { tokens, matches, next_match: 0 }
    }
}

impl Resolver for Resolved {
    fn token(&mut self, value: &str) -> Option<String> {
        self.tokens.get(value).cloned()
    }

    fn matches(&mut self, _op: MatchOp, _value: &str) -> Vec<String> {
        let found = self.matches.get(self.next_match).cloned().unwrap_or_default();
        self.next_match += 1;
        found
    }
}

/// Translates `filter` (or every record when `None`) into a plan.
pub fn plan(
    filter: Option<&Filter>,
    catalogue: &Catalogue,
    resolver: &mut dyn Resolver,
) -> Result<Plan, QueryError> {
    let mut conjuncts = Vec::new();
    if let Some(filter) = filter {
        flatten_and(filter, &mut conjuncts);
    }
    let mut verify = false;
    let mut nodes = Vec::new();
    let mut translator = Translator { catalogue, resolver };
    for conjunct in conjuncts {
        match verify_request(conjunct, catalogue)? {
            Some(requested) => verify |= requested,
            None => nodes.push(translator.node(conjunct)?),
        }
    }
    Ok(Plan { node: and(nodes), verify })
}

fn flatten_and<'a>(filter: &'a Filter, into: &mut Vec<&'a Filter>) {
    match filter {
        Filter::And(left, right) => {
            flatten_and(left, into);
            flatten_and(right, into);
        }
        other => into.push(other),
    }
}

/// `Some(requested)` if `filter` is a top-level `verify eq true|false`.
fn verify_request(filter: &Filter, catalogue: &Catalogue) -> Result<Option<bool>, QueryError> {
    let Filter::Compare(comparison) = filter else { return Ok(None) };
    if attribute(&comparison.path, catalogue)?.1 != Kind::Verify {
        return Ok(None);
    }
    let value = text(&comparison.value).to_ascii_lowercase();
    match (comparison.op, value.as_str()) {
        (CompareOp::Eq, "true") => Ok(Some(true)),
        (CompareOp::Eq, "false") => Ok(Some(false)),
        _ => Err(QueryError::filter("verify takes only eq true or eq false")),
    }
}

struct Translator<'a> {
    catalogue: &'a Catalogue,
    resolver: &'a mut dyn Resolver,
}

impl Translator<'_> {
    fn node(&mut self, filter: &Filter) -> Result<Node, QueryError> {
        match filter {
            Filter::And(left, right) => Ok(and(vec![self.node(left)?, self.node(right)?])),
            Filter::Or(left, right) => Ok(or(vec![self.node(left)?, self.node(right)?])),
            Filter::Not(inner) => Ok(Node::Not(Box::new(self.node(inner)?))),
            Filter::Present(path) => match attribute(path, self.catalogue)? {
                (_, Kind::Created) => Ok(Node::All),
                (_, Kind::Verify) => Err(verify_misplaced()),
                (path, Kind::Keyword(_)) => Ok(present(&path)),
            },
            Filter::Compare(comparison) => self.compare(comparison),
            Filter::ValuePath { path, .. } => Err(QueryError::filter(format!(
                "{} has no multi-valued sub-records: [ ] filters are not supported",
                written(path)
            ))),
        }
    }

    fn compare(&mut self, comparison: &Comparison) -> Result<Node, QueryError> {
        let (path, kind) = attribute(&comparison.path, self.catalogue)?;
        let value = text(&comparison.value);
        match kind {
            Kind::Verify => Err(verify_misplaced()),
            Kind::Created => created(comparison.op, value),
            Kind::Keyword(tokens) if is_null(&comparison.value) => null_test(comparison.op, &path, tokens),
            Kind::Keyword(Tokens::None) => Ok(keyword(&path, comparison.op, value)),
            Kind::Keyword(Tokens::Whole) => Ok(self.whole_token(&path, comparison.op, value)),
            Kind::Keyword(Tokens::Embedded) => Ok(self.embedded_tokens(&path, comparison.op, value)),
        }
    }

    /// The stored value is a token: a whole clear value is looked up, a pattern is
    /// matched in the vault; clear terms still match values left untokenized.
    fn whole_token(&mut self, path: &str, op: CompareOp, value: &str) -> Node {
        let clear = keyword(path, op, value);
        let tokens = match op {
            CompareOp::Ne => return Node::Not(Box::new(self.whole_token(path, CompareOp::Eq, value))),
            CompareOp::Eq if !value.contains('*') => self.resolver.token(value).into_iter().collect(),
            _ => self.resolver.matches(match_op(op), value),
        };
        let terms: Vec<String> = tokens.iter().map(|token| keyword_term(path, token)).collect();
        if terms.is_empty() { clear } else { or(vec![clear, Node::Terms(terms)]) }
    }

    /// Tokens replaced personal values inside the text: a clear value that is itself
    /// tokenized is searched as its token too.
    fn embedded_tokens(&mut self, path: &str, op: CompareOp, value: &str) -> Node {
        let clear = keyword(path, op, value);
        let substitutable = matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew | CompareOp::Ne)
            || (op == CompareOp::Eq && !value.contains('*'));
        match substitutable.then(|| self.resolver.token(value)).flatten() {
            Some(token) if op == CompareOp::Ne => and(vec![clear, keyword(path, op, &token)]),
            Some(token) => or(vec![clear, keyword(path, op, &token)]),
            None => clear,
        }
    }
}

/// The lowercase path and kind of an attribute, or `invalidFilter`.
fn attribute(path: &AttrPath, catalogue: &Catalogue) -> Result<(String, Kind), QueryError> {
    if let Some(schema) = &path.schema
        && lowercase(schema) != RECORD_SCHEMA
    {
        return Err(QueryError::filter(format!("unknown schema {schema}")));
    }
    let dotted = path.dotted_lowercase();
    match catalogue.kind(&dotted) {
        Some(kind) => Ok((dotted, kind)),
        None => Err(QueryError::filter(format!(
            "unknown attribute {}; known: {}",
            written(path),
            known_attributes()
        ))),
    }
}

fn written(path: &AttrPath) -> String {
    path.names.join(".")
}

fn verify_misplaced() -> QueryError {
    QueryError::filter("verify eq true can only be joined to the filter with and, at its top level")
}

fn text(value: &Value) -> &str {
    match value {
        Value::String(text) | Value::Bare(text) => text,
    }
}

fn is_null(value: &Value) -> bool {
    matches!(value, Value::Bare(text) if text.eq_ignore_ascii_case("null"))
}

/// `eq null` is "absent", `ne null` is "present" (RFC 7644 section 3.4.2.2).
fn null_test(op: CompareOp, path: &str, _tokens: Tokens) -> Result<Node, QueryError> {
    match op {
        CompareOp::Eq => Ok(Node::Not(Box::new(present(path)))),
        CompareOp::Ne => Ok(present(path)),
        _ => Err(QueryError::filter(format!("null compares only with eq and ne, not {}", op.name()))),
    }
}

fn match_op(op: CompareOp) -> MatchOp {
    match op {
        CompareOp::Eq | CompareOp::Ne => MatchOp::Eq,
        CompareOp::Co => MatchOp::Co,
        CompareOp::Sw => MatchOp::Sw,
        CompareOp::Ew => MatchOp::Ew,
        CompareOp::Gt => MatchOp::Gt,
        CompareOp::Ge => MatchOp::Ge,
        CompareOp::Lt => MatchOp::Lt,
        CompareOp::Le => MatchOp::Le,
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;

mod nodes;
use nodes::{and, created, keyword, or, present};
