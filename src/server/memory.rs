//! The memory figures the server reports: each trie's bytes by the engine's
//! own count, and the process's resident memory.
//!
//! # What it owns
//! [`TrieBytes`], the per-trie count that `GET /v1/tries/{trie}` and
//! `/metrics` share, and [`resident_bytes`].
//!
//! # Why it is built this way
//! Counting a trie's bytes ([`crate::Trie::memory`]) walks every node: tens
//! of milliseconds at millions of pairs. A snapshot never changes, so its
//! count is kept until the trie changes, beside a weak handle to the snapshot
//! it was taken from. While the entry holds that handle the snapshot's
//! allocation stays put, so no later snapshot can have its address: an entry
//! matches exactly the version, of exactly the trie, that it counted, even
//! after the trie is dropped and made again under the same name (its versions
//! start over). The handle is weak so that the cache keeps no old version's
//! nodes alive. A walk reads an owned snapshot on a blocking thread: it takes
//! no lock a writer needs and holds no async worker. The cache's own lock is
//! held only to look a figure up or store one, never during a walk.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use crate::sync::Snapshot;
use crate::value::Value;

/// A snapshot of one of the served tries.
type TrieSnapshot = Arc<Snapshot<Value>>;

/// Each trie's bytes ([`crate::MemoryReport::total_bytes`]), counted at
/// most once per version: repeated reads of an unchanged trie walk nothing.
#[derive(Debug, Default)]
pub(crate) struct TrieBytes {
    /// By trie name: the last count taken. Entries whose snapshot is gone
    /// (the trie changed or was dropped) are removed when a count is stored.
    counted: Mutex<HashMap<String, Counted>>,
    /// Walks taken, for tests of the cache.
    #[cfg(test)]
    walks: std::sync::atomic::AtomicUsize,
}

/// One trie's count and the snapshot it was taken from.
#[derive(Debug)]
struct Counted {
    snapshot: Weak<Snapshot<Value>>,
    bytes: usize,
}

impl TrieBytes {
    /// The bytes of `snapshot`, a snapshot of the trie called `name`: the
    /// stored count when that snapshot was counted already, else a walk on a
    /// blocking thread.
    ///
    /// # Errors
    /// The blocking task's, when the walk panicked.
    pub(crate) async fn of(
        &self,
        name: &str,
        snapshot: &TrieSnapshot,
    ) -> Result<usize, tokio::task::JoinError> {
        let counts = self
            .of_each(&[(name.to_owned(), Arc::clone(snapshot))])
            .await?;
        Ok(counts[0])
    }

    /// As [`TrieBytes::of`] for several tries at once, in their order; the
    /// tries not counted yet are walked one after another on one blocking
    /// thread.
    ///
    /// # Errors
    /// The blocking task's, when a walk panicked.
    pub(crate) async fn of_each(
        &self,
        tries: &[(String, TrieSnapshot)],
    ) -> Result<Vec<usize>, tokio::task::JoinError> {
        let mut counts: Vec<Option<usize>> = {
            let counted = self.lock();
            tries
                .iter()
                .map(|(name, s)| {
                    let c = counted.get(name)?;
                    // Equal addresses are the same snapshot: the entry's weak
                    // handle keeps its allocation from being reused.
                    (c.snapshot.as_ptr() == Arc::as_ptr(s)).then_some(c.bytes)
                })
                .collect()
        };
        let misses: Vec<(usize, TrieSnapshot)> = counts
            .iter()
            .zip(tries)
            .enumerate()
            .filter(|(_, (count, _))| count.is_none())
            .map(|(i, (_, (_, s)))| (i, Arc::clone(s)))
            .collect();
        if misses.is_empty() {
            return Ok(counts.into_iter().flatten().collect());
        }
        #[cfg(test)]
        self.walks
            .fetch_add(misses.len(), std::sync::atomic::Ordering::Relaxed);
        let walked = tokio::task::spawn_blocking(move || {
            misses
                .into_iter()
                .map(|(i, s)| (i, Arc::downgrade(&s), s.trie().memory().total_bytes))
                .collect::<Vec<_>>()
        })
        .await?;
        let mut counted = self.lock();
        counted.retain(|_, c| c.snapshot.strong_count() > 0);
        for (i, snapshot, bytes) in walked {
            counts[i] = Some(bytes);
            counted.insert(tries[i].0.clone(), Counted { snapshot, bytes });
        }
        Ok(counts.into_iter().flatten().collect())
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Counted>> {
        // The map holds plain figures: one left by a panicking holder is
        // still a count some snapshot had.
        self.counted.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The process's resident memory (RSS) in bytes, from the `VmRSS` line of
/// `/proc/self/status` (Linux); `None` where that file or line is missing.
pub(crate) fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;
    use crate::Index;

    fn filled(n: usize) -> Index<Value> {
        let t = Index::new();
        for i in 0..n {
            t.insert(&format!("key{i}"), Value::parse(&i.to_string()).unwrap())
                .unwrap();
        }
        t
    }

    #[tokio::test]
    async fn an_unchanged_trie_is_walked_once_and_a_changed_one_again() {
        let cache = TrieBytes::default();
        let t = filled(100);
        let first = cache.of("t", &t.snapshot()).await.unwrap();
        assert_eq!(first, t.read(|s| s.trie().memory().total_bytes));
        assert_eq!(cache.of("t", &t.snapshot()).await.unwrap(), first);
        assert_eq!(cache.walks.load(Ordering::Relaxed), 1);

        t.insert("more", Value::parse("1").unwrap()).unwrap();
        let second = cache.of("t", &t.snapshot()).await.unwrap();
        assert!(second > first, "{first} -> {second}");
        assert_eq!(cache.of("t", &t.snapshot()).await.unwrap(), second);
        assert_eq!(cache.walks.load(Ordering::Relaxed), 2);
    }

    #[tokio::test]
    async fn a_trie_made_again_under_its_name_is_counted_afresh() {
        let cache = TrieBytes::default();
        let small = filled(1);
        assert_eq!(small.stats().version, 1);
        let before = cache.of("t", &small.snapshot()).await.unwrap();
        drop(small);
        // The same name and the same version, other contents.
        let big = Index::new();
        let mut batch = big.write();
        for i in 0..1_000 {
            let v = Value::parse(&i.to_string()).unwrap();
            batch.insert(&format!("k{i}"), v).unwrap();
        }
        assert_eq!(batch.publish(), 1);
        let after = cache.of("t", &big.snapshot()).await.unwrap();
        assert_eq!(after, big.read(|s| s.trie().memory().total_bytes));
        assert!(after > before * 10, "{before} -> {after}");
    }

    #[tokio::test]
    async fn several_tries_are_counted_in_their_order_and_only_misses_walk() {
        let cache = TrieBytes::default();
        let (a, b) = (filled(10), filled(500));
        cache.of("b", &b.snapshot()).await.unwrap();
        let counts = cache
            .of_each(&[("a".into(), a.snapshot()), ("b".into(), b.snapshot())])
            .await
            .unwrap();
        let want = |t: &Index<Value>| t.read(|s| s.trie().memory().total_bytes);
        assert_eq!(counts, [want(&a), want(&b)]);
        assert_eq!(cache.walks.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn resident_bytes_is_reported_on_linux() {
        let rss = resident_bytes();
        if cfg!(target_os = "linux") {
            assert!(rss.is_some_and(|b| b > 1 << 20), "{rss:?}");
        }
    }
}
