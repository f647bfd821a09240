//! [`Index`]: a trie shared by many readers and serialized writers.
//!
//! # Consistency model
//! - Every read runs on one [`Snapshot`]: it sees one version of the trie
//!   from start to end, never a half-applied write or batch.
//! - A write is visible to every read that *starts* after the write call
//!   returned (the write publishes its snapshot before it returns).
//! - Versions grow by one with every published change, so a reader that
//!   loads snapshots one after another never sees the version go backwards.
//! - Readers never wait: loading the current snapshot is a few atomic
//!   operations on arc-swap's per-thread slots, with no lock and no shared
//!   counter to write. Writers take a mutex that readers never touch.
//!
//! # Writing
//! [`Index::write`] gives an [`IndexWriter`] that changes the writer's own
//! copy of the trie. Its changes become visible all at once when it is
//! published ([`IndexWriter::publish`]); dropping it unpublished throws them
//! away, which is how a durable server rolls back a batch its disk refused.
//! The first change after a publish copies the path it touches (the
//! published snapshot still shares it); later changes in the same batch
//! copy nothing, so batches are the cheap way to write a lot.

#[cfg(not(loom))]
use arc_swap::ArcSwap;
#[cfg(loom)]
use loom::sync::{Mutex, MutexGuard};
use std::sync::Arc;
#[cfg(not(loom))]
use std::sync::{Mutex, MutexGuard};

use crate::trie::{Trie, TrieError};

/// An immutable version of the trie, as published by a writer.
#[derive(Debug)]
pub struct Snapshot<V> {
    trie: Trie<V>,
    version: u64,
}

impl<V> Snapshot<V> {
    /// The trie as of this version.
    pub fn trie(&self) -> &Trie<V> {
        &self.trie
    }

    /// The version: 0 for a new index, one more for every published change.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Counts for this version.
    pub fn stats(&self) -> Stats {
        Stats {
            keys: self.trie.key_count(),
            entries: self.trie.len(),
            version: self.version,
        }
    }
}

/// Size and version of a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Distinct keys.
    pub keys: usize,
    /// (key, value) entries.
    pub entries: usize,
    /// The snapshot's version.
    pub version: u64,
}

#[derive(Debug)]
struct Shared<V> {
    /// The writer's own copy. Only writers lock it; readers never do.
    writer: Mutex<Trie<V>>,
    /// The last published snapshot.
    #[cfg(not(loom))]
    published: ArcSwap<Snapshot<V>>,
    #[cfg(loom)]
    published: loom::sync::RwLock<Arc<Snapshot<V>>>,
}

/// A trie shared between threads: lock-free snapshot reads, serialized
/// writes. Cloning the handle is shallow (one `Arc` increment); every clone
/// sees the same index and callers need no lock of their own.
///
/// # Examples
/// ```
/// let index = typeahead::Index::new();
/// let reader = index.clone();
/// std::thread::spawn(move || index.insert("go", 1).unwrap()).join().unwrap();
/// assert_eq!(reader.suggest("g", 10), [("go".to_string(), 1)]);
/// assert_eq!(reader.stats().version, 1);
/// ```
#[derive(Debug)]
pub struct Index<V> {
    shared: Arc<Shared<V>>,
}

impl<V> Clone for Index<V> {
    fn clone(&self) -> Self {
        Index {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<V: Clone + PartialEq> Default for Index<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V: Clone + PartialEq> Index<V> {
    /// An empty index with the default burst size.
    pub fn new() -> Self {
        Self::from_trie(Trie::new())
    }

    /// An index that starts with `trie` as version 0.
    pub fn from_trie(trie: Trie<V>) -> Self {
        let snapshot = Arc::new(Snapshot {
            trie: trie.clone(),
            version: 0,
        });
        Index {
            shared: Arc::new(Shared {
                writer: Mutex::new(trie),
                #[cfg(not(loom))]
                published: ArcSwap::new(snapshot),
                #[cfg(loom)]
                published: loom::sync::RwLock::new(snapshot),
            }),
        }
    }

    /// The current snapshot, owned: it stays valid (and unchanged) for as long
    /// as it is held, whatever writers do meanwhile. Holding it across an
    /// `.await` is fine.
    pub fn snapshot(&self) -> Arc<Snapshot<V>> {
        #[cfg(not(loom))]
        return self.shared.published.load_full();
        #[cfg(loom)]
        return Arc::clone(&self.shared.published.read().expect("loom lock"));
    }

    /// Runs `f` on the current snapshot without touching any shared counter
    /// (the fast path for short reads; don't hold it across an `.await`).
    pub fn read<R>(&self, f: impl FnOnce(&Snapshot<V>) -> R) -> R {
        #[cfg(not(loom))]
        return f(&self.shared.published.load());
        #[cfg(loom)]
        return f(&self.snapshot());
    }

    /// The values of exactly `key` in the current snapshot.
    pub fn get(&self, key: &str) -> Vec<V> {
        self.read(|s| s.trie.get(key).to_vec())
    }

    /// Up to `limit` entries under `prefix` in the current snapshot.
    pub fn suggest(&self, prefix: &str, limit: usize) -> Vec<(String, V)> {
        self.read(|s| s.trie.suggest(prefix, limit))
    }

    /// Counts and version of the current snapshot.
    pub fn stats(&self) -> Stats {
        self.read(|s| s.stats())
    }

    /// Starts a batch of writes: waits for other writers (never for
    /// readers). See [`IndexWriter`].
    pub fn write(&self) -> IndexWriter<'_, V> {
        let trie = self.shared.writer.lock().unwrap_or_else(|poisoned| {
            // A writer panicked mid-batch: its copy may be half-changed, so
            // start again from the last published snapshot.
            let mut guard = poisoned.into_inner();
            *guard = self.snapshot().trie.clone();
            guard
        });
        IndexWriter {
            shared: &self.shared,
            trie,
            changed: false,
        }
    }

    /// Inserts one pair and publishes. See [`Trie::insert`].
    ///
    /// # Errors
    /// [`TrieError::EmptyKey`] for an empty key; nothing changes.
    pub fn insert(&self, key: &str, value: V) -> Result<bool, TrieError> {
        let mut w = self.write();
        let added = w.insert(key, value)?;
        w.publish();
        Ok(added)
    }

    /// Removes one pair and publishes; returns whether it was there.
    pub fn remove(&self, key: &str, value: &V) -> bool {
        let mut w = self.write();
        let removed = w.remove(key, value);
        w.publish();
        removed
    }

    /// Removes a key with all its values and publishes; returns them.
    pub fn remove_key(&self, key: &str) -> Vec<V> {
        let mut w = self.write();
        let removed = w.remove_key(key);
        w.publish();
        removed
    }
}

/// Exclusive access to the index's writer copy. Changes are invisible to
/// readers until [`IndexWriter::publish`]; dropping the writer without
/// publishing discards them.
pub struct IndexWriter<'a, V: Clone + PartialEq> {
    shared: &'a Shared<V>,
    trie: MutexGuard<'a, Trie<V>>,
    changed: bool,
}

impl<V: Clone + PartialEq> IndexWriter<'_, V> {
    /// The writer's copy, with this batch's changes so far.
    pub fn trie(&self) -> &Trie<V> {
        &self.trie
    }

    /// See [`Trie::insert`].
    ///
    /// # Errors
    /// [`TrieError::EmptyKey`] for an empty key; nothing changes.
    pub fn insert(&mut self, key: &str, value: V) -> Result<bool, TrieError> {
        let added = self.trie.insert(key, value)?;
        self.changed |= added;
        Ok(added)
    }

    /// See [`Trie::remove`].
    pub fn remove(&mut self, key: &str, value: &V) -> bool {
        let removed = self.trie.remove(key, value);
        self.changed |= removed;
        removed
    }

    /// See [`Trie::remove_key`].
    pub fn remove_key(&mut self, key: &str) -> Vec<V> {
        let removed = self.trie.remove_key(key);
        self.changed |= !removed.is_empty();
        removed
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.changed |= !self.trie.is_empty();
        self.trie.clear();
    }

    /// True when this batch changed anything.
    pub fn changed(&self) -> bool {
        self.changed
    }

    /// Makes this batch's changes visible to every read that starts from now
    /// on, as one new version (no new version when nothing changed). Returns
    /// the version readers now see.
    pub fn publish(mut self) -> u64 {
        let current = self.current_version();
        if !self.changed {
            return current;
        }
        let snapshot = Arc::new(Snapshot {
            trie: self.trie.clone(),
            version: current + 1,
        });
        #[cfg(not(loom))]
        self.shared.published.store(snapshot);
        #[cfg(loom)]
        {
            *self.shared.published.write().expect("loom lock") = snapshot;
        }
        self.changed = false;
        current + 1
    }

    fn current_version(&self) -> u64 {
        #[cfg(not(loom))]
        return self.shared.published.load().version;
        #[cfg(loom)]
        return self.shared.published.read().expect("loom lock").version;
    }
}

impl<V: Clone + PartialEq> Drop for IndexWriter<'_, V> {
    fn drop(&mut self) {
        if self.changed {
            // Unpublished changes are discarded: back to the published trie.
            #[cfg(not(loom))]
            let published = self.shared.published.load().trie.clone();
            #[cfg(loom)]
            let published = self
                .shared
                .published
                .read()
                .expect("loom lock")
                .trie
                .clone();
            *self.trie = published;
        }
    }
}
