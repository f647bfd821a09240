//! [`Cache`]: a concurrent map with atomic increment.
//!
//! Built on sharded locks: keys are spread by hash over a power-of-two
//! number of `RwLock<HashMap>` shards. Readers of different shards never touch
//! the same lock word, readers of one shard share it, and an increment holds
//! one shard's write lock for a hash lookup and an add, so it is atomic
//! without compare-and-swap loops. One `RwLock<HashMap>` is the baseline that
//! `benches/cache.rs` compares against: every operation, read or write, writes
//! its single lock word, so it stops scaling as cores are added. A concurrent
//! map crate would do as well; sharding is twenty lines and needs no `unsafe`.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// An increment would overflow `i64`; the value was left unchanged.
///
/// # Examples
/// ```
/// let c: typeahead::Cache<String, i64> = typeahead::Cache::new();
/// c.set("n".into(), i64::MAX - 1);
/// let err = c.incr("n".into(), 2).unwrap_err();
/// assert_eq!(err, typeahead::Overflow { current: i64::MAX - 1, by: 2 });
/// assert_eq!(c.get("n"), Some(i64::MAX - 1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("increment by {by} would overflow the value {current}")]
pub struct Overflow {
    /// The value before (and after) the failed increment.
    pub current: i64,
    /// The requested increment.
    pub by: i64,
}

/// A map shared between threads, sharded for concurrent readers and writers.
///
/// # Examples
/// ```
/// let c: typeahead::Cache<String, i64> = typeahead::Cache::new();
/// assert_eq!(c.incr("hits".into(), 1), Ok(1));
/// assert_eq!(c.incr("hits".into(), 5), Ok(6));
/// c.set("max".into(), i64::MAX);
/// assert!(c.incr("max".into(), 1).is_err());
/// assert_eq!(c.get("max"), Some(i64::MAX));
/// ```
#[derive(Debug)]
pub struct Cache<K, V> {
    shards: Box<[RwLock<HashMap<K, V>>]>,
    hasher: RandomState,
}

impl<K: Hash + Eq, V: Clone> Default for Cache<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Hash + Eq, V: Clone> Cache<K, V> {
    /// An empty cache with 4 shards per available core (a power of two).
    pub fn new() -> Self {
        let cores = std::thread::available_parallelism().map_or(4, |n| n.get());
        Self::with_shards((cores * 4).next_power_of_two())
    }

    /// An empty cache with `n` shards (rounded up to a power of two).
    pub fn with_shards(n: usize) -> Self {
        let n = n.max(1).next_power_of_two();
        Cache {
            shards: (0..n).map(|_| RwLock::new(HashMap::new())).collect(),
            hasher: RandomState::new(),
        }
    }

    fn shard<Q: Hash + ?Sized>(&self, key: &Q) -> usize {
        (self.hasher.hash_one(key) as usize) & (self.shards.len() - 1)
    }

    fn read<Q: Hash + ?Sized>(&self, key: &Q) -> RwLockReadGuard<'_, HashMap<K, V>> {
        // Every critical section leaves the map whole even if it panics, so
        // poison carries no information here.
        self.shards[self.shard(key)]
            .read()
            .unwrap_or_else(|e| e.into_inner())
    }

    fn write<Q: Hash + ?Sized>(&self, key: &Q) -> RwLockWriteGuard<'_, HashMap<K, V>> {
        self.shards[self.shard(key)]
            .write()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// The value of `key`.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.read(key).get(key).cloned()
    }

    /// Sets `key` to `value`; returns the previous value.
    pub fn set(&self, key: K, value: V) -> Option<V> {
        self.write(&key).insert(key, value)
    }

    /// Removes `key`; returns its value.
    pub fn remove<Q>(&self, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.write(key).remove(key)
    }

    /// Number of keys (sums the shards one at a time: exact when no writer
    /// runs concurrently).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().unwrap_or_else(|e| e.into_inner()).len())
            .sum()
    }

    /// True when no key is set.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every (key, value), shard by shard.
    pub fn entries(&self) -> Vec<(K, V)>
    where
        K: Clone,
    {
        let mut out = Vec::new();
        for s in self.shards.iter() {
            let s = s.read().unwrap_or_else(|e| e.into_inner());
            out.extend(s.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        out
    }
}

impl<K: Hash + Eq> Cache<K, i64> {
    /// Adds `by` to `key`'s value atomically (a missing key counts from 0)
    /// and returns the new value.
    ///
    /// # Errors
    /// [`Overflow`] when the sum does not fit in `i64`; the value is unchanged.
    pub fn incr(&self, key: K, by: i64) -> Result<i64, Overflow> {
        let mut shard = self.write(&key);
        let current = shard.get(&key).copied().unwrap_or(0);
        let next = current.checked_add(by).ok_or(Overflow { current, by })?;
        shard.insert(key, next);
        Ok(next)
    }

    /// What [`Cache::incr`] would return, without changing anything.
    pub fn check_incr<Q>(&self, key: &Q, by: i64) -> Result<i64, Overflow>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let current = self.get(key).unwrap_or(0);
        current.checked_add(by).ok_or(Overflow { current, by })
    }
}
