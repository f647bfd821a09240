//! Buckets: the trie's leaves, each up to `burst` sorted key suffixes with
//! their values, packed in a few vectors.
//!
//! # What it owns
//! [`Bucket`] and its record format ([`Rec`] decoded, [`Pos`] between
//! records): finding a key (`seek`), editing records and values (including a
//! key's move to a [`BigValues`] once it gathers many values, and back),
//! and `burst`, which turns an overflowing bucket into an inner node whose
//! children are buckets; the last three, the write path, are in `write`.
//! The records' integers are
//! [`varint`](super::varint)s; the index that shortens a seek is
//! [`sparse`](super::sparse)'s.
//!
//! # Why it is built this way
//! A node per character would cost a pointer and a header for every byte of
//! every key. A bucket stores each key's remaining suffix once, in one byte
//! vector of variable-length records beside one vector of values (two
//! allocations per bucket), which keeps the trie near the raw size of its
//! keys. A lookup scans consecutive records, which costs fewer cache misses
//! than a binary search over offsets would, once the sparse index has
//! brought it within a few records of the key. Vectors grow by an eighth
//! rather than doubling (`reserve`): buckets change one key at a time.

mod ranked;
mod write;

use std::sync::Arc;

use super::big::BigValues;
use super::node::shrink_if_sparse;
#[cfg(test)]
use super::node::Node;
use super::prefetch::prefetch;
use super::scores::Scores;
use super::sparse::{INDEX_EVERY, INDEX_MIN};
use super::values::{Vals, Values, DEMOTE, HEAD, PROMOTE};
use super::varint::{read_varint, write_varint};

/// A leaf holding up to `burst` key suffixes. `data` holds one record per
/// key, in key order, `varint(suffix length) suffix varint(count << 1 | big)`;
/// `values` holds the keys' inline values, grouped by key in the same order.
/// A key with many values (`big` set) has all of them in `big` (one entry
/// per such key, in key order) and a copy of its first [`HEAD`] values
/// inline, so a suggestion that needs only the first few never leaves the
/// bucket's own arrays (two fewer cache misses for the most common names).
///
/// A bucket of more than [`INDEX_MIN`] keys ends its `data` with a sparse
/// index that lets a seek skip most records (see [`sparse`](super::sparse)).
///
/// The fields are in a fixed order (`repr(C)`) so that everything a seek
/// and a suggestion read (`data`, `values`, `records_len`, `keys`) lies in
/// the node's first cache line; the rest (big keys, scores, the ranked
/// list) fills the second.
#[derive(Clone, Debug)]
#[repr(C)]
pub(crate) struct Bucket<V> {
    /// The records, then the sparse index.
    pub(super) data: Vec<u8>,
    pub(crate) values: Vec<V>,
    /// Bytes of `data` that are records (the index follows). Positions in
    /// a bucket are 32-bit at most (see [`WIDE_POSITION`](super::sparse::WIDE_POSITION)).
    records_len: u32,
    keys: u32,
    pub(super) big: Vec<Arc<BigValues<V>>>,
    /// The scores of `values`, in step with it (a big key's head copies
    /// included).
    pub(crate) scores: Scores,
    /// The bucket's ranked list, one allocation: first the highest bound
    /// among the big keys the list does not name (`-inf` when none: what
    /// the rest of the bucket offers besides inline pairs, which a search
    /// selects after the last listed one), then its best [`TOP`] *streams*
    /// in ranked order, each a [`TopEntry`] packed in a `u64`: an inline
    /// pair, or a big key (bounded by its list's maximum). A ranked search
    /// that enters the whole bucket starts from these instead of scanning
    /// every record, and the first stream's score is the bucket's bound.
    /// Empty for an empty bucket.
    ranked: Box<[u64]>,
}

/// How many streams a bucket lists in ranked order. A top-10 answer
/// rarely takes more than a few pairs from one bucket; past the list a
/// search selects from the bucket itself. Each entry costs 8 bytes in
/// every bucket.
pub(crate) const TOP: usize = 8;

/// One of a bucket's listed streams.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct TopEntry {
    /// Byte offset of the key's record.
    pub(crate) rec: u32,
    /// For an inline pair, its index in `values` (and `scores`); for a big
    /// key, its index in `big` with [`TopEntry::BIG`] set.
    pub(crate) slot: u32,
}

impl TopEntry {
    pub(crate) const BIG: u32 = 1 << 31;
}

/// Bytes of [`Bucket::suffix_window`].
pub(crate) const WINDOW: usize = 16;

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
    pub(super) start: usize,
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
    pub(super) big_start: usize,
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

impl<V> Default for Bucket<V> {
    fn default() -> Self {
        Bucket {
            data: Vec::new(),
            values: Vec::new(),
            big: Vec::new(),
            keys: 0,
            records_len: 0,
            scores: Scores::default(),
            ranked: Box::default(),
        }
    }
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

/// How many of a key's `n` values its record keeps inline: all of them,
/// or a big key's head.
pub(super) fn inline_len(n: usize) -> usize {
    if n > PROMOTE {
        HEAD
    } else {
        n
    }
}

/// `data.len()` as a bucket's records length.
fn records_len(data: &[u8]) -> u32 {
    u32::try_from(data.len()).expect("bucket offsets fit in 32 bits")
}

/// Makes room for `extra` more items, growing by an eighth instead of
/// doubling: buckets change one key at a time, so tight capacity keeps the
/// trie near the raw size of its keys at a small amortized cost.
pub(super) fn reserve<T>(v: &mut Vec<T>, extra: usize) {
    if v.capacity() - v.len() < extra {
        v.reserve_exact(extra + v.len() / 8);
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

    /// The suffix of the record that starts at byte `at`.
    pub(crate) fn suffix_at(&self, at: usize) -> &[u8] {
        let mut p = at;
        let len = read_varint(&self.data, &mut p);
        &self.data[p..p + len]
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
        let scores = self.scores.range(r.value_start..r.value_end());
        match r.big {
            Some(b) => Values::head_then(self.inline_of(r), scores, &self.big[b]),
            None => Values::slice(self.inline_of(r), scores),
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

    /// [`lower_bound`](Self::lower_bound) when every record before `from`
    /// is known to be below `key`, as in a scan that jumps ahead: the few
    /// records after `from` are read first, from lines the scan has just
    /// brought in, and the index only when the target lies further on.
    pub(crate) fn lower_bound_from(&self, from: Pos, key: &[u8]) -> Pos {
        match self.scan_to(from, key, super::sparse::INDEX_EVERY) {
            Ok(at) => at,
            Err(at) => {
                let anchor = self.anchor_below(key);
                let start = if anchor.byte > at.byte { anchor } else { at };
                self.scan_to(start, key, usize::MAX).unwrap_or_else(|at| at)
            }
        }
    }

    /// The first record from `at` on that is not below `key` (or the end),
    /// reading at most `most` records: `Err` with where it stopped when
    /// that was not enough.
    fn scan_to(&self, mut at: Pos, key: &[u8], most: usize) -> Result<Pos, Pos> {
        for _ in 0..most {
            if at.byte >= self.records_end() {
                return Ok(at);
            }
            let r = self.record(at);
            if compare(self.suffix(&r), key) != std::cmp::Ordering::Less {
                return Ok(at);
            }
            at = r.next();
        }
        Err(at)
    }

    /// The end position (after the last record).
    pub(super) fn end(&self) -> Pos {
        Pos {
            byte: self.records_end(),
            value: self.values.len(),
            big: self.big.len(),
        }
    }

    /// Inserts a record with its values at `at`.
    pub(super) fn insert_record(&mut self, at: Pos, suffix: &[u8], values: Vals<V>)
    where
        V: Clone,
    {
        let (inline, scores, big) = match values {
            Vals::Inline(v, s) => {
                let s: Vec<f64> = s.slice().iter().collect();
                (v, s, None)
            }
            Vals::Big(b) => {
                let mut it = b.iter();
                let mut head = Vec::with_capacity(HEAD);
                let mut scores = Vec::with_capacity(HEAD);
                while let Some((v, s)) = it.next_scored().filter(|_| head.len() < HEAD) {
                    head.push(v.clone());
                    scores.push(s);
                }
                (head, scores, Some(b))
            }
        };
        let mut rec = Vec::with_capacity(suffix.len() + 4);
        write_varint(&mut rec, suffix.len());
        rec.extend_from_slice(suffix);
        write_varint(&mut rec, inline.len() << 1 | usize::from(big.is_some()));
        let (bytes, values, bigs) = (rec.len(), inline.len(), usize::from(big.is_some()));
        let end = self.records_end() + bytes;
        let stands = self.index_stands(
            self.len() + 1,
            end,
            self.values.len() + values,
            bigs > 0 || !self.big.is_empty(),
        );
        if !stands {
            self.unindex();
        }
        reserve(&mut self.data, bytes);
        self.data.splice(at.byte..at.byte, rec);
        self.records_len = u32::try_from(end).expect("bucket offsets fit in 32 bits");
        reserve(&mut self.values, values);
        self.values.splice(at.value..at.value, inline);
        self.scores.reserve(scores.len());
        self.scores.insert_all(at.value, &scores);
        if let Some(b) = big {
            self.big.insert(at.big, b);
        }
        self.keys += 1;
        if stands {
            self.shift_anchors(at.byte, bytes, values, bigs);
        }
    }

    /// Makes room for `bytes` more record bytes and `values` more inline
    /// values, exactly: a bulk build sums them before it appends.
    pub(super) fn reserve_exact(&mut self, bytes: usize, values: usize) {
        self.data.reserve_exact(bytes);
        self.values.reserve_exact(values);
        self.scores.reserve_exact(values);
    }

    /// Appends a record after the last one, as a bulk build does (keys in
    /// order, distinct values, no index yet). Nothing shifts and nothing
    /// temporary is built, where [`insert_record`](Self::insert_record)
    /// builds the record and its scores apart and splices them in: the
    /// build of a restart spent a fifth of its time growing and copying
    /// those vectors.
    pub(super) fn push_record(&mut self, suffix: &[u8], values: Vec<V>, scores: Vec<f64>)
    where
        V: Clone + Ord,
    {
        debug_assert_eq!(
            self.records_end(),
            self.data.len(),
            "indexed before the last record"
        );
        let inline = inline_len(values.len());
        let big = inline < values.len();
        write_varint(&mut self.data, suffix.len());
        self.data.extend_from_slice(suffix);
        write_varint(&mut self.data, inline << 1 | usize::from(big));
        self.records_len = records_len(&self.data);
        // A big key's head is its first values: a fresh list has no
        // removed slots.
        self.values.extend_from_slice(&values[..inline]);
        for &s in &scores[..inline] {
            self.scores.push(s);
        }
        if big {
            self.big
                .push(Arc::new(BigValues::from_vecs(values, scores)));
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

    pub(super) fn remove_record(&mut self, r: &Rec) -> Vals<V> {
        self.unindex();
        self.data.drain(r.start..r.end);
        self.records_len = records_len(&self.data);
        self.keys -= 1;
        let inline: Vec<V> = self.values.drain(r.value_start..r.value_end()).collect();
        let scores = self.scores.drain(r.value_start..r.value_end());
        match r.big {
            Some(b) => Vals::Big(self.big.remove(b)),
            None => Vals::Inline(inline, Scores::from_vec(&scores)),
        }
    }

    /// Gives back every unused slot: for a bucket built in one pass, whose
    /// vectors grew by an eighth at a time and will not be edited soon.
    pub(super) fn shrink_to_fit(&mut self) {
        self.data.shrink_to_fit();
        self.values.shrink_to_fit();
        self.scores.shrink_to_fit();
        self.big.shrink_to_fit();
    }

    pub(super) fn shrink_if_sparse(&mut self) {
        shrink_if_sparse(&mut self.data);
        shrink_if_sparse(&mut self.values);
        self.scores.shrink_if_sparse();
    }
}

impl<V: Ord + std::fmt::Debug> Bucket<V> {
    /// Asserts a bucket's invariants: its records, values and sparse
    /// index in step; `is_root` allows an empty bucket.
    pub(super) fn check(&self, burst: usize, is_root: bool) {
        assert!(is_root || self.len() > 0, "empty non-root bucket");
        assert!(
            self.len() <= burst,
            "bucket of {} over burst {burst}",
            self.len()
        );
        let recs: Vec<Rec> = self.records().collect();
        assert_eq!(recs.len(), self.len(), "key count disagrees with records");
        let bigs = recs.iter().filter(|r| r.big.is_some()).count();
        assert_eq!(bigs, self.big.len(), "big lists out of step with records");
        for r in &recs {
            match r.big {
                Some(i) => {
                    let big = &self.big[i];
                    big.check();
                    assert!(big.len() > DEMOTE, "big list too small");
                    let mut it = big.iter();
                    let head: Vec<(&V, u64)> = std::iter::from_fn(|| it.next_scored())
                        .take(HEAD)
                        .map(|(v, s)| (v, s.to_bits()))
                        .collect();
                    let inline: Vec<(&V, u64)> = self
                        .inline_of(r)
                        .iter()
                        .zip(self.scores.range(r.value_start..r.value_end()).iter())
                        .map(|(v, s)| (v, s.to_bits()))
                        .collect();
                    assert_eq!(inline, head, "head out of step");
                }
                None => assert!(r.count <= PROMOTE, "inline list too long"),
            }
        }
        for (i, r) in recs.iter().enumerate() {
            if i > 0 {
                assert!(
                    self.suffix(&recs[i - 1]) < self.suffix(r),
                    "bucket out of order"
                );
            }
            let vals: Vec<&V> = self.values_of(r).collect();
            assert!(!vals.is_empty(), "key without values");
            for (j, v) in vals.iter().enumerate() {
                assert!(!vals[..j].contains(v), "duplicate value");
            }
        }
        assert_eq!(recs.last().map_or(0, Rec::value_end), self.values.len());
        assert_eq!(self.scores.len(), self.values.len(), "scores out of step");
        let max = self
            .big
            .iter()
            .map(|b| b.max())
            .fold(self.scores.max(), f64::max);
        assert_eq!(self.max(), max, "stale bucket maximum");
        assert_eq!(self.ranked, self.ranked_streams(), "stale ranked list");
        assert_eq!(recs.last().map_or(0, |r| r.end), self.records_end());
        self.check_anchors(&recs);
        assert_eq!(
            self.data.len() - self.records_end(),
            self.index_len(),
            "sparse index size"
        );
        if self.len() > INDEX_MIN {
            let anchors = self
                .records()
                .skip(INDEX_EVERY)
                .step_by(INDEX_EVERY)
                .count();
            assert_eq!(anchors, self.anchors(), "anchor count");
        }
    }
}

#[cfg(test)]
mod layout_tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    /// Everything a seek reads of a bucket node lies on the node's first
    /// cache line, and the node is two lines (see [`Bucket`]). The field
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
        assert_eq!(size_of::<Node<u64>>(), 128, "a node grew past two lines");
    }
}
