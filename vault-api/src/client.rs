//! The services' client of the vault's batched API (the [`crate`]'s types).
//!
//! One call per batch, authenticated with the service's credential. Errors say which
//! call failed and how (transport, status), never which values were sent.

use std::time::Duration;

use audit_scim::{ScimError, ScimType};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{
    DETOKENIZE_PATH, DetokenizeRequest, DetokenizeResponse, ERASURES_PATH, ErasuresRequest, ErasuresResponse,
    FIND_PATH, FindRequest, FindResponse, LOOKUP_PATH, LookupRequest, LookupResponse, MATCH_PATH,
    MatchRequest, MatchResponse, TOKENIZE_PATH, TokenizeRequest, TokenizeResponse,
};
use audit_auth::service::ServiceCredential;

/// How long one vault call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// A vault call that failed.
#[derive(Debug, thiserror::Error)]
pub enum VaultClientError {
    /// The vault could not be reached or did not answer in time.
    #[error("vault {path} unreachable: {detail}")]
    Unreachable {
        /// The endpoint.
        path: &'static str,
        /// The transport error.
        detail: String,
    },
    /// The vault answered with an error status.
    #[error("vault {path} answered {status}: {detail}")]
    Status {
        /// The endpoint.
        path: &'static str,
        /// HTTP status.
        status: u16,
        /// The SCIM error's type, when the vault gave one of ours: what kind of
        /// refusal it is, so callers need not guess it from the status.
        scim_type: Option<ScimType>,
        /// The SCIM error's detail.
        detail: String,
    },
}

impl VaultClientError {
    /// Whether retrying later may succeed (the vault is down or overloaded), as
    /// opposed to a refusal that will not change (bad credentials, bad request).
    pub fn is_transient(&self) -> bool {
        match self {
            VaultClientError::Unreachable { .. } => true,
            VaultClientError::Status { status, .. } => *status >= 500 || *status == 429,
        }
    }

    /// Whether the vault refuses what the request carries (too many values, too large
    /// a body, a value it cannot take): the same request never passes, a smaller or
    /// different one may. Credentials refused are not this: they refuse every request.
    pub fn refuses_content(&self) -> bool {
        matches!(self, VaultClientError::Status { status: 400 | 413 | 422, .. })
    }
}

/// A client of one vault.
#[derive(Debug, Clone)]
pub struct VaultClient {
    http: reqwest::Client,
    base_url: String,
    authorization: String,
}

impl VaultClient {
    /// A client of the vault at `base_url` (`http://host:port`) presenting `credential`.
    pub fn new(base_url: &str, credential: &ServiceCredential) -> VaultClient {
        let http =
            reqwest::Client::builder().timeout(CALL_TIMEOUT).build().expect("a plain http client builds");
        VaultClient {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            authorization: credential.authorization(),
        }
    }

    /// Tokens for every value of every tenant in `request`.
    pub async fn tokenize(&self, request: &TokenizeRequest) -> Result<TokenizeResponse, VaultClientError> {
        self.call(TOKENIZE_PATH, request).await
    }

    /// The tokens every value of every tenant in `request` has already; creates none.
    pub async fn find(&self, request: &TokenizeRequest) -> Result<FindResponse, VaultClientError> {
        self.call(FIND_PATH, &FindRequest::from(request)).await
    }

    /// How many erasures each tenant of `request` had.
    pub async fn erasures(&self, request: &ErasuresRequest) -> Result<ErasuresResponse, VaultClientError> {
        self.call(ERASURES_PATH, request).await
    }

    /// Tokens of clear values, without creating any.
    pub async fn lookup(&self, request: &LookupRequest) -> Result<LookupResponse, VaultClientError> {
        self.call(LOOKUP_PATH, request).await
    }

    /// Tokens of the tenant's values that match a pattern or a range, sorted; the vault
    /// refuses (400 `tooMany`) when the tenant or the matches exceed its bounds.
    pub async fn match_values(&self, request: &MatchRequest) -> Result<MatchResponse, VaultClientError> {
        self.call(MATCH_PATH, request).await
    }

    /// Clear values of tokens, recorded in the audit trail by the vault.
    pub async fn detokenize(
        &self,
        request: &DetokenizeRequest,
    ) -> Result<DetokenizeResponse, VaultClientError> {
        self.call(DETOKENIZE_PATH, request).await
    }

    async fn call<Q: Serialize, A: DeserializeOwned>(
        &self,
        path: &'static str,
        request: &Q,
    ) -> Result<A, VaultClientError> {
        let unreachable =
            |error: reqwest::Error| VaultClientError::Unreachable { path, detail: error.to_string() };
        let response = self
            .http
            .post(format!("{}{path}", self.base_url))
            .header(reqwest::header::AUTHORIZATION, &self.authorization)
            .json(request)
            .send()
            .await
            .map_err(unreachable)?;
        let status = response.status();
        if !status.is_success() {
            let body = response.bytes().await.unwrap_or_default();
            let ScimError { scim_type, detail, .. } = ScimError::from_answer(status, &body);
            return Err(VaultClientError::Status { path, status: status.as_u16(), scim_type, detail });
        }
        response.json().await.map_err(unreachable)
    }
}
