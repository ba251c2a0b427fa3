//! Pages over shards split any way equal pages over one shard: by `startIndex` (one
//! and two rounds), by cursor, and by cursor while records keep arriving (the
//! snapshot holds: none skipped, none repeated, none of the new ones).

use audit_index::query::Node;
use audit_index::schema::IndexSchema;
use audit_index::search::{Found, Order, SearchQuery, ShardView, search};
use proptest::prelude::*;
use tantivy::{Index, IndexReader, IndexWriter, TantivyDocument};

use super::*;
use crate::fanout::merge;

/// A record of the test: its sequence, `created`, and kind (`a` or `b`).
#[derive(Debug, Clone, Copy)]
struct Record {
    sequence: u64,
    created: i64,
    kind_a: bool,
}

struct Shard {
    partition: i32,
    writer: IndexWriter,
    reader: IndexReader,
}

/// Shards in this process, grouped as leaves.
struct Local {
    schema: IndexSchema,
    shards: Vec<Shard>,
    /// Which leaf each shard belongs to.
    leaf_of: Vec<usize>,
}

impl Local {
    fn new(shards: usize, leaves: &[usize]) -> Local {
        let schema = IndexSchema::new();
        let shards = (0..shards)
            .map(|partition| {
                let index = Index::create_in_ram(schema.schema.clone());
                let writer = index.writer_with_num_threads(1, 15_000_000).unwrap();
                let reader =
                    index.reader_builder().reload_policy(tantivy::ReloadPolicy::Manual).try_into().unwrap();
                Shard { partition: partition as i32, writer, reader }
            })
            .collect();
        Local { schema, shards, leaf_of: leaves.to_vec() }
    }

    /// Adds `records`, record `n` to shard `place[n]`, and commits.
    fn add(&mut self, records: &[Record], place: &[usize]) {
        for (record, shard) in records.iter().zip(place) {
            let mut document = TantivyDocument::default();
            document.add_text(self.schema.tenant, "t");
            document.add_text(self.schema.id, format!("r{}", record.sequence));
            document.add_i64(self.schema.created, record.created);
            document.add_u64(self.schema.sequence, record.sequence);
            document.add_text(self.schema.keyword, if record.kind_a { "kind=a" } else { "kind=b" });
            document.add_text(self.schema.jws, format!("r{}", record.sequence));
            self.shards[*shard].writer.add_document(document).unwrap();
        }
        for shard in &mut self.shards {
            shard.writer.commit().unwrap();
            shard.reader.reload().unwrap();
        }
    }
}

impl Search for Local {
    async fn search(&self, query: SearchQuery) -> Result<Found, QueryError> {
        let leaves = self.leaf_of.iter().copied().max().map_or(0, |last| last + 1);
        let mut found = Vec::new();
        for leaf in 0..leaves {
            let views: Vec<ShardView> = self
                .shards
                .iter()
                .zip(&self.leaf_of)
                .filter(|(_, of)| **of == leaf)
                .map(|(shard, _)| ShardView::new(shard.partition, shard.reader.searcher(), None).unwrap())
                .collect();
            found.push(
                search(&self.schema, &views, &query).map_err(|error| QueryError::Task(error.to_string()))?,
            );
        }
        Ok(merge(found, &query))
    }
}

fn records(count: usize) -> impl Strategy<Value = Vec<Record>> {
    // Few distinct times: many ties, which only the sequence breaks.
    prop::collection::vec((0i64..20, any::<bool>()), count).prop_map(|drawn| {
        drawn
            .into_iter()
            .enumerate()
            .map(|(n, (created, kind_a))| Record { sequence: n as u64 + 1, created, kind_a })
            .collect()
    })
}

fn target(order: Order, only_a: bool) -> Target {
    let node = if only_a { Node::Terms(vec!["kind=a".into()]) } else { Node::All };
    Target { tenant: "t".into(), node, order }
}

fn run<T>(future: impl Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(future)
}

/// Every page of a cursor walk, `count` at a time, with `between` run after each page.
async fn walk(
    search: &mut Local,
    target: &Target,
    count: usize,
    mut between: impl FnMut(&mut Local),
) -> (Vec<String>, Vec<u64>) {
    let (mut seen, mut totals) = (Vec::new(), Vec::new());
    let mut after = None;
    loop {
        let paging = Paging::Cursor { after, count, made_for: 0 };
        let found = page(search, target, paging).await.unwrap();
        seen.extend(found.records);
        totals.push(found.total);
        between(search);
        match found.next {
            Some(next) => after = Some(next),
            None => return (seen, totals),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn any_split_pages_as_one_shard(
        records in records(60),
        place in prop::collection::vec(0usize..4, 60),
        leaves in prop::collection::vec(0usize..3, 4),
        descending in any::<bool>(),
        only_a in any::<bool>(),
        offset in 0usize..70,
        count in 0usize..25,
    ) {
        let mut one = Local::new(1, &[0]);
        one.add(&records, &[0; 60]);
        let mut split = Local::new(4, &leaves);
        split.add(&records, &place);
        let order = if descending { Order::Descending } else { Order::Ascending };
        let target = target(order, only_a);
        let paging = Paging::Index { offset, count };
        let expected = run(page(&one, &target, paging)).unwrap();
        prop_assert_eq!(run(page(&split, &target, paging)).unwrap(), expected);
        let count = count.max(1);
        let (alone, _) = run(walk(&mut one, &target, count, |_| {}));
        let (merged, _) = run(walk(&mut split, &target, count, |_| {}));
        prop_assert_eq!(&merged, &alone);
        let everything = run(page(&one, &target, Paging::Index { offset: 0, count: 100 })).unwrap();
        prop_assert_eq!(merged, everything.records);
    }

    #[test]
    fn a_cursor_walk_holds_its_snapshot_while_records_arrive(
        first in records(40),
        later in records(40),
        place in prop::collection::vec(0usize..3, 40),
        descending in any::<bool>(),
        count in 1usize..15,
    ) {
        let order = if descending { Order::Descending } else { Order::Ascending };
        let target = target(order, false);
        let mut shards = Local::new(3, &[0, 1, 1]);
        shards.add(&first, &place);
        let snapshot = run(page(&shards, &target, Paging::Index { offset: 0, count: 100 })).unwrap();
        // Later records continue the chain, created at any time, before or after.
        let later: Vec<Record> =
            later.into_iter().map(|record| Record { sequence: record.sequence + 40, ..record }).collect();
        let mut arriving = later.chunks(5);
        let (seen, totals) = run(walk(&mut shards, &target, count, |shards| {
            if let Some(batch) = arriving.next() {
                shards.add(batch, &place[..batch.len()]);
            }
        }));
        prop_assert_eq!(seen, snapshot.records);
        prop_assert!(totals.iter().all(|total| *total == 40), "{:?}", totals);
    }
}
