//! The floor: the query-api's own plan run directly on the shards with the leaves'
//! own search (`audit_index::search`: tenant-scoped, exact total, page of 100 by
//! `created`, stored JWS read) in this process, with no HTTP, vault, verification or
//! rendering.
//!
//! Also a naive variant for time ranges: Tantivy's own `RangeQuery` on the `created`
//! fast field intersected with the tenant's term, instead of the tenant's time
//! buckets, to show what the buckets buy.

use std::collections::HashMap;
use std::ops::Bound;
use std::path::Path;

use audit_index::query::{Node, tenant_query};
use audit_index::schema::IndexSchema;
use audit_index::search::{Order, SearchQuery, ShardView};
use query_api::engine::Catalogue;
use query_api::engine::{Resolved, plan};
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{BooleanQuery, Query, RangeQuery};
use tantivy::schema::Value;
use tantivy::{DocAddress, Order as TantivyOrder, TantivyDocument, Term};

/// Records per page.
pub const PAGE: usize = 100;

/// Every shard under `root`, read in this process.
pub fn views(root: &Path) -> Vec<ShardView> {
    audit_index::read::open_shards(root)
        .expect("shards open")
        .into_iter()
        .map(|(partition, index)| {
            let reader: tantivy::IndexReader = index
                .reader_builder()
                .reload_policy(tantivy::ReloadPolicy::Manual)
                .try_into()
                .expect("a shard reader");
            ShardView::new(partition, reader.searcher(), None).expect("the shard's columns open")
        })
        .collect()
}

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
    pub order: Order,
}

impl Search<'_> {
    /// The leaves' query of this search: one page with its records.
    pub fn query(&self) -> SearchQuery {
        SearchQuery {
            order: self.order,
            limit: PAGE,
            records: true,
            ..SearchQuery::new(self.tenant, self.node.clone())
        }
    }
}

/// One search as a leaf runs it over every shard; returns the total.
pub fn bare(views: &[ShardView], search: Search<'_>) -> usize {
    let found =
        audit_index::search::search(&IndexSchema::new(), views, &search.query()).expect("bare search");
    assert_eq!(found.hits.len() as u64, (PAGE as u64).min(found.total), "a full page");
    found.total as usize
}

/// The page's JWS, as a leaf finds them.
pub fn page(views: &[ShardView], search: Search<'_>) -> Vec<String> {
    let found = audit_index::search::search(&IndexSchema::new(), views, &search.query()).expect("the page");
    found.hits.into_iter().filter_map(|hit| hit.jws).collect()
}

/// One search with the `created` range `[start, end)` read from the fast field
/// rather than the tenant's buckets; the plan's other conditions as the query-api
/// builds them. Returns the total.
pub fn naive(views: &[ShardView], search: Search<'_>, range: (i64, i64)) -> usize {
    let schema = IndexSchema::new();
    let field = schema.created;
    let created = RangeQuery::new(
        Bound::Included(Term::from_field_i64(field, range.0)),
        if range.1 == i64::MAX {
            Bound::Unbounded
        } else {
            Bound::Excluded(Term::from_field_i64(field, range.1))
        },
    );
    let rest = tenant_query(&schema, search.tenant, &without_created(search.node)).expect("tenant query");
    let query = BooleanQuery::intersection(vec![rest, Box::new(created)]);
    collect(views, &query, search.order)
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
fn collect(views: &[ShardView], query: &dyn Query, order: Order) -> usize {
    let jws = IndexSchema::new().jws;
    let searchers: Vec<&tantivy::Searcher> = views.iter().map(|view| &view.searcher).collect();
    let tantivy_order = if order == Order::Descending { TantivyOrder::Desc } else { TantivyOrder::Asc };
    let collector = (Count, TopDocs::with_limit(PAGE).order_by_fast_field::<i64>("created", tantivy_order));
    let mut total = 0;
    let mut heads: Vec<(i64, usize, DocAddress)> = Vec::new();
    for (shard, searcher) in searchers.iter().enumerate() {
        let (matched, top) = searcher.search(query, &collector).expect("naive search");
        total += matched;
        heads.extend(top.into_iter().map(|(created, address)| (created.unwrap_or_default(), shard, address)));
    }
    heads.sort_by_key(|(created, _, _)| *created);
    if order == Order::Descending {
        heads.reverse();
    }
    for (_, shard, address) in heads.into_iter().take(PAGE) {
        let document: TantivyDocument = searchers[shard].doc(address).expect("stored document");
        std::hint::black_box(document.get_first(jws).and_then(|value| value.as_str()).map(str::len));
    }
    total
}
