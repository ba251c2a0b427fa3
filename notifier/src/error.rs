//! The notifier's one error type, named for what happened.

use std::path::PathBuf;

use audit_runtime::RuntimeError;

/// What can stop the notifier or refuse a request.
#[derive(Debug, thiserror::Error)]
pub enum NotifierError {
    /// A setting is invalid.
    #[error("invalid setting {name}: {reason}")]
    Config {
        /// Flag name.
        name: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The master key file could not be read or written.
    #[error("key file {path}: {source}")]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The master key file does not hold 64 hex digits.
    #[error("key file {path} does not hold a 256-bit key in hex")]
    MalformedKey {
        /// The file.
        path: PathBuf,
    },
    /// A sealed secret did not open: wrong master key or tampered row.
    #[error("secrets of webhook {webhook} do not open")]
    SecretNotAuthentic {
        /// The webhook.
        webhook: String,
    },
    /// The embedded database failed.
    #[error("notifier database: {0}")]
    Store(#[from] libsql::Error),
    /// PostgreSQL failed.
    #[error("notifier postgres database: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// No PostgreSQL connection could be taken from the pool.
    #[error("notifier postgres pool: {0}")]
    Pool(String),
    /// The database holds a schema newer than this build.
    #[error("database schema version {found} is newer than this build's {known}")]
    SchemaTooNew {
        /// Version in the database.
        found: i64,
        /// Newest version this build knows.
        known: i64,
    },
    /// A request names a field with a value the API does not take.
    #[error("{field}: {detail}")]
    InvalidField {
        /// The field, as the API spells it.
        field: &'static str,
        /// What is wrong, never the value.
        detail: String,
    },
    /// The request body is not the JSON the operation takes.
    #[error("body: {0}")]
    InvalidBody(String),
    /// The request body is larger than the limit.
    #[error("request body larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// No such webhook or delivery in this tenant.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The caller is not allowed.
    #[error(transparent)]
    Auth(#[from] audit_auth::AuthError),
    /// The HTTP client could not be built (the CA file).
    #[error("webhook client: {0}")]
    Client(String),
    /// Listening or serving failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: &'static str,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A change's trail event was not acknowledged, so the change was not made.
    #[error("audit trail unavailable: {0}")]
    TrailUnavailable(String),
    /// Kafka or the runtime failed.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// The schemas could not be loaded.
    #[error(transparent)]
    Schema(#[from] audit_schemas::CodecError),
    /// Metrics could not be registered.
    #[error("metrics registration failed: {0}")]
    Metrics(#[from] prometheus::Error),
}
