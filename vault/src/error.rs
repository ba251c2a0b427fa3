//! The vault's one error type. Messages name what happened, never a clear value or a
//! key; [`crate::http::error_response`] maps each to its HTTP status.

use audit_auth::AuthError;
use audit_scim::ScimType;

use crate::keys::KeyError;
use crate::store::StoreError;

/// What went wrong in the vault.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored key or value did not open: wrong master key or tampered data.
    #[error("stored key material does not open: {0}")]
    Key(#[from] KeyError),
    /// A token was inserted but could not be read back.
    #[error("token not found after insert")]
    TokenNotStored,
    /// A subject key vanished while a batch was sealing (erased concurrently).
    #[error("subject key missing while sealing; the subject was erased concurrently")]
    SubjectKeyMissing,
    /// Erasure needs an `ownerId` or `ownerExtId`.
    #[error("erasure names no data subject")]
    NoSubject,
    /// The configuration is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A listener or the master key file failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: &'static str,
        /// The failure.
        source: std::io::Error,
    },
    /// Metrics could not be registered.
    #[error("metrics registration failed: {0}")]
    Metrics(#[from] prometheus::Error),
    /// Kafka (for detokenization audit events) failed.
    #[error(transparent)]
    Kafka(#[from] audit_runtime::RuntimeError),
    /// The caller is not authenticated or not allowed.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The request is not valid; `scim_type` classifies it as SCIM does.
    #[error("invalid request: {detail}")]
    InvalidRequest {
        /// SCIM error type, e.g. `invalidFilter`.
        scim_type: ScimType,
        /// What is wrong.
        detail: String,
    },
    /// The request body is larger than the limit.
    #[error("request body larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// No such token in this tenant.
    #[error("token not found")]
    TokenNotFound,
    /// The token's data subject was erased.
    #[error("the value of this token was erased with its data subject")]
    ValueErased,
    /// A match would decrypt more of the tenant's values than the vault scans.
    #[error(
        "tenant has more than {bound} tokenized values: pattern filters on tokenized attributes are not \
         available; use eq with a whole value"
    )]
    MatchScanBound {
        /// Most values the vault decrypts for one match.
        bound: usize,
    },
    /// More values match than the caller accepts.
    #[error("pattern matches more than {limit} values: narrow it")]
    MatchResultBound {
        /// The limit in force: the request's, capped by the vault's.
        limit: usize,
    },
    /// Work moved off the async runtime did not finish (it panicked).
    #[error("background task failed: {0}")]
    Task(String),
    /// The audit event of an access could not be written: nothing is revealed.
    #[error("audit event not recorded: {0}")]
    AuditUnavailable(String),
}
