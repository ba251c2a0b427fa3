//! A search of every shard: the query goes to each shard's owner (one call per leaf,
//! all at once), and the answers are merged exactly ([`merge`]).
//!
//! A search counts only when every shard answered: a shard nobody claimed, a leaf
//! that cannot be reached, a shard that moved or is still being rebuilt make the
//! search fail with the shards named ([`QueryError::ShardsMissing`]), never a total
//! silently missing their records.

use std::sync::Arc;
use std::time::Duration;

use audit_auth::service::ServiceCredential;
use audit_index::leaf::{LeafRequest, LeafResponse, SEARCH_PATH, Serving};
use audit_index::search::{Found, SearchQuery};

use crate::QueryError;
use crate::owners::Owners;

/// Longest a leaf may take to answer.
const LEAF_TIMEOUT: Duration = Duration::from_secs(8);

/// Anything that answers searches of every shard: the leaves over HTTP, or (in tests
/// and benchmarks) shards in this process.
pub trait Search: Send + Sync {
    /// The merged answer of every shard.
    fn search(&self, query: SearchQuery) -> impl Future<Output = Result<Found, QueryError>> + Send;
}

/// The leaves, as the owners topic routes them.
#[derive(Clone)]
pub struct Fanout {
    owners: Arc<Owners>,
    http: reqwest::Client,
    authorization: String,
}

impl Fanout {
    /// Searches routed by `owners`, presenting `credential` to the leaves.
    pub fn new(owners: Arc<Owners>, credential: &ServiceCredential) -> Fanout {
        let http = reqwest::Client::builder()
            .timeout(LEAF_TIMEOUT)
            .connect_timeout(Duration::from_secs(2))
            .build()
            .expect("a plain http client builds");
        Fanout { owners, http, authorization: credential.authorization() }
    }

    async fn call(&self, leaf: &str, request: &LeafRequest) -> Result<LeafResponse, String> {
        let answer = self
            .http
            .post(format!("{leaf}{SEARCH_PATH}"))
            .header(reqwest::header::AUTHORIZATION, &self.authorization)
            .json(request)
            .send()
            .await
            .map_err(|error| format!("unreachable ({})", error_kind(&error)))?;
        let status = answer.status();
        if !status.is_success() {
            let body = answer.bytes().await.unwrap_or_default();
            let refused = audit_scim::ScimError::from_answer(status, &body);
            // A leaf refuses a condition the query-api checked already: a version skew.
            return Err(format!("refused the search ({}: {})", status.as_u16(), refused.detail));
        }
        answer.json().await.map_err(|error| format!("answered what is not a leaf response ({error})"))
    }
}

impl Search for Fanout {
    async fn search(&self, query: SearchQuery) -> Result<Found, QueryError> {
        let route = self.owners.route()?;
        let calls = route.leaves.iter().map(|(leaf, partitions)| {
            let request = LeafRequest { partitions: partitions.clone(), query: query.clone() };
            async move { (leaf, partitions, self.call(leaf, &request).await) }
        });
        let answers = futures::future::join_all(calls).await;
        let mut missing: Vec<(i32, String)> = route
            .unclaimed
            .iter()
            .map(|partition| (*partition, "no indexer has claimed it".into()))
            .collect();
        let mut found = Vec::with_capacity(answers.len());
        for (leaf, partitions, answer) in answers {
            match answer {
                Ok(answer) => {
                    let before = missing.len();
                    missing.extend(
                        answer.shards.iter().filter_map(|shard| {
                            unserved(shard.serving).map(|reason| (shard.partition, reason))
                        }),
                    );
                    if missing.len() == before {
                        found.push(answer.found);
                    }
                }
                Err(reason) => {
                    tracing::warn!(%leaf, %reason, "leaf search failed");
                    missing.extend(
                        partitions.iter().map(|partition| (*partition, format!("its indexer is {reason}"))),
                    );
                }
            }
        }
        if !missing.is_empty() {
            return Err(QueryError::ShardsMissing { detail: describe(missing) });
        }
        Ok(merge(found, &query))
    }
}

/// Why a shard in `serving` state gives no answer.
fn unserved(serving: Serving) -> Option<String> {
    match serving {
        Serving::Serving => None,
        Serving::Rebuilding { indexed, target } => Some(format!(
            "its new indexer is rebuilding it ({}% done)",
            (indexed.max(0) * 100).checked_div(target.max(1)).unwrap_or(0)
        )),
        Serving::Opening => Some("its new indexer is opening it".into()),
        Serving::NotOwned => Some("it moved to another indexer, which has not claimed it yet".into()),
    }
}

fn describe(mut missing: Vec<(i32, String)>) -> String {
    missing.sort();
    let shards: Vec<String> =
        missing.iter().map(|(partition, reason)| format!("shard {partition}: {reason}")).collect();
    format!(
        "{} of the index cannot be searched now, so no complete answer can be given ({}); retry shortly",
        if missing.len() == 1 { "one shard".to_owned() } else { format!("{} shards", missing.len()) },
        shards.join("; ")
    )
}

fn error_kind(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        "no answer in time"
    } else if error.is_connect() {
        "connection refused"
    } else {
        "transport failed"
    }
}

/// The answer of all `found` together: totals summed, heads at the highest, hits in
/// key order up to the query's limit. Keys are unique and every shard's hits are its
/// best, so the first `limit` of the union are the best of all shards.
pub fn merge(found: Vec<Found>, query: &SearchQuery) -> Found {
    let mut merged = Found::default();
    for part in found {
        merged.absorb(part);
    }
    merged.hits.sort_unstable_by_key(|hit| hit.key.rank(query.order));
    merged.hits.truncate(query.limit);
    merged
}
