//! The SCIM error response (RFC 7644 §3.12), the one shape every HTTP service answers
//! a failure with, and its reading by clients: a status, an optional `scimType` from
//! the RFC's closed list, and a detail.
//!
//! Details are written by the services for people; they must never carry a personal
//! value (the services' error mappings see to that), since responses end up in logs.

use std::fmt;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

/// The schema URN of a SCIM error body.
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// The media type of every SCIM body.
pub const MEDIA_TYPE: &str = "application/scim+json;charset=utf-8";

/// `scimType`: the RFC's kinds of bad request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum ScimType {
    /// The filter does not parse or cannot be evaluated.
    InvalidFilter,
    /// The request asks for more than the service will compute or return.
    TooMany,
    /// The body does not parse or violates the schema.
    InvalidSyntax,
    /// A value is not one the attribute takes.
    InvalidValue,
    /// A cursor the service did not give, or gave for another search (RFC 9865).
    InvalidCursor,
}

impl ScimType {
    const ALL: [ScimType; 5] = [
        ScimType::InvalidFilter,
        ScimType::TooMany,
        ScimType::InvalidSyntax,
        ScimType::InvalidValue,
        ScimType::InvalidCursor,
    ];

    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidCursor => "invalidCursor",
        }
    }

    /// The type named `name` on the wire, if it is one of ours.
    pub fn from_wire(name: &str) -> Option<ScimType> {
        ScimType::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

impl fmt::Display for ScimType {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// The body of a SCIM error on the wire, as the OpenAPI documents describe it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ScimError)]
pub struct ErrorBody {
    /// `["urn:ietf:params:scim:api:messages:2.0:Error"]`.
    #[schema(value_type = Vec<String>, min_items = 1, max_items = 1)]
    schemas: [&'static str; 1],
    /// The HTTP status, as a string.
    #[schema(pattern = "^[1-5][0-9][0-9]$")]
    status: String,
    /// The kind of bad request, for 400s that have one.
    #[serde(skip_serializing_if = "Option::is_none")]
    scim_type: Option<ScimType>,
    /// What went wrong, for people; never a personal value.
    detail: String,
}

/// A SCIM error, as sent and as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimError {
    /// HTTP status.
    pub status: StatusCode,
    /// The kind of bad request, for 400s that have one.
    pub scim_type: Option<ScimType>,
    /// What went wrong, for people; never a personal value.
    pub detail: String,
}

impl ScimError {
    /// An error with `status` and `detail` and no `scimType`.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> ScimError {
        ScimError { status, scim_type: None, detail: detail.into() }
    }

    /// A 400 of kind `scim_type`.
    pub fn bad_request(scim_type: ScimType, detail: impl Into<String>) -> ScimError {
        ScimError { status: StatusCode::BAD_REQUEST, scim_type: Some(scim_type), detail: detail.into() }
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        let body = ErrorBody {
            schemas: [ERROR_SCHEMA],
            status: self.status.as_u16().to_string(),
            scim_type: self.scim_type,
            detail: self.detail.clone(),
        };
        serde_json::to_value(body).expect("an error body serializes")
    }

    /// Reads an error answer: its status and, when the body is a SCIM error, its type
    /// and detail (a proxy's page or an empty body leaves them out).
    pub fn from_answer(status: StatusCode, body: &[u8]) -> ScimError {
        let body: Value = serde_json::from_slice(body).unwrap_or_default();
        let scim_type = body["scimType"].as_str().and_then(ScimType::from_wire);
        let detail = body["detail"].as_str().unwrap_or("no detail").to_owned();
        ScimError { status, scim_type, detail }
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut response = json_response(self.status, &self.body());
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// A SCIM JSON response (`application/scim+json`).
pub fn json_response(status: StatusCode, body: &impl Serialize) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_reads_back_as_it_was_sent() {
        let sent = ScimError::bad_request(ScimType::TooMany, "more than 20000 values");
        let bytes = serde_json::to_vec(&sent.body()).unwrap();
        assert_eq!(ScimError::from_answer(StatusCode::BAD_REQUEST, &bytes), sent);
        let proxy = ScimError::from_answer(StatusCode::BAD_GATEWAY, b"<html>bad gateway</html>");
        assert_eq!(proxy, ScimError::new(StatusCode::BAD_GATEWAY, "no detail"));
    }

    #[test]
    fn an_unauthorized_answer_names_the_scheme() {
        let response = ScimError::new(StatusCode::UNAUTHORIZED, "authentication required").into_response();
        assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
        assert_eq!(response.headers()[header::CONTENT_TYPE], MEDIA_TYPE);
    }
}
