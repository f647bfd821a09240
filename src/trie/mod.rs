//! The trie engine: a multi-valued, copy-on-write burst trie over UTF-8 keys.
//!
//! # What it owns
//! [`Trie`] maps non-empty string keys to one or more values and answers "the
//! first `m` entries whose key starts with `P`" in key order. It knows nothing
//! of threads, I/O or JSON; the [`crate::sync`] layer shares it between threads.
//!
//! Inside, one file per part: `node` (inner nodes and the walks over them),
//! `bucket` (the leaves), `sparse` (a bucket's seek index), `varint` (the
//! records' integers), `values` and `big` (a key's values, few or many),
//! `iter` (the prefix walk and the collected answer), `ranked` and `cached`
//! (top-k by score, and the answers inner nodes remember), `fuzzy` (the
//! typo-tolerant walk), `build` (one-pass builds and repacking), `memory`
//! (the memory report) and `prefetch` (the crate's one `unsafe`, a cache
//! hint).
//!
//! # Why it is built this way
//! - **Bytes, not chars.** Keys are stored as UTF-8 bytes. UTF-8 byte order is
//!   Unicode code point order, so a byte-wise trie yields keys in code point
//!   order without decoding anything, and every character costs its UTF-8 size.
//! - **Burst (hybrid) leaves.** The classic burst trie: a leaf is a bucket of up
//!   to `burst` sorted key suffixes, packed as `varint(len) suffix varint(count)`
//!   records in one byte vector beside one vector of values (two allocations
//!   per bucket). A lookup scans the records linearly from the nearest entry
//!   of a sparse index (`examples/mem_probe` prints how full buckets are;
//!   see docs/benchmarks.md): a sequential scan of one array costs fewer
//!   cache misses than a binary search over offsets. When a bucket overflows it *bursts* into an
//!   inner node whose children are buckets, one per next byte. A bucket costs
//!   about two bytes per key instead of a node per character, which is what
//!   keeps the trie near the raw size of its keys.
//! - **Compact inner nodes.** An inner node keeps a 256-bit bitmap of its
//!   children's first bytes (a child's index is a popcount; no hash map per
//!   node, no sorting at query time) and a compressed `prefix`, stored in the
//!   node itself up to 22 bytes, so that a chain of single children costs one
//!   node, not one per byte, and no extra cache miss.
//! - **Many values per key.** A key's values stay inline up to 32; above that
//!   they move to two persistent trees (see `big`), so a write to a key with
//!   k values costs O(log k), even when a snapshot shares it.
//! - **Pruning.** Removing the last value of a key removes the key; a bucket or
//!   node left empty is unlinked at once, so no subtree is ever empty. That is
//!   also what makes [`Trie::suggest`] cost proportional to the prefix length
//!   plus the output: every subtree it enters yields at least one entry.
//! - **Answers without an allocation per entry.** [`Trie::suggest`] returns a
//!   [`Suggestions`] (keys written once into one string); [`Trie::iter_prefix`]
//!   lends each key from a buffer, which the server uses to write JSON.
//! - **One `unsafe` hint, fenced.** `prefetch` (a cache hint, in its own
//!   module, tested under Miri) lets a bucket's values load while its records
//!   are compared, shortening a cold suggest; `prefetch_line`, the same
//!   hint by address, lets a reader fetch a new index version's fresh nodes
//!   at once (`Trie::fresh_lines`).
//! - **Copy-on-write.** Children are `Arc`s. `Trie::clone` is O(1) (one `Arc`
//!   increment); a write calls `Arc::make_mut` on the way down, which copies a
//!   node only while it is shared with a clone. A write on an unshared trie
//!   copies nothing. The concurrent [`crate::sync::Index`] publishes clones as
//!   immutable snapshots while its writer keeps changing its own copy.
//!
//! # Choosing the burst size
//! The default, [`DEFAULT_BURST`] = 256, comes from `cargo bench --bench trie`
//! over 1M synthetic users (docs/benchmarks.md has the figures). Larger
//! buckets save node overhead (bytes per entry fall as the burst grows)
//! and, since buckets carry a sparse index, a seek in a big bucket decodes
//! only a few records, so suggest got faster up to 256 as the descent got
//! shorter. Beyond 256 the gain is in the noise while every write shifts,
//! and every copy-on-write copies, a bigger bucket (insert throughput falls
//! from 512 on).

mod big;
mod bucket;
mod build;
pub(crate) use build::Part;
mod cached;
mod fuzzy;
mod iter;
mod memory;
mod node;
mod options;
mod prefetch;
mod ranked;
mod scores;
mod sparse;
#[cfg(test)]
mod tests;
mod values;
mod varint;

use std::sync::Arc;

use crate::fold::Fold;

pub use iter::{PrefixIter, Suggestions};
pub use memory::{HeapSize, MemoryReport};
use node::{Inserted, Node};
pub use options::{Fuzzy, Order, SuggestOptions};
#[cfg(not(typeahead_loom))]
pub(crate) use prefetch::prefetch_line;
pub(crate) use prefetch::PREFETCHES;
pub use values::{Scored, Values};

/// The bucket size at which a leaf bursts, chosen by benchmark (module docs).
pub const DEFAULT_BURST: usize = 256;

/// Errors of the trie's write operations.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrieError {
    /// Keys must hold at least one byte.
    #[error("key is empty: keys must be non-empty strings")]
    EmptyKey,
    /// [`Trie::from_sorted`] got keys out of order (or repeated).
    #[error("keys must be strictly ascending; {key:?} is out of order")]
    Unsorted {
        /// The first key out of order.
        key: String,
    },
    /// A score, an increment or the sum it makes is not a finite number
    /// (NaN or infinite); nothing changed.
    #[error("scores must be finite numbers")]
    InvalidScore,
}

/// How [`Trie::upsert`] sets a pair's score.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ScoreOp {
    /// The pair's score becomes this (a new pair starts at it).
    Set(f64),
    /// This is added to the pair's score (a new pair starts at it).
    Incr(f64),
}

/// What [`Trie::upsert`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Upserted {
    /// The pair is new.
    Added,
    /// The pair was there and its score changed.
    Updated,
    /// The pair was there with that score already.
    Unchanged,
}

/// A map from non-empty UTF-8 keys to one or more values, with ordered prefix
/// suggestions. Cloning is O(1) and clones are independent (copy-on-write).
///
/// # Examples
/// ```
/// use typeahead::Trie;
///
/// let mut t = Trie::new();
/// t.insert("go", 1).unwrap();
/// t.insert("git", 2).unwrap();
/// t.insert("gob", 3).unwrap();
/// t.insert("go", 4).unwrap();
/// let found = t.suggest("g", 10);
/// assert_eq!(found, [("git", 2), ("go", 1), ("go", 4), ("gob", 3)]);
/// assert_eq!(t.suggest("go", 2), [("go", 1), ("go", 4)]);
/// for (key, id) in found.iter() {
///     println!("{key}: {id}");
/// }
/// ```
#[derive(Clone, Debug)]
pub struct Trie<V> {
    root: Arc<Node<V>>,
    burst: usize,
    len: usize,
    keys: usize,
    fold: Fold,
}

impl<V: Clone + Ord> Default for Trie<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V: Clone + Ord> Trie<V> {
    /// An empty trie with the default burst size.
    pub fn new() -> Self {
        Self::with_burst(DEFAULT_BURST)
    }

    /// An empty trie whose buckets burst when they hold more than `burst`
    /// keys (at least 1; 0 is taken as 1).
    ///
    /// # Examples
    /// ```
    /// let mut t = typeahead::Trie::with_burst(1);
    /// t.insert("ab", 'x').unwrap();
    /// t.insert("ac", 'y').unwrap();
    /// assert_eq!(t.key_count(), 2);
    /// ```
    pub fn with_burst(burst: usize) -> Self {
        Trie {
            root: Arc::new(Node::Bucket(Default::default())),
            burst: burst.max(1),
            len: 0,
            keys: 0,
            fold: Fold::None,
        }
    }

    /// An empty trie with the default burst size that matches keys after
    /// `fold` (see [`Fold`]): a query matches a key when its folded text
    /// is a prefix of the key's; answers give keys exactly as they were
    /// added, and keys that fold alike stay distinct. Writes, removes and
    /// lookups by key stay exact on the key as given.
    ///
    /// # Examples
    /// ```
    /// use typeahead::{Fold, Trie};
    ///
    /// let mut t = Trie::with_fold(Fold::Full);
    /// t.insert("José", 1).unwrap();
    /// t.insert("JOSE", 2).unwrap();
    /// t.insert("Straße", 3).unwrap();
    /// assert_eq!(t.suggest("jose", 10), [("JOSE", 2), ("José", 1)]);
    /// assert_eq!(t.suggest("STRASS", 10), [("Straße", 3)]);
    /// assert_eq!(t.get("José"), [1]);
    /// assert!(t.get("jose").is_empty());
    /// ```
    pub fn with_fold(fold: Fold) -> Self {
        Trie {
            fold,
            ..Self::new()
        }
    }

    /// Adds `value` to `key`'s values with a score of 0. Returns `Ok(true)`
    /// when the pair is new and `Ok(false)` when it was already there
    /// (nothing changes: its score stays).
    ///
    /// # Errors
    /// [`TrieError::EmptyKey`] for an empty key.
    ///
    /// # Examples
    /// ```
    /// let mut t = typeahead::Trie::new();
    /// assert_eq!(t.insert("smith", 7), Ok(true));
    /// assert_eq!(t.insert("smith", 7), Ok(false));
    /// assert!(t.insert("", 1).is_err());
    /// ```
    pub fn insert(&mut self, key: &str, value: V) -> Result<bool, TrieError> {
        self.write(key, value, None)
            .map(|done| done == Upserted::Added)
    }

    /// Adds the pair (`key`, `value`) or changes its score: [`ScoreOp::Set`]
    /// makes the score `s`, [`ScoreOp::Incr`] adds `d` to it; a new pair
    /// starts at `s` or `d`. Returns what happened: setting a pair to the
    /// score it has is [`Upserted::Unchanged`].
    ///
    /// # Errors
    /// [`TrieError::EmptyKey`]; [`TrieError::InvalidScore`] when `s`, `d`
    /// or the sum is not finite. Nothing changes on an error.
    ///
    /// # Examples
    /// ```
    /// use typeahead::{ScoreOp, Trie, Upserted};
    ///
    /// let mut t = Trie::new();
    /// assert_eq!(t.upsert("maria", 7, ScoreOp::Incr(1.0)), Ok(Upserted::Added));
    /// assert_eq!(t.upsert("maria", 7, ScoreOp::Incr(2.5)), Ok(Upserted::Updated));
    /// assert_eq!(t.upsert("maria", 7, ScoreOp::Set(3.5)), Ok(Upserted::Unchanged));
    /// assert_eq!(t.score("maria", &7), Some(3.5));
    /// assert!(t.upsert("maria", 7, ScoreOp::Incr(f64::MAX)).is_ok());
    /// assert!(t.upsert("maria", 7, ScoreOp::Incr(f64::MAX)).is_err());
    /// ```
    pub fn upsert(&mut self, key: &str, value: V, op: ScoreOp) -> Result<Upserted, TrieError> {
        self.write(key, value, Some(op))
    }

    fn write(&mut self, key: &str, value: V, op: Option<ScoreOp>) -> Result<Upserted, TrieError> {
        if key.is_empty() {
            return Err(TrieError::EmptyKey);
        }
        if let Some(ScoreOp::Set(x) | ScoreOp::Incr(x)) = op {
            if !x.is_finite() {
                return Err(TrieError::InvalidScore);
            }
        }
        let stored = self.fold.stored_key(key);
        let root = Arc::make_mut(&mut self.root);
        match root.upsert(&stored, value, op, self.burst)? {
            Inserted::Added { new_key } => {
                self.len += 1;
                self.keys += usize::from(new_key);
                Ok(Upserted::Added)
            }
            Inserted::Updated => Ok(Upserted::Updated),
            Inserted::Unchanged => Ok(Upserted::Unchanged),
        }
    }

    /// Removes one pair; returns whether it was there. Nodes and buckets left
    /// empty are pruned at once.
    ///
    /// # Examples
    /// ```
    /// let mut t = typeahead::Trie::new();
    /// t.insert("go", 1).unwrap();
    /// assert!(t.remove("go", &1));
    /// assert!(!t.remove("go", &1));
    /// assert!(t.is_empty());
    /// ```
    pub fn remove(&mut self, key: &str, value: &V) -> bool {
        let present = self.get(key);
        if !present.contains(value) {
            return false;
        }
        let key_goes = present.len() == 1;
        let removed = self.remove_inner(key, Some(value));
        debug_assert_eq!(removed.len(), 1);
        self.keys -= usize::from(key_goes);
        true
    }

    /// Removes `key` with all its values and returns them (empty when the key
    /// was absent).
    ///
    /// # Examples
    /// ```
    /// let mut t = typeahead::Trie::new();
    /// t.insert("go", 1).unwrap();
    /// t.insert("go", 2).unwrap();
    /// assert_eq!(t.remove_key("go"), vec![1, 2]);
    /// assert_eq!(t.len(), 0);
    /// ```
    pub fn remove_key(&mut self, key: &str) -> Vec<V> {
        // Look before copying: a miss must not copy a path shared with a clone.
        if self.get(key).is_empty() {
            return Vec::new();
        }
        let removed = self.remove_inner(key, None);
        self.keys -= 1;
        removed
    }

    fn remove_inner(&mut self, key: &str, value: Option<&V>) -> Vec<V> {
        let stored = self.fold.stored_key(key);
        let root = Arc::make_mut(&mut self.root);
        let removed = root.remove(&stored, value);
        if root.is_empty() {
            *root = Node::Bucket(Default::default());
        }
        self.len -= removed.len();
        removed
    }

    /// Removes every entry (the trie keeps its burst size and fold).
    pub fn clear(&mut self) {
        *self = Trie {
            fold: self.fold,
            ..Self::with_burst(self.burst)
        };
    }

    /// Up to `limit` entries whose key starts with `prefix`, in key (code
    /// point) order and then in the order each key's values were added. An
    /// empty prefix means every key.
    /// The answer shares one string for all its keys (see [`Suggestions`]).
    pub fn suggest(&self, prefix: &str, limit: usize) -> Suggestions<V> {
        let mut it = PrefixIter::empty();
        if self.fold == Fold::None {
            it.descend(&self.root, prefix.as_bytes());
            return Suggestions::collect(&mut it, limit);
        }
        let mut stored = smallvec::SmallVec::<[u8; 64]>::new();
        self.fold.push_stored_prefix(prefix, &mut stored);
        it.descend(&self.root, &stored);
        let mut out = Suggestions::collect(&mut it, limit);
        out.strip_folded();
        out
    }

    /// Up to `limit` entries whose key starts with `prefix`, in the order
    /// `opts` asks for, each distinct value at most once when it asks for
    /// `dedupe` (at its best position: its highest-scored pair, or its
    /// first key).
    ///
    /// [`Order::Score`] is highest score first; ties by key in code point
    /// order, then by the order the values were added to that key. It does
    /// not walk the branch: every node keeps the highest score beneath it,
    /// and a best-first search stops once `limit` answers beat every bound
    /// it has not explored (see the module docs of `ranked`).
    ///
    /// # Examples
    /// ```
    /// use typeahead::{Order, ScoreOp, SuggestOptions, Trie};
    ///
    /// let mut t = Trie::new();
    /// t.upsert("maria", "u1", ScoreOp::Set(900.0)).unwrap();
    /// t.upsert("garcia", "u1", ScoreOp::Set(900.0)).unwrap();
    /// t.upsert("mara", "u2", ScoreOp::Set(3.0)).unwrap();
    /// t.upsert("mark", "u3", ScoreOp::Set(40.0)).unwrap();
    /// t.upsert("mgarcia", "u1", ScoreOp::Set(900.0)).unwrap();
    /// let by_score = SuggestOptions::new().order(Order::Score);
    /// assert_eq!(
    ///     t.suggest_with("m", 3, by_score),
    ///     [("maria", "u1"), ("mgarcia", "u1"), ("mark", "u3")]
    /// );
    /// assert_eq!(
    ///     t.suggest_with("m", 3, by_score.dedupe(true)),
    ///     [("maria", "u1"), ("mark", "u3"), ("mara", "u2")]
    /// );
    /// ```
    ///
    /// With [`SuggestOptions::fuzzy`], a key matches at distance `d` when
    /// the smallest optimal-string-alignment distance between the folded
    /// query and a prefix of the folded key is `d` (at most 2): answers
    /// come by distance first, then in `order`, and
    /// [`Suggestions::distance`] gives each one's. [`Trie::matched`] gives
    /// the span of a key that matched, to highlight.
    ///
    /// ```
    /// use typeahead::{Fold, Fuzzy, SuggestOptions, Trie};
    ///
    /// let mut t = Trie::with_fold(Fold::Full);
    /// t.insert("Matthew", 1).unwrap();
    /// t.insert("Mathews", 2).unwrap();
    /// t.insert("Martha", 3).unwrap();
    /// let typos = SuggestOptions::new().fuzzy(Fuzzy::Distance(1));
    /// let found = t.suggest_with("mathew", 10, typos);
    /// assert_eq!(found, [("Mathews", 2), ("Matthew", 1)]);
    /// assert_eq!((found.distance(0), found.distance(1)), (Some(0), Some(1)));
    /// ```
    pub fn suggest_with(&self, prefix: &str, limit: usize, opts: SuggestOptions) -> Suggestions<V> {
        let max = opts.fuzzy.bound(prefix);
        let mut out = if max > 0 {
            let q: Vec<char> = self.fold.apply(prefix).chars().collect();
            let exact = self.fold.stored_prefix(prefix);
            let folded = self.fold != Fold::None;
            let (order, dedupe) = (opts.order, opts.dedupe);
            fuzzy::suggest(&self.root, &q, &exact, folded, max, limit, order, dedupe)
        } else {
            let stored = self.fold.stored_prefix(prefix);
            let mut out = match (opts.order, opts.dedupe) {
                (Order::Key, false) => options::by_key(&self.root, &stored, limit),
                (Order::Key, true) => options::by_key_distinct(&self.root, &stored, limit),
                (Order::Score, dedupe) => ranked::top(&self.root, &stored, limit, dedupe),
            };
            if opts.fuzzy != Fuzzy::Distance(0) {
                out.set_distances(0, 0);
            }
            out
        };
        if self.fold != Fold::None {
            out.strip_folded();
        }
        out
    }

    /// How `key` matches `query` in this trie (its fold): the typo
    /// distance, if at most `max`, and the span of the key to highlight.
    /// See [`Fold::matched`].
    pub fn matched(&self, query: &str, key: &str, max: u8) -> Option<crate::fold::Match> {
        self.fold.matched(query, key, max)
    }
}

impl<V> Trie<V> {
    /// A streaming iterator over every entry whose key starts with `prefix`,
    /// in the same order as [`Trie::suggest`]. It walks down to the prefix
    /// at once and does the rest of the work as it is asked for entries.
    ///
    /// # Examples
    /// ```
    /// let mut t = typeahead::Trie::new();
    /// for (i, k) in ["ma", "mb", "max", "ab"].iter().enumerate() {
    ///     t.insert(k, i).unwrap();
    /// }
    /// let keys: Vec<String> = t.iter_prefix("ma").map(|(k, _)| k).collect();
    /// assert_eq!(keys, ["ma", "max"]);
    /// ```
    pub fn iter_prefix<'a>(&'a self, prefix: &str) -> PrefixIter<'a, V> {
        PrefixIter::new(&self.root, &self.fold.stored_prefix(prefix))
            .stripping(self.fold != Fold::None)
    }

    /// How this trie folds keys and queries.
    pub fn fold(&self) -> Fold {
        self.fold
    }

    /// The cache lines of the nodes this trie holds alone, shallowest first,
    /// at most `cap`: what a reader of this version will miss on first,
    /// because nobody has read them yet. A node is this trie's alone when
    /// its `Arc` has one owner and so has every node above it, i.e. when it
    /// was created or copied since this trie was last cloned. Called by
    /// [`IndexWriter::publish`](crate::sync::IndexWriter::publish) while the
    /// previous version is still alive, so that every node it shares
    /// counts two owners.
    pub(crate) fn fresh_lines(&self, cap: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut level = Vec::new();
        if Arc::strong_count(&self.root) == 1 {
            level.push(&self.root);
        }
        let mut next = Vec::new();
        'walk: while !level.is_empty() {
            for node in level.drain(..) {
                if out.len() >= cap {
                    break 'walk;
                }
                node.push_lines(&mut out);
                if let Node::Inner(inner) = &**node {
                    next.extend(inner.children.iter().filter(|c| Arc::strong_count(c) == 1));
                }
            }
            std::mem::swap(&mut level, &mut next);
        }
        out.truncate(cap);
        out
    }

    /// The score of the pair (`key`, `value`), if the pair is there.
    ///
    /// # Examples
    /// ```
    /// let mut t = typeahead::Trie::new();
    /// t.insert("go", 1).unwrap();
    /// assert_eq!(t.score("go", &1), Some(0.0));
    /// assert_eq!(t.score("go", &2), None);
    /// ```
    pub fn score(&self, key: &str, value: &V) -> Option<f64>
    where
        V: PartialEq,
    {
        self.get(key)
            .scored()
            .find(|(v, _)| *v == value)
            .map(|(_, s)| s)
    }

    /// The values of exactly `key`, in the order they were added (empty when
    /// the key is absent); [`Values::scored`] gives their scores too.
    /// A key's values come back as [`Values`], an iterator that knows its
    /// length (a big key's values are a tree, not one slice).
    pub fn get(&self, key: &str) -> Values<'_, V> {
        self.root.get(&self.fold.stored_key(key))
    }

    /// Number of (key, value) entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the trie holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of distinct keys.
    pub fn key_count(&self) -> usize {
        self.keys
    }

    /// The burst size this trie was built with.
    pub fn burst(&self) -> usize {
        self.burst
    }

    /// Panics unless the structural invariants hold: no empty subtree,
    /// buckets sorted and within the burst size, distinct values, and `len`
    /// and `key_count` equal to what the nodes hold. For tests (here and in
    /// the concurrency layer's), not for production paths: it walks the trie.
    #[doc(hidden)]
    pub fn assert_invariants(&self)
    where
        V: Ord + std::fmt::Debug,
    {
        self.root.check(self.burst, true);
        let mut entries = 0;
        let mut keys = 0;
        let mut last: Option<Vec<u8>> = None;
        let mut it = PrefixIter::new(&self.root, b"");
        while let Some((k, values)) = it.next_key_bytes() {
            entries += values.len();
            assert!(last.as_deref() < Some(k), "keys out of order");
            if self.fold != Fold::None {
                let original = std::str::from_utf8(crate::fold::original(k)).expect("UTF-8");
                assert_eq!(*self.fold.stored_key(original), *k, "stored form");
            }
            keys += 1;
            last = Some(k.to_owned());
        }
        assert_eq!(entries, self.len, "len disagrees with the nodes");
        assert_eq!(keys, self.keys, "key_count disagrees with the nodes");
    }

    /// True when both tries share their root node (test aid for copy-on-write).
    #[cfg(test)]
    pub(crate) fn shares_root_with(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.root, &other.root)
    }
}
