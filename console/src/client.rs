//! The console's calls to the product's APIs, with the signed-in user's token: the
//! query-api for records, checkpoints and bundles, the notifier for webhooks. An API's
//! refusal comes back as [`ApiError`] with the API's own words (its SCIM `detail`),
//! which the pages show.

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

impl ApiError {
    /// The status a page showing this error answers with: the API's own, else 502.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Refused { status, .. } => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY)
            }
            _ => StatusCode::BAD_GATEWAY,
        }
    }
}

/// Where the APIs are.
#[derive(Debug, Clone)]
pub struct Apis {
    http: reqwest::Client,
    /// Base URL of the query-api.
    query: String,
    /// Base URL of the notifier.
    notifier: String,
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

/// Where a call goes.
struct Target {
    service: &'static str,
    method: Method,
    url: String,
}

impl Apis {
    /// The APIs at `query` (the query-api's base URL) and `notifier`.
    pub fn new(query: &str, notifier: &str) -> Apis {
        let timeout = std::time::Duration::from_secs(30);
        let http = reqwest::Client::builder().timeout(timeout).build().unwrap_or_default();
        let base = |url: &str| url.trim_end_matches('/').to_owned();
        Apis { http, query: base(query), notifier: base(notifier) }
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
        self.json(self.records_target(session, Method::POST, ".search"), session, Some(body)).await
    }

    /// One record, with clear values when `reveal`.
    pub async fn record(&self, session: &Session, id: &str, reveal: bool) -> Result<Value, ApiError> {
        let path = format!("{}?detokenize={reveal}", encode(id));
        self.json(self.records_target(session, Method::GET, &path), session, None).await
    }

    /// The tenant's latest checkpoint.
    pub async fn checkpoint(&self, session: &Session) -> Result<Value, ApiError> {
        self.json(self.records_target(session, Method::GET, ".checkpoint"), session, None).await
    }

    /// The tenant's bundle of `body` (a window or none), as a streaming answer.
    pub async fn bundle(&self, session: &Session, body: Value) -> Result<reqwest::Response, ApiError> {
        self.send(self.records_target(session, Method::POST, ".bundle"), session, Some(body)).await
    }

    /// `method` on the tenant's webhooks `path` (empty: the collection) at the notifier.
    pub async fn webhooks(
        &self,
        session: &Session,
        (method, path): (Method, &str),
        body: Option<Value>,
    ) -> Result<Value, ApiError> {
        let mut url = format!("{}/v1/tenants/{}/webhooks", self.notifier, encode(&session.tenant));
        if !path.is_empty() {
            url = format!("{url}/{path}");
        }
        self.json(Target { service: "notifier", method, url }, session, body).await
    }

    fn records_target(&self, session: &Session, method: Method, path: &str) -> Target {
        let url = format!("{}/scim/{}/v2/AuditRecords/{path}", self.query, encode(&session.tenant));
        Target { service: "query-api", method, url }
    }

    /// The answer's JSON (none for an empty body).
    async fn json(&self, target: Target, session: &Session, body: Option<Value>) -> Result<Value, ApiError> {
        let response = self.send(target, session, body).await?;
        Ok(response.json().await.unwrap_or(Value::Null))
    }

    /// The answer, when it is a success.
    async fn send(
        &self,
        target: Target,
        session: &Session,
        body: Option<Value>,
    ) -> Result<reqwest::Response, ApiError> {
        let service = target.service;
        let mut request = self.http.request(target.method, target.url).bearer_auth(&session.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let unreachable =
            |error: reqwest::Error| ApiError::Unreachable { service, reason: error.to_string() };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let detail = match (body["scimType"].as_str(), body["detail"].as_str()) {
            (Some("invalidFilter"), Some(detail)) => format!("This filter is not valid: {detail}"),
            (_, Some(detail)) => detail.to_owned(),
            (_, None) => format!("the {service} refused the request"),
        };
        match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Err(ApiError::SignedOut(detail)),
            _ => Err(ApiError::Refused { status: status.as_u16(), detail }),
        }
    }
}

/// `value` as one path segment.
pub fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>().replace('+', "%20")
}
