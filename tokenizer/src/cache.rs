//! A bounded cache of recent tokens, so most batches need no vault round trip.
//!
//! Two generations: lookups promote hits from the old generation into the new one;
//! when the new one is full it becomes the old one and the oldest generation is
//! dropped. Memory stays under `capacity` entries and hot values stay cached. A
//! value's token changes only when its data subject is erased (the value, tokenized
//! again, gets a new one): the cache keeps each tenant's erasure count as the vault
//! last said and forgets the tenant's tokens when it moves.
//!
//! Keys hash with foldhash, seeded at random per process: several times faster than
//! SipHash on the short keys a record carries, and an outside sender still cannot
//! choose values that collide.

/// A map keyed by clear values, as the tokenizer hashes them.
pub type ValueMap<V> = std::collections::HashMap<String, V, foldhash::fast::RandomState>;

/// Tokens by tenant and clear value.
#[derive(Debug)]
pub struct TokenCache {
    young: ValueMap<String>,
    old: ValueMap<String>,
    generation_capacity: usize,
    /// Each tenant's erasure count, as last read.
    erasures: ValueMap<u64>,
}

impl TokenCache {
    /// A cache of about `capacity` entries (zero disables it).
    pub fn new(capacity: usize) -> TokenCache {
        TokenCache {
            young: ValueMap::default(),
            old: ValueMap::default(),
            generation_capacity: capacity / 2,
            erasures: ValueMap::default(),
        }
    }

    /// Takes `tenant`'s erasure count; when it moved since last read, forgets every
    /// token of the tenant and says so.
    pub fn observe_erasures(&mut self, tenant: &str, count: u64) -> bool {
        let moved = match self.erasures.get_mut(tenant) {
            Some(known) if *known == count => false,
            Some(known) => {
                *known = count;
                true
            }
            None => {
                self.erasures.insert(tenant.to_owned(), count);
                false
            }
        };
        if moved {
            let prefix = TokenCache::key(tenant, "");
            self.young.retain(|key, _| !key.starts_with(&prefix));
            self.old.retain(|key, _| !key.starts_with(&prefix));
        }
        moved
    }

    /// The key of `value` in `tenant`.
    pub fn key(tenant: &str, value: &str) -> String {
        let mut key = String::with_capacity(tenant.len() + 1 + value.len());
        key.push_str(tenant);
        key.push('\u{0}');
        key.push_str(value);
        key
    }

    /// The cached token of a [`TokenCache::key`].
    pub fn get(&mut self, key: &str) -> Option<String> {
        if let Some(token) = self.young.get(key) {
            return Some(token.clone());
        }
        let (key, token) = self.old.remove_entry(key)?;
        self.insert(key, token.clone());
        Some(token)
    }

    /// Remembers the token of a [`TokenCache::key`].
    pub fn insert(&mut self, key: String, token: String) {
        if self.generation_capacity == 0 {
            return;
        }
        if self.young.len() >= self.generation_capacity {
            // The dropped generation's table is reused, so the new one never regrows.
            std::mem::swap(&mut self.old, &mut self.young);
            self.young.clear();
        }
        self.young.insert(key, token);
    }

    /// Entries held.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.young.len() + self.old.len()
    }

    /// Whether the cache is empty.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_stays_bounded_and_keeps_hot_values() {
        let key = TokenCache::key;
        let mut cache = TokenCache::new(100);
        cache.insert(key("t1", "hot"), "token-hot".into());
        for n in 0..1_000 {
            cache.insert(key("t1", &format!("v{n}")), format!("token-{n}"));
            assert_eq!(cache.get(&key("t1", "hot")).as_deref(), Some("token-hot"), "hot value kept at {n}");
            assert!(cache.len() <= 100);
        }
        assert_eq!(cache.get(&key("t1", "v0")), None, "cold values leave");
        assert_eq!(cache.get(&key("t2", "hot")), None, "tenants do not share tokens");
        cache.observe_erasures("t1", 0);
        cache.insert(key("t2", "hot"), "token-t2".into());
        assert!(!cache.observe_erasures("t1", 0), "no erasure: nothing forgotten");
        assert!(cache.observe_erasures("t1", 1), "an erasure in t1");
        assert_eq!(cache.get(&key("t1", "hot")), None, "t1's tokens are forgotten");
        assert_eq!(cache.get(&key("t2", "hot")).as_deref(), Some("token-t2"), "t2's stay");
        let mut disabled = TokenCache::new(0);
        disabled.insert(key("t1", "x"), "y".into());
        assert!(disabled.is_empty());
    }
}
