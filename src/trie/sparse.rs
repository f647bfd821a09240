//! The sparse index at the end of a bucket's records: where a seek starts.
//!
//! # What it owns
//! The index's layout, how it is built (`index_bytes`, `reindex`) and read
//! (`anchor_below`), as methods of [`Bucket`]; the bucket's own code
//! decides when (it drops the index before an edit and rebuilds it after).
//!
//! # Why it is built this way
//! A lookup scans records in order, but not from the first one: a bucket of
//! more than [`INDEX_MIN`] keys ends its `data` with a sparse index, one
//! anchor per [`INDEX_EVERY`] records giving the record's first four suffix
//! bytes and its position. A seek compares the key's first four bytes with
//! the anchors' (branch-free integer compares over the heads, packed
//! together in a few cache lines), starts at the last anchor certainly below
//! the key and decodes at most a few records, where a full scan decoded half
//! the bucket (the largest share of a suggest's time in
//! `examples/profile_suggest`). Every write to the bucket rebuilds the index,
//! a scan of the bucket that the write's own shifting already pays.
//!
//! The index's layout: all heads (each `head()` value as a little-endian
//! `u32`, so that the scan loads it as is, with no byte swap per head),
//! then the positions. In nearly every bucket a position fits in 16 bits (see
//! [`Bucket::narrow`]): byte offset and value index as two `u16`, and the
//! big indexes after them as `u16`, only in a bucket that has big keys.
//! Otherwise each position is three `u32`. About two bytes per key (four
//! with 32-bit positions everywhere). Prefetching all of a full
//! bucket's narrow positions while the heads are compared measures no
//! faster than fetching the one needed afterwards, so a seek does not.

use super::bucket::{reserve, Bucket, Pos};

/// Buckets of at most this many keys have no index: a scan is short enough.
pub(super) const INDEX_MIN: usize = 8;
/// One index entry per this many records.
pub(super) const INDEX_EVERY: usize = 4;
/// Bytes of one anchor's position in a wide index: byte offset, value index
/// and big index, `u32` little-endian each.
const WIDE_POSITION: usize = 12;
/// Bytes of one anchor's position in a narrow index: byte offset and value
/// index, `u16` little-endian each (big indexes, where present, follow all
/// positions as one `u16` each).
const NARROW_POSITION: usize = 4;

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

/// Four bytes of an index entry from offset `at`.
#[inline]
fn field(entry: &[u8], at: usize) -> [u8; 4] {
    [entry[at], entry[at + 1], entry[at + 2], entry[at + 3]]
}

impl<V> Bucket<V> {
    /// The position of the last indexed record whose suffix is certainly
    /// below `key` (its first four bytes compare below), or the start.
    #[inline]
    pub(super) fn anchor_below(&self, key: &[u8]) -> Pos {
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
    pub(super) fn anchors(&self) -> usize {
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
    pub(super) fn index_len(&self) -> usize {
        self.anchors() * (4 + self.position_bytes())
    }

    /// Drops the sparse index before an edit of the records.
    pub(super) fn unindex(&mut self) {
        self.data.truncate(self.records_end());
    }

    /// Rebuilds the sparse index if an edit dropped it. Whoever edits a
    /// bucket's records calls this once the bucket is final.
    pub(super) fn reindex(&mut self) {
        if self.data.len() > self.records_end() {
            return;
        }
        let entries = self.index_bytes();
        reserve(&mut self.data, entries.len());
        self.data.extend_from_slice(&entries);
    }

    /// The sparse index the records call for (empty for a small bucket).
    pub(super) fn index_bytes(&self) -> Vec<u8> {
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
}
