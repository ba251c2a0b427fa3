//! The collectors a search runs over each segment: the best keys after a cursor with
//! the exact count of matches, and the lowest and highest sequence matched. Both read the columns
//! a [`ShardView`](super::ShardView) opened, never their own.

use std::collections::BinaryHeap;
use std::sync::Arc;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::index::SegmentId;
use tantivy::{DocAddress, DocId, Score, SegmentOrdinal, SegmentReader};

use super::{Columns, Key, Order, Rank};

/// Counts every match and keeps the best `limit` keys strictly after `after`.
pub(super) struct TopKeys {
    pub(super) order: Order,
    pub(super) after: Option<Key>,
    pub(super) limit: usize,
    pub(super) partition: i32,
    pub(super) columns: Arc<Vec<(SegmentId, Columns)>>,
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

pub(super) struct SegmentTopKeys {
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

/// The lowest and the highest `sequence` among the matches.
pub(super) struct SequenceSpan {
    pub(super) columns: Arc<Vec<(SegmentId, Columns)>>,
}

/// Lowest and highest, when anything matched.
type Span = Option<(u64, u64)>;

fn widen(span: Span, other: Span) -> Span {
    match (span, other) {
        (Some((low, high)), Some((other_low, other_high))) => {
            Some((low.min(other_low), high.max(other_high)))
        }
        (span, other) => span.or(other),
    }
}

impl Collector for SequenceSpan {
    type Fruit = Span;
    type Child = SegmentSpan;

    fn for_segment(&self, segment: SegmentOrdinal, _reader: &SegmentReader) -> tantivy::Result<SegmentSpan> {
        Ok(SegmentSpan { sequence: columns_of(&self.columns, segment)?.sequence, span: None })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Span>) -> tantivy::Result<Span> {
        Ok(fruits.into_iter().fold(None, widen))
    }
}

pub(super) struct SegmentSpan {
    sequence: Column<u64>,
    span: Span,
}

impl SegmentCollector for SegmentSpan {
    type Fruit = Span;

    fn collect(&mut self, doc: DocId, _score: Score) {
        if let Some(sequence) = self.sequence.first(doc) {
            self.span = widen(self.span, Some((sequence, sequence)));
        }
    }

    fn harvest(self) -> Span {
        self.span
    }
}
