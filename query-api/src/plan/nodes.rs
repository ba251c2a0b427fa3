//! Building [`Node`]s: one comparison on one keyword path or on `created`, and the
//! boolean combinators that keep trees flat (and merge time ranges, so
//! `created ge A and created lt B` is one range, read through one set of buckets).

use std::ops::Bound;

use audit_index::schema::keyword_term;
use chrono::DateTime;

use super::Node;
use crate::QueryError;
use crate::filter::CompareOp;

/// All of `nodes`: nested ands flattened, `All` dropped, time ranges intersected.
pub fn and(nodes: Vec<Node>) -> Node {
    let mut flat = Vec::new();
    let mut range: Option<(i64, i64)> = None;
    for node in nodes {
        match node {
            Node::And(children) => flat.extend(children),
            other => flat.push(other),
        }
    }
    flat.retain(|node| match node {
        Node::All => false,
        Node::Created { start, end } => {
            range = Some(range.map_or((*start, *end), |(low, high)| (low.max(*start), high.min(*end))));
            false
        }
        _ => true,
    });
    if let Some((start, end)) = range {
        flat.insert(0, Node::Created { start, end });
    }
    match flat.len() {
        0 => Node::All,
        1 => flat.pop().unwrap_or(Node::All),
        _ => Node::And(flat),
    }
}

/// Any of `nodes`, nested ors flattened.
pub fn or(nodes: Vec<Node>) -> Node {
    let mut flat = Vec::new();
    for node in nodes {
        match node {
            Node::Or(children) => flat.extend(children),
            Node::All => return Node::All,
            other => flat.push(other),
        }
    }
    if flat.len() == 1 { flat.pop().unwrap_or(Node::All) } else { Node::Or(flat) }
}

/// Records with any value at `path`: every term of the path lies in `path=` ..
/// `path>` (`>` follows `=`), and no other path's term does.
pub fn present(path: &str) -> Node {
    Node::TermRange { lower: Bound::Included(format!("{path}=")), upper: Bound::Excluded(format!("{path}>")) }
}

/// `path op value` over clear keyword terms.
pub fn keyword(path: &str, op: CompareOp, value: &str) -> Node {
    let term = keyword_term(path, value);
    let regex = |body: String| Node::Regex(format!("(?s){}{body}", escape(&format!("{path}="))));
    match op {
        CompareOp::Eq if value.contains('*') => {
            let parts: Vec<String> = value.split('*').map(escape).collect();
            regex(parts.join(".*"))
        }
        CompareOp::Eq => Node::Terms(vec![term]),
        CompareOp::Ne => Node::Not(Box::new(keyword(path, CompareOp::Eq, value))),
        CompareOp::Co => regex(format!(".*{}.*", escape(value))),
        CompareOp::Sw => regex(format!("{}.*", escape(value))),
        CompareOp::Ew => regex(format!(".*{}", escape(value))),
        CompareOp::Gt => range(Bound::Excluded(term), Bound::Excluded(format!("{path}>"))),
        CompareOp::Ge => range(Bound::Included(term), Bound::Excluded(format!("{path}>"))),
        CompareOp::Lt => range(Bound::Included(format!("{path}=")), Bound::Excluded(term)),
        CompareOp::Le => range(Bound::Included(format!("{path}=")), Bound::Included(term)),
    }
}

fn range(lower: Bound<String>, upper: Bound<String>) -> Node {
    Node::TermRange { lower, upper }
}

/// Escapes every character the regular expression syntax gives a meaning.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() + 8);
    for character in text.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(character) {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}

/// `created op time`, in whole milliseconds.
pub fn created(op: CompareOp, value: &str) -> Result<Node, QueryError> {
    if matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew) {
        return Err(QueryError::filter(format!(
            "created compares with eq ne gt ge lt le pr, not {}",
            op.name()
        )));
    }
    if value.contains('*') {
        return Err(QueryError::filter("the * wildcard is not supported on created"));
    }
    let at = DateTime::parse_from_rfc3339(value)
        .map_err(|_| QueryError::filter("created takes an RFC 3339 time such as 2022-11-27T12:00:00Z"))?
        .timestamp_millis();
    let node = |start: i64, end: i64| Node::Created { start, end };
    Ok(match op {
        CompareOp::Eq => node(at, at.saturating_add(1)),
        CompareOp::Ne => Node::Not(Box::new(node(at, at.saturating_add(1)))),
        CompareOp::Gt => node(at.saturating_add(1), i64::MAX),
        CompareOp::Ge => node(at, i64::MAX),
        CompareOp::Lt => node(i64::MIN, at),
        CompareOp::Le => node(i64::MIN, at.saturating_add(1)),
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => Node::All,
    })
}
