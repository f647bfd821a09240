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
//! - A reader's first read of a new version prefetches the lines that
//!   version's writer created (see `warm`): a hint that changes when data
//!   arrives, never what a read returns.
//!
//! # Writing
//! [`Index::write`] gives an [`IndexWriter`] that changes the writer's own
//! copy of the trie. Its changes become visible all at once when it is
//! published ([`IndexWriter::publish`]); dropping it unpublished throws them
//! away, which is how a durable server rolls back a batch its disk refused.
//! The first change after a publish copies the path it touches (the
//! published snapshot still shares it); later changes in the same batch
//! copy nothing, so batches are the cheap way to write a lot.

#[cfg(not(typeahead_loom))]
use arc_swap::ArcSwap;
#[cfg(typeahead_loom)]
use loom::sync::{Mutex, MutexGuard};
use std::sync::Arc;
#[cfg(not(typeahead_loom))]
use std::sync::{Mutex, MutexGuard};

use crate::trie::{Trie, TrieError};

/// An immutable version of the trie, as published by a writer.
///
/// # Examples
/// ```
/// let index = typeahead::Index::new();
/// index.insert("go", 1).unwrap();
/// let snapshot = index.snapshot();
/// index.insert("gopher", 2).unwrap();
/// // A held snapshot keeps reading the version it was taken at.
/// assert_eq!(snapshot.version(), 1);
/// assert_eq!(snapshot.trie().suggest("go", 10), [("go", 1)]);
/// assert_eq!(index.snapshot().trie().len(), 2);
/// ```
#[derive(Debug)]
pub struct Snapshot<V> {
    trie: Trie<V>,
    version: u64,
    /// Cache lines of the nodes this version's writer created or copied,
    /// shallowest first (see `Trie::fresh_lines` and `warm`).
    #[cfg_attr(typeahead_loom, allow(dead_code))]
    fresh: Box<[usize]>,
    /// Unique among all snapshots of all indexes in this process (never 0):
    /// what `warm` remembers. An address would not do: a freed snapshot's
    /// memory is the likeliest place for the next one.
    #[cfg_attr(typeahead_loom, allow(dead_code))]
    id: u64,
}

impl<V> Snapshot<V> {
    fn new(trie: Trie<V>, version: u64, fresh: Box<[usize]>) -> Self {
        Snapshot {
            trie,
            version,
            fresh,
            id: next_id(),
        }
    }

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
///
/// # Examples
/// ```
/// let index = typeahead::Index::new();
/// index.insert("go", 1).unwrap();
/// index.insert("go", 2).unwrap();
/// let want = typeahead::Stats { keys: 1, entries: 2, version: 2 };
/// assert_eq!(index.stats(), want);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Distinct keys.
    pub keys: usize,
    /// (key, value) entries.
    pub entries: usize,
    /// The snapshot's version.
    pub version: u64,
}

/// The writer's copy and whether it holds unpublished changes.
#[derive(Debug)]
struct Staged<V> {
    trie: Trie<V>,
    dirty: bool,
    /// Snapshots replaced by later ones that readers may still hold. The
    /// writer keeps a reference and drops it once it is the last holder, so
    /// the memory of old versions is freed on the writer's thread, never in
    /// the middle of a reader's request.
    retired: Vec<Arc<Snapshot<V>>>,
}

#[derive(Debug)]
struct Shared<V> {
    /// The writer's own copy. Only writers lock it; readers never do.
    writer: Lines<Mutex<Staged<V>>>,
    /// The last published snapshot.
    #[cfg(not(typeahead_loom))]
    published: Lines<ArcSwap<Snapshot<V>>>,
    #[cfg(typeahead_loom)]
    published: Lines<loom::sync::RwLock<Arc<Snapshot<V>>>>,
}

/// Keeps a field on cache lines of its own: 128 bytes, because Intel's
/// spatial prefetcher fetches lines in aligned pairs.
///
/// Every read loads the snapshot pointer; the writer writes its mutex and
/// its copy's fields on every operation. With the two fields on one line,
/// each write would take that line away from the readers and their next
/// load of the pointer would miss: a profile of one reader beside the bench's writer
/// (`RETENTION_ONLY=1 PROFILE=writer cargo bench --bench concurrency`,
/// `perf record -e cpu-clock`) puts nearly all of arc-swap's `load` time on
/// the pointer's load when the two share a line (figures in
/// docs/design.md).
#[derive(Debug)]
#[repr(align(128))]
struct Lines<T>(T);
/// At most this many cache lines of a new version are prefetched by each
/// reader that meets it (see [`warm`]): 32 KiB, the top of the trie that a
/// batch of writes copies.
const FRESH_LINES: usize = 512;

/// Where [`Snapshot::id`]s come from.
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// How many snapshots a thread remembers having warmed: a thread that reads
/// more indexes than this in turn warms on every read (up to
/// [`FRESH_LINES`] prefetches of lines it mostly holds already, a few
/// hundred nanoseconds).
#[cfg(not(typeahead_loom))]
const SEEN_SLOTS: usize = 8;

#[cfg(not(typeahead_loom))]
std::thread_local! {
    /// The snapshot ids this thread warmed last, most recent first.
    static SEEN: std::cell::Cell<[u64; SEEN_SLOTS]> =
        const { std::cell::Cell::new([0; SEEN_SLOTS]) };
}

#[cfg(all(test, not(typeahead_loom)))]
std::thread_local! {
    /// Times this thread warmed a snapshot, for the tests.
    static WARMED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Prefetches the lines a version's writer created, the first time this
/// thread reads that version.
///
/// Every publish replaces the top of the trie: a batch of 64 keys copies the
/// root, most first-level nodes and dozens below them. The copies sit in the
/// writer core's cache, and a reader that walks into them takes one miss
/// after another, each waiting for the one before (pointer chasing). Naming
/// them all at once lets those misses overlap: one burst of prefetches
/// instead of a few hundred serial round trips to the writer's core.
///
/// A hint only: whatever it prefetches, reads return the same. Up to
/// [`SEEN_SLOTS`] indexes read in turn by one thread keep their entries.
#[cfg(not(typeahead_loom))]
fn warm<V>(snapshot: &Snapshot<V>) {
    let id = snapshot.id;
    SEEN.with(|seen| {
        let mut ids = seen.get();
        if !ids.contains(&id) {
            ids.rotate_right(1);
            ids[0] = id;
            seen.set(ids);
            for &line in snapshot.fresh.iter() {
                crate::trie::prefetch_line(line);
            }
            #[cfg(test)]
            WARMED.with(|w| w.set(w.get() + 1));
        }
    });
}

impl<T> std::ops::Deref for Lines<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
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

impl<V: Clone + Ord> Default for Index<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V: Clone + Ord> Index<V> {
    /// An empty index with the default burst size.
    pub fn new() -> Self {
        Self::from_trie(Trie::new())
    }

    /// An empty index whose trie bursts at `burst` (see [`Trie::with_burst`]).
    pub fn with_burst(burst: usize) -> Self {
        Self::from_trie(Trie::with_burst(burst))
    }

    /// An index that starts with `trie` as version 0.
    pub fn from_trie(trie: Trie<V>) -> Self {
        let snapshot = Arc::new(Snapshot::new(trie.clone(), 0, Box::default()));
        Index {
            shared: Arc::new(Shared {
                writer: Lines(Mutex::new(Staged {
                    trie,
                    dirty: false,
                    retired: Vec::new(),
                })),
                #[cfg(not(typeahead_loom))]
                published: Lines(ArcSwap::new(snapshot)),
                #[cfg(typeahead_loom)]
                published: Lines(loom::sync::RwLock::new(snapshot)),
            }),
        }
    }

    /// True when both handles share one index.
    pub(crate) fn same_as(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// The current snapshot, owned: it stays valid (and unchanged) for as long
    /// as it is held, whatever writers do meanwhile. Holding it across an
    /// `.await` is fine.
    pub fn snapshot(&self) -> Arc<Snapshot<V>> {
        #[cfg(not(typeahead_loom))]
        {
            let snapshot = self.shared.published.load_full();
            warm(&snapshot);
            snapshot
        }
        #[cfg(typeahead_loom)]
        return Arc::clone(&self.shared.published.read().expect("loom lock"));
    }

    /// Runs `f` on the current snapshot without touching any shared counter
    /// (the fast path for short reads; don't hold it across an `.await`).
    pub fn read<R>(&self, f: impl FnOnce(&Snapshot<V>) -> R) -> R {
        #[cfg(not(typeahead_loom))]
        {
            let snapshot = self.shared.published.load();
            warm(&snapshot);
            f(&snapshot)
        }
        #[cfg(typeahead_loom)]
        return f(&self.snapshot());
    }

    /// The values of exactly `key` in the current snapshot.
    pub fn get(&self, key: &str) -> Vec<V> {
        self.read(|s| s.trie.get(key).to_vec())
    }

    /// Up to `limit` entries under `prefix` in the current snapshot.
    pub fn suggest(&self, prefix: &str, limit: usize) -> crate::Suggestions<V> {
        self.read(|s| s.trie.suggest(prefix, limit))
    }

    /// Counts and version of the current snapshot.
    pub fn stats(&self) -> Stats {
        self.read(|s| s.stats())
    }

    /// Starts a batch of writes: waits for other writers (never for
    /// readers). See [`IndexWriter`].
    pub fn write(&self) -> IndexWriter<'_, V> {
        IndexWriter {
            shared: &self.shared,
            staged: self.lock_writer(),
        }
    }

    fn lock_writer(&self) -> MutexGuard<'_, Staged<V>> {
        self.shared.writer.lock().unwrap_or_else(|poisoned| {
            // A writer panicked mid-batch: its copy may be half-changed, so
            // start again from the last published snapshot.
            let mut guard = poisoned.into_inner();
            guard.trie = self.snapshot().trie.clone();
            guard.dirty = false;
            guard
        })
    }

    /// Applies `f` to the writer's copy *without* publishing: the changes
    /// stay invisible (and kept) until [`Index::publish`] or
    /// [`Index::discard`]. This is the group-commit path: a durable writer
    /// stages a batch, makes it durable, then publishes. `f` returns whether
    /// it changed anything along with its result.
    pub(crate) fn stage<R>(&self, f: impl FnOnce(&mut Trie<V>) -> (bool, R)) -> R {
        let mut staged = self.lock_writer();
        let (changed, result) = f(&mut staged.trie);
        staged.dirty |= changed;
        result
    }

    /// Publishes the staged changes as one new version; returns the version
    /// readers now see.
    pub(crate) fn publish(&self) -> u64 {
        let mut w = self.write();
        w.publish_staged()
    }

    /// Throws the staged changes away (back to the published snapshot).
    pub(crate) fn discard(&self) {
        let mut staged = self.lock_writer();
        if staged.dirty {
            staged.trie = self.snapshot().trie.clone();
            staged.dirty = false;
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
/// publishing discards them (and anything staged before it).
///
/// # Examples
/// ```
/// let index = typeahead::Index::new();
/// let mut batch = index.write();
/// batch.insert("go", 1).unwrap();
/// batch.insert("git", 2).unwrap();
/// assert!(index.get("go").is_empty()); // not published yet
/// assert_eq!(batch.publish(), 1); // both at once, as version 1
/// assert_eq!(index.get("go"), [1]);
///
/// let mut batch = index.write();
/// batch.remove_key("go");
/// drop(batch); // unpublished: thrown away
/// assert_eq!(index.get("go"), [1]);
/// ```
pub struct IndexWriter<'a, V: Clone + Ord> {
    shared: &'a Shared<V>,
    staged: MutexGuard<'a, Staged<V>>,
}

impl<V: Clone + Ord> IndexWriter<'_, V> {
    /// The writer's copy, with this batch's changes so far.
    pub fn trie(&self) -> &Trie<V> {
        &self.staged.trie
    }

    /// See [`Trie::insert`].
    ///
    /// # Errors
    /// [`TrieError::EmptyKey`] for an empty key; nothing changes.
    pub fn insert(&mut self, key: &str, value: V) -> Result<bool, TrieError> {
        let added = self.staged.trie.insert(key, value)?;
        self.staged.dirty |= added;
        Ok(added)
    }

    /// See [`Trie::remove`].
    pub fn remove(&mut self, key: &str, value: &V) -> bool {
        let removed = self.staged.trie.remove(key, value);
        self.staged.dirty |= removed;
        removed
    }

    /// See [`Trie::remove_key`].
    pub fn remove_key(&mut self, key: &str) -> Vec<V> {
        let removed = self.staged.trie.remove_key(key);
        self.staged.dirty |= !removed.is_empty();
        removed
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.staged.dirty |= !self.staged.trie.is_empty();
        self.staged.trie.clear();
    }

    /// True when this batch changed anything.
    pub fn changed(&self) -> bool {
        self.staged.dirty
    }

    /// Makes this batch's changes visible to every read that starts from now
    /// on, as one new version (no new version when nothing changed). Returns
    /// the version readers now see.
    pub fn publish(mut self) -> u64 {
        self.publish_staged()
    }

    fn publish_staged(&mut self) -> u64 {
        let current = self.current_version();
        if !self.staged.dirty {
            return current;
        }
        // Before the swap: the old version still holds every node this one
        // shares, so `fresh_lines` can tell them from the new ones. Only
        // where there is a prefetch to use them.
        let fresh = if crate::trie::PREFETCHES {
            self.staged.trie.fresh_lines(FRESH_LINES).into_boxed_slice()
        } else {
            Box::default()
        };
        let snapshot = Arc::new(Snapshot::new(self.staged.trie.clone(), current + 1, fresh));
        #[cfg(not(typeahead_loom))]
        let old = self.shared.published.swap(snapshot);
        #[cfg(typeahead_loom)]
        let old = std::mem::replace(
            &mut *self.shared.published.write().expect("loom lock"),
            snapshot,
        );
        self.staged.retired.push(old);
        self.staged.retired.retain(|s| Arc::strong_count(s) > 1);
        self.staged.dirty = false;
        current + 1
    }

    fn current_version(&self) -> u64 {
        #[cfg(not(typeahead_loom))]
        return self.shared.published.load().version;
        #[cfg(typeahead_loom)]
        return self.shared.published.read().expect("loom lock").version;
    }
}

impl<V: Clone + Ord> Drop for IndexWriter<'_, V> {
    fn drop(&mut self) {
        if self.staged.dirty {
            // Unpublished changes are discarded: back to the published trie.
            #[cfg(not(typeahead_loom))]
            let published = self.shared.published.load().trie.clone();
            #[cfg(typeahead_loom)]
            let published = self
                .shared
                .published
                .read()
                .expect("loom lock")
                .trie
                .clone();
            self.staged.trie = published;
            self.staged.dirty = false;
        }
    }
}

#[cfg(all(test, not(typeahead_loom)))]
mod tests;
