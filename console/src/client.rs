//! The console's calls to the product's APIs, with the signed-in user's token: the
//! query-api for records, checkpoints and bundles. An API's refusal comes back as
//! [`ApiError`] with the API's own words (its SCIM `detail`), which the pages show.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::session::Session;

/// A call that did not give an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The API refused the token (401, 403): the session is over.
    #[error("{0}")]
    SignedOut(String),
    /// The API answered with an error; its detail.
    #[error("{detail}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// What the API said.
        detail: String,
    },
    /// The API could not be reached.
    #[error("the {service} cannot be reached: {reason}")]
    Unreachable {
        /// Which API.
        service: &'static str,
        /// Why.
        reason: String,
    },
}

/// Where the APIs are.
#[derive(Debug, Clone)]
pub struct Apis {
    http: reqwest::Client,
    /// Base URL of the query-api.
    query: String,
}

/// A page of records asked of the query-api.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    /// The SCIM filter.
    pub filter: Option<String>,
    /// The cursor of the page (empty: the first).
    pub cursor: String,
    /// Newest first.
    pub descending: bool,
    /// Clear values (a reveal, recorded by the vault) or tokens.
    pub reveal: bool,
    /// Records per page.
    pub count: u32,
}

impl Apis {
    /// The APIs at `query` (the query-api's base URL).
    pub fn new(query: &str) -> Apis {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .unwrap_or_default();
        Apis { http, query: query.trim_end_matches('/').to_owned() }
    }

    /// One page of the session's tenant's records.
    pub async fn records(&self, session: &Session, request: &PageRequest) -> Result<Value, ApiError> {
        let body = json!({
            "filter": request.filter,
            "cursor": request.cursor,
            "count": request.count,
            "sortOrder": if request.descending { "descending" } else { "ascending" },
            "detokenize": request.reveal,
        });
        self.call(session, Method::POST, ".search", Some(body)).await
    }

    /// One record, with clear values when `reveal`.
    pub async fn record(&self, session: &Session, id: &str, reveal: bool) -> Result<Value, ApiError> {
        let path = format!("{}?detokenize={reveal}", encode(id));
        self.call(session, Method::GET, &path, None).await
    }

    /// The tenant's latest checkpoint.
    pub async fn checkpoint(&self, session: &Session) -> Result<Value, ApiError> {
        self.call(session, Method::GET, ".checkpoint", None).await
    }

    /// The tenant's bundle of `body` (a window or none), as a streaming answer.
    pub async fn bundle(&self, session: &Session, body: Value) -> Result<reqwest::Response, ApiError> {
        let url = format!("{}/scim/{}/v2/AuditRecords/.bundle", self.query, encode(&session.tenant));
        let request = self.http.post(url).bearer_auth(&session.token).json(&body);
        let response = request
            .send()
            .await
            .map_err(|error| ApiError::Unreachable { service: "query-api", reason: error.to_string() })?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let detail = body["detail"].as_str().unwrap_or("the query-api refused the request").to_owned();
        match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Err(ApiError::SignedOut(detail)),
            _ => Err(ApiError::Refused { status: status.as_u16(), detail }),
        }
    }

    /// `method` on the tenant's AuditRecords `path`.
    async fn call(
        &self,
        session: &Session,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, ApiError> {
        let url = format!("{}/scim/{}/v2/AuditRecords/{path}", self.query, encode(&session.tenant));
        let mut request = self.http.request(method, url).bearer_auth(&session.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let unreachable =
            |error: reqwest::Error| ApiError::Unreachable { service: "query-api", reason: error.to_string() };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(body);
        }
        let detail = body["detail"].as_str().unwrap_or("the query-api refused the request").to_owned();
        match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Err(ApiError::SignedOut(detail)),
            _ => Err(ApiError::Refused { status: status.as_u16(), detail }),
        }
    }
}

/// `value` as one path segment.
fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>().replace('+', "%20")
}
