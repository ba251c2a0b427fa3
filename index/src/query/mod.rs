//! A search condition ([`Node`]) and its Tantivy query, always scoped to the tenant:
//! the tenant's term is a required clause of the root, so no filter can reach another
//! tenant's documents.
//!
//! The query-api plans a filter into a `Node` and sends it to the indexers' leaves,
//! which build the query here; the query-api builds it too, once, to refuse a
//! condition no leaf could run before asking any.

pub mod created;

use std::ops::Bound;

use serde::{Deserialize, Serialize};
use tantivy::Term;
use tantivy::query::{
    AllQuery, BooleanQuery, ConstScoreQuery, EmptyQuery, InvertedIndexRangeQuery, Occur, Query, RegexQuery,
    TermQuery, TermSetQuery,
};
use tantivy::schema::{Field, IndexRecordOption};

use crate::schema::IndexSchema;
use created::CreatedQuery;

/// An index-level condition over one tenant's records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Node {
    /// Every record.
    All,
    /// Records holding any of these keyword terms (`path=value`).
    Terms(Vec<String>),
    /// Records holding a keyword term the regular expression matches whole.
    Regex(String),
    /// Records holding a keyword term within these bounds.
    TermRange {
        /// Lower bound.
        lower: Bound<String>,
        /// Upper bound.
        upper: Bound<String>,
    },
    /// Records created in `[start, end)` (milliseconds).
    Created {
        /// First millisecond in range.
        start: i64,
        /// First millisecond past the range.
        end: i64,
    },
    /// All of these.
    And(Vec<Node>),
    /// Any of these.
    Or(Vec<Node>),
    /// Not this.
    Not(Box<Node>),
}

/// A condition no index can run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConditionError {
    /// A pattern compiles to an automaton over the limit.
    #[error("the pattern is too complex; use fewer wildcards")]
    PatternTooComplex,
}

/// The query of `node` within `tenant`'s records.
pub fn tenant_query(
    schema: &IndexSchema,
    tenant: &str,
    node: &Node,
) -> Result<Box<dyn Query>, ConditionError> {
    let scope: Box<dyn Query> =
        Box::new(TermQuery::new(Term::from_field_text(schema.tenant, tenant), IndexRecordOption::Basic));
    let builder = Builder { schema, tenant };
    let clauses = match node {
        Node::All => return Ok(scope),
        Node::Not(inner) => vec![(Occur::Must, scope), (Occur::MustNot, builder.query(inner)?)],
        Node::And(children) => {
            let mut clauses = vec![(Occur::Must, scope)];
            for child in children {
                clauses.push(builder.clause(child)?);
            }
            clauses
        }
        other => vec![(Occur::Must, scope), (Occur::Must, builder.query(other)?)],
    };
    Ok(Box::new(BooleanQuery::new(clauses)))
}

struct Builder<'a> {
    schema: &'a IndexSchema,
    tenant: &'a str,
}

impl Builder<'_> {
    /// A child of an `and`: negations become `MustNot` clauses directly.
    fn clause(&self, node: &Node) -> Result<(Occur, Box<dyn Query>), ConditionError> {
        match node {
            Node::Not(inner) => Ok((Occur::MustNot, self.query(inner)?)),
            other => Ok((Occur::Must, self.query(other)?)),
        }
    }

    fn query(&self, node: &Node) -> Result<Box<dyn Query>, ConditionError> {
        let keyword = self.schema.keyword;
        Ok(match node {
            Node::All => Box::new(AllQuery),
            Node::Terms(terms) if terms.is_empty() => Box::new(EmptyQuery),
            Node::Terms(terms) if terms.len() == 1 => {
                Box::new(TermQuery::new(Term::from_field_text(keyword, &terms[0]), IndexRecordOption::Basic))
            }
            Node::Terms(terms) => {
                constant(TermSetQuery::new(terms.iter().map(|term| Term::from_field_text(keyword, term))))
            }
            Node::Regex(pattern) => constant(
                RegexQuery::from_pattern(pattern, keyword).map_err(|_| ConditionError::PatternTooComplex)?,
            ),
            Node::TermRange { lower, upper } => {
                constant(InvertedIndexRangeQuery::new(bound(keyword, lower), bound(keyword, upper)))
            }
            Node::Created { start, end } => {
                let (tenant, buckets) = (self.tenant.to_owned(), self.schema.buckets);
                Box::new(CreatedQuery { tenant, start: *start, end: *end, buckets })
            }
            Node::And(children) => {
                let clauses = children.iter().map(|child| self.clause(child)).collect::<Result<_, _>>()?;
                Box::new(BooleanQuery::new(with_positive(clauses)))
            }
            Node::Or(children) => {
                let clauses = children
                    .iter()
                    .map(|child| Ok((Occur::Should, self.query(child)?)))
                    .collect::<Result<_, ConditionError>>()?;
                Box::new(BooleanQuery::new(clauses))
            }
            Node::Not(inner) => Box::new(BooleanQuery::new(vec![
                (Occur::Must, Box::new(AllQuery)),
                (Occur::MustNot, self.query(inner)?),
            ])),
        })
    }
}

/// A boolean query of only `MustNot` clauses matches nothing; "all but" needs an all.
fn with_positive(mut clauses: Vec<(Occur, Box<dyn Query>)>) -> Vec<(Occur, Box<dyn Query>)> {
    if clauses.iter().all(|(occur, _)| *occur == Occur::MustNot) {
        clauses.push((Occur::Must, Box::new(AllQuery)));
    }
    clauses
}

/// Scores are never used (results sort by `created`); a constant skips computing them.
fn constant(query: impl Query + 'static) -> Box<dyn Query> {
    Box::new(ConstScoreQuery::new(Box::new(query), 1.0))
}

fn bound(field: Field, bound: &Bound<String>) -> Bound<Term> {
    match bound {
        Bound::Included(text) => Bound::Included(Term::from_field_text(field, text)),
        Bound::Excluded(text) => Bound::Excluded(Term::from_field_text(field, text)),
        Bound::Unbounded => Bound::Unbounded,
    }
}
