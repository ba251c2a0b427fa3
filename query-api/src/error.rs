//! The query-api's one error type, named for what happened; [`crate::http::error_response`]
//! is the one place it becomes an HTTP status and a SCIM error body.
//!
//! Details never carry a filter value or a record's content: values can be personal data.

use audit_scim::ScimType;

use audit_auth::AuthError;
use audit_vault_api::client::VaultClientError;

/// What can go wrong in the query-api.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// A setting is invalid (start-up only).
    #[error("invalid setting {name}: {reason}")]
    Config {
        /// Flag name.
        name: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The caller is not authenticated or not allowed.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The filter does not parse or names something unknown.
    #[error("{0}")]
    InvalidFilter(String),
    /// A request value is invalid (`sortBy`, `sortOrder`, body shape).
    #[error("{detail}")]
    InvalidRequest {
        /// SCIM error type: `invalidSyntax` or `invalidValue`.
        scim_type: ScimType,
        /// What is wrong.
        detail: String,
    },
    /// The request asks for more than the service will compute (a page too deep, a
    /// pattern on a tokenized attribute matching too many values).
    #[error("{0}")]
    TooMany(String),
    /// A cursor that is not one this service gave, or was given for another search.
    #[error("{0}")]
    InvalidCursor(String),
    /// Some shards cannot be searched now (unclaimed, unreachable, being rebuilt).
    #[error("{detail}")]
    ShardsMissing {
        /// Which, and why.
        detail: String,
    },
    /// The body is neither `application/scim+json` nor `application/json`.
    #[error("content type must be application/scim+json or application/json")]
    UnsupportedMediaType,
    /// The body is larger than the limit.
    #[error("request body larger than {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// No such record in this tenant.
    #[error("record not found")]
    NotFound,
    /// The tenant has no signed checkpoint yet (none read from the checkpoint topic).
    #[error("no checkpoint of this tenant yet: the signer publishes one within seconds of its first records")]
    NoCheckpoint,
    /// A proof asked against a tree the tenant's checkpoints do not cover.
    #[error("{0}")]
    OutsideTree(String),
    /// The index's subtrees do not give the signed checkpoint's root: the index or the
    /// checkpoint is not the log's.
    #[error("the index disagrees with the signed checkpoint of {size} records")]
    IndexDisagrees {
        /// The checkpoint's size.
        size: u64,
    },
    /// The vault failed or refused; values cannot be resolved or revealed.
    #[error("vault: {0}")]
    Vault(#[from] VaultClientError),
    /// A file could not be read or the listener failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: &'static str,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The signing keys could not be read.
    #[error("signing keys: {0}")]
    Keys(String),
    /// Metrics could not be registered.
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    /// A blocking search task failed to complete.
    #[error("search task failed: {0}")]
    Task(String),
}

impl QueryError {
    /// An `invalidFilter` error.
    pub fn filter(detail: impl Into<String>) -> QueryError {
        QueryError::InvalidFilter(detail.into())
    }

    /// An `invalidValue` error.
    pub fn invalid_value(detail: impl Into<String>) -> QueryError {
        QueryError::InvalidRequest { scim_type: ScimType::InvalidValue, detail: detail.into() }
    }
}
