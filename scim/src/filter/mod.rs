//! The SCIM filter language (RFC 7644 §3.4.2.2) as the query-api accepts it.
//!
//! Owns turning a client's `filter` parameter into a [`Filter`] tree and back into a
//! canonical string. Guarantees:
//! - [`parse`] never panics, runs in time linear in the input and uses stack bounded by
//!   [`MAX_DEPTH`], whatever the input: the length limit is checked before lexing, the
//!   depth limit before each descent, and the grammar is LL(1) so nothing is re-read.
//! - Error details ([`FilterError`]) may name operators, keywords and punctuation but
//!   never repeat a value or the content of a quoted string, because values can be
//!   personal data and errors end up in responses and logs.
//! - `Debug` of a [`Value`] (and so of a whole [`Filter`]) prints lengths, not values.
//! - `Display` of a [`Filter`] produced by [`parse`] parses back to an equal `Filter`.
//!
//! Beyond the RFC the grammar takes unquoted values (`result eq RESPONSE_SUCCESS`,
//! `created gt 2022-11-27T12:00:00Z`), because the product's seed filters use them.
//!
//! # Layout
//! - `ast`: the tree ([`Filter`], [`Comparison`], [`AttrPath`], [`Value`]) and its
//!   canonical `Display`.
//! - `lexer`: tokens with byte positions; decodes quoted values.
//! - `parser`: recursive descent with the depth and comparison limits.

mod ast;
mod lexer;
mod parser;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

pub use ast::{AttrPath, CompareOp, Comparison, Filter, Value};

/// Longest filter accepted, in bytes; longer input is rejected before it is lexed.
pub const MAX_FILTER_BYTES: usize = 4096;

/// Deepest nesting of `( )`, `not ( )` and `attr[ ]` accepted; each counts one level.
pub const MAX_DEPTH: usize = 32;

/// Most comparisons (`path op value`) and presence tests (`path pr`) in one filter.
pub const MAX_COMPARISONS: usize = 100;

/// Why a filter was rejected and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail} at position {position}")]
pub struct FilterError {
    /// Byte offset in the filter text where the problem was found.
    pub position: usize,
    /// What is wrong, lowercase; never contains a value from the filter.
    pub detail: String,
}

impl FilterError {
    /// An error at byte `position`; `detail` must not contain values from the filter.
    pub(crate) fn new(position: usize, detail: impl Into<String>) -> Self {
        Self { position, detail: detail.into() }
    }
}

/// Parses a SCIM filter such as `created gt 2022-11-27T12:00:00Z and verify eq true`.
///
/// `and` binds tighter than `or`, both associate to the left, keywords and operators
/// are case-insensitive. Fails on empty input, input longer than [`MAX_FILTER_BYTES`],
/// nesting deeper than [`MAX_DEPTH`], more than [`MAX_COMPARISONS`] comparisons and
/// anything outside the grammar.
pub fn parse(text: &str) -> Result<Filter, FilterError> {
    if text.len() > MAX_FILTER_BYTES {
        return Err(FilterError::new(
            MAX_FILTER_BYTES,
            format!("filter is longer than {MAX_FILTER_BYTES} bytes"),
        ));
    }
    parser::parse_tokens(text)
}
