//! SCIM (RFC 7643/7644) as the trail's HTTP services speak it, owned once so the vault
//! and the query-api read filters alike and answer the same mistake the same way.
//!
//! - [`filter`]: the filter grammar, with limits, and errors that never repeat a value.
//! - [`error`]: the SCIM error response, sent by every HTTP service and read by clients.
#![warn(missing_docs)]

pub mod error;
pub mod filter;
pub mod responses;

pub use error::{ErrorBody, ScimError, ScimType};
