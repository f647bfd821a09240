//! The trie's shape: [`Node`], either a path-compressed [`Inner`] node or
//! a leaf [`Bucket`], and the walks over it.
//!
//! # What it owns
//! Inner nodes (their compressed [`Prefix`], child bitmap and children),
//! the descent that inserts, removes and looks up a key, bursting a full
//! bucket into an inner node and compacting a chain left by a removal,
//! and the invariant check (building a subtree from sorted keys is
//! [`build`](super::build)'s, the memory report's walk
//! [`memory`](super::memory)'s). What happens inside a leaf is
//! [`bucket`](super::bucket)'s; how a key's values are held is
//! [`values`](super::values)'.
//!
//! # Why it is built this way
//! Keys are stored as UTF-8 bytes, so byte order is Unicode code point order.
//! A key is spelled by the path from the root: every inner node contributes
//! its `prefix`, every edge its one label byte, and the bucket at the end the
//! remaining suffix. Pruning and compaction keep every subtree non-empty, so
//! a walk under a prefix never enters a subtree that yields nothing.
//!
//! Invariants (checked by [`Node::check`] in tests):
//! - no subtree is empty: an inner node has values or at least one child, a
//!   bucket (other than the root) holds at least one key;
//! - a bucket holds at most `burst` keys, sorted and distinct;
//! - every stored key has at least one value, its values are distinct;
//! - a key holds its values inline while it has at most
//!   [`PROMOTE`](super::values::PROMOTE) of them, in a [`BigValues`] above that.

use std::sync::Arc;

use super::bucket::{Bucket, Pos};
use super::cached::TopCache;
use super::scores::Scores;
use super::values::{Vals, Values};
use super::{ScoreOp, TrieError};

/// One node of the trie. Children are `Arc`s so that a clone of the whole trie
/// is O(1) and a write copies only the path it changes (`Arc::make_mut`).
///
/// Aligned to a cache line so that an `Arc<Node>`'s two counters sit on a
/// line of their own, apart from the node. Copying an inner node (every write
/// does, along its path) bumps the counter of each of its children, and
/// dropping the old version drops them again; with the counters beside the
/// node's fields, each bump would take the line that every reader passing
/// through the child needs away from the readers' caches. The alignment costs a
/// little memory per node and raises a reader's throughput beside a writer
/// (`RETENTION_ONLY=1 cargo bench --bench concurrency`; figures in
/// docs/design.md).
#[derive(Clone, Debug)]
#[repr(align(64))]
pub(crate) enum Node<V> {
    /// Boxed: inner nodes are few (one per ~13 buckets over 1M users), and
    /// inline they would make every bucket's node a cache line bigger.
    Inner(Box<Inner<V>>),
    Bucket(Bucket<V>),
}

/// A branching node with a compressed path.
#[derive(Clone, Debug)]
pub(crate) struct Inner<V> {
    /// Bytes every key below shares after the edge into this node. They spare
    /// chains of single-child nodes (one node per byte) after a burst.
    pub(crate) prefix: Prefix,
    /// Values of the key that ends exactly here (after `prefix`), in the order
    /// they were first added. Empty when no key ends here.
    pub(crate) values: Vals<V>,
    /// Bit `b` is set when a child continues with byte `b`. Kept inline so
    /// that finding a child costs no extra cache miss: its index in
    /// `children` is the number of set bits below `b` (a popcount).
    bitmap: [u64; 4],
    /// The children, in label (byte) order.
    pub(crate) children: Vec<Arc<Node<V>>>,
    /// The highest score under each child, in step with `children`: the
    /// bounds a ranked search reads without visiting the children.
    pub(crate) child_max: Vec<f64>,
    /// The subtree's best pairs by score, once a ranked search has started
    /// here; forgotten by every write that passes through.
    pub(crate) top: TopCache<V>,
}

/// An inner node's compressed path. Most are a few bytes long and live in
/// the node itself: a boxed prefix would cost a cache miss on every visit
/// of the node, the largest share of a cold suggest's descent.
#[derive(Clone, Debug)]
pub(crate) enum Prefix {
    Inline { len: u8, bytes: [u8; PREFIX_INLINE] },
    Heap(Box<[u8]>),
}

/// The longest prefix kept inline (the enum is 24 bytes either way).
const PREFIX_INLINE: usize = 22;

impl Prefix {
    /// Heap bytes held (zero for an inline prefix).
    pub(crate) fn heap_bytes(&self) -> usize {
        match self {
            Prefix::Inline { .. } => 0,
            Prefix::Heap(b) => b.len(),
        }
    }
}

impl std::ops::Deref for Prefix {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        match self {
            Prefix::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Prefix::Heap(b) => b,
        }
    }
}

impl From<&[u8]> for Prefix {
    fn from(p: &[u8]) -> Self {
        if p.len() <= PREFIX_INLINE {
            let mut bytes = [0; PREFIX_INLINE];
            bytes[..p.len()].copy_from_slice(p);
            Prefix::Inline {
                len: p.len() as u8,
                bytes,
            }
        } else {
            Prefix::Heap(p.into())
        }
    }
}

impl From<Vec<u8>> for Prefix {
    fn from(p: Vec<u8>) -> Self {
        if p.len() <= PREFIX_INLINE {
            Prefix::from(&p[..])
        } else {
            Prefix::Heap(p.into_boxed_slice())
        }
    }
}

/// What an insert or a score change did.
pub(crate) enum Inserted {
    /// The pair is new; `new_key` says whether the key is new too.
    Added { new_key: bool },
    /// The pair was there; its score changed.
    Updated,
    /// The pair was there with that score; nothing changed.
    Unchanged,
}

pub(super) fn common_prefix_len(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Bytes of a cache line, for [`Node::push_lines`].
pub(crate) const LINE: usize = 64;
/// Lines of a fresh bucket's records that [`Node::push_lines`] names: a
/// suggestion reads a bucket's first records, or seeks through its index.
const BUCKET_LINES: usize = 2;

/// Appends the addresses of the cache lines that `len` bytes from `start`
/// touch.
fn push_range(out: &mut Vec<usize>, start: usize, len: usize) {
    if len == 0 {
        return;
    }
    let last = (start + len - 1) & !(LINE - 1);
    let mut line = start & !(LINE - 1);
    while line <= last {
        out.push(line);
        line += LINE;
    }
}

/// Bytes of one `Arc<Node>` allocation: the two counters, padded to the
/// node's alignment, then the node.
pub(crate) fn arc_node_bytes<V>() -> usize {
    std::alloc::Layout::new::<[usize; 2]>()
        .extend(std::alloc::Layout::new::<Node<V>>())
        .expect("layout")
        .0
        .pad_to_align()
        .size()
}

pub(super) fn shrink_if_sparse<T>(v: &mut Vec<T>) {
    if v.capacity() > v.len() + v.len() / 4 + 4 {
        v.shrink_to(v.len() + v.len() / 8);
    }
}

impl<V> Inner<V> {
    pub(super) fn new(prefix: &[u8]) -> Self {
        Inner {
            prefix: prefix.into(),
            values: Vals::default(),
            bitmap: [0; 4],
            children: Vec::new(),
            child_max: Vec::new(),
            top: TopCache::default(),
        }
    }

    /// The highest score in this subtree, `-inf` when it is empty.
    pub(crate) fn max(&self) -> f64 {
        self.child_max
            .iter()
            .copied()
            .fold(self.values.max(), f64::max)
    }

    /// `Ok(index)` of the child for byte `b`, or `Err(index)` where it goes.
    pub(crate) fn find(&self, b: u8) -> Result<usize, usize> {
        let (w, bit) = (usize::from(b) / 64, u32::from(b) % 64);
        let below: u32 = self.bitmap[..w].iter().map(|x| x.count_ones()).sum();
        let rank = (below + (self.bitmap[w] & ((1u64 << bit) - 1)).count_ones()) as usize;
        if (self.bitmap[w] >> bit) & 1 == 1 {
            Ok(rank)
        } else {
            Err(rank)
        }
    }

    /// The label of the `i`-th child.
    pub(crate) fn label_at(&self, i: usize) -> u8 {
        let mut left = i;
        for (w, &bits) in self.bitmap.iter().enumerate() {
            let n = bits.count_ones() as usize;
            if left < n {
                let mut bits = bits;
                for _ in 0..left {
                    bits &= bits - 1;
                }
                return (w * 64 + bits.trailing_zeros() as usize) as u8;
            }
            left -= n;
        }
        unreachable!("fewer than {i} children")
    }

    /// The smallest child label at or above `from`.
    pub(crate) fn next_label(&self, from: usize) -> Option<u8> {
        let mut b = from;
        while b < 256 {
            let w = b / 64;
            let masked = self.bitmap[w] & (!0u64 << (b % 64));
            if masked != 0 {
                return Some((w * 64 + masked.trailing_zeros() as usize) as u8);
            }
            b = (w + 1) * 64;
        }
        None
    }

    fn set_bit(&mut self, b: u8, on: bool) {
        let (w, bit) = (usize::from(b) / 64, u32::from(b) % 64);
        if on {
            self.bitmap[w] |= 1 << bit;
        } else {
            self.bitmap[w] &= !(1 << bit);
        }
    }

    /// Appends a child whose label is above every existing one.
    pub(super) fn push_child(&mut self, b: u8, child: Arc<Node<V>>) {
        self.set_bit(b, true);
        self.child_max.push(child.max());
        self.children.push(child);
    }

    fn insert_child(&mut self, b: u8, at: usize, child: Arc<Node<V>>) {
        self.set_bit(b, true);
        self.child_max.insert(at, child.max());
        self.children.insert(at, child);
    }

    fn remove_child(&mut self, b: u8, at: usize) {
        self.set_bit(b, false);
        self.children.remove(at);
        self.child_max.remove(at);
    }
}

impl<V> Node<V> {
    /// The highest score in this subtree, `-inf` when it is empty.
    pub(crate) fn max(&self) -> f64 {
        match self {
            Node::Bucket(b) => b.max(),
            Node::Inner(i) => i.max(),
        }
    }
}

impl<V: Clone + Ord> Node<V> {
    /// Inserts `value` under the key whose remaining bytes are `key`, or
    /// changes its score (see [`Trie::upsert`](super::Trie::upsert)).
    pub(crate) fn upsert(
        &mut self,
        key: &[u8],
        value: V,
        op: Option<ScoreOp>,
        burst: usize,
    ) -> Result<Inserted, TrieError> {
        match self {
            Node::Bucket(bucket) => {
                // The bucket keeps its ranked list itself (in step with
                // the write, or recomputed when that is not simple).
                let result = bucket.upsert_unindexed(key, value, op)?;
                match result {
                    // Only a score moved: the records and their index stand.
                    Inserted::Unchanged | Inserted::Updated => return Ok(result),
                    Inserted::Added { .. } => {}
                }
                if bucket.len() > burst {
                    let full = std::mem::take(bucket);
                    *self = Node::Inner(Box::new(full.burst()));
                } else {
                    bucket.reindex();
                }
                Ok(result)
            }
            Node::Inner(inner) => inner.upsert(key, value, op, burst),
        }
    }

    /// Removes one pair (or, with `value == None`, the whole key) and prunes.
    /// Returns the removed values.
    pub(crate) fn remove(&mut self, key: &[u8], value: Option<&V>) -> Vec<V> {
        match self {
            Node::Bucket(bucket) => {
                let Ok(r) = bucket.seek(key) else {
                    return Vec::new();
                };
                let removed = match value {
                    None => bucket.remove_record(&r).take().0,
                    Some(v) => bucket.remove_value(&r, v).into_iter().collect(),
                };
                bucket.reindex();
                bucket.shrink_if_sparse();
                bucket.refresh_max();
                removed
            }
            Node::Inner(inner) => {
                let removed = inner.remove(key, value);
                if !removed.is_empty() {
                    self.compact();
                }
                removed
            }
        }
    }

    /// After a removal: an inner node left with no values and a single inner
    /// child absorbs that child, so chains never outlive the keys that made them.
    fn compact(&mut self) {
        let Node::Inner(inner) = self else { return };
        if !inner.values.is_empty() || inner.children.len() != 1 {
            return;
        }
        if let Node::Inner(child) = &*inner.children[0] {
            let label = inner.next_label(0).expect("one child");
            let mut prefix = Vec::with_capacity(inner.prefix.len() + 1 + child.prefix.len());
            prefix.extend_from_slice(&inner.prefix);
            prefix.push(label);
            prefix.extend_from_slice(&child.prefix);
            let child = Arc::unwrap_or_clone(inner.children.pop().expect("one child"));
            let Node::Inner(mut child) = child else {
                unreachable!("checked above")
            };
            child.prefix = prefix.into();
            child.top.clear();
            *inner = child;
        }
    }
}

impl<V> Node<V> {
    /// Appends the cache lines a reader passing through this node reads
    /// first: the node itself, an inner node's child pointers, the start of a
    /// bucket's records and its first values. Line-aligned addresses, for
    /// [`Trie::fresh_lines`](super::Trie::fresh_lines).
    pub(crate) fn push_lines(&self, out: &mut Vec<usize>) {
        push_range(out, self as *const Self as usize, size_of::<Self>());
        match self {
            Node::Inner(i) => push_range(
                out,
                i.children.as_ptr() as usize,
                size_of_val(i.children.as_slice()),
            ),
            Node::Bucket(b) => {
                push_range(
                    out,
                    b.data.as_ptr() as usize,
                    b.data.len().min(BUCKET_LINES * LINE),
                );
                push_range(
                    out,
                    b.values.as_ptr() as usize,
                    size_of_val(&b.values[..b.values.len().min(1)]),
                );
            }
        }
    }

    /// True when the subtree holds no key.
    pub(crate) fn is_empty(&self) -> bool {
        match self {
            Node::Bucket(b) => b.len() == 0,
            Node::Inner(i) => i.values.is_empty() && i.children.is_empty(),
        }
    }

    /// The values of exactly `key`.
    pub(crate) fn get(&self, key: &[u8]) -> Values<'_, V> {
        let mut node = self;
        let mut key = key;
        loop {
            match node {
                Node::Bucket(b) => {
                    return match b.seek(key) {
                        Ok(r) => b.values_of(&r),
                        Err(_) => Values::empty(),
                    }
                }
                Node::Inner(inner) => {
                    let Some(rest) = key.strip_prefix(&*inner.prefix) else {
                        return Values::empty();
                    };
                    let Some((first, tail)) = rest.split_first() else {
                        return inner.values.values();
                    };
                    match inner.find(*first) {
                        Ok(i) => {
                            node = &inner.children[i];
                            key = tail;
                        }
                        Err(_) => return Values::empty(),
                    }
                }
            }
        }
    }
}

impl<V: Clone + Ord> Inner<V> {
    fn upsert(
        &mut self,
        key: &[u8],
        value: V,
        op: Option<ScoreOp>,
        burst: usize,
    ) -> Result<Inserted, TrieError> {
        self.top.clear();
        let common = common_prefix_len(&self.prefix, key);
        let rest = &key[common..];
        if common < self.prefix.len() {
            // A new branch point: the score must be good before anything moves.
            let s = super::values::new_score(op)?;
            self.split_prefix(common);
            return Ok(self.add_new(rest, value, s));
        }
        let Some((&first, tail)) = rest.split_first() else {
            let new_key = self.values.is_empty();
            return Ok(match self.values.upsert(value, op)? {
                super::Upserted::Added => Inserted::Added { new_key },
                super::Upserted::Updated => Inserted::Updated,
                super::Upserted::Unchanged => Inserted::Unchanged,
            });
        };
        match self.find(first) {
            Ok(i) => {
                let child = Arc::make_mut(&mut self.children[i]);
                let result = child.upsert(tail, value, op, burst)?;
                self.child_max[i] = child.max();
                Ok(result)
            }
            Err(_) => {
                let s = super::values::new_score(op)?;
                Ok(self.add_new(rest, value, s))
            }
        }
    }

    /// Adds a key that is new here: its own values when `rest` is empty,
    /// a new bucket child otherwise.
    fn add_new(&mut self, rest: &[u8], value: V, s: f64) -> Inserted {
        let Some((&first, tail)) = rest.split_first() else {
            self.values = Vals::Inline(vec![value], Scores::from_vec(&[s]));
            return Inserted::Added { new_key: true };
        };
        let i = self.find(first).expect_err("no child for a new branch");
        let mut bucket = Bucket::default();
        bucket.insert_record(
            Pos::default(),
            tail,
            Vals::Inline(vec![value], Scores::from_vec(&[s])),
        );
        bucket.refresh_max();
        self.insert_child(first, i, Arc::new(Node::Bucket(bucket)));
        Inserted::Added { new_key: true }
    }

    /// Shortens this node's prefix to `at` bytes, moving the rest of the node
    /// into a new child.
    fn split_prefix(&mut self, at: usize) {
        let label = self.prefix[at];
        let lower = Inner {
            prefix: self.prefix[at + 1..].into(),
            values: std::mem::take(&mut self.values),
            bitmap: std::mem::take(&mut self.bitmap),
            children: std::mem::take(&mut self.children),
            child_max: std::mem::take(&mut self.child_max),
            top: TopCache::default(),
        };
        self.prefix = self.prefix[..at].into();
        self.push_child(label, Arc::new(Node::Inner(Box::new(lower))));
    }

    fn remove(&mut self, key: &[u8], value: Option<&V>) -> Vec<V> {
        self.top.clear();
        let Some(rest) = key.strip_prefix(&*self.prefix) else {
            return Vec::new();
        };
        let Some((&first, tail)) = rest.split_first() else {
            return match value {
                None => self.values.take().0,
                Some(v) => self.values.remove(v).into_iter().collect(),
            };
        };
        let Ok(i) = self.find(first) else {
            return Vec::new();
        };
        let child = Arc::make_mut(&mut self.children[i]);
        let removed = child.remove(tail, value);
        if child.is_empty() {
            self.remove_child(first, i);
            shrink_if_sparse(&mut self.children);
            shrink_if_sparse(&mut self.child_max);
        } else {
            self.child_max[i] = child.max();
        }
        removed
    }
}

impl<V: Ord + std::fmt::Debug> Node<V> {
    /// Asserts the structural invariants; `is_root` allows an empty bucket.
    pub(crate) fn check(&self, burst: usize, is_root: bool) {
        match self {
            Node::Bucket(b) => b.check(burst, is_root),
            Node::Inner(i) => {
                assert!(!self.is_empty() || is_root, "empty inner node");
                let labels = i
                    .bitmap
                    .iter()
                    .map(|w| w.count_ones() as usize)
                    .sum::<usize>();
                assert_eq!(labels, i.children.len(), "bitmap disagrees with children");
                let maxima: Vec<f64> = i.children.iter().map(|c| c.max()).collect();
                assert_eq!(maxima, i.child_max, "stale child maxima");
                if let Vals::Inline(v, s) = &i.values {
                    assert_eq!(v.len(), s.len(), "scores out of step");
                }
                let vals: Vec<&V> = i.values.values().collect();
                for (j, v) in vals.iter().enumerate() {
                    assert!(!vals[..j].contains(v), "duplicate value");
                }
                if let Vals::Big(b) = &i.values {
                    b.check();
                }
                for c in &i.children {
                    assert!(!c.is_empty(), "empty child");
                    c.check(burst, false);
                }
            }
        }
    }
}
