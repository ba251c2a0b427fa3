//! A search from request to response, independent of HTTP: parse the filter, resolve
//! clear values of tokenized attributes in the vault, search the shards, detokenize
//! the page with one vault call while its signatures are verified, shape the SCIM
//! ListResponse.
//!
//! The index work (search, document reads, signature checks) runs on the blocking
//! pool, so a heavy query never stalls the server's other requests.

use std::collections::HashMap;
use std::sync::Arc;

use crate::QueryError;
use crate::api::{ListResponse, SearchRequest};
use crate::catalogue::Catalogue;
use crate::export::ExportStream;
use crate::keys::SigningKeys;
use crate::plan::{Needs, Plan, Resolved, plan};
use crate::render::{Resource, detokenize, resources, revealed_values, settle, signatures, tokens};
use crate::search::{PageRequest, Shards, SortOrder};
use audit_auth::Principal;
use audit_vault_api::client::VaultClient;
use audit_vault_api::{DetokenizeRequest, LookupRequest, MatchRequest, Requester};

/// Largest page (SPEC section 6).
pub const MAX_COUNT: usize = 100;
/// Most tokens one pattern on a tokenized attribute may resolve to.
pub const MATCH_LIMIT: usize = 1_000;

/// What searches need.
pub struct QueryService {
    /// The index.
    pub shards: Arc<Shards>,
    /// The vault.
    pub vault: VaultClient,
    /// Attributes and their token policy.
    pub catalogue: Catalogue,
    /// Record-signing keys.
    pub keys: Arc<SigningKeys>,
}

impl QueryService {
    /// One page of `tenant`'s records for `principal`.
    pub async fn search(
        &self,
        principal: &Principal,
        request: SearchRequest,
    ) -> Result<ListResponse, QueryError> {
        let tenant = principal.tenant.clone();
        let page = page_request(&request)?;
        let plan = self.plan(&tenant, request.filter.as_deref()).await?;
        let shards = self.shards.clone();
        let (total, records, mut resources) = blocking(move || {
            let found = crate::search::search(&shards, &tenant, &plan.node, page)?;
            let resources = resources(&found.records, &tenant);
            Ok((found.total, found.records, resources))
        })
        .await?;
        let records = plan.verify.then_some(records);
        self.reveal_verified(principal, records, &mut resources).await?;
        let start_index = page.offset as u64 + 1;
        let resources = resources.into_iter().map(|resource| resource.body).collect();
        Ok(ListResponse::new(total as u64, start_index, resources))
    }

    /// `tenant`'s record `id`, verified.
    pub async fn get(&self, principal: &Principal, id: String) -> Result<Resource, QueryError> {
        let tenant = principal.tenant.clone();
        let shards = self.shards.clone();
        let (jws, mut found) = blocking(move || {
            let jws = crate::search::by_id(&shards, &tenant, &id)?.ok_or(QueryError::NotFound)?;
            let found = resources(std::slice::from_ref(&jws), &tenant);
            Ok((jws, found))
        })
        .await?;
        self.reveal_verified(principal, Some(vec![jws]), &mut found).await?;
        found.pop().ok_or(QueryError::NotFound)
    }

    /// `tenant`'s records matching `filter`, streamed in chain order (no verification,
    /// no detokenization: the lines are the signed records as stored).
    pub async fn export(
        &self,
        principal: &Principal,
        filter: Option<String>,
    ) -> Result<ExportStream, QueryError> {
        let tenant = principal.tenant.clone();
        let plan = self.plan(&tenant, filter.as_deref()).await?;
        let shards = self.shards.clone();
        let found = blocking(move || crate::search::export(&shards, &tenant, &plan.node)).await?;
        Ok(crate::export::stream(found))
    }

    /// The plan of `filter`, clear values of tokenized attributes resolved in the vault.
    async fn plan(&self, tenant: &str, filter: Option<&str>) -> Result<Plan, QueryError> {
        let filter = filter
            .filter(|text| !text.trim().is_empty())
            .map(crate::filter::parse)
            .transpose()
            .map_err(|error| QueryError::filter(error.to_string()))?;
        let mut needs = Needs::default();
        let first = plan(filter.as_ref(), &self.catalogue, &mut needs)?;
        if needs.lookups.is_empty() && needs.matches.is_empty() {
            return Ok(first);
        }
        let mut resolved = Resolved::new(self.lookup(tenant, &needs.lookups).await?, Vec::new());
        for (op, value) in needs.matches {
            let request = MatchRequest { tenant: tenant.to_owned(), op, value, limit: MATCH_LIMIT };
            resolved.matches.push(self.vault.match_values(&request).await?.tokens);
        }
        plan(filter.as_ref(), &self.catalogue, &mut resolved)
    }

    async fn lookup(&self, tenant: &str, values: &[String]) -> Result<HashMap<String, String>, QueryError> {
        if values.is_empty() {
            return Ok(HashMap::new());
        }
        let request = LookupRequest { tenant: tenant.to_owned(), values: values.to_vec() };
        let answer = self.vault.lookup(&request).await?;
        let pairs =
            values.iter().zip(answer.tokens).filter_map(|(value, token)| Some((value.clone(), token?)));
        Ok(pairs.collect())
    }

    /// Detokenizes `page` and, when `records` (the page's JWS) are given, verifies
    /// them meanwhile: signature checks need only the records, so they run on the
    /// blocking pool while the vault answers.
    async fn reveal_verified(
        &self,
        principal: &Principal,
        records: Option<Vec<String>>,
        page: &mut [Resource],
    ) -> Result<(), QueryError> {
        let verifier = self.keys.verifier();
        let verdicts = async move {
            let Some(records) = records else { return Ok(None) };
            blocking(move || Ok(Some(signatures(&records, &verifier)))).await
        };
        let (verdicts, ()) = tokio::try_join!(verdicts, self.reveal(principal, page))?;
        if let Some(verdicts) = verdicts {
            settle(page, &verdicts);
        }
        Ok(())
    }

    /// Detokenizes a page with one vault call (recorded by the vault as an access).
    async fn reveal(&self, principal: &Principal, page: &mut [Resource]) -> Result<(), QueryError> {
        let tokens = tokens(page);
        if tokens.is_empty() {
            return Ok(());
        }
        let request = DetokenizeRequest {
            tenant: principal.tenant.clone(),
            tokens,
            on_behalf_of: Requester { subject: principal.subject.clone(), reason: "search".into() },
        };
        let answer = self.vault.detokenize(&request).await?;
        detokenize(page, &revealed_values(request.tokens, answer.values));
        Ok(())
    }
}

fn page_request(request: &SearchRequest) -> Result<PageRequest, QueryError> {
    if let Some(sort_by) = &request.sort_by
        && !sort_by.eq_ignore_ascii_case("created")
    {
        return Err(QueryError::invalid_value("sortBy supports only created"));
    }
    let order = match request.sort_order.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("ascending" | "asc") => SortOrder::Ascending,
        Some("descending" | "desc") => SortOrder::Descending,
        Some(_) => return Err(QueryError::invalid_value("sortOrder is ascending, descending, asc or desc")),
    };
    let count = request.count.unwrap_or(MAX_COUNT as i64).clamp(0, MAX_COUNT as i64) as usize;
    let offset = request.start_index.unwrap_or(1).max(1) as usize - 1;
    Ok(PageRequest { offset, count, order })
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, QueryError> + Send + 'static,
) -> Result<T, QueryError> {
    tokio::task::spawn_blocking(work).await.map_err(|error| QueryError::Task(error.to_string()))?
}
