//! The SCIM error answers as OpenAPI responses, listed by every service's operations
//! (`responses(AuthFailures, BadRequest, ...)` in `#[utoipa::path]`), so each status
//! is described once. They describe answers the one error mapping of each service
//! sends; no handler builds them.

use utoipa::IntoResponses;

use crate::ErrorBody;

/// What any operation behind credentials may answer besides its own results.
#[derive(IntoResponses)]
pub enum AuthFailures {
    /// No valid credential.
    #[response(status = 401, content_type = "application/scim+json")]
    Unauthorized(ErrorBody),
    /// The credential's tenant or roles do not allow it.
    #[response(status = 403, content_type = "application/scim+json")]
    Forbidden(ErrorBody),
    /// Internal error, logged and never detailed.
    #[response(status = 500, content_type = "application/scim+json")]
    Internal(ErrorBody),
}

/// A request the service refuses as SCIM does.
#[derive(IntoResponses)]
pub enum BadRequest {
    /// `invalidFilter`, `invalidSyntax`, `invalidValue` or `tooMany`.
    #[response(status = 400, content_type = "application/scim+json")]
    Refused(ErrorBody),
}

/// A body over the service's limit.
#[derive(IntoResponses)]
pub enum TooLarge {
    /// The body is larger than the limit.
    #[response(status = 413, content_type = "application/scim+json")]
    Refused(ErrorBody),
}

/// A dependency the answer waits on is down, or the request took too long.
#[derive(IntoResponses)]
pub enum Unavailable {
    /// Nothing was revealed or changed; retry later.
    #[response(status = 503, content_type = "application/scim+json")]
    Retry(ErrorBody),
}
