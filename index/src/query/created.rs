//! A Tantivy query for "this tenant's records created in `[start, end)`", read through
//! the tenant's time buckets (`audit_index::buckets`) instead of the `created` column.
//!
//! A range over the column alone visits every tenant's documents; the buckets' postings
//! hold only the tenant's, so the cost follows the tenant's records in range. Whole
//! buckets are taken as they are; only documents of the two edge buckets are checked
//! against their exact `created`. The range is first clamped to the segment's own
//! `created` bounds, so open ranges (`created gt D`) cover only the data that exists.

use crate::buckets::cover;
use tantivy::query::{ConstScorer, EnableScoring, Explanation, Query, Scorer, Weight};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocId, DocSet, Score, SegmentReader, TERMINATED, Term};

/// One tenant's records created in `[start, end)` (milliseconds).
#[derive(Debug, Clone)]
pub struct CreatedQuery {
    /// The tenant whose buckets are read.
    pub tenant: String,
    /// First millisecond in range.
    pub start: i64,
    /// First millisecond past the range.
    pub end: i64,
    /// The index's bucket field.
    pub buckets: Field,
}

impl Query for CreatedQuery {
    fn weight(&self, _scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(CreatedWeight { query: self.clone(), buckets: self.buckets }))
    }
}

struct CreatedWeight {
    query: CreatedQuery,
    buckets: Field,
}

impl CreatedWeight {
    /// The segment's matching documents, in order.
    fn matching(&self, reader: &SegmentReader) -> tantivy::Result<Vec<DocId>> {
        let Some(column) = reader.fast_fields().column_opt::<i64>("created")? else { return Ok(Vec::new()) };
        let start = self.query.start.max(column.min_value());
        let end = self.query.end.min(column.max_value().saturating_add(1));
        let cover = cover(&self.query.tenant, start, end);
        let index = reader.inverted_index(self.buckets)?;
        let mut docs = Vec::new();
        for (terms, exact) in [(&cover.whole, false), (&cover.partial, true)] {
            for text in terms {
                let term = Term::from_field_text(self.buckets, text);
                let Some(mut postings) = index.read_postings(&term, IndexRecordOption::Basic)? else {
                    continue;
                };
                let mut doc = postings.doc();
                while doc != TERMINATED {
                    let inside = || column.first(doc).is_some_and(|created| (start..end).contains(&created));
                    if !exact || inside() {
                        docs.push(doc);
                    }
                    doc = postings.advance();
                }
            }
        }
        // Buckets are disjoint in time, so no document comes twice; only order is left.
        docs.sort_unstable();
        Ok(docs)
    }
}

impl Weight for CreatedWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        Ok(Box::new(ConstScorer::new(SortedDocs { docs: self.matching(reader)?, cursor: 0 }, boost)))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        if self.matching(reader)?.binary_search(&doc).is_ok() {
            Ok(Explanation::new("created in range", 1.0))
        } else {
            Err(tantivy::TantivyError::InvalidArgument(format!("document {doc} is not in the range")))
        }
    }
}

/// A sorted list of documents as a doc set.
struct SortedDocs {
    docs: Vec<DocId>,
    cursor: usize,
}

impl DocSet for SortedDocs {
    fn advance(&mut self) -> DocId {
        self.cursor += 1;
        self.doc()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        let rest = &self.docs[self.cursor.min(self.docs.len())..];
        self.cursor += rest.partition_point(|&doc| doc < target);
        self.doc()
    }

    fn doc(&self) -> DocId {
        self.docs.get(self.cursor).copied().unwrap_or(TERMINATED)
    }

    fn size_hint(&self) -> u32 {
        self.docs.len() as u32
    }
}
