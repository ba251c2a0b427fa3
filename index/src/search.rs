//! One search over a set of shards: what an indexer's leaf runs for the query-api.
//!
//! Results are ordered by [`Key`] (`created`, then the tenant's `sequence`, then the
//! partition), which is unique for a tenant and never changes once a record is
//! indexed: pages merged from any number of shards and leaves come out the same, and
//! a page can continue strictly after the last key of the one before (a cursor). A
//! search counts every match of its condition (the exact total) while keeping the
//! best `limit` keys after `after`; it reads two fast fields per match and no stored
//! document until the page is known.
//!
//! Those two columns are opened once per segment, when a [`ShardView`] is made, not by
//! each search: opening a column reads its whole block index, which grows with the
//! segment (a few milliseconds per query at ten million records otherwise).

use std::collections::HashMap;
use std::ops::Bound;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use tantivy::columnar::Column;
use tantivy::index::SegmentId;
use tantivy::query::{BooleanQuery, Occur, Query, RangeQuery, TermQuery, TermSetQuery};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::{DocAddress, Searcher};
use tantivy::{TantivyDocument, Term};

use crate::IndexError;
use crate::query::{Node, tenant_query};
use crate::schema::IndexSchema;

/// Direction of the `created` order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Order {
    /// Oldest first.
    Ascending,
    /// Newest first.
    Descending,
}

/// Where a record sorts: unique within a tenant, stable once indexed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Key {
    /// `created`, milliseconds.
    pub created: i64,
    /// The tenant's sequence number.
    pub sequence: u64,
    /// The shard's partition (records of one tenant share it unless the topic grew).
    pub partition: i32,
}

/// A comparable form of a [`Key`] in one direction: smaller ranks come first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rank(i64, u64, i32);

impl Key {
    /// This key's rank in `order` (`!x` reverses an integer's order exactly).
    pub fn rank(&self, order: Order) -> Rank {
        match order {
            Order::Ascending => Rank(self.created, self.sequence, self.partition),
            Order::Descending => Rank(!self.created, !self.sequence, !self.partition),
        }
    }
}

/// Which of the condition's records a search may return.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Within {
    /// Every one.
    #[default]
    All,
    /// Sequences in `[from, to)`: a cursor's snapshot, an export's window.
    Sequences {
        /// First sequence in.
        from: u64,
        /// First sequence out.
        to: u64,
    },
    /// These sequences only: the records of a page already chosen.
    Only(Vec<u64>),
    /// The record with this id.
    Id(String),
}

/// One search of one tenant's records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchQuery {
    /// The tenant; always a required clause.
    pub tenant: String,
    /// The condition.
    pub node: Node,
    /// A further restriction by sequence or id.
    #[serde(default)]
    pub within: Within,
    /// Direction of the order.
    pub order: Order,
    /// Return only keys strictly after this one in `order`.
    #[serde(default)]
    pub after: Option<Key>,
    /// Most hits to return.
    pub limit: usize,
    /// Whether hits carry their stored record (the JWS).
    pub records: bool,
    /// Whether to report the tenant's highest sequence in these shards (a cursor's snapshot).
    #[serde(default)]
    pub head: bool,
    /// Whether hits carry their stored tree hashes (proofs are built from them).
    #[serde(default)]
    pub tree: bool,
    /// Whether to report the lowest and highest sequence among the matches.
    #[serde(default)]
    pub span: bool,
}

impl SearchQuery {
    /// A search of `tenant`'s records matching `node`, oldest first, returning no hit
    /// (only the total) until a `limit` is set.
    pub fn new(tenant: impl Into<String>, node: Node) -> SearchQuery {
        SearchQuery {
            tenant: tenant.into(),
            node,
            within: Within::All,
            order: Order::Ascending,
            after: None,
            limit: 0,
            records: false,
            head: false,
            tree: false,
            span: false,
        }
    }
}

/// One result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hit {
    /// Where it sorts.
    pub key: Key,
    /// The stored JWS, when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jws: Option<String>,
    /// The stored tree hashes (base64 of the 32-byte hashes end to end), when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tree: Option<String>,
}

/// What a search found in a set of shards.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Found {
    /// Every match of the condition (ignoring `after` and `limit`).
    pub total: u64,
    /// The best `limit` hits after `after`, in order.
    pub hits: Vec<Hit>,
    /// The tenant's highest sequence, when asked for and the tenant has records here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<u64>,
    /// The lowest and highest sequence matched, when asked for and anything matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span: Option<(u64, u64)>,
}

impl Found {
    /// Adds what another set of shards found for the same query (hits unordered).
    pub fn absorb(&mut self, other: Found) {
        self.total += other.total;
        self.head = self.head.max(other.head);
        self.span = match (self.span, other.span) {
            (Some((low, high)), Some((other_low, other_high))) => {
                Some((low.min(other_low), high.max(other_high)))
            }
            (span, other) => span.or(other),
        };
        self.hits.extend(other.hits);
    }
}

/// A shard as searched: its partition, a consistent view of it and the columns a
/// search reads, opened for each of its segments.
#[derive(Clone)]
pub struct ShardView {
    /// The shard's partition.
    pub partition: i32,
    /// A snapshot of its committed content.
    pub searcher: Searcher,
    /// By segment ordinal.
    columns: Arc<Vec<(SegmentId, Columns)>>,
}

/// The fast columns of one segment that a search reads.
#[derive(Clone)]
struct Columns {
    created: Column<i64>,
    sequence: Column<u64>,
}

impl ShardView {
    /// A view of `searcher`, reusing the columns `previous` (an older view of the same
    /// shard) opened for segments both share: a commit adds a segment or two, so a
    /// new view opens only theirs.
    pub fn new(
        partition: i32,
        searcher: Searcher,
        previous: Option<&ShardView>,
    ) -> Result<ShardView, IndexError> {
        let known: HashMap<SegmentId, &Columns> = previous
            .map(|view| view.columns.iter().map(|(id, columns)| (*id, columns)).collect())
            .unwrap_or_default();
        let mut columns = Vec::with_capacity(searcher.segment_readers().len());
        for reader in searcher.segment_readers() {
            let id = reader.segment_id();
            let opened = match known.get(&id) {
                Some(columns) => (*columns).clone(),
                None => {
                    let fast = reader.fast_fields();
                    let error = |source| IndexError::Index { partition, source };
                    Columns {
                        created: fast.i64("created").map_err(error)?,
                        sequence: fast.u64("sequence").map_err(error)?,
                    }
                }
            };
            columns.push((id, opened));
        }
        Ok(ShardView { partition, searcher, columns: Arc::new(columns) })
    }
}

/// Runs `query` over `shards`.
pub fn search(schema: &IndexSchema, shards: &[ShardView], query: &SearchQuery) -> Result<Found, IndexError> {
    let condition = condition(schema, query)?;
    let mut found = Found::default();
    let mut best: Vec<(Rank, Key, usize, DocAddress)> = Vec::new();
    for (position, shard) in shards.iter().enumerate() {
        let collector = TopKeys {
            order: query.order,
            after: query.after,
            limit: query.limit,
            partition: shard.partition,
            columns: shard.columns.clone(),
        };
        let (total, top) = shard.searcher.search(condition.as_ref(), &collector).map_err(index(shard))?;
        found.total += total;
        best.extend(top.into_iter().map(|(key, address)| (key.rank(query.order), key, position, address)));
        if query.head {
            found.head = found.head.max(head(schema, shard, &query.tenant)?);
        }
        if query.span {
            let span =
                shard.searcher.search(condition.as_ref(), &SequenceSpan { columns: shard.columns.clone() });
            found.absorb(Found { span: span.map_err(index(shard))?, ..Found::default() });
        }
    }
    best.sort_unstable_by_key(|(rank, ..)| *rank);
    best.truncate(query.limit);
    for (_, key, position, address) in best {
        let shard = &shards[position];
        let (jws, tree) =
            if query.records || query.tree { stored(schema, shard, address, query)? } else { (None, None) };
        found.hits.push(Hit { key, jws, tree });
    }
    Ok(found)
}

/// The tenant's query restricted as `query.within` says.
fn condition(schema: &IndexSchema, query: &SearchQuery) -> Result<Box<dyn Query>, IndexError> {
    let scoped = tenant_query(schema, &query.tenant, &query.node)?;
    let sequence = |value: u64| Term::from_field_u64(schema.sequence, value);
    let within: Box<dyn Query> = match &query.within {
        Within::All => return Ok(scoped),
        Within::Sequences { from, to } => {
            Box::new(RangeQuery::new(Bound::Included(sequence(*from)), Bound::Excluded(sequence(*to))))
        }
        Within::Only(sequences) => {
            Box::new(TermSetQuery::new(sequences.iter().map(|value| sequence(*value))))
        }
        Within::Id(id) => {
            Box::new(TermQuery::new(Term::from_field_text(schema.id, id), IndexRecordOption::Basic))
        }
    };
    Ok(Box::new(BooleanQuery::new(vec![(Occur::Must, scoped), (Occur::Must, within)])))
}

/// The tenant's highest sequence in `shard`.
fn head(schema: &IndexSchema, shard: &ShardView, tenant: &str) -> Result<Option<u64>, IndexError> {
    let query = TermQuery::new(Term::from_field_text(schema.tenant, tenant), IndexRecordOption::Basic);
    let span = SequenceSpan { columns: shard.columns.clone() };
    let span = shard.searcher.search(&query, &span).map_err(index(shard))?;
    Ok(span.map(|(_, highest)| highest))
}

/// The stored values of a hit that `query` asks for: its JWS, its tree hashes.
fn stored(
    schema: &IndexSchema,
    shard: &ShardView,
    address: DocAddress,
    query: &SearchQuery,
) -> Result<(Option<String>, Option<String>), IndexError> {
    let document: TantivyDocument = shard.searcher.doc(address).map_err(index(shard))?;
    let jws = query.records.then(|| {
        document.get_first(schema.jws).and_then(|value| value.as_str()).unwrap_or_default().to_owned()
    });
    let tree = query.tree.then(|| {
        let bytes = document.get_first(schema.tree).and_then(|value| value.as_bytes()).unwrap_or_default();
        STANDARD.encode(bytes)
    });
    Ok((jws, tree))
}

fn index(shard: &ShardView) -> impl Fn(tantivy::TantivyError) -> IndexError + '_ {
    move |source| IndexError::Index { partition: shard.partition, source }
}

#[path = "search_collect.rs"]
mod collect;
use collect::{SequenceSpan, TopKeys};
