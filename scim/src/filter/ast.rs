//! The parsed filter tree and its canonical text form.
//!
//! Owns the shapes a filter can take and two guarantees about printing them: `Display`
//! writes the fewest parentheses that keep the tree's shape, so a parsed filter prints
//! at no greater depth than it was written and always parses back to an equal tree;
//! `Debug` of a [`Value`] shows its length only, so logging a filter leaks no values.

use std::fmt;

/// A parsed SCIM filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// `path op value`, e.g. `result eq RESPONSE_SUCCESS`.
    Compare(Comparison),
    /// `path pr`: the attribute has a value.
    Present(AttrPath),
    /// Both sides match.
    And(Box<Filter>, Box<Filter>),
    /// Either side matches.
    Or(Box<Filter>, Box<Filter>),
    /// `not ( filter )`.
    Not(Box<Filter>),
    /// RFC valuePath `emails[type eq "work"]`: one element of the multi-valued `path`
    /// matches `filter`, whose paths are relative to that element.
    ValuePath {
        /// The multi-valued attribute.
        path: AttrPath,
        /// The test applied to each of its elements; never holds another `ValuePath`.
        filter: Box<Filter>,
    },
}

/// One `path op value` test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    /// The attribute compared.
    pub path: AttrPath,
    /// How it is compared.
    pub op: CompareOp,
    /// What it is compared with.
    pub value: Value,
}

/// The comparison operators of RFC 7644 (`pr` has no value and is [`Filter::Present`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// Equal.
    Eq,
    /// Not equal.
    Ne,
    /// Contains.
    Co,
    /// Starts with.
    Sw,
    /// Ends with.
    Ew,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Ge,
    /// Less than.
    Lt,
    /// Less than or equal.
    Le,
}

impl CompareOp {
    /// Every operator, in the RFC's order.
    pub const ALL: [CompareOp; 9] = [
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Co,
        CompareOp::Sw,
        CompareOp::Ew,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ];

    /// The operator's keyword in lowercase, e.g. `"eq"`.
    pub fn name(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    /// The operator a keyword names, ignoring ASCII case; `None` for anything else.
    pub fn from_keyword(word: &str) -> Option<CompareOp> {
        CompareOp::ALL.into_iter().find(|op| word.eq_ignore_ascii_case(op.name()))
    }
}

/// An attribute path: optional schema URN, then one or more dot-separated names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    /// The schema URN without the final `:`, e.g. `urn:hid:scim:api:idp:2.0:AuditRecord`.
    pub schema: Option<String>,
    /// The names as written, outermost first; never empty when produced by the parser.
    pub names: Vec<String>,
}

impl AttrPath {
    /// The names joined by `.` in lowercase, schema left out: `action.actionparameters.atc`.
    ///
    /// SCIM attribute names are case-insensitive, so this is the form to look them up by.
    pub fn dotted_lowercase(&self) -> String {
        self.names.join(".").to_ascii_lowercase()
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(schema) = &self.schema {
            write!(f, "{schema}:")?;
        }
        f.write_str(&self.names.join("."))
    }
}

/// The value of a comparison, as written; its meaning (date, boolean...) depends on the
/// attribute, so typing it is left to whoever evaluates the filter.
#[derive(Clone, PartialEq, Eq)]
pub enum Value {
    /// A quoted JSON string, unescaped.
    String(String),
    /// An unquoted word such as `true`, `42` or `2022-11-27T12:00:00Z`.
    Bare(String),
}

impl Value {
    /// The value's text: the unescaped string or the bare word.
    pub fn as_str(&self) -> &str {
        match self {
            Value::String(text) | Value::Bare(text) => text,
        }
    }
}

impl fmt::Debug for Value {
    // Values can be personal data and Debug output ends up in logs: show only the size.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (variant, text) = match self {
            Value::String(text) => ("String", text),
            Value::Bare(text) => ("Bare", text),
        };
        write!(f, "{variant}(<{} bytes>)", text.len())
    }
}

/// How tightly a position in the output binds; a child looser than its position gets
/// parentheses.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Tightness {
    Or,
    And,
    Atom,
}

fn tightness(filter: &Filter) -> Tightness {
    match filter {
        Filter::Or(..) => Tightness::Or,
        Filter::And(..) => Tightness::And,
        _ => Tightness::Atom,
    }
}

fn write_operand(f: &mut fmt::Formatter<'_>, child: &Filter, needed: Tightness) -> fmt::Result {
    if tightness(child) < needed { write!(f, "({child})") } else { write!(f, "{child}") }
}

fn write_value(f: &mut fmt::Formatter<'_>, value: &Value) -> fmt::Result {
    match value {
        Value::String(text) => f.write_str(&serde_json::to_string(text).map_err(|_| fmt::Error)?),
        Value::Bare(word) => f.write_str(word),
    }
}

/// The canonical filter text; it contains the values, unlike `Debug`.
///
/// Both operators associate to the left, so a right operand of the same operator (and
/// any `or` under an `and`) is the only thing that needs parentheses.
impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Compare(Comparison { path, op, value }) => {
                write!(f, "{path} {} ", op.name())?;
                write_value(f, value)
            }
            Filter::Present(path) => write!(f, "{path} pr"),
            Filter::And(left, right) => {
                write_operand(f, left, Tightness::And)?;
                f.write_str(" and ")?;
                write_operand(f, right, Tightness::Atom)
            }
            Filter::Or(left, right) => {
                write_operand(f, left, Tightness::Or)?;
                f.write_str(" or ")?;
                write_operand(f, right, Tightness::And)
            }
            Filter::Not(inner) => write!(f, "not ({inner})"),
            Filter::ValuePath { path, filter } => write!(f, "{path}[{filter}]"),
        }
    }
}
