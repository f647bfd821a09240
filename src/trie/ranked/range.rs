//! The top `k` of a prefix that ends inside a bucket, selected in one pass
//! over the bucket's range without the search's queue.
//!
//! # What it owns
//! The common case of a ranked query: most prefixes a person types end
//! inside a bucket, and their answer comes from one range of its records
//! and the big keys among them.
//!
//! # Why it is built this way
//! The best-first search is general (any number of subtrees, bounds at
//! every level), and for one range it pays for that generality: every
//! answer goes through its queue as an item keyed by a copy of its key.
//! Here the range is scanned once into a sorted array of at most `k`
//! candidates (one comparison with the last for a pair that cannot
//! enter); the big keys met on the way are opened afterwards, best bound
//! first, only while their bound can still enter, and each gives its
//! listed values (copies kept beside their scores) only while they enter:
//! an answer of at most [`MOST`] never needs more of a big key than that.
//! Keys are written once, for the answer.
//!
//! The order is the search's ([`cand_order`]): within one bucket a
//! record's byte offset is key order, and a candidate's `seq` is its slot
//! (inline) or list position (big key), both insertion order within a key.
//! With `dedupe` the array holds one candidate per value, its best so far:
//! a value left out or pushed out ranked after the `k`-th, which only
//! improves, so its later pairs enter exactly when they beat the `k`-th.

use std::cmp::Ordering;

use super::{cand_order, starts_with, Cand};
use crate::trie::big::{BigValues, TOP};
use crate::trie::bucket::{Bucket, Pos};
use crate::trie::iter::Suggestions;

/// The most answers this path gives: a big key lists its best [`TOP`]
/// values, and no answer of at most that many needs one past them. A value
/// past the list ranks after all of the listed ones; each of those is a
/// distinct value whose best pair ranks before it too, so it is at best the
/// `TOP + 1`-th distinct value (with `dedupe` or without).
pub(super) const MOST: usize = TOP;

/// The best candidates so far, best first, at most `k` (one per value with
/// `dedupe`).
struct Best<'a, V> {
    picks: Vec<Cand<'a, V>>,
    k: usize,
    dedupe: bool,
}

impl<'a, V: Ord> Best<'a, V> {
    /// Whether a pair (`score`, `rec`, `seq`) would rank before the `k`-th
    /// so far (or there is no `k`-th).
    fn admits(&self, score: f64, rec: u32, seq: u32) -> bool {
        self.picks.get(self.k - 1).is_none_or(|last| {
            // The order reads no value: the last pick's stands in.
            let c = Cand {
                score,
                rec,
                seq,
                value: last.value,
            };
            cand_order(&c, last) == Ordering::Less
        })
    }

    /// Offers `c`; false when it ranks after the `k`-th (nothing after it
    /// in the same order can enter either).
    fn offer(&mut self, c: Cand<'a, V>) -> bool {
        if !self.admits(c.score, c.rec, c.seq) {
            return false;
        }
        if self.dedupe {
            if let Some(j) = self.picks.iter().position(|p| p.value == c.value) {
                if cand_order(&c, &self.picks[j]) == Ordering::Less {
                    self.picks.remove(j);
                    self.insert(c);
                }
                return true;
            }
        }
        self.insert(c);
        if self.picks.len() > self.k {
            self.picks.pop();
        }
        true
    }

    fn insert(&mut self, c: Cand<'a, V>) {
        let mut i = self.picks.len();
        while i > 0 && cand_order(&c, &self.picks[i - 1]) == Ordering::Less {
            i -= 1;
        }
        self.picks.insert(i, c);
    }
}

/// The best `limit` (1 to [`MOST`]) pairs of `bucket` whose suffix starts
/// with `filter` (not empty), each value once with `dedupe`, as keys under
/// `path`; `at` is where the range starts (`lower_bound(filter)`), `max`
/// the bucket's highest score.
pub(super) fn top_in_range<V: Clone + Ord>(
    bucket: &Bucket<V>,
    (path, filter, at): (&[u8], &[u8], Pos),
    limit: usize,
    dedupe: bool,
    max: f64,
) -> Suggestions<V> {
    debug_assert!((1..=MOST).contains(&limit) && !filter.is_empty());
    let mut best = Best {
        picks: Vec::with_capacity(limit + 1),
        k: limit,
        dedupe,
    };
    // The big keys of the range: each one's bound (read as the scan meets
    // it, so that its cache miss overlaps the rest of the scan), its
    // record's byte and its values.
    let mut bigs: Vec<(f64, u32, &BigValues<V>)> = Vec::new();
    let mut at = at;
    while at.byte < bucket.records_end() {
        let r = bucket.record(at);
        if !starts_with(bucket.suffix(&r), filter) {
            break;
        }
        // Once the `k` best so far all score the bucket's maximum, every
        // later pair (a later key) ties at best and loses on key.
        if best.picks.len() == limit && best.picks[limit - 1].score >= max {
            break;
        }
        at = r.next();
        if let Some(b) = r.big {
            let big = &*bucket.big[b];
            bigs.push((big.max(), r.start as u32, big));
            continue;
        }
        let scores = bucket.scores.range(r.value_start..r.value_end());
        for (i, v) in bucket.inline_of(&r).iter().enumerate() {
            best.offer(Cand {
                score: scores.get(i),
                rec: r.start as u32,
                seq: (r.value_start + i) as u32,
                value: v,
            });
        }
    }
    // Best bound first, so that the keys that cannot enter are recognized
    // by their bound alone.
    bigs.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    for (bound, rec, big) in bigs {
        // The key's best pair: its maximum, at its first listed position.
        let Some((first, _)) = big.top().first() else {
            continue;
        };
        if !best.admits(bound, rec, first.pos()) {
            continue;
        }
        for (l, value) in big.top() {
            let c = Cand {
                score: big.listed_score(*l),
                rec,
                seq: l.pos(),
                value,
            };
            if !best.offer(c) {
                break;
            }
        }
    }
    let mut text = Vec::with_capacity(best.picks.len() * (path.len() + 8));
    let mut entries = Vec::with_capacity(best.picks.len());
    let mut scores = Vec::with_capacity(best.picks.len());
    for c in &best.picks {
        let start = text.len();
        text.extend_from_slice(path);
        text.extend_from_slice(bucket.suffix_at(c.rec as usize));
        entries.push((start, text.len(), c.value.clone()));
        scores.push(c.score);
    }
    Suggestions::from_parts(text, entries, scores)
}
