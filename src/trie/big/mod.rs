//! [`BigValues`]: the values of one key that holds many of them (more than
//! [`PROMOTE`](super::values::PROMOTE)), and [`BigIter`] over them.
//!
//! # Why two persistent trees
//! The writer changes its own copy of the trie while readers hold published
//! snapshots, so a write to a shared big key copies what it touches
//! (`Arc::make_mut`). With one contiguous list, that copy, the shift of a
//! sorted index and a removal were all O(k) in the key's k values: the
//! thousandth id added to "smith" cost more than the first. Here both parts
//! are trees of `Arc`ed nodes, and a write copies one root-to-leaf path of
//! each (O(log k), about 64 pointers per level):
//! - the **list** holds the values in the order they were added, by
//!   position, 64 per leaf (a persistent vector, like Clojure's). Positions
//!   never move: a removal marks the value dead (a bit per leaf slot) instead
//!   of shifting everything after it, and when dead slots outnumber the live
//!   ones the key is rebuilt, an O(k) pass paid for by the k/2 removals
//!   before it (amortized O(1) each);
//! - the **index** holds the live positions sorted by value (a B+ tree of
//!   `u32`s, each branch keeping its children's smallest positions), so a
//!   duplicate check is O(log k) comparisons. Storing positions rather than
//!   values keeps it at 4 bytes per value, as a sorted `Vec<u32>` would be.
//!
//! Memory stays what a contiguous layout costs (a value plus 4 bytes, plus
//! one small node per 64 values).
//!
//! The list is [`list`]'s; the sorted index is [`index`]'s.

mod index;
mod list;

use std::sync::Arc;

use smallvec::SmallVec;

pub(crate) use index::Slot;
use index::{build_index, collect_index, first_pos, index_insert, index_remove, locate, IndexNode};

use super::scores::{narrow, ScoreSlice};
use list::{
    collect_top, first_live_from, kill_rec, nth_live, push_rec, set_rec, shrink_last, FAN, SHIFT,
};
pub(crate) use list::{span, ListNode};

/// Many values of one key: a positional list in insertion order plus a
/// sorted index of the live positions. Cloning is O(1) in the number of
/// values.
///
/// The fields a ranked search reads come first, in this order (`repr(C)`):
/// the maximum and the first listed values share the struct's first cache
/// line.
#[derive(Clone, Debug)]
#[repr(C)]
pub(crate) struct BigValues<V> {
    /// The score of `top`'s first value, the key's maximum (`-inf` when
    /// empty): a ranked search bounds the key by it before opening it, so
    /// it is kept here rather than looked up in the list.
    max: f64,
    /// The best [`TOP`] live values (or all of them when fewer), in ranked
    /// order: score descending, then position, each with a copy of its
    /// value. A ranked search takes a big key's first answers from here
    /// without walking down its list, a walk of two or three cache misses
    /// per value, where a top-10 often takes most of its answers from big
    /// keys (the first names and surnames most people share). Inline, never
    /// more than [`TOP`]: in a separate allocation they were one more
    /// dependent cache miss per big key a search opens.
    top: SmallVec<[(Listed, V); TOP]>,
    list: Arc<ListNode<V>>,
    /// Positions used, live or dead.
    slots: usize,
    /// Height of the list (0: the root is a leaf).
    height: u32,
    index: Arc<IndexNode>,
    /// Live values.
    live: usize,
}

/// How many of a big key's best values it keeps listed: more than a
/// typical answer takes from one key.
pub(crate) const TOP: usize = 16;

/// One of a big key's listed values: its position, and its score when an
/// `f32` holds it exactly (counts and halves, most scores), packed in a
/// `u64`. A search ranks the listed values of every big key in a range
/// by these, and walks the list down only to the values that make the
/// answer; a score an `f32` does not hold is read from the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Listed(u64);

/// The code of a listed score that is not kept: a NaN, which no narrow
/// code is.
const UNKEPT: u32 = 0x7fc0_0000;

impl Listed {
    fn new(pos: u32, score: f64) -> Self {
        let code = narrow(score).unwrap_or(UNKEPT);
        Listed(u64::from(code) << 32 | u64::from(pos))
    }

    /// The value's position in the list.
    pub(crate) fn pos(self) -> u32 {
        self.0 as u32
    }

    /// The value's score, when kept.
    pub(crate) fn score(self) -> Option<f64> {
        let code = (self.0 >> 32) as u32;
        (code != UNKEPT).then(|| f64::from(f32::from_bits(code)))
    }
}

impl<V> BigValues<V> {
    /// The best live values, ranked, with copies of them (see `top`).
    pub(crate) fn top(&self) -> &[(Listed, V)] {
        &self.top
    }

    /// The score of a listed value.
    pub(crate) fn listed_score(&self, l: Listed) -> f64 {
        l.score().unwrap_or_else(|| self.score_at(l.pos()))
    }

    /// True when `top` lists every live value.
    pub(crate) fn top_is_all(&self) -> bool {
        self.top.len() == self.live
    }

    /// Whether (score `s`, position `p`) ranks before the listed value `l`.
    fn ranks_before(&self, s: f64, p: u32, l: Listed) -> bool {
        let (t, q) = (self.listed_score(l), l.pos());
        s > t || (s == t && p < q)
    }

    /// The number of (live) values.
    pub(crate) fn len(&self) -> usize {
        self.live
    }

    /// The highest score, `-inf` when there are no values.
    pub(crate) fn max(&self) -> f64 {
        self.max
    }

    /// The list's root, for a ranked walk.
    pub(crate) fn list_root(&self) -> (&ListNode<V>, u32) {
        (&self.list, self.height)
    }

    /// The score of the value at position `pos`.
    pub(crate) fn score_at(&self, pos: u32) -> f64 {
        let pos = pos as usize;
        let (_, scores, _, base) = self.leaf(pos);
        scores.get(pos - base)
    }

    /// The leaf holding position `pos`, with the position of its first slot.
    fn leaf(&self, pos: usize) -> (&[V], ScoreSlice<'_>, u64, usize) {
        let mut node = &*self.list;
        let mut h = self.height;
        loop {
            match node {
                ListNode::Leaf { vals, scores, dead } => {
                    return (vals, scores.slice(), *dead, pos & !(FAN - 1))
                }
                ListNode::Branch { children, .. } => {
                    node = &children[(pos >> (SHIFT * h)) & (FAN - 1)];
                    h -= 1;
                }
            }
        }
    }

    /// The value at position `pos` (live or dead).
    pub(crate) fn at(&self, pos: u32) -> &V {
        self.at_scored(pos).0
    }

    /// The value at position `pos` and its score (one walk down the list).
    pub(crate) fn at_scored(&self, pos: u32) -> (&V, f64) {
        let pos = pos as usize;
        let (vals, scores, _, base) = self.leaf(pos);
        (&vals[pos - base], scores.get(pos - base))
    }

    /// The live values in the order they were added.
    pub(crate) fn iter(&self) -> BigIter<'_, V> {
        BigIter {
            big: self,
            pos: 0,
            leaf: &[],
            scores: ScoreSlice::EMPTY,
            dead: 0,
            base: 0,
            remaining: self.live,
        }
    }

    /// The live values after the first `skip` of them: O(log k) to start,
    /// however many removed slots come first.
    pub(crate) fn iter_from(&self, skip: usize) -> BigIter<'_, V> {
        let mut it = self.iter();
        if skip >= self.live {
            it.pos = self.slots;
            it.remaining = 0;
        } else {
            it.pos = nth_live(&self.list, skip, self.height, 0);
            it.remaining = self.live - skip;
        }
        it
    }

    /// The first live position at or after `from`, if any.
    fn seek_live(&self, from: usize) -> Option<usize> {
        first_live_from(&self.list, from, self.height, 0)
    }

    /// The heap owned by every stored value, removed ones included (they
    /// stay in their leaf until the key is rebuilt).
    pub(crate) fn slot_heap(&self, value_heap: &impl Fn(&V) -> usize) -> usize {
        fn rec<V>(n: &ListNode<V>, f: &impl Fn(&V) -> usize) -> usize {
            match n {
                ListNode::Leaf { vals, .. } => vals.iter().map(f).sum(),
                ListNode::Branch { children, .. } => children.iter().map(|c| rec(c, f)).sum(),
            }
        }
        rec(&self.list, value_heap)
    }

    /// Heap bytes held by the two trees (nodes, `Arc` headers, vectors).
    pub(crate) fn heap_bytes(&self) -> usize {
        fn list<V>(n: &ListNode<V>) -> usize {
            let own = 2 * std::mem::size_of::<usize>() + std::mem::size_of::<ListNode<V>>();
            own + match n {
                ListNode::Leaf { vals, scores, .. } => {
                    vals.capacity() * std::mem::size_of::<V>() + scores.heap_bytes()
                }
                ListNode::Branch {
                    children,
                    live,
                    max,
                } => {
                    children.capacity() * std::mem::size_of::<usize>()
                        + live.capacity() * 4
                        + max.capacity() * 8
                        + children.iter().map(|c| list(c)).sum::<usize>()
                }
            }
        }
        fn index(n: &IndexNode) -> usize {
            let own = 2 * std::mem::size_of::<usize>() + std::mem::size_of::<IndexNode>();
            own + match n {
                IndexNode::Leaf(p) => p.capacity() * 4,
                IndexNode::Branch { mins, children } => {
                    mins.capacity() * 4
                        + children.capacity() * std::mem::size_of::<usize>()
                        + children.iter().map(|c| index(c)).sum::<usize>()
                }
            }
        }
        // The listed copies' own heap is shared with the values they copy.
        list(&self.list)
            + index(&self.index)
            + if self.top.spilled() {
                self.top.capacity() * std::mem::size_of::<(Listed, V)>()
            } else {
                0
            }
    }
}

impl<V: Clone> BigValues<V> {
    /// Recomputes `top` by a best-first walk over the list's maxima:
    /// O(TOP) leaf scans, not O(k).
    fn refresh_top(&mut self) {
        let mut best: Vec<(f64, u32)> = Vec::with_capacity(TOP + 1);
        collect_top(&self.list, self.height, 0, &mut best);
        self.max = best.first().map_or(f64::NEG_INFINITY, |&(s, _)| s);
        let mut top = SmallVec::new();
        top.extend(
            best.into_iter()
                .map(|(s, p)| (Listed::new(p, s), self.at(p).clone())),
        );
        self.top = top;
    }

    /// Keeps `top` right after the value at `pos` got score `s` (a new
    /// value, or a changed score `old`).
    fn note_score(&mut self, pos: u32, s: f64, old: Option<f64>) {
        let listed = self.top.iter().position(|(l, _)| l.pos() == pos);
        match (listed, old) {
            (Some(_), Some(old)) if s < old => return self.refresh_top(),
            (Some(i), _) => {
                // Moved up (or stayed): it only climbs within the list.
                let (_, v) = self.top.remove(i);
                let at = self
                    .top
                    .partition_point(|&(l, _)| !self.ranks_before(s, pos, l));
                self.top.insert(at, (Listed::new(pos, s), v));
            }
            (None, _) => {
                let at = self
                    .top
                    .partition_point(|&(l, _)| !self.ranks_before(s, pos, l));
                if at < TOP {
                    // Room first: the list never holds more than `TOP`.
                    if self.top.len() == TOP {
                        self.top.pop();
                    }
                    let v = self.at(pos).clone();
                    self.top.insert(at, (Listed::new(pos, s), v));
                }
            }
        }
        if self.top.first().map(|(l, _)| l.pos()) == Some(pos) {
            self.max = s;
        }
    }

    /// The live values, cloned, in insertion order.
    #[cfg(test)]
    pub(crate) fn to_vec(&self) -> Vec<V> {
        self.iter().cloned().collect()
    }

    /// The live values, cloned, and their scores, in insertion order.
    pub(crate) fn to_vecs(&self) -> (Vec<V>, Vec<f64>) {
        let mut it = self.iter();
        let mut vals = Vec::with_capacity(self.live);
        let mut scores = Vec::with_capacity(self.live);
        while let Some((v, s)) = it.next_scored() {
            vals.push(v.clone());
            scores.push(s);
        }
        (vals, scores)
    }
}

impl<V: Ord> BigValues<V> {
    /// The position of `v`, or where it would go when it is not one of
    /// the values (for [`insert_at`](Self::insert_at)).
    pub(crate) fn find(&self, v: &V) -> Result<u32, Slot> {
        locate(&self.index, v, self)
    }

    /// True when `v` is one of the values.
    pub(crate) fn contains(&self, v: &V) -> bool {
        self.find(v).is_ok()
    }

    /// Asserts that the index holds exactly the live positions, sorted by
    /// distinct values, and that the counts agree.
    pub(crate) fn check(&self) {
        let mut positions = Vec::new();
        collect_index(&self.index, &mut positions, self);
        assert_eq!(
            positions.len(),
            self.live,
            "index size disagrees with live count"
        );
        assert!(
            positions.windows(2).all(|w| self.at(w[0]) < self.at(w[1])),
            "index unsorted or values repeated"
        );
        assert_eq!(self.iter().count(), self.live, "list live count disagrees");
        fn live_under<V>(n: &ListNode<V>) -> usize {
            match n {
                ListNode::Leaf { vals, scores, dead } => {
                    assert_eq!(vals.len(), scores.len(), "scores out of step");
                    vals.len() - dead.count_ones() as usize
                }
                ListNode::Branch {
                    children,
                    live,
                    max,
                } => {
                    assert_eq!(children.len(), live.len(), "live counts out of step");
                    assert_eq!(children.len(), max.len(), "maxima out of step");
                    for (c, &m) in children.iter().zip(max) {
                        assert_eq!(c.max(), m, "stale maximum");
                    }
                    children
                        .iter()
                        .zip(live)
                        .map(|(c, &l)| {
                            let n = live_under(c);
                            assert_eq!(n, l as usize, "stale live count");
                            n
                        })
                        .sum()
                }
            }
        }
        assert_eq!(live_under(&self.list), self.live, "live counts disagree");
        // Brute force: every live (score, position), sorted, cut.
        let mut all: Vec<(f64, u32)> = (0..self.slots)
            .filter(|&p| {
                let (_, _, dead, base) = self.leaf(p);
                (dead >> (p - base)) & 1 == 0
            })
            .map(|p| (self.score_at(p as u32), p as u32))
            .collect();
        all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let listed: Vec<(f64, u32)> = all.iter().take(TOP).copied().collect();
        let kept: Vec<(f64, u32)> = self
            .top
            .iter()
            .map(|&(l, _)| (self.listed_score(l), l.pos()))
            .collect();
        assert_eq!(kept, listed, "stale ranked list");
        for (l, v) in &self.top {
            assert!(self.at(l.pos()) == v, "stale listed value");
            let s = self.score_at(l.pos());
            assert!(l.score().is_none_or(|k| k == s), "stale listed score");
            assert!(
                l.score().is_some() || f64::from(s as f32) != s,
                "score not kept"
            );
        }
        assert_eq!(self.max(), self.list.max(), "stale maximum");
        for &p in &positions {
            let (_, _, dead, base) = self.leaf(p as usize);
            assert_eq!(
                (dead >> (p as usize - base)) & 1,
                0,
                "index holds a dead slot"
            );
        }
    }
}

impl<V: Clone + Ord> BigValues<V> {
    /// From distinct values in insertion order, with their scores.
    pub(crate) fn from_vecs(values: Vec<V>, scores: Vec<f64>) -> Self {
        debug_assert_eq!(values.len(), scores.len());
        let mut big = BigValues {
            list: Arc::new(ListNode::empty(0)),
            slots: 0,
            height: 0,
            index: Arc::new(IndexNode::Leaf(Vec::new())),
            live: 0,
            top: SmallVec::new(),
            max: f64::NEG_INFINITY,
        };
        let mut order: Vec<u32> = (0..values.len())
            .map(|p| u32::try_from(p).expect("fewer than 2^32 values per key"))
            .collect();
        order.sort_by(|&a, &b| values[a as usize].cmp(&values[b as usize]));
        for (v, s) in values.into_iter().zip(scores) {
            big.push(v, s);
        }
        big.index = Arc::new(build_index(order));
        shrink_last(&mut big.list);
        big.refresh_top();
        big
    }

    /// Appends a slot at the end of the list.
    fn push(&mut self, v: V, s: f64) {
        if self.slots == FAN.pow(self.height + 1) {
            let old = std::mem::replace(&mut self.list, Arc::new(ListNode::empty(0)));
            let live = u32::try_from(self.live).expect("fewer than 2^32 values per key");
            let max = old.max();
            self.list = Arc::new(ListNode::Branch {
                children: vec![old],
                live: vec![live],
                max: vec![max],
            });
            self.height += 1;
        }
        push_rec(Arc::make_mut(&mut self.list), self.slots, self.height, v, s);
        self.slots += 1;
        self.live += 1;
    }

    /// Appends `v` with score `s` unless present; returns whether it was
    /// added.
    #[cfg(test)]
    pub(crate) fn insert(&mut self, v: V, s: f64) -> bool {
        match self.find(&v) {
            Ok(_) => false,
            Err(slot) => {
                self.insert_at(&slot, v, s);
                true
            }
        }
    }

    /// Appends `v`, which is not one of the values, with score `s`; `slot`
    /// is where [`find`](Self::find) said it goes, with nothing changed
    /// since. The duplicate check and the index insertion share that one
    /// descent: a key with thousands of values compares `v` with about
    /// log2(k) of them once, not once per step.
    pub(crate) fn insert_at(&mut self, slot: &Slot, v: V, s: f64) {
        let pos = u32::try_from(self.slots).expect("fewer than 2^32 values per key");
        self.push(v, s);
        self.note_score(pos, s, None);
        let mut index = std::mem::replace(&mut self.index, Arc::new(IndexNode::Leaf(Vec::new())));
        if let Some((min, right)) = index_insert(Arc::make_mut(&mut index), pos, slot, 0) {
            let left_min = first_pos(&index);
            index = Arc::new(IndexNode::Branch {
                mins: vec![left_min, min],
                children: vec![index, right],
            });
        }
        self.index = index;
    }

    /// Sets the score of the (live) value at `pos`.
    pub(crate) fn set_score_at(&mut self, pos: u32, s: f64) {
        let old = self.score_at(pos);
        set_rec(Arc::make_mut(&mut self.list), pos as usize, self.height, s);
        self.note_score(pos, s, Some(old));
    }

    /// Removes `v`; returns it when it was there.
    pub(crate) fn remove(&mut self, v: &V) -> Option<V> {
        let mut index = std::mem::replace(&mut self.index, Arc::new(IndexNode::Leaf(Vec::new())));
        let found = index_remove(Arc::make_mut(&mut index), v, self);
        // A root branch left with one child hands over to it.
        loop {
            let only = match &*index {
                IndexNode::Branch { children, .. } if children.len() == 1 => children[0].clone(),
                _ => break,
            };
            index = only;
        }
        self.index = index;
        let pos = found? as usize;
        let removed = kill_rec(Arc::make_mut(&mut self.list), pos, self.height);
        self.live -= 1;
        if self.top.iter().any(|(l, _)| l.pos() == pos as u32) {
            self.refresh_top();
        }
        let dead = self.slots - self.live;
        if dead > self.live && dead > FAN {
            // Mostly tombstones: rebuild (amortized over the removals that
            // made them).
            let (vals, scores) = self.to_vecs();
            *self = BigValues::from_vecs(vals, scores);
        }
        Some(removed)
    }
}

/// The live values of a [`BigValues`] in insertion order.
#[derive(Debug)]
pub(crate) struct BigIter<'a, V> {
    pub(super) big: &'a BigValues<V>,
    /// Next position to look at.
    pub(super) pos: usize,
    /// The leaf holding positions `base..base + leaf.len()`.
    leaf: &'a [V],
    scores: ScoreSlice<'a>,
    dead: u64,
    base: usize,
    remaining: usize,
}

impl<'a, V> BigIter<'a, V> {
    /// The next live value with its score.
    pub(crate) fn next_scored(&mut self) -> Option<(&'a V, f64)> {
        while self.remaining > 0 && self.pos < self.big.slots {
            if self.pos >= self.base + self.leaf.len() || self.leaf.is_empty() {
                // Past this leaf: jump over removed slots to the next live one.
                self.pos = self.big.seek_live(self.pos)?;
                let (leaf, scores, dead, base) = self.big.leaf(self.pos);
                (self.leaf, self.scores, self.dead, self.base) = (leaf, scores, dead, base);
            }
            let i = self.pos - self.base;
            self.pos += 1;
            if (self.dead >> i) & 1 == 0 {
                self.remaining -= 1;
                return Some((&self.leaf[i], self.scores.get(i)));
            }
        }
        None
    }
}

impl<'a, V> Iterator for BigIter<'a, V> {
    type Item = &'a V;

    fn next(&mut self) -> Option<&'a V> {
        self.next_scored().map(|(v, _)| v)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<V> ExactSizeIterator for BigIter<'_, V> {}

// Not derived: a derive would ask for `V: Clone`, and only references are copied.
impl<V> Clone for BigIter<'_, V> {
    fn clone(&self) -> Self {
        BigIter { ..*self }
    }
}

#[cfg(test)]
mod tests;
