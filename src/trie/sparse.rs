//! The sparse index at the end of a bucket's records: where a seek starts.
//!
//! # What it owns
//! The index's layout, how it is built (`index_bytes`, `reindex`), kept
//! through an added key or value (`index_stands`, `shift_anchors`) and read
//! (`anchor_below`), as methods of [`Bucket`]; the bucket's own code
//! decides when (an edit either keeps the index in step or drops it, and
//! the bucket's writer rebuilds a dropped index once the bucket is final).
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
//! `examples/profile_suggest`).
//!
//! A write that adds a key or a value keeps the index when the anchors stay
//! as many and in the same layout: the anchors after the edit move with
//! their records (`shift_anchors`), so an anchor may sit a few records off
//! its place, at most `INDEX_EVERY - 1` new keys away, since the next key
//! that changes the number of anchors rebuilds the index. Any other edit
//! (a removal, a key moving to a big list) rebuilds it, a scan of the bucket
//! that the edit's own shifting already pays. Rebuilding after every added
//! pair was a quarter of the writer's time through a 1M-user import, the
//! scan decoding every record of the bucket.
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

use super::bucket::{reserve, Bucket, Pos, Rec};

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

/// The number of anchors of a bucket of `keys` keys.
fn anchors_for(keys: usize) -> usize {
    if keys > INDEX_MIN {
        (keys - 1) / INDEX_EVERY
    } else {
        0
    }
}

/// Whether a bucket of `records` bytes of records and `values` inline
/// values has the narrow index layout.
fn narrow_for(records: usize, values: usize) -> bool {
    let max = usize::from(u16::MAX);
    records <= max && values <= max
}

/// The position of anchor `i` of `n`, from the index's `positions` (all
/// that follows the heads) in the narrow or the wide layout.
#[inline]
fn anchor_pos(positions: &[u8], n: usize, i: usize, narrow: bool) -> Pos {
    if narrow {
        let e = field(positions, i * NARROW_POSITION);
        // A narrow index has big indexes only in a bucket with big keys:
        // tell from the index's own length, not `self.big`, whose length
        // lies on the node's second cache line.
        let big = if positions.len() == n * NARROW_POSITION {
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
        anchor_pos(positions, n, below - 1, narrow)
    }

    /// The number of anchors the index has when present.
    pub(super) fn anchors(&self) -> usize {
        anchors_for(self.len())
    }

    /// Whether the index is there (an edit drops it until the bucket is
    /// final, and a small bucket has none).
    fn indexed(&self) -> bool {
        self.data.len() > self.records_end()
    }

    /// Whether the index can stand through an edit that leaves the bucket
    /// with `keys` keys, `records` bytes of records, `values` inline values
    /// and some big keys or none (`big`): it is there, and after the edit
    /// it has as many anchors in the same layout. The edit then moves the
    /// anchors behind it with [`shift_anchors`](Self::shift_anchors).
    pub(super) fn index_stands(
        &self,
        keys: usize,
        records: usize,
        values: usize,
        big: bool,
    ) -> bool {
        self.indexed()
            && anchors_for(keys) == self.anchors()
            && narrow_for(records, values) == self.narrow()
            && big != self.big.is_empty()
    }

    /// Moves every anchor at byte `from` or after by what an edit inserted
    /// before its record: `bytes` of records, `values` inline values and
    /// `bigs` big keys. Called once the edit is done, on an index that
    /// [`index_stands`](Self::index_stands) through it.
    pub(super) fn shift_anchors(&mut self, from: usize, bytes: usize, values: usize, bigs: usize) {
        let n = self.anchors();
        let narrow = self.narrow();
        let end = self.records_end();
        let positions = &mut self.data[end + n * 4..];
        if narrow {
            let (entries, big) = positions.split_at_mut(n * NARROW_POSITION);
            // The bucket stays narrow through the edit, so the moved
            // positions fit in 16 bits.
            let add = |b: &mut [u8], by: usize| {
                let p = usize::from(u16::from_le_bytes([b[0], b[1]])) + by;
                debug_assert!(p <= usize::from(u16::MAX), "a narrow position past 16 bits");
                b.copy_from_slice(&(p as u16).to_le_bytes());
            };
            for (i, e) in entries.chunks_exact_mut(NARROW_POSITION).enumerate() {
                if usize::from(u16::from_le_bytes([e[0], e[1]])) < from {
                    continue;
                }
                add(&mut e[..2], bytes);
                add(&mut e[2..], values);
                if let Some(b) = big.get_mut(i * 2..i * 2 + 2) {
                    add(b, bigs);
                }
            }
        } else {
            let add = |b: &mut [u8], by: usize| {
                let p = u32::from_le_bytes(field(b, 0)) as usize + by;
                let p = u32::try_from(p).expect("bucket offsets fit in 32 bits");
                b.copy_from_slice(&p.to_le_bytes());
            };
            for e in positions.chunks_exact_mut(WIDE_POSITION) {
                if (u32::from_le_bytes(field(e, 0)) as usize) < from {
                    continue;
                }
                add(&mut e[..4], bytes);
                add(&mut e[4..8], values);
                add(&mut e[8..], bigs);
            }
        }
    }

    /// The index's anchors as (head, position).
    fn anchor_list(&self) -> Vec<(u32, Pos)> {
        let n = self.anchors();
        let (heads, positions) = self.data[self.records_end()..].split_at(n * 4);
        (0..n)
            .map(|i| {
                let head = u32::from_le_bytes(field(heads, i * 4));
                (head, anchor_pos(positions, n, i, self.narrow()))
            })
            .collect()
    }

    /// Asserts that the index fits the records `recs` (all of them, in
    /// order): as many anchors as the bucket calls for, each on a record,
    /// with that record's head and positions, in order, and none further
    /// than `2 * INDEX_EVERY` records from the one before (or the ends).
    pub(super) fn check_anchors(&self, recs: &[Rec]) {
        let index = self.data.len() - self.records_end();
        if self.len() <= INDEX_MIN {
            assert_eq!(index, 0, "an index in a small bucket");
            return;
        }
        assert_eq!(index, self.index_len(), "sparse index size");
        let mut last = 0;
        for (head, at) in self.anchor_list() {
            let i = recs.partition_point(|r| r.start < at.byte);
            let r = recs.get(i).filter(|r| r.start == at.byte);
            let r = r.unwrap_or_else(|| panic!("an anchor off a record: {at:?}"));
            assert_eq!(
                (at.value, at.big, head),
                (
                    r.value_start,
                    r.big_start,
                    super::sparse::head(self.suffix(r))
                ),
                "an anchor out of step with its record"
            );
            assert!(i > last, "anchors out of order");
            assert!(i - last <= 2 * INDEX_EVERY, "anchors too far apart");
            last = i;
        }
        assert!(
            recs.len() - last <= 2 * INDEX_EVERY,
            "the last anchor too far from the end"
        );
    }

    /// True when every position in this bucket fits in 16 bits, so its
    /// index is the narrow layout. Decided from the bucket's own sizes: an
    /// edit that changes the answer rebuilds the index
    /// ([`index_stands`](Self::index_stands) refuses to keep it), so the
    /// reader and the builder agree without a flag.
    fn narrow(&self) -> bool {
        // `big` has at most one entry per record, and a record takes at
        // least two bytes, so it fits whenever the records do.
        debug_assert!(2 * self.big.len() <= self.records_end());
        narrow_for(self.records_end(), self.values.len())
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

    /// Rebuilds the sparse index if an edit dropped it (an edit that kept it
    /// moved its anchors instead). Whoever edits a
    /// bucket's records calls this once the bucket is final.
    pub(super) fn reindex(&mut self) {
        if self.indexed() {
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
