//! A page of a tenant's search, by `startIndex` or by cursor, over any [`Search`].
//!
//! By `startIndex`: the first page comes with its records in one round; a deeper
//! page first asks every shard for the keys of the first `startIndex + count`
//! results (no records), picks the page's keys from the merged list, then fetches
//! only those records. Pages deeper than [`MAX_WINDOW`] are refused with a pointer
//! to cursors. By cursor: every page is a first page after the cursor's key, within
//! its snapshot (see `cursor`), so its cost does not grow with its depth.

use std::collections::HashMap;

use audit_index::query::Node;
use audit_index::search::{Key, Order, SearchQuery, Within};

use crate::QueryError;
use crate::cursor::Cursor;
use crate::fanout::Search;

/// Deepest result a `startIndex` page may reach (`startIndex + count`).
pub const MAX_WINDOW: usize = 100_000;

/// What is searched.
#[derive(Debug, Clone)]
pub struct Target {
    /// The tenant.
    pub tenant: String,
    /// The condition.
    pub node: Node,
    /// The order by `created`.
    pub order: Order,
}

/// Which page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paging {
    /// `startIndex - 1` results skipped, `count` returned.
    Index {
        /// Results skipped.
        offset: usize,
        /// Results returned.
        count: usize,
    },
    /// Cursor paging: the first page (`None`) or the one after a cursor.
    Cursor {
        /// Where to continue.
        after: Option<Cursor>,
        /// Results returned.
        count: usize,
        /// The digest new cursors carry.
        made_for: u64,
    },
}

/// One page: the exact total, the records (JWS) in order, and the next page's cursor.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// Every match (of the snapshot, when paging by cursor).
    pub total: u64,
    /// The page's records, as stored.
    pub records: Vec<String>,
    /// Where the next page starts, if there is one (cursor paging only).
    pub next: Option<Cursor>,
}

/// One page of `target` through `search`.
pub async fn page(search: &impl Search, target: &Target, paging: Paging) -> Result<Page, QueryError> {
    match paging {
        Paging::Index { offset, count } => by_index(search, target, offset, count).await,
        Paging::Cursor { after, count, made_for } => {
            by_cursor(search, target, after, (count, made_for)).await
        }
    }
}

fn query(target: &Target, limit: usize) -> SearchQuery {
    SearchQuery {
        order: target.order,
        limit,
        records: true,
        ..SearchQuery::new(&target.tenant, target.node.clone())
    }
}

async fn by_index(
    search: &impl Search,
    target: &Target,
    offset: usize,
    count: usize,
) -> Result<Page, QueryError> {
    let window = offset.saturating_add(count);
    if count == 0 || window > MAX_WINDOW {
        let total = search.search(query(target, 0)).await?.total;
        if count > 0 && (offset as u64) < total {
            return Err(QueryError::TooMany(format!(
                "startIndex pages end at result {MAX_WINDOW}; page on with a cursor (cursor=\"\") or narrow the filter (for example by created)"
            )));
        }
        return Ok(Page { total, ..Page::default() });
    }
    if offset == 0 {
        let found = search.search(query(target, count)).await?;
        let records = found.hits.into_iter().filter_map(|hit| hit.jws).collect();
        return Ok(Page { total: found.total, records, next: None });
    }
    let keys = search.search(SearchQuery { records: false, ..query(target, window) }).await?;
    let chosen: Vec<Key> = keys.hits.iter().skip(offset).map(|hit| hit.key).collect();
    let records = fetch(search, target, &chosen).await?;
    Ok(Page { total: keys.total, records, next: None })
}

/// The records at `keys`, in their order.
async fn fetch(search: &impl Search, target: &Target, keys: &[Key]) -> Result<Vec<String>, QueryError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let sequences = keys.iter().map(|key| key.sequence).collect();
    // A forked chain may hold two records of one sequence: room for both.
    let fetch = SearchQuery { within: Within::Only(sequences), ..query(target, keys.len() * 2) };
    let mut by_key: HashMap<Key, String> =
        search.search(fetch).await?.hits.into_iter().filter_map(|hit| Some((hit.key, hit.jws?))).collect();
    Ok(keys.iter().filter_map(|key| by_key.remove(key)).collect())
}

async fn by_cursor(
    search: &impl Search,
    target: &Target,
    after: Option<Cursor>,
    (count, made_for): (usize, u64),
) -> Result<Page, QueryError> {
    // One more than the page: whether a next page exists, without an empty last page.
    let mut request = query(target, count + 1);
    request.records = count > 0;
    match after {
        None => request.head = true,
        Some(cursor) => {
            request.within = Within::Sequences { from: 0, to: cursor.head.saturating_add(1) };
            request.after = Some(cursor.after);
        }
    }
    let found = search.search(request).await?;
    let head = after.map(|cursor| cursor.head).or(found.head).unwrap_or(0);
    let more = found.hits.len() > count;
    let mut hits = found.hits;
    hits.truncate(count);
    let next = hits.last().filter(|_| more).map(|last| Cursor { head, after: last.key, made_for });
    let records = hits.into_iter().filter_map(|hit| hit.jws).collect();
    Ok(Page { total: found.total, records, next })
}

#[cfg(test)]
#[path = "paging_tests.rs"]
mod tests;
