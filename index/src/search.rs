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

use std::collections::{BinaryHeap, HashMap};
use std::ops::Bound;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::index::SegmentId;
use tantivy::query::{BooleanQuery, Occur, Query, RangeQuery, TermQuery, TermSetQuery};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::{DocAddress, DocId, Score, Searcher, SegmentOrdinal, SegmentReader};
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
}

/// One result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hit {
    /// Where it sorts.
    pub key: Key,
    /// The stored JWS, when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jws: Option<String>,
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
    }
    best.sort_unstable_by_key(|(rank, ..)| *rank);
    best.truncate(query.limit);
    for (_, key, position, address) in best {
        let shard = &shards[position];
        let jws = query.records.then(|| stored_jws(schema, shard, address)).transpose()?;
        found.hits.push(Hit { key, jws });
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
    let highest = HighestSequence { columns: shard.columns.clone() };
    shard.searcher.search(&query, &highest).map_err(index(shard))
}

fn stored_jws(schema: &IndexSchema, shard: &ShardView, address: DocAddress) -> Result<String, IndexError> {
    let document: TantivyDocument = shard.searcher.doc(address).map_err(index(shard))?;
    Ok(document.get_first(schema.jws).and_then(|value| value.as_str()).unwrap_or_default().to_owned())
}

fn index(shard: &ShardView) -> impl Fn(tantivy::TantivyError) -> IndexError + '_ {
    move |source| IndexError::Index { partition: shard.partition, source }
}

/// Counts every match and keeps the best `limit` keys strictly after `after`.
struct TopKeys {
    order: Order,
    after: Option<Key>,
    limit: usize,
    partition: i32,
    columns: Arc<Vec<(SegmentId, Columns)>>,
}

/// The columns of `segment`, opened when the view was made.
fn columns_of(columns: &[(SegmentId, Columns)], segment: SegmentOrdinal) -> tantivy::Result<Columns> {
    let found = columns.get(segment as usize).map(|(_, columns)| columns.clone());
    found.ok_or_else(|| tantivy::TantivyError::InternalError(format!("no columns for segment {segment}")))
}

impl Collector for TopKeys {
    type Fruit = (u64, Vec<(Key, DocAddress)>);
    type Child = SegmentTopKeys;

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        _reader: &SegmentReader,
    ) -> tantivy::Result<SegmentTopKeys> {
        let Columns { created, sequence } = columns_of(&self.columns, segment)?;
        Ok(SegmentTopKeys {
            created,
            sequence,
            segment,
            partition: self.partition,
            order: self.order,
            after: self.after.map(|key| key.rank(self.order)),
            limit: self.limit,
            count: 0,
            heap: BinaryHeap::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<(u64, Vec<(Rank, Key, DocAddress)>)>) -> tantivy::Result<Self::Fruit> {
        let total = fruits.iter().map(|(count, _)| count).sum();
        let mut keys: Vec<(Rank, Key, DocAddress)> = fruits.into_iter().flat_map(|(_, keys)| keys).collect();
        keys.sort_unstable_by_key(|(rank, ..)| *rank);
        keys.truncate(self.limit);
        Ok((total, keys.into_iter().map(|(_, key, address)| (key, address)).collect()))
    }
}

struct SegmentTopKeys {
    created: Column<i64>,
    sequence: Column<u64>,
    segment: SegmentOrdinal,
    partition: i32,
    order: Order,
    after: Option<Rank>,
    limit: usize,
    count: u64,
    /// The best keys so far, the worst on top.
    heap: BinaryHeap<(Rank, DocId)>,
}

impl SegmentCollector for SegmentTopKeys {
    type Fruit = (u64, Vec<(Rank, Key, DocAddress)>);

    fn collect(&mut self, doc: DocId, _score: Score) {
        self.count += 1;
        if self.limit == 0 {
            return;
        }
        let key = Key {
            created: self.created.first(doc).unwrap_or_default(),
            sequence: self.sequence.first(doc).unwrap_or_default(),
            partition: self.partition,
        };
        let rank = key.rank(self.order);
        if self.after.is_some_and(|after| rank <= after) {
            return;
        }
        if self.heap.len() < self.limit {
            self.heap.push((rank, doc));
        } else if self.heap.peek().is_some_and(|(worst, _)| rank < *worst) {
            self.heap.pop();
            self.heap.push((rank, doc));
        }
    }

    fn harvest(self) -> Self::Fruit {
        let segment = self.segment;
        let (created, sequence, partition) = (&self.created, &self.sequence, self.partition);
        let keys = self.heap.iter().map(|(rank, doc)| {
            let key = Key {
                created: created.first(*doc).unwrap_or_default(),
                sequence: sequence.first(*doc).unwrap_or_default(),
                partition,
            };
            (*rank, key, DocAddress::new(segment, *doc))
        });
        (self.count, keys.collect())
    }
}

/// The highest `sequence` among the matches.
struct HighestSequence {
    columns: Arc<Vec<(SegmentId, Columns)>>,
}

impl Collector for HighestSequence {
    type Fruit = Option<u64>;
    type Child = SegmentHighest;

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        _reader: &SegmentReader,
    ) -> tantivy::Result<SegmentHighest> {
        Ok(SegmentHighest { sequence: columns_of(&self.columns, segment)?.sequence, highest: None })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Option<u64>>) -> tantivy::Result<Option<u64>> {
        Ok(fruits.into_iter().flatten().max())
    }
}

struct SegmentHighest {
    sequence: Column<u64>,
    highest: Option<u64>,
}

impl SegmentCollector for SegmentHighest {
    type Fruit = Option<u64>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        self.highest = self.highest.max(self.sequence.first(doc));
    }

    fn harvest(self) -> Option<u64> {
        self.highest
    }
}
