//! The dedupe window: a set of the most recently inserted keys, bounded. Stages keep
//! the ids they have handled in one to drop redeliveries and producer duplicates seen
//! within the window, in memory the window bounds whatever the traffic.

use std::collections::{HashSet, VecDeque};
use std::hash::Hash;

/// The last `capacity` distinct keys inserted; inserting more forgets the oldest.
#[derive(Debug, Clone, Default)]
pub struct RecentSet<K> {
    capacity: usize,
    order: VecDeque<K>,
    members: HashSet<K>,
}

impl<K: Hash + Eq + Clone> RecentSet<K> {
    /// An empty set keeping `capacity` keys (0 keeps none).
    pub fn new(capacity: usize) -> RecentSet<K> {
        RecentSet { capacity, order: VecDeque::new(), members: HashSet::new() }
    }

    /// Whether `key` is among the last `capacity` inserted.
    pub fn contains(&self, key: &K) -> bool {
        self.members.contains(key)
    }

    /// Remembers `key`; a key already held keeps its place.
    pub fn insert(&mut self, key: K) {
        if self.capacity == 0 || !self.members.insert(key.clone()) {
            return;
        }
        self.order.push_back(key);
        if self.order.len() > self.capacity
            && let Some(oldest) = self.order.pop_front()
        {
            self.members.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_key_goes_first_and_a_repeat_keeps_its_place() {
        let mut recent = RecentSet::new(2);
        recent.insert(1);
        recent.insert(2);
        recent.insert(1);
        recent.insert(3);
        assert!(!recent.contains(&1) && recent.contains(&2) && recent.contains(&3));
        let mut none = RecentSet::new(0);
        none.insert(1);
        assert!(!none.contains(&1));
    }
}
