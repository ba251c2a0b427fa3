//! The shards this indexer serves searches of, apart from the writers: a search
//! never waits for indexing, only for a read lock held while a reader is swapped.
//!
//! A shard is served from the moment its partition is assigned, but answers only
//! once it holds at least what the group had committed for it (its last owner's
//! durable position, read just after the assignment): a node that takes over a
//! partition without its shard rebuilds it from `audit.signed`, and until then the
//! leaf says so instead of answering with part of the shard. Readers move to each
//! commit as it happens.

use std::collections::HashMap;
use std::sync::RwLock;

use audit_index::leaf::{Serving, ShardState};
use audit_index::search::ShardView;
use tantivy::IndexReader;

/// One served shard.
struct ServedShard {
    reader: IndexReader,
    /// The reader's latest view, its columns open.
    view: Option<ShardView>,
    /// Next offset the shard's commit covers.
    next: i64,
    /// Offset it must reach before it answers, once known.
    target: Option<i64>,
}

impl ServedShard {
    fn serving(&self) -> Serving {
        match self.target {
            None => Serving::Opening,
            Some(target) if self.next < target => Serving::Rebuilding { indexed: self.next, target },
            Some(_) => Serving::Serving,
        }
    }
}

/// The served shards, by partition.
#[derive(Default)]
pub struct Served {
    shards: RwLock<HashMap<i32, ServedShard>>,
}

/// A shard starting to be served.
pub struct Opened {
    /// Its partition.
    pub partition: i32,
    /// A reader of its index.
    pub reader: IndexReader,
    /// Next offset its last commit covers.
    pub next: i64,
    /// Where it answers from: the group's committed offset, if known yet.
    pub target: Option<i64>,
}

impl Served {
    /// Serves a newly assigned shard.
    pub fn open(&self, opened: Opened) {
        let view = view(opened.partition, &opened.reader, None);
        let shard = ServedShard { reader: opened.reader, view, next: opened.next, target: opened.target };
        self.write().insert(opened.partition, shard);
    }

    /// The shard of `partition` committed up to `next`: its reader moves there, and a
    /// new view (opening only the new segments' columns) replaces the last.
    pub fn committed(&self, partition: i32, next: i64) {
        let (reader, previous) = {
            let mut shards = self.write();
            let Some(shard) = shards.get_mut(&partition) else { return };
            shard.next = next;
            (shard.reader.clone(), shard.view.clone())
        };
        if let Err(error) = reader.reload() {
            tracing::warn!(partition, %error, "shard reader not moved to its commit");
        }
        let view = view(partition, &reader, previous.as_ref());
        if let Some(shard) = self.write().get_mut(&partition) {
            shard.view = view;
        }
    }

    /// The group's committed offset of `partition` is `target` (none: it answers at once).
    pub fn set_target(&self, partition: i32, target: Option<i64>) {
        if let Some(shard) = self.write().get_mut(&partition) {
            shard.target = Some(target.unwrap_or(0));
        }
    }

    /// Stops serving the shard of `partition`.
    pub fn close(&self, partition: i32) {
        self.write().remove(&partition);
    }

    /// The state of each of `partitions`, and views of them all if every one is served.
    pub fn views(&self, partitions: &[i32]) -> (Vec<ShardState>, Option<Vec<ShardView>>) {
        let shards = self.shards.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut states = Vec::with_capacity(partitions.len());
        let mut views = Vec::with_capacity(partitions.len());
        for partition in partitions {
            let shard = shards.get(partition);
            let mut serving = shard.map_or(Serving::NotOwned, ServedShard::serving);
            if serving == Serving::Serving {
                match shard.and_then(|shard| shard.view.clone()) {
                    Some(view) => views.push(view),
                    None => serving = Serving::Opening,
                }
            }
            states.push(ShardState { partition: *partition, serving });
        }
        let complete = views.len() == partitions.len();
        (states, complete.then_some(views))
    }

    /// Partitions served, and how many of them answer.
    pub fn counts(&self) -> (usize, usize) {
        let shards = self.shards.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        (shards.len(), shards.values().filter(|shard| shard.serving() == Serving::Serving).count())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<i32, ServedShard>> {
        self.shards.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A view of what `reader` sees; none (the shard then says it is opening) when a
/// column cannot be opened.
fn view(partition: i32, reader: &IndexReader, previous: Option<&ShardView>) -> Option<ShardView> {
    ShardView::new(partition, reader.searcher(), previous)
        .inspect_err(|error| tracing::warn!(partition, %error, "shard view not opened"))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader() -> IndexReader {
        let index = tantivy::Index::create_in_ram(audit_index::schema::IndexSchema::new().schema);
        index.reader_builder().reload_policy(tantivy::ReloadPolicy::Manual).try_into().unwrap()
    }

    #[test]
    fn a_shard_answers_once_it_reaches_its_last_owners_position() {
        let served = Served::default();
        served.open(Opened { partition: 0, reader: reader(), next: 40, target: Some(10) });
        served.open(Opened { partition: 1, reader: reader(), next: 0, target: None });
        let (states, _) = served.views(&[1]);
        assert_eq!(states[0].serving, Serving::Opening, "its last owner's position not read yet");
        served.set_target(1, Some(500));
        let (states, views) = served.views(&[0, 1, 2]);
        let serving: Vec<Serving> = states.iter().map(|state| state.serving).collect();
        assert_eq!(
            serving,
            [Serving::Serving, Serving::Rebuilding { indexed: 0, target: 500 }, Serving::NotOwned]
        );
        assert!(views.is_none(), "no search runs without every asked shard");
        assert_eq!(served.counts(), (2, 1));
        served.committed(1, 500);
        let (_, views) = served.views(&[0, 1]);
        assert_eq!(views.map(|views| views.len()), Some(2), "rebuilt: both answer");
        served.close(0);
        assert_eq!(served.views(&[0]).0[0].serving, Serving::NotOwned);
    }
}
