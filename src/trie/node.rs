//! The trie's nodes: path-compressed inner nodes and packed, sorted buckets.
//!
//! Keys are stored as UTF-8 bytes, so byte order is Unicode code point order.
//! A key is spelled by the path from the root: every inner node contributes
//! its `prefix`, every edge its one label byte, and the bucket at the end the
//! remaining suffix.
//!
//! Invariants (checked by [`Node::check`] in tests):
//! - no subtree is empty: an inner node has values or at least one child, a
//!   bucket (other than the root) holds at least one key;
//! - a bucket holds at most `burst` keys, sorted and distinct;
//! - every stored key has at least one value, its values are distinct;
//! - a key holds its values inline while it has at most
//!   [`PROMOTE`](super::values::PROMOTE) of them, in a [`BigValues`] above that.

use std::sync::Arc;

use super::prefetch::prefetch;
use super::values::{BigValues, Values, DEMOTE, HEAD, PROMOTE};

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
    Inner(Inner<V>),
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

/// The values of a key kept in an inner node.
#[derive(Clone, Debug)]
pub(crate) enum Vals<V> {
    Inline(Vec<V>),
    Big(Arc<BigValues<V>>),
}

impl<V> Default for Vals<V> {
    fn default() -> Self {
        Vals::Inline(Vec::new())
    }
}

impl<V> Vals<V> {
    pub(crate) fn values(&self) -> Values<'_, V> {
        match self {
            Vals::Inline(v) => Values::slice(v),
            Vals::Big(b) => Values::big(b.iter()),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        match self {
            Vals::Inline(v) => v.is_empty(),
            Vals::Big(b) => b.len() == 0,
        }
    }

    fn take(&mut self) -> Vec<V>
    where
        V: Clone,
    {
        match std::mem::take(self) {
            Vals::Inline(v) => v,
            Vals::Big(b) => b.to_vec(),
        }
    }
}

impl<V: Clone + Ord> Vals<V> {
    /// Distinct values in insertion order, inline or big by their number.
    pub(crate) fn from_vec(v: Vec<V>) -> Self {
        if v.len() > PROMOTE {
            Vals::Big(Arc::new(BigValues::from_vec(v)))
        } else {
            Vals::Inline(v)
        }
    }

    fn insert(&mut self, value: V) -> bool {
        match self {
            // `BigValues::insert` checks for the value itself; cloning the
            // `Arc`ed struct first is O(1).
            Vals::Big(b) => Arc::make_mut(b).insert(value),
            Vals::Inline(v) => {
                if v.contains(&value) {
                    return false;
                }
                v.push(value);
                if v.len() > PROMOTE {
                    *self = Vals::Big(Arc::new(BigValues::from_vec(std::mem::take(v))));
                }
                true
            }
        }
    }

    fn remove(&mut self, value: &V) -> Option<V> {
        match self {
            Vals::Big(b) => {
                if !b.contains(value) {
                    return None;
                }
                let removed = Arc::make_mut(b).remove(value);
                if b.len() <= DEMOTE {
                    *self = Vals::Inline(self.take());
                }
                removed
            }
            Vals::Inline(v) => {
                let pos = v.iter().position(|x| x == value)?;
                let removed = v.remove(pos);
                shrink_if_sparse(v);
                Some(removed)
            }
        }
    }
}

/// A leaf holding up to `burst` key suffixes. `data` holds one record per
/// key, in key order, `varint(suffix length) suffix varint(count << 1 | big)`;
/// `values` holds the keys' inline values, grouped by key in the same order.
/// A key with many values (`big` set) has all of them in `big` (one entry
/// per such key, in key order) and a copy of its first [`HEAD`] values
/// inline, so a suggestion that needs only the first few never leaves the
/// bucket's own arrays (two fewer cache misses for the most common names).
///
/// A lookup scans records in order, but not from the first one: a bucket of
/// more than [`INDEX_MIN`] keys ends its `data` with a sparse index, one
/// anchor per [`INDEX_EVERY`] records giving the record's first four suffix
/// bytes and its position. A seek compares the key's first four bytes with
/// the anchors' (branch-free integer compares over the heads, packed
/// together in a few cache lines), starts at the last anchor certainly below
/// the key and decodes at most a few records, where a full scan decoded half
/// the bucket (the largest share of a suggest's time in
/// `examples/profile_suggest`). Every write to the bucket rebuilds the index,
/// a scan of the bucket that the write's own shifting already pays.
///
/// The index's layout: all heads (each `head()` value as a little-endian
/// `u32`, so that the scan loads it as is, with no byte swap per head),
/// then the positions. In nearly every bucket a position fits in 16 bits (see
/// [`Bucket::narrow`]): byte offset and value index as two `u16`, and the
/// big indexes after them as `u16`, only in a bucket that has big keys.
/// Otherwise each position is three `u32`. About two bytes per key (four
/// with 32-bit positions everywhere). Prefetching all of a full
/// bucket's narrow positions while the heads are compared measures no
/// faster than fetching the one needed afterwards, so a seek does not.
///
/// The fields are in a fixed order (`repr(C)`) so that everything a seek
/// and a suggestion read (`data`, `values`, `records_len`, `keys`) lies in
/// the node's first cache line; `big` (read only for a big key) starts the
/// second.
#[derive(Clone, Debug)]
#[repr(C)]
pub(crate) struct Bucket<V> {
    /// The records, then the sparse index.
    data: Vec<u8>,
    pub(crate) values: Vec<V>,
    /// Bytes of `data` that are records (the index follows). Positions in
    /// a bucket are 32-bit at most (see [`WIDE_POSITION`]).
    records_len: u32,
    keys: u32,
    big: Vec<Arc<BigValues<V>>>,
}

/// Bytes of [`Bucket::suffix_window`].
pub(crate) const WINDOW: usize = 16;

/// Buckets of at most this many keys have no index: a scan is short enough.
pub(crate) const INDEX_MIN: usize = 8;
/// One index entry per this many records.
pub(crate) const INDEX_EVERY: usize = 4;
/// Bytes of one anchor's position in a wide index: byte offset, value index
/// and big index, `u32` little-endian each.
const WIDE_POSITION: usize = 12;
/// Bytes of one anchor's position in a narrow index: byte offset and value
/// index, `u16` little-endian each (big indexes, where present, follow all
/// positions as one `u16` each).
const NARROW_POSITION: usize = 4;

/// A position between records: byte offset in `data`, index in `values`,
/// index in `big`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Pos {
    pub(crate) byte: usize,
    pub(crate) value: usize,
    pub(crate) big: usize,
}

/// One decoded bucket record.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rec {
    start: usize,
    suffix_start: usize,
    suffix_end: usize,
    /// Byte offset of the next record.
    pub(crate) end: usize,
    /// Index of the record's first value in `values`.
    pub(crate) value_start: usize,
    /// Number of inline values (for a big key, the head's length).
    pub(crate) count: usize,
    /// Index in `big` of the key's values, if it has many.
    pub(crate) big: Option<usize>,
    /// Index in `big` of the first big record at or after this one.
    big_start: usize,
}

impl Rec {
    pub(crate) fn value_end(&self) -> usize {
        self.value_start + self.count
    }

    /// The position of the next record.
    pub(crate) fn next(&self) -> Pos {
        Pos {
            byte: self.end,
            value: self.value_end(),
            big: self.big_start + usize::from(self.big.is_some()),
        }
    }

    fn pos(&self) -> Pos {
        Pos {
            byte: self.start,
            value: self.value_start,
            big: self.big_start,
        }
    }
}

/// What an insert did.
pub(crate) enum Inserted {
    /// The pair is new; `new_key` says whether the key is new too.
    Added { new_key: bool },
    /// The pair was already there; nothing changed.
    Existing,
}

impl<V> Default for Bucket<V> {
    fn default() -> Self {
        Bucket {
            data: Vec::new(),
            values: Vec::new(),
            big: Vec::new(),
            keys: 0,
            records_len: 0,
        }
    }
}

fn common_prefix_len(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Byte-wise comparison inlined for the short suffixes of a bucket scan,
/// where calling `memcmp` costs more than the comparison itself.
#[inline]
fn compare(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    for (x, y) in a.iter().zip(b) {
        if x != y {
            return x.cmp(y);
        }
    }
    a.len().cmp(&b.len())
}

/// A byte string's first four bytes as a big-endian integer, zero padded.
/// If `head(a) < head(b)` then `a < b`: the first difference within four
/// bytes decides, and a zero pad sorts below any byte the longer string has
/// there (or the strings agree up to the shorter one's end).
#[inline]
fn head(s: &[u8]) -> u32 {
    if let Some(b) = s.first_chunk::<4>() {
        // The common case as one load (a copy of a variable length would
        // be a call to `memcpy`).
        return u32::from_be_bytes(*b);
    }
    let mut b = [0u8; 4];
    for (d, x) in b.iter_mut().zip(s) {
        *d = *x;
    }
    u32::from_be_bytes(b)
}

/// `data.len()` as a bucket's records length.
fn records_len(data: &[u8]) -> u32 {
    u32::try_from(data.len()).expect("bucket offsets fit in 32 bits")
}

/// Four bytes of an index entry from offset `at`.
#[inline]
fn field(entry: &[u8], at: usize) -> [u8; 4] {
    [entry[at], entry[at + 1], entry[at + 2], entry[at + 3]]
}

#[inline]
fn read_varint(data: &[u8], pos: &mut usize) -> usize {
    // Suffix lengths and value counts are almost always below 128: one byte.
    let b = data[*pos];
    if b < 0x80 {
        *pos += 1;
        return usize::from(b);
    }
    read_varint_long(data, pos)
}

#[cold]
fn read_varint_long(data: &[u8], pos: &mut usize) -> usize {
    let mut n = 0usize;
    let mut shift = 0;
    loop {
        let b = data[*pos];
        *pos += 1;
        n |= usize::from(b & 0x7f) << shift;
        if b < 0x80 {
            return n;
        }
        shift += 7;
    }
}

fn write_varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Makes room for `extra` more items, growing by an eighth instead of
/// doubling: buckets change one key at a time, so tight capacity keeps the
/// trie near the raw size of its keys at a small amortized cost.
fn reserve<T>(v: &mut Vec<T>, extra: usize) {
    if v.capacity() - v.len() < extra {
        v.reserve_exact(extra + v.len() / 8);
    }
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

fn shrink_if_sparse<T>(v: &mut Vec<T>) {
    if v.capacity() > v.len() + v.len() / 4 + 4 {
        v.shrink_to(v.len() + v.len() / 8);
    }
}

impl<V> Bucket<V> {
    pub(crate) fn len(&self) -> usize {
        self.keys as usize
    }

    /// The end of the records (where the index starts).
    pub(crate) fn records_end(&self) -> usize {
        self.records_len as usize
    }

    /// Decodes the record at `at`.
    pub(crate) fn record(&self, at: Pos) -> Rec {
        let mut p = at.byte;
        let len = read_varint(&self.data, &mut p);
        let suffix_start = p;
        let suffix_end = p + len;
        p = suffix_end;
        let tagged = read_varint(&self.data, &mut p);
        Rec {
            start: at.byte,
            suffix_start,
            suffix_end,
            end: p,
            value_start: at.value,
            count: tagged >> 1,
            big: (tagged & 1 == 1).then_some(at.big),
            big_start: at.big,
        }
    }

    pub(crate) fn suffix(&self, r: &Rec) -> &[u8] {
        &self.data[r.suffix_start..r.suffix_end]
    }

    /// The 16 bytes of `data` from the record's suffix on, when the suffix
    /// fits in them and `data` goes on that far (the rest of the record,
    /// the next records or the index follow it): a fixed-size copy of
    /// these is a few instructions, where a copy of the suffix's own length
    /// is a call to `memcpy`.
    #[inline]
    pub(crate) fn suffix_window(&self, r: &Rec) -> Option<&[u8; WINDOW]> {
        if r.suffix_end - r.suffix_start > WINDOW {
            return None;
        }
        self.data
            .get(r.suffix_start..r.suffix_start + WINDOW)
            .and_then(|w| w.try_into().ok())
    }

    /// All of a key's values. A big key's list is touched only when its
    /// inline head runs out.
    pub(crate) fn values_of(&self, r: &Rec) -> Values<'_, V> {
        match r.big {
            Some(b) => Values::head_then(self.inline_of(r), &self.big[b]),
            None => Values::slice(self.inline_of(r)),
        }
    }

    /// The values stored in the bucket for the key at `r` (for a big key,
    /// the head).
    pub(crate) fn inline_of(&self, r: &Rec) -> &[V] {
        &self.values[r.value_start..r.value_end()]
    }

    /// Iterates over the records in order.
    pub(crate) fn records(&self) -> impl Iterator<Item = Rec> + '_ {
        let mut at = Pos::default();
        std::iter::from_fn(move || {
            if at.byte >= self.records_end() {
                return None;
            }
            let r = self.record(at);
            at = r.next();
            Some(r)
        })
    }

    /// Finds `key`'s record, or the position of the first record after it.
    pub(crate) fn seek(&self, key: &[u8]) -> Result<Rec, Pos> {
        let mut at = self.anchor_below(key);
        // The anchor says where the values from here on start: let them come
        // while the records are decoded and compared (one cache miss less in
        // a cold bucket's chain).
        if let Some(v) = self.values.get(at.value) {
            prefetch(v);
        }
        while at.byte < self.records_end() {
            let r = self.record(at);
            match compare(self.suffix(&r), key) {
                std::cmp::Ordering::Less => at = r.next(),
                std::cmp::Ordering::Equal => return Ok(r),
                std::cmp::Ordering::Greater => return Err(at),
            }
        }
        Err(at)
    }

    /// The position of the first record not below `key`.
    pub(crate) fn lower_bound(&self, key: &[u8]) -> Pos {
        match self.seek(key) {
            Ok(r) => r.pos(),
            Err(at) => at,
        }
    }

    /// The position of the last indexed record whose suffix is certainly
    /// below `key` (its first four bytes compare below), or the start.
    #[inline]
    fn anchor_below(&self, key: &[u8]) -> Pos {
        let index = &self.data[self.records_end()..];
        if index.is_empty() {
            // Small, or unindexed in the middle of an edit.
            return Pos::default();
        }
        let n = self.anchors();
        let (heads, positions) = index.split_at(n * 4);
        let narrow = self.narrow();
        let want = head(key);
        // Heads are sorted, so the count of those below `want` is the index
        // of the first that is not: a branch-free pass over a few cache
        // lines.
        // (Summed as `u32`, the compares vectorize.)
        let below = heads
            .chunks_exact(4)
            .map(|h| u32::from(u32::from_le_bytes(field(h, 0)) < want))
            .sum::<u32>() as usize;
        if below == 0 {
            return Pos::default();
        }
        let i = below - 1;
        if narrow {
            let e = field(positions, i * NARROW_POSITION);
            // A narrow index has big indexes only in a bucket with big keys:
            // tell from the index's own length, not `self.big`, whose length
            // lies on the node's second cache line.
            let big = if index.len() == n * (4 + NARROW_POSITION) {
                0
            } else {
                let b = &positions[n * NARROW_POSITION + i * 2..];
                usize::from(u16::from_le_bytes([b[0], b[1]]))
            };
            return Pos {
                byte: usize::from(u16::from_le_bytes([e[0], e[1]])),
                value: usize::from(u16::from_le_bytes([e[2], e[3]])),
                big,
            };
        }
        let e = &positions[i * WIDE_POSITION..];
        Pos {
            byte: u32::from_le_bytes(field(e, 0)) as usize,
            value: u32::from_le_bytes(field(e, 4)) as usize,
            big: u32::from_le_bytes(field(e, 8)) as usize,
        }
    }

    /// The number of anchors the index has when present.
    fn anchors(&self) -> usize {
        if self.len() > INDEX_MIN {
            (self.len() - 1) / INDEX_EVERY
        } else {
            0
        }
    }

    /// True when every position in this bucket fits in 16 bits, so its
    /// index is the narrow layout. Decided from the bucket's own sizes,
    /// which the index is rebuilt after any change of, so the reader and the
    /// builder agree without a flag.
    fn narrow(&self) -> bool {
        let max = usize::from(u16::MAX);
        // `big` has at most one entry per record, and a record takes at
        // least two bytes, so it fits whenever the records do.
        debug_assert!(2 * self.big.len() <= self.records_end());
        self.records_end() <= max && self.values.len() <= max
    }

    /// Bytes of one anchor's position: byte offset and value index, and
    /// big index only where the bucket has big keys, 16 bits each when
    /// narrow; all three in 32 bits otherwise.
    fn position_bytes(&self) -> usize {
        match (self.narrow(), self.big.is_empty()) {
            (false, _) => WIDE_POSITION,
            (true, true) => NARROW_POSITION,
            (true, false) => NARROW_POSITION + 2,
        }
    }

    /// The index's length in bytes, when present.
    fn index_len(&self) -> usize {
        self.anchors() * (4 + self.position_bytes())
    }

    /// Drops the sparse index before an edit of the records.
    fn unindex(&mut self) {
        self.data.truncate(self.records_end());
    }

    /// Rebuilds the sparse index if an edit dropped it. Whoever edits a
    /// bucket's records calls this once the bucket is final.
    fn reindex(&mut self) {
        if self.data.len() > self.records_end() {
            return;
        }
        let entries = self.index_bytes();
        reserve(&mut self.data, entries.len());
        self.data.extend_from_slice(&entries);
    }

    /// The sparse index the records call for (empty for a small bucket).
    fn index_bytes(&self) -> Vec<u8> {
        if self.len() <= INDEX_MIN {
            return Vec::new();
        }
        // Anchors on records INDEX_EVERY, 2 * INDEX_EVERY, ...: their heads
        // fill the first `n * 4` bytes, their positions follow.
        let narrow = self.narrow();
        let mut index = Vec::with_capacity(self.index_len());
        let (mut positions, mut bigs) = (Vec::new(), Vec::new());
        for r in self.records().skip(INDEX_EVERY).step_by(INDEX_EVERY) {
            index.extend_from_slice(&head(self.suffix(&r)).to_le_bytes());
            if narrow {
                let short = |p: usize| u16::try_from(p).expect("narrow: fits in 16 bits");
                positions.extend_from_slice(&short(r.start).to_le_bytes());
                positions.extend_from_slice(&short(r.value_start).to_le_bytes());
                if !self.big.is_empty() {
                    bigs.extend_from_slice(&short(r.big_start).to_le_bytes());
                }
            } else {
                for p in [r.start, r.value_start, r.big_start] {
                    let p = u32::try_from(p).expect("bucket offsets fit in 32 bits");
                    positions.extend_from_slice(&p.to_le_bytes());
                }
            }
        }
        index.extend_from_slice(&positions);
        index.extend_from_slice(&bigs);
        debug_assert_eq!(index.len(), self.index_len());
        index
    }

    /// The end position (after the last record).
    fn end(&self) -> Pos {
        Pos {
            byte: self.records_end(),
            value: self.values.len(),
            big: self.big.len(),
        }
    }

    /// Inserts a record with its values at `at`.
    fn insert_record(&mut self, at: Pos, suffix: &[u8], values: Vals<V>)
    where
        V: Clone,
    {
        let (inline, big) = match values {
            Vals::Inline(v) => (v, None),
            Vals::Big(b) => (b.iter().take(HEAD).cloned().collect(), Some(b)),
        };
        let mut rec = Vec::with_capacity(suffix.len() + 4);
        write_varint(&mut rec, suffix.len());
        rec.extend_from_slice(suffix);
        write_varint(&mut rec, inline.len() << 1 | usize::from(big.is_some()));
        self.unindex();
        reserve(&mut self.data, rec.len());
        self.data.splice(at.byte..at.byte, rec);
        self.records_len = records_len(&self.data);
        reserve(&mut self.values, inline.len());
        self.values.splice(at.value..at.value, inline);
        if let Some(b) = big {
            self.big.insert(at.big, b);
        }
        self.keys += 1;
    }

    /// Rewrites a record's inline count and big flag (the varint may change
    /// length).
    fn set_count(&mut self, r: &Rec, count: usize, big: bool) {
        let mut buf = Vec::with_capacity(4);
        write_varint(&mut buf, count << 1 | usize::from(big));
        self.unindex();
        self.data.splice(r.suffix_end..r.end, buf);
        self.records_len = records_len(&self.data);
    }

    fn remove_record(&mut self, r: &Rec) -> Vals<V> {
        self.unindex();
        self.data.drain(r.start..r.end);
        self.records_len = records_len(&self.data);
        self.keys -= 1;
        let inline: Vec<V> = self.values.drain(r.value_start..r.value_end()).collect();
        match r.big {
            Some(b) => Vals::Big(self.big.remove(b)),
            None => Vals::Inline(inline),
        }
    }

    fn shrink_if_sparse(&mut self) {
        shrink_if_sparse(&mut self.data);
        shrink_if_sparse(&mut self.values);
    }
}

impl<V: Clone + Ord> Bucket<V> {
    /// Adds `value` under `suffix`. Leaves the sparse index to the caller:
    /// a bucket that is about to burst needs none.
    fn insert_unindexed(&mut self, suffix: &[u8], value: V) -> Inserted {
        match self.seek(suffix) {
            Ok(r) => {
                if let Some(b) = r.big {
                    if !Arc::make_mut(&mut self.big[b]).insert(value.clone()) {
                        return Inserted::Existing;
                    }
                    if r.count < HEAD {
                        // The head holds every value so far (it is short
                        // only when the key is): the new one joins it.
                        self.values.insert(r.value_end(), value);
                        self.set_count(&r, r.count + 1, true);
                    }
                    return Inserted::Added { new_key: false };
                }
                if self.inline_of(&r).contains(&value) {
                    return Inserted::Existing;
                }
                if r.count == PROMOTE {
                    // Too many to scan: move this key's values to a BigValues,
                    // keeping a copy of the first HEAD inline.
                    let head = r.value_start..r.value_start + HEAD;
                    let tail: Vec<V> = self.values.drain(head.end..r.value_end()).collect();
                    let mut list = self.values[head].to_vec();
                    list.extend(tail);
                    list.push(value);
                    self.set_count(&r, HEAD, true);
                    self.big
                        .insert(r.big_start, Arc::new(BigValues::from_vec(list)));
                } else {
                    reserve(&mut self.values, 1);
                    self.values.insert(r.value_end(), value);
                    self.set_count(&r, r.count + 1, false);
                }
                Inserted::Added { new_key: false }
            }
            Err(at) => {
                self.insert_record(at, suffix, Vals::Inline(vec![value]));
                Inserted::Added { new_key: true }
            }
        }
    }

    /// Removes one value of the key at `r`; returns it when it was there.
    fn remove_value(&mut self, r: &Rec, v: &V) -> Option<V> {
        if let Some(b) = r.big {
            if !self.big[b].contains(v) {
                return None;
            }
            let removed = Arc::make_mut(&mut self.big[b]).remove(v);
            let big = &self.big[b];
            if big.len() <= DEMOTE {
                // Small again: all the values go back inline.
                let list = self.big.remove(b).to_vec();
                self.set_count(r, list.len(), false);
                self.values.splice(r.value_start..r.value_end(), list);
            } else if let Some(pos) = self.values[r.value_start..r.value_end()]
                .iter()
                .position(|x| x == v)
            {
                // The head (the first `r.count` values) lost one: the next
                // value in order, if any, moves up.
                let next = big.iter_from(r.count - 1).next().cloned();
                self.values.remove(r.value_start + pos);
                match next {
                    Some(next) => self.values.insert(r.value_end() - 1, next),
                    None => self.set_count(r, r.count - 1, true),
                }
            }
            return removed;
        }
        let pos = self.inline_of(r).iter().position(|x| x == v)?;
        if r.count == 1 {
            self.remove_record(r);
            return Some(v.clone());
        }
        let removed = self.values.remove(r.value_start + pos);
        self.set_count(r, r.count - 1, false);
        Some(removed)
    }

    /// Splits an overflowing bucket into an inner node whose children are
    /// buckets, one per distinct next byte after the keys' common prefix.
    /// Every child ends up with fewer keys than the bucket had, so bursting
    /// always makes progress.
    fn burst(self) -> Inner<V> {
        let recs: Vec<Rec> = self.records().collect();
        let lcp = match (recs.first(), recs.last()) {
            (Some(a), Some(b)) => common_prefix_len(self.suffix(a), self.suffix(b)),
            _ => 0,
        };
        let mut inner = Inner::new(recs.first().map_or(&[][..], |r| &self.suffix(r)[..lcp]));
        let mut current: Option<(u8, Bucket<V>)> = None;
        for r in &recs {
            let rest = &self.suffix(r)[lcp..];
            let values = match r.big {
                Some(b) => Vals::Big(Arc::clone(&self.big[b])),
                None => Vals::Inline(self.values_of(r).to_vec()),
            };
            let Some((&label, tail)) = rest.split_first() else {
                inner.values = values;
                continue;
            };
            if current.as_ref().is_some_and(|(l, _)| *l != label) {
                let (l, mut b) = current.take().expect("checked");
                b.reindex();
                inner.push_child(l, Arc::new(Node::Bucket(b)));
            }
            let (_, b) = current.get_or_insert_with(|| (label, Bucket::default()));
            let at = b.end();
            b.insert_record(at, tail, values);
        }
        if let Some((l, mut b)) = current {
            b.reindex();
            inner.push_child(l, Arc::new(Node::Bucket(b)));
        }
        inner
    }
}

impl<V> Inner<V> {
    fn new(prefix: &[u8]) -> Self {
        Inner {
            prefix: prefix.into(),
            values: Vals::default(),
            bitmap: [0; 4],
            children: Vec::new(),
        }
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
    fn push_child(&mut self, b: u8, child: Arc<Node<V>>) {
        self.set_bit(b, true);
        self.children.push(child);
    }

    fn insert_child(&mut self, b: u8, at: usize, child: Arc<Node<V>>) {
        self.set_bit(b, true);
        self.children.insert(at, child);
    }

    fn remove_child(&mut self, b: u8, at: usize) {
        self.set_bit(b, false);
        self.children.remove(at);
    }
}

impl<V: Clone + Ord> Node<V> {
    /// Inserts `value` under the key whose remaining bytes are `key`.
    pub(crate) fn insert(&mut self, key: &[u8], value: V, burst: usize) -> Inserted {
        match self {
            Node::Bucket(bucket) => {
                let result = bucket.insert_unindexed(key, value);
                if bucket.len() > burst {
                    let full = std::mem::take(bucket);
                    *self = Node::Inner(full.burst());
                } else {
                    bucket.reindex();
                }
                result
            }
            Node::Inner(inner) => inner.insert(key, value, burst),
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
                    None => bucket.remove_record(&r).take(),
                    Some(v) => bucket.remove_value(&r, v).into_iter().collect(),
                };
                bucket.reindex();
                bucket.shrink_if_sparse();
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
                        Err(_) => Values::slice(&[]),
                    }
                }
                Node::Inner(inner) => {
                    let Some(rest) = key.strip_prefix(&*inner.prefix) else {
                        return Values::slice(&[]);
                    };
                    let Some((first, tail)) = rest.split_first() else {
                        return inner.values.values();
                    };
                    match inner.find(*first) {
                        Ok(i) => {
                            node = &inner.children[i];
                            key = tail;
                        }
                        Err(_) => return Values::slice(&[]),
                    }
                }
            }
        }
    }

    /// Bytes held by this subtree: the heap capacity of every vector, the
    /// children's nodes with their `Arc` headers, and the values' own heap.
    pub(crate) fn heap_bytes(&self, value_heap: &impl Fn(&V) -> usize) -> usize {
        use std::mem::size_of;
        match self {
            Node::Bucket(b) => {
                b.data.capacity()
                    + b.values.capacity() * size_of::<V>()
                    + b.values.iter().map(value_heap).sum::<usize>()
                    + b.big.capacity() * size_of::<Arc<BigValues<V>>>()
                    + b.big
                        .iter()
                        .map(|x| big_bytes(x, value_heap))
                        .sum::<usize>()
            }
            Node::Inner(i) => {
                i.prefix.heap_bytes()
                    + match &i.values {
                        Vals::Inline(v) => v.capacity() * size_of::<V>(),
                        Vals::Big(b) => big_bytes(b, value_heap),
                    }
                    + match &i.values {
                        Vals::Inline(v) => v.iter().map(value_heap).sum::<usize>(),
                        Vals::Big(_) => 0, // counted with the big list
                    }
                    + i.children.capacity() * size_of::<Arc<Node<V>>>()
                    + i.children
                        .iter()
                        .map(|c| arc_node_bytes::<V>() + c.heap_bytes(value_heap))
                        .sum::<usize>()
            }
        }
    }

    /// Counts (inner nodes, buckets) in the subtree.
    pub(crate) fn node_counts(&self) -> (usize, usize) {
        match self {
            Node::Bucket(_) => (0, 1),
            Node::Inner(i) => i.children.iter().fold((1, 0), |(a, b), c| {
                let (x, y) = c.node_counts();
                (a + x, b + y)
            }),
        }
    }
}

/// Heap bytes of a shared big value list: its `Arc` allocation, list, index
/// and the values' own heap.
fn big_bytes<V>(b: &BigValues<V>, value_heap: &impl Fn(&V) -> usize) -> usize {
    2 * std::mem::size_of::<usize>()
        + std::mem::size_of::<BigValues<V>>()
        + b.heap_bytes()
        + b.slot_heap(value_heap)
}

impl<V: Clone + Ord> Inner<V> {
    fn insert(&mut self, key: &[u8], value: V, burst: usize) -> Inserted {
        let common = common_prefix_len(&self.prefix, key);
        if common < self.prefix.len() {
            self.split_prefix(common);
        }
        let rest = &key[common..];
        let Some((&first, tail)) = rest.split_first() else {
            let new_key = self.values.is_empty();
            return if self.values.insert(value) {
                Inserted::Added { new_key }
            } else {
                Inserted::Existing
            };
        };
        match self.find(first) {
            Ok(i) => Arc::make_mut(&mut self.children[i]).insert(tail, value, burst),
            Err(i) => {
                let mut bucket = Bucket::default();
                bucket.insert_record(Pos::default(), tail, Vals::Inline(vec![value]));
                self.insert_child(first, i, Arc::new(Node::Bucket(bucket)));
                Inserted::Added { new_key: true }
            }
        }
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
        };
        self.prefix = self.prefix[..at].into();
        self.push_child(label, Arc::new(Node::Inner(lower)));
    }

    fn remove(&mut self, key: &[u8], value: Option<&V>) -> Vec<V> {
        let Some(rest) = key.strip_prefix(&*self.prefix) else {
            return Vec::new();
        };
        let Some((&first, tail)) = rest.split_first() else {
            return match value {
                None => self.values.take(),
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
        }
        removed
    }
}

/// Builds a subtree from keys in strictly ascending order (all sharing
/// their first `depth` bytes) with distinct, non-empty value lists, in
/// O(total key bytes): no searching, no shifting. The values are moved out.
pub(crate) fn build_sorted<V: Clone + Ord>(
    items: &mut [(&[u8], Vec<V>)],
    depth: usize,
    burst: usize,
) -> Node<V> {
    if items.len() <= burst {
        let mut b = Bucket::default();
        for (key, values) in items.iter_mut() {
            let at = b.end();
            b.insert_record(at, &key[depth..], Vals::from_vec(std::mem::take(values)));
        }
        b.reindex();
        return Node::Bucket(b);
    }
    let (first, last) = (items[0].0, items[items.len() - 1].0);
    let lcp = common_prefix_len(&first[depth..], &last[depth..]);
    let mut inner = Inner::new(&first[depth..depth + lcp]);
    let d = depth + lcp;
    let mut i = 0;
    if first.len() == d {
        // Sorted order puts the key that ends here first.
        inner.values = Vals::from_vec(std::mem::take(&mut items[0].1));
        i = 1;
    }
    while i < items.len() {
        let label = items[i].0[d];
        let end = i + items[i..]
            .iter()
            .position(|(k, _)| k[d] != label)
            .unwrap_or(items.len() - i);
        let child = build_sorted(&mut items[i..end], d + 1, burst);
        inner.push_child(label, Arc::new(child));
        i = end;
    }
    Node::Inner(inner)
}

impl<V: Ord + std::fmt::Debug> Node<V> {
    /// Asserts the structural invariants; `is_root` allows an empty bucket.
    pub(crate) fn check(&self, burst: usize, is_root: bool) {
        match self {
            Node::Bucket(b) => {
                assert!(is_root || b.len() > 0, "empty non-root bucket");
                assert!(b.len() <= burst, "bucket of {} over burst {burst}", b.len());
                let recs: Vec<Rec> = b.records().collect();
                assert_eq!(recs.len(), b.len(), "key count disagrees with records");
                let bigs = recs.iter().filter(|r| r.big.is_some()).count();
                assert_eq!(bigs, b.big.len(), "big lists out of step with records");
                for r in &recs {
                    match r.big {
                        Some(i) => {
                            let big = &b.big[i];
                            big.check();
                            assert!(big.len() > DEMOTE, "big list too small");
                            let head: Vec<&V> = big.iter().take(HEAD).collect();
                            let inline: Vec<&V> = b.inline_of(r).iter().collect();
                            assert_eq!(inline, head, "head out of step");
                        }
                        None => assert!(r.count <= PROMOTE, "inline list too long"),
                    }
                }
                for (i, r) in recs.iter().enumerate() {
                    if i > 0 {
                        assert!(b.suffix(&recs[i - 1]) < b.suffix(r), "bucket out of order");
                    }
                    let vals: Vec<&V> = b.values_of(r).collect();
                    assert!(!vals.is_empty(), "key without values");
                    for (j, v) in vals.iter().enumerate() {
                        assert!(!vals[..j].contains(v), "duplicate value");
                    }
                }
                assert_eq!(recs.last().map_or(0, Rec::value_end), b.values.len());
                assert_eq!(recs.last().map_or(0, |r| r.end), b.records_end());
                assert_eq!(
                    b.data[b.records_end()..],
                    b.index_bytes(),
                    "sparse index out of step"
                );
                assert_eq!(
                    b.data.len() - b.records_end(),
                    b.index_len(),
                    "sparse index size"
                );
                if b.len() > INDEX_MIN {
                    let anchors = b.records().skip(INDEX_EVERY).step_by(INDEX_EVERY).count();
                    assert_eq!(anchors, b.anchors(), "anchor count");
                }
            }
            Node::Inner(i) => {
                assert!(!self.is_empty() || is_root, "empty inner node");
                let labels = i
                    .bitmap
                    .iter()
                    .map(|w| w.count_ones() as usize)
                    .sum::<usize>();
                assert_eq!(labels, i.children.len(), "bitmap disagrees with children");
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

#[cfg(test)]
mod layout_tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    /// Everything a seek reads of a bucket node lies on the node's first
    /// cache line, and `big` starts the second (see [`Bucket`]). The field
    /// order is fixed, but where the enum puts the bucket is the compiler's
    /// choice: this says if that ever changes.
    #[test]
    fn a_bucket_seek_reads_one_line_of_the_node() {
        let node: Node<u64> = Node::Bucket(Bucket::default());
        let Node::Bucket(b) = &node else {
            panic!("built a bucket")
        };
        let at = b as *const Bucket<u64> as usize - &node as *const Node<u64> as usize;
        let hot = [
            offset_of!(Bucket<u64>, data) + size_of::<Vec<u8>>(),
            offset_of!(Bucket<u64>, values) + size_of::<Vec<u64>>(),
            offset_of!(Bucket<u64>, records_len) + size_of::<u32>(),
            offset_of!(Bucket<u64>, keys) + size_of::<u32>(),
        ];
        for end in hot {
            assert!(at + end <= 64, "a hot field ends at byte {}", at + end);
        }
        assert_eq!(at + offset_of!(Bucket<u64>, big), 64);
    }
}
