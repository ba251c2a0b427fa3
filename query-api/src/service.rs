//! A search from request to response, independent of HTTP: parse the filter, resolve
//! clear values of tokenized attributes in the vault, search every shard through
//! their leaves (`fanout`, `paging`), detokenize the page with one vault call while
//! its signatures are verified, shape the SCIM ListResponse.
//!
//! Rendering and signature checks run on the blocking pool, so a large page never
//! stalls the server's other requests.

use std::collections::HashMap;
use std::sync::Arc;

use crate::QueryError;
use crate::api::{ListResponse, SearchRequest};
use crate::catalogue::Catalogue;
use crate::checkpoints::Checkpoints;
use crate::cursor::{Cursor, made_for};
use crate::export::ExportStream;
use crate::fanout::{Fanout, Search};
use crate::keys::SigningKeys;
use crate::paging::{Paging, Target, page};
use crate::plan::{Needs, Plan, Resolved, plan};
use crate::render::{Resource, detokenize, resources, revealed_values, settle, signatures, tokens};
use audit_auth::Principal;
use audit_index::schema::IndexSchema;
use audit_index::search::{Order, SearchQuery, Within};
use audit_vault_api::client::VaultClient;
use audit_vault_api::{DetokenizeRequest, LookupRequest, MatchRequest, Requester};

/// Largest page (SPEC section 6).
pub const MAX_COUNT: usize = 100;
/// Most tokens one pattern on a tokenized attribute may resolve to.
pub const MATCH_LIMIT: usize = 1_000;

/// What searches need.
pub struct QueryService {
    /// Every shard, through its owner's leaf.
    pub search: Fanout,
    /// The vault.
    pub vault: VaultClient,
    /// Attributes and their token policy.
    pub catalogue: Catalogue,
    /// Record-signing keys.
    pub keys: Arc<SigningKeys>,
    /// The index schema, to check a condition before any leaf runs it.
    pub schema: IndexSchema,
    /// The tenants' latest checkpoints.
    pub checkpoints: Arc<Checkpoints>,
}

/// Whether clear values are revealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reveal {
    /// Tokens replaced by what the vault reveals (an access it records).
    Clear,
    /// Records as stored, tokens in place: no vault call, no access.
    Tokens,
}

impl QueryService {
    /// One page of `tenant`'s records for `principal`.
    pub async fn search(
        &self,
        principal: &Principal,
        request: SearchRequest,
    ) -> Result<ListResponse, QueryError> {
        let tenant = principal.tenant.clone();
        let (order, paging) = paging(&request)?;
        let plan = self.plan(&tenant, request.filter.as_deref()).await?;
        let target = Target { tenant: tenant.clone(), node: plan.node, order };
        let found = page(&self.search, &target, paging).await?;
        let total = found.total;
        let proofs = match request.proofs {
            Some(true) => Some(self.page_proofs(&tenant, &found.records).await?),
            _ => None,
        };
        let (records, mut resources) = blocking(move || {
            let resources = resources(&found.records, &tenant);
            Ok((found.records, resources))
        })
        .await?;
        let records = plan.verify.then_some(records);
        self.reveal_verified(principal, records, &mut resources, reveal(&request)).await?;
        let resources = resources.into_iter().map(|resource| resource.body).collect();
        let response = match paging {
            Paging::Index { offset, .. } => ListResponse::new(total, Some(offset as u64 + 1), resources),
            Paging::Cursor { .. } => ListResponse::new(total, None, resources)
                .with_next_cursor(found.next.as_ref().map(Cursor::encode)),
        };
        Ok(response.with_proofs(proofs))
    }

    /// `tenant`'s record `id`, verified.
    pub async fn get(
        &self,
        principal: &Principal,
        id: String,
        reveal: Reveal,
    ) -> Result<Resource, QueryError> {
        let tenant = principal.tenant.clone();
        let query = SearchQuery {
            within: Within::Id(id),
            limit: 1,
            records: true,
            ..SearchQuery::new(&tenant, audit_index::query::Node::All)
        };
        let found = self.search.search(query).await?;
        let jws = found.hits.into_iter().find_map(|hit| hit.jws).ok_or(QueryError::NotFound)?;
        let (jws, mut found) = blocking(move || {
            let found = resources(std::slice::from_ref(&jws), &tenant);
            Ok((jws, found))
        })
        .await?;
        self.reveal_verified(principal, Some(vec![jws]), &mut found, reveal).await?;
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
        crate::export::stream(self.search.clone(), tenant, plan.node).await
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
        audit_index::query::tenant_query(&self.schema, tenant, &first.node)
            .map_err(|error| QueryError::filter(error.to_string()))?;
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
        reveal: Reveal,
    ) -> Result<(), QueryError> {
        let verifier = self.keys.verifier();
        let verdicts = async move {
            let Some(records) = records else { return Ok(None) };
            blocking(move || Ok(Some(signatures(&records, &verifier)))).await
        };
        let revealed = async {
            match reveal {
                Reveal::Clear => self.reveal(principal, page).await,
                Reveal::Tokens => Ok(()),
            }
        };
        let (verdicts, ()) = tokio::try_join!(verdicts, revealed)?;
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

/// The order and the page a request asks for: by cursor when it names one (an empty
/// cursor is the first page), by `startIndex` otherwise.
fn paging(request: &SearchRequest) -> Result<(Order, Paging), QueryError> {
    if let Some(sort_by) = &request.sort_by
        && !sort_by.eq_ignore_ascii_case("created")
    {
        return Err(QueryError::invalid_value("sortBy supports only created"));
    }
    let order = match request.sort_order.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("ascending" | "asc") => Order::Ascending,
        Some("descending" | "desc") => Order::Descending,
        Some(_) => return Err(QueryError::invalid_value("sortOrder is ascending, descending, asc or desc")),
    };
    let count = request.count.unwrap_or(MAX_COUNT as i64).clamp(0, MAX_COUNT as i64) as usize;
    let Some(cursor) = &request.cursor else {
        let offset = request.start_index.unwrap_or(1).max(1) as usize - 1;
        return Ok((order, Paging::Index { offset, count }));
    };
    if request.start_index.is_some() {
        return Err(QueryError::invalid_value("a request pages by startIndex or by cursor, not both"));
    }
    let made_for = made_for(request.filter.as_deref(), order);
    let after = (!cursor.trim().is_empty()).then(|| Cursor::decode(cursor, made_for)).transpose()?;
    Ok((order, Paging::Cursor { after, count, made_for }))
}

fn reveal(request: &SearchRequest) -> Reveal {
    if request.detokenize == Some(false) { Reveal::Tokens } else { Reveal::Clear }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, QueryError> + Send + 'static,
) -> Result<T, QueryError> {
    tokio::task::spawn_blocking(work).await.map_err(|error| QueryError::Task(error.to_string()))?
}
