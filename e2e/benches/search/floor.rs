//! The floor: the query-api's own plan run directly on the shards with
//! `query_api::engine::search` (tenant-scoped, exact total, page of 100 by `created`,
//! stored JWS read) with no HTTP, vault, verification or rendering.
//!
//! Also a naive variant for time ranges: Tantivy's own `RangeQuery` on the `created`
//! fast field intersected with the tenant's term, instead of the tenant's time
//! buckets, to show what the buckets buy.

use std::collections::HashMap;
use std::ops::Bound;

use query_api::engine::Catalogue;
use query_api::engine::tenant_query;
use query_api::engine::{Node, Resolved, plan};
use query_api::engine::{PageRequest, Shards, SortOrder};
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{BooleanQuery, Query, RangeQuery};
use tantivy::schema::Value;
use tantivy::{DocAddress, Order, TantivyDocument, Term};

/// Records per page.
pub const PAGE: usize = 100;

/// The plan of `filter`, clear values resolved with `tokens` (as the vault would).
pub fn plan_of(filter: &str, tokens: HashMap<String, String>) -> Node {
    let filter = audit_scim::filter::parse(filter).expect("the filter parses");
    plan(Some(&filter), &Catalogue::default(), &mut Resolved::new(tokens, Vec::new()))
        .expect("the filter plans")
        .node
}

/// One search of the floor: a tenant, a plan, an order.
#[derive(Clone, Copy)]
pub struct Search<'a> {
    /// The tenant searched.
    pub tenant: &'a str,
    /// The plan.
    pub node: &'a Node,
    /// Order by `created`.
    pub order: SortOrder,
}

/// One search through the query-api's search; returns the total.
pub fn bare(shards: &Shards, search: Search<'_>) -> usize {
    let request = PageRequest { offset: 0, count: PAGE, order: search.order };
    let page = query_api::engine::search(shards, search.tenant, search.node, request).expect("bare search");
    assert_eq!(page.records.len(), PAGE.min(page.total), "a full page");
    page.total
}

/// One search with the `created` range `[start, end)` read from the fast field
/// rather than the tenant's buckets; the plan's other conditions as the query-api
/// builds them. Returns the total.
pub fn naive(shards: &Shards, search: Search<'_>, range: (i64, i64)) -> usize {
    let field = shards.schema().created;
    let created = RangeQuery::new(
        Bound::Included(Term::from_field_i64(field, range.0)),
        if range.1 == i64::MAX {
            Bound::Unbounded
        } else {
            Bound::Excluded(Term::from_field_i64(field, range.1))
        },
    );
    let rest =
        tenant_query(shards.schema(), search.tenant, &without_created(search.node)).expect("tenant query");
    let query = BooleanQuery::intersection(vec![rest, Box::new(created)]);
    collect(shards, &query, search.order)
}

/// `node` with its time range taken out.
fn without_created(node: &Node) -> Node {
    match node {
        Node::Created { .. } => Node::All,
        Node::And(children) => {
            let kept: Vec<Node> =
                children.iter().filter(|child| !matches!(child, Node::Created { .. })).cloned().collect();
            if kept.len() == 1 { kept.into_iter().next().unwrap_or(Node::All) } else { Node::And(kept) }
        }
        other => other.clone(),
    }
}

/// What `search` does with a query: count and top `PAGE` per shard, merged by
/// `created`, the page's JWS read. Returns the total.
fn collect(shards: &Shards, query: &dyn Query, order: SortOrder) -> usize {
    let searchers = shards.searchers();
    let tantivy_order = if order == SortOrder::Descending { Order::Desc } else { Order::Asc };
    let collector = (Count, TopDocs::with_limit(PAGE).order_by_fast_field::<i64>("created", tantivy_order));
    let mut total = 0;
    let mut heads: Vec<(i64, usize, DocAddress)> = Vec::new();
    for (shard, searcher) in searchers.iter().enumerate() {
        let (matched, top) = searcher.search(query, &collector).expect("naive search");
        total += matched;
        heads.extend(top.into_iter().map(|(created, address)| (created.unwrap_or_default(), shard, address)));
    }
    heads.sort_by_key(|(created, _, _)| *created);
    if order == SortOrder::Descending {
        heads.reverse();
    }
    for (_, shard, address) in heads.into_iter().take(PAGE) {
        let document: TantivyDocument = searchers[shard].doc(address).expect("stored document");
        std::hint::black_box(
            document.get_first(shards.schema().jws).and_then(|value| value.as_str()).map(str::len),
        );
    }
    total
}
