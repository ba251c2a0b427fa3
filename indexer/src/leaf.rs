//! The leaf API: searches of the shards this indexer owns, for the query-apis.
//!
//! `POST /v1/search` takes a [`LeafRequest`] (the partitions the caller believes are
//! here, and the query) and answers each partition's state and, when every one is
//! served, what the search found. Callers present a service credential with the
//! `search` scope (HTTP Basic): leaves hold every tenant's records and check no
//! bearer token, so only a query-api, which does, may ask. Searches run on the
//! blocking pool and never wait for indexing.

use std::sync::Arc;
use std::time::Instant;

use audit_auth::service::{Scope, ServiceCredentials};
use audit_index::leaf::{LeafRequest, LeafResponse, SEARCH_PATH};
use audit_index::schema::IndexSchema;
use audit_scim::ScimError;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::IndexerError;
use crate::metrics::IndexerMetrics;
use crate::served::Served;

/// Largest leaf request body (a page's sequences at most).
const MAX_BODY_BYTES: usize = 1 << 20;

/// What a leaf search needs.
#[derive(Clone)]
pub struct LeafState {
    /// The served shards.
    pub served: Arc<Served>,
    /// The index schema.
    pub schema: Arc<IndexSchema>,
    /// Who may search.
    pub credentials: Arc<ServiceCredentials>,
    /// The indexer's metrics.
    pub metrics: IndexerMetrics,
}

/// Serves the leaf API on `listener` until `shutdown`.
pub async fn serve(
    state: LeafState,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), IndexerError> {
    let app = axum::Router::new()
        .route(SEARCH_PATH, post(search))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state);
    axum::serve(audit_service::http::listener(listener), app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
        .map_err(|source| IndexerError::Io { path: "leaf listener".into(), source })
}

async fn search(State(state): State<LeafState>, headers: HeaderMap, body: Bytes) -> Response {
    let started = Instant::now();
    let answer = answer(&state, &headers, body).await;
    let outcome = if answer.is_ok() { "ok" } else { "error" };
    state.metrics.leaf_searches.with_label_values(&[outcome]).inc();
    state.metrics.leaf_duration.observe(started.elapsed().as_secs_f64());
    match answer {
        Ok(response) => axum::Json(response).into_response(),
        Err(error) => error_response(&error),
    }
}

async fn answer(state: &LeafState, headers: &HeaderMap, body: Bytes) -> Result<LeafResponse, LeafError> {
    let authorization = headers.get(header::AUTHORIZATION).and_then(|value| value.to_str().ok());
    state.credentials.verify(authorization, Scope::Search).map_err(LeafError::Refused)?;
    let request: LeafRequest =
        serde_json::from_slice(&body).map_err(|error| LeafError::BadRequest(error.to_string()))?;
    let state = state.clone();
    let work = move || {
        let (shards, views) = state.served.views(&request.partitions);
        let Some(views) = views else { return Ok(LeafResponse { shards, found: Default::default() }) };
        let found = audit_index::search::search(&state.schema, &views, &request.query)?;
        Ok(LeafResponse { shards, found })
    };
    tokio::task::spawn_blocking(work).await.map_err(|error| LeafError::Failed(error.to_string()))?
}

/// Why a leaf search got no answer.
#[derive(Debug, thiserror::Error)]
enum LeafError {
    #[error(transparent)]
    Refused(audit_auth::AuthError),
    #[error("body is not a leaf request: {0}")]
    BadRequest(String),
    #[error(transparent)]
    Search(#[from] audit_index::IndexError),
    #[error("search task failed: {0}")]
    Failed(String),
}

/// The one mapping of a leaf error to its answer.
fn error_response(error: &LeafError) -> Response {
    let scim = match error {
        LeafError::Refused(refused) => refused.scim(),
        LeafError::BadRequest(detail) => ScimError::new(StatusCode::BAD_REQUEST, detail.clone()),
        LeafError::Search(audit_index::IndexError::Condition(condition)) => {
            ScimError::new(StatusCode::BAD_REQUEST, condition.to_string())
        }
        other => {
            tracing::error!(error = %other, "leaf search failed");
            ScimError::new(StatusCode::INTERNAL_SERVER_ERROR, other.to_string())
        }
    };
    scim.into_response()
}
