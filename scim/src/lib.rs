//! SCIM (RFC 7643/7644) as the trail's HTTP services speak it, owned once so the vault
//! and the query-api read filters alike and answer the same mistake the same way.
//!
//! - [`filter`]: the filter grammar, with limits, and errors that never repeat a value.
#![warn(missing_docs)]

pub mod filter;
