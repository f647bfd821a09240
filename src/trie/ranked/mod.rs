//! Ranked answers: [`Order`] and [`SuggestOptions`], the best-first top-k
//! search behind `Trie::suggest_with(.., Order::Score)`, and the key-order
//! walk that keeps one answer per value.
//!
//! # What it owns
//! The order of a ranked answer (highest score first; ties by key in code
//! point order, then by the order the values were added to the key), and
//! the search that produces it without walking the branch under the prefix.
//!
//! # Why it is built this way
//! Every node knows the highest score beneath it: an inner node keeps one
//! bound per child (`child_max`), a bucket its own (`max`), a big key's list
//! one per subtree. The search keeps a priority queue of *bounds* (a subtree
//! not yet opened, keyed by its best possible score and the smallest key it
//! can hold) and *answers* (a pair, exact). It pops the best item: an answer
//! is emitted, a bound is opened and its parts pushed. An answer comes out
//! only when it beats every bound still queued, so the first `k` answers are
//! the top `k`, and a subtree whose bound never reaches the top is never
//! opened. Ties are exact too: a bound sorts before an answer with the same
//! score unless its smallest possible key is larger, so nothing that ties
//! and sorts first can hide in an unopened subtree.
//!
//! A bucket holds up to a few hundred pairs without an order by score; when
//! it is opened, its pairs under the prefix are scanned once and only the
//! best few are sorted (a partial selection of what can still make the
//! answer), as a *run* the queue reads in order. If a run is used up before
//! the answer is full (duplicates skipped by `dedupe`), the next few are
//! selected after the last one taken.
//!
//! The scan also queues the big keys it meets, and stops early: once the
//! first `k` pairs it kept all score at least the bucket's maximum, every
//! later pair ties at best and loses on key, so the rest of the range can
//! wait for a refill (which queues the big keys past that point). With
//! equal scores, a deep prefix then reads as many records as key order
//! does, not its whole range twice (once for big keys, once for pairs):
//! `cargo bench --bench ranked`, deep prefixes with equal scores, p50
//! 2.4-2.5 µs to 1.9 µs, p99 22-57 µs to 6.9 µs.
//!
//! A search that starts at an inner node (or opens one on the way) reads
//! the node's remembered best pairs when it has them
//! ([`cached`](super::cached)), and opens the node part by part only past
//! them.
//!
//! Most prefixes end inside a bucket, and those take a path of their own
//! without the queue ([`range`]): one pass over the range into a sorted
//! array of `k`, then the range's big keys by their listed values.

mod open;
mod range;
mod run;

use std::cmp::Ordering;
use std::collections::BTreeSet;

use super::big::{BigValues, ListNode};
use super::bucket::{Bucket, Pos};
use super::cached::{Cached, CACHED};
use super::iter::Suggestions;
use super::node::{Inner, Node};
use super::options::Seen;
use super::scores::ScoreSlice;

/// A span of the search's key arena.
#[derive(Clone, Copy, Debug)]
struct Span {
    start: u32,
    len: u32,
}

/// One candidate pair of a run, before its key is written out.
struct Cand<'a, V> {
    score: f64,
    /// The record's byte offset in its bucket (key order within a bucket);
    /// 0 for a run of one key.
    rec: u32,
    /// The value's position among its key's values (insertion order).
    seq: u32,
    value: &'a V,
}

// Not derived: a derive would ask for `V: Copy`, and only a reference is copied.
impl<V> Clone for Cand<'_, V> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<V> Copy for Cand<'_, V> {}

/// Best first: higher score, then smaller key, then earlier value.
/// Scores are finite and stored without negative zero, so `total_cmp` is
/// the numeric order.
fn cand_order<V>(a: &Cand<'_, V>, b: &Cand<'_, V>) -> Ordering {
    b.score
        .total_cmp(&a.score)
        .then(a.rec.cmp(&b.rec))
        .then(a.seq.cmp(&b.seq))
}

/// Where a run's candidates come from, to select more of them.
enum Source<'a, V> {
    /// The inline keys of a bucket from `at` on while their suffix starts
    /// with `filter`; the bucket's path is `path`. With `bigs_from`, the
    /// scan also finds the range's big keys, those at or past that byte
    /// (the ones not queued yet: a scan that stopped early leaves the rest
    /// to the next); without it, the bucket's ranked list names them.
    Bucket {
        bucket: &'a Bucket<V>,
        filter: &'a [u8],
        path: Span,
        bigs_from: Option<usize>,
        /// The bucket's highest score, when the search knows it already.
        max: Option<f64>,
    },
    /// The live slots of a big key's list leaf, whose first position is
    /// `base`.
    Leaf {
        vals: &'a [V],
        scores: ScoreSlice<'a>,
        dead: u64,
        base: usize,
    },
    /// A big key, of whose listed values the first `usize` were selected;
    /// past them its list is searched instead (`Search::open_big_rest`).
    Big(&'a BigValues<V>, usize),
    /// The values of a key kept in an inner node (at most a few dozen).
    Inline {
        vals: &'a [V],
        scores: ScoreSlice<'a>,
    },
}

// Not derived, as for `Cand`: only references are copied.
impl<V> Clone for Source<'_, V> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<V> Copy for Source<'_, V> {}

/// Candidates of one source in order, read from `pos` on.
struct Run<'a, V> {
    cands: Vec<Cand<'a, V>>,
    pos: usize,
    /// False when the source has candidates after the last of `cands`.
    complete: bool,
    source: Source<'a, V>,
    /// The key of every candidate, for a run of one key.
    key: Option<Span>,
}

/// What a queue item stands for.
enum Kind<'a, V> {
    /// A subtree whose path, up to its own compressed prefix, is the
    /// item's key; `filter` (the start bucket only) narrows a bucket.
    Node(&'a Node<V>, &'a [u8]),
    /// The children of an inner node not yet opened (`taken` has a bit
    /// per child already queued); the item's key is the node's path and
    /// the label of the best child left, its score that child's bound.
    Children(&'a Inner<V>, Span, [u64; 4]),
    /// A big key's list subtree at `height`, positions from `base`; for a
    /// branch, `taken` has a bit per child already queued. Only values that
    /// rank after the last (score, position) the key's listed run gave are
    /// taken from it.
    List(&'a ListNode<V>, u32, usize, u64, (f64, u32)),
    /// The current candidate of run `i` (an answer).
    Run(usize),
    /// The big keys of a bucket opened from its ranked list that the list
    /// does not name; the item's key is the bucket's path.
    BucketRest(&'a Bucket<V>),
    /// A big key not yet opened (bounded by its best value).
    BigKey(&'a BigValues<V>),
    /// What run `i` has not selected yet, bounded by its last candidate.
    RunMore(usize),
    /// The inline pairs of a bucket whose ranked list names only big keys.
    BucketMore(&'a Bucket<V>),
    /// Entry `pos` of an inner node's remembered answer (an answer); the
    /// node and its path, to open it for what the answer does not hold.
    Cached(&'a Cached<V>, u32, &'a Node<V>, Span),
    /// An inner node to open part by part, not from its remembered answer
    /// (what lies past that answer, or the node whose answer is being
    /// computed); the item's key is its path.
    Open(&'a Inner<V>),
}

struct Item<'a, V> {
    score: f64,
    key: Span,
    /// 0 for a bound, 1 for an answer: a bound opens before an answer that
    /// ties with it on score and key.
    rank: u8,
    seq: u64,
    kind: Kind<'a, V>,
}

/// The search's state: a binary heap of items ordered by [`Search::before`].
struct Search<'a, V> {
    arena: Vec<u8>,
    heap: Vec<Item<'a, V>>,
    runs: Vec<Run<'a, V>>,
    /// Answers still wanted (an upper bound on what a run needs to select).
    want: usize,
    /// The pairs a remembered answer gave, when the search may open its
    /// node for more and nothing else (`dedupe`) would leave them out.
    given: Vec<(Span, &'a V)>,
}

impl<'a, V: Clone + Ord> Search<'a, V> {
    fn key(&self, s: Span) -> &[u8] {
        &self.arena[s.start as usize..(s.start + s.len) as usize]
    }

    /// A span holding `parts` one after the other.
    fn span(&mut self, parts: &[&[u8]]) -> Span {
        let start = self.arena.len();
        for p in parts {
            self.arena.extend_from_slice(p);
        }
        Span {
            start: start as u32,
            len: (self.arena.len() - start) as u32,
        }
    }

    /// A span extending `base` with `more`.
    fn extend(&mut self, base: Span, more: &[u8]) -> Span {
        let start = self.arena.len();
        self.arena
            .extend_from_within(base.start as usize..(base.start + base.len) as usize);
        self.arena.extend_from_slice(more);
        Span {
            start: start as u32,
            len: (self.arena.len() - start) as u32,
        }
    }

    fn before(&self, a: &Item<'a, V>, b: &Item<'a, V>) -> bool {
        b.score
            .total_cmp(&a.score)
            .then_with(|| self.key(a.key).cmp(self.key(b.key)))
            .then(a.rank.cmp(&b.rank))
            .then(a.seq.cmp(&b.seq))
            == Ordering::Less
    }

    fn push(&mut self, item: Item<'a, V>) {
        if item.score == f64::NEG_INFINITY {
            return; // an empty subtree (only the root can be one)
        }
        self.heap.push(item);
        let mut i = self.heap.len() - 1;
        while i > 0 {
            let parent = (i - 1) / 2;
            if !self.before(&self.heap[i], &self.heap[parent]) {
                break;
            }
            self.heap.swap(i, parent);
            i = parent;
        }
    }

    fn pop(&mut self) -> Option<Item<'a, V>> {
        if self.heap.is_empty() {
            return None;
        }
        let top = self.heap.swap_remove(0);
        let n = self.heap.len();
        let mut i = 0;
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut best = i;
            if l < n && self.before(&self.heap[l], &self.heap[best]) {
                best = l;
            }
            if r < n && self.before(&self.heap[r], &self.heap[best]) {
                best = r;
            }
            if best == i {
                break;
            }
            self.heap.swap(i, best);
            i = best;
        }
        Some(top)
    }
}

/// The best `limit` pairs under `prefix` by score (module docs).
pub(crate) fn top<V: Clone + Ord>(
    root: &Node<V>,
    prefix: &[u8],
    limit: usize,
    dedupe: bool,
) -> Suggestions<V> {
    let Some(start) = descend(root, prefix).filter(|_| limit > 0) else {
        return Suggestions::with_capacity(0);
    };
    if let (Node::Bucket(b), path, filter, max) = start {
        // Where the bucket's range starts, sought once for both paths.
        let at = b.lower_bound(filter);
        if let Some(tied) = tied_at_the_bound(root, prefix, limit, dedupe, (b, filter, at), max) {
            return tied;
        }
        // A prefix that ends inside a bucket: one range of it.
        if !filter.is_empty() && limit <= range::MOST {
            return range::top_in_range(b, (path, filter, at), limit, dedupe, max);
        }
    }
    let mut out = Suggestions::with_capacity(limit.min(64));
    let mut seen = Seen(BTreeSet::new());
    search(
        &[start],
        limit,
        dedupe,
        &mut seen,
        &|_| false,
        &mut out,
        true,
    );
    out
}

/// The answer in key order, when the first pair under the prefix in a
/// bucket scores the bucket's bound and the first `limit` pairs (each
/// value once with `dedupe`) all score exactly that: the top `limit` by
/// score.
///
/// Why it is exact: no pair scores above the bound, so the pairs at it
/// come first by score, among themselves by key, then in the order their
/// values were added, which is key order; if the first `limit` pairs in
/// key order are all at the bound, no pair at the bound lies before any
/// of them. With `dedupe`, a value's first pair in key order is at the
/// bound, so its best position is that pair. A search of equal scores
/// otherwise builds the same answer through its queue of bounds at about
/// twice the cost of the key-order walk. The hint (the range's first pair
/// scores the bound) reads the record and the score the search reads
/// first anyway. `at` is where the bucket's range under the prefix starts.
fn tied_at_the_bound<V: Clone + Ord>(
    root: &Node<V>,
    prefix: &[u8],
    limit: usize,
    dedupe: bool,
    (b, filter, at): (&Bucket<V>, &[u8], Pos),
    max: f64,
) -> Option<Suggestions<V>> {
    if at.byte >= b.records_end() {
        return None;
    }
    // The first pair in key order (a big key's first value is in the head
    // it keeps inline).
    let first = b.record(at);
    if !starts_with(b.suffix(&first), filter) || b.scores.get(first.value_start) != max {
        return None;
    }
    let out = if dedupe {
        super::options::by_key_distinct(root, prefix, limit)
    } else {
        super::options::by_key(root, prefix, limit)
    };
    let tied = out.iter_scored().all(|(_, _, s)| s == max);
    tied.then_some(out)
}

/// Appends to `out`, until it holds `limit` entries, the best pairs under
/// any of `starts` (prefixes none of which is a prefix of another) by
/// score, leaving out pairs whose key `skip` names and, with `dedupe`,
/// values `seen` holds (and adding those it appends).
///
/// A start that is a whole inner node answers from the node's remembered
/// best pairs (computed here when the node has none yet) while at most
/// [`CACHED`] answers are wanted.
pub(crate) fn top_from<'a, V: Clone + Ord>(
    root: &'a Node<V>,
    starts: &[&'a [u8]],
    limit: usize,
    dedupe: bool,
    seen: &mut Seen<'a, V>,
    skip: &dyn Fn(&[u8]) -> bool,
    out: &mut Suggestions<V>,
) {
    let found: Vec<Start<'a, V>> = starts
        .iter()
        .filter_map(|prefix| descend(root, prefix))
        .collect();
    search(&found, limit, dedupe, seen, skip, out, true);
}

/// The best pairs of a subtree, to remember in its node.
fn compute<V: Clone + Ord>(node: &Node<V>, path: &[u8]) -> Cached<V> {
    let mut best = Suggestions::with_capacity(CACHED);
    let mut seen = Seen(BTreeSet::new());
    search(
        &[(node, path, &[], node.max())],
        CACHED,
        false,
        &mut seen,
        &|_| false,
        &mut best,
        false,
    );
    let all = best.len() < CACHED;
    // Kept for the node's life: no room for more entries.
    best.shrink_to_fit();
    Cached { best, all }
}

/// Where a search starts: a node, its path, for a bucket the filter its
/// suffixes must start with, and the highest score under the node (read
/// from its parent's bounds on the way down, which are in cache, where
/// the node's own would cost a miss or two).
type Start<'a, V> = (&'a Node<V>, &'a [u8], &'a [u8], f64);

/// The search of [`top_from`] from nodes already found; `remembered`
/// lets a whole inner node answer from its [`TopCache`](super::cached::TopCache).
fn search<'a, V: Clone + Ord>(
    starts: &[Start<'a, V>],
    limit: usize,
    dedupe: bool,
    seen: &mut Seen<'a, V>,
    skip: &dyn Fn(&[u8]) -> bool,
    out: &mut Suggestions<V>,
    remembered: bool,
) {
    if out.len() >= limit {
        return;
    }
    let mut s = Search {
        arena: Vec::with_capacity(256),
        heap: Vec::with_capacity(64),
        runs: Vec::new(),
        want: limit - out.len(),
        given: Vec::new(),
    };
    let mut a = Answer {
        out,
        seen,
        skip,
        dedupe,
        limit,
    };
    for &(start, path, filter, bound) in starts {
        let span = s.span(&[path]);
        if let (Node::Inner(inner), true) = (start, remembered && s.want <= CACHED) {
            let c = inner.top.get_or_compute(|| compute(start, path));
            if starts.len() > 1 {
                s.push_cached(c, 0, start, span);
                continue;
            }
            // The one start: its remembered answer is the answer's first
            // part, read straight through without the queue.
            let mut keys = Vec::with_capacity(c.best.len());
            for (key, value, score) in c.best.iter_scored() {
                let key = s.span(&[key.as_bytes()]);
                if s.give(&mut a, key, value, score, false) {
                    return;
                }
                keys.push((key, value));
            }
            // Past it, the node itself (unless it was all of it), without
            // what it gave (noted once here: its entries are distinct, and
            // one that `skip` left out is left out again anyway).
            if !dedupe && !c.all {
                s.given = keys;
            }
            s.push_cached(c, c.best.len(), start, span);
            continue;
        }
        let kind = match start {
            Node::Inner(inner) => Kind::Open(inner),
            Node::Bucket(_) => Kind::Node(start, filter),
        };
        s.push(Item {
            score: bound,
            key: span,
            rank: 0,
            seq: 0,
            kind,
        });
    }
    while let Some(item) = s.pop() {
        match item.kind {
            Kind::Node(node, filter) => s.open_node(node, item.key, filter, item.score),
            Kind::Open(inner) => s.open_inner(inner, item.key),
            Kind::List(node, height, base, taken, after) => {
                s.open_list(node, (height, base, taken), after, item.key)
            }
            Kind::Children(inner, path, taken) => s.open_children(inner, path, item.key, taken),
            Kind::BucketRest(bucket) => s.open_bigs(bucket, item.key),
            Kind::BigKey(big) => s.open_big(big, item.key),
            Kind::RunMore(i) => s.run_more(i),
            Kind::BucketMore(bucket) => s.start_run(
                Source::Bucket {
                    bucket,
                    filter: &[],
                    path: item.key,
                    bigs_from: None,
                    max: None,
                },
                None,
            ),
            Kind::Cached(c, pos, node, path) => {
                let (_, value) = c.best.get(pos as usize).expect("a queued entry");
                if s.give(&mut a, item.key, value, item.score, !c.all) {
                    break;
                }
                s.push_cached(c, pos as usize + 1, node, path);
            }
            Kind::Run(i) => {
                let run = &mut s.runs[i];
                let c = run.cands[run.pos];
                run.pos += 1;
                if s.give(&mut a, item.key, c.value, c.score, false) {
                    break;
                }
                s.push_run(i);
            }
        }
    }
}

/// Where a search's answers go, and what leaves a pair out of them.
struct Answer<'s, 'a, V> {
    out: &'s mut Suggestions<V>,
    seen: &'s mut Seen<'a, V>,
    skip: &'s dyn Fn(&[u8]) -> bool,
    dedupe: bool,
    limit: usize,
}

/// The index and bound of the best entry of `bounds` that `taken` does not
/// mark: the highest, the first of equals.
fn best_left(bounds: &[f64], taken: impl Fn(usize) -> bool) -> Option<(usize, f64)> {
    let mut best: Option<(usize, f64)> = None;
    for (i, &b) in bounds.iter().enumerate() {
        if !taken(i) && best.is_none_or(|(_, m)| b > m) {
            best = Some((i, b));
        }
    }
    best
}

/// `a.starts_with(b)` without a `memcmp` call: most filters are a few
/// bytes, and a bucket scan checks every record.
#[inline]
fn starts_with(a: &[u8], b: &[u8]) -> bool {
    a.len() >= b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// The node under which every key starting with `prefix` lies, the path
/// to it (up to its own compressed prefix), and, when it is a bucket, the
/// rest of `prefix` its suffixes must start with.
fn descend<'a, V>(root: &'a Node<V>, prefix: &'a [u8]) -> Option<Start<'a, V>> {
    let mut node = root;
    let mut rest = prefix;
    // The bound of `node`, as its parent keeps it (the root's is its own).
    let mut bound = None;
    loop {
        let path = &prefix[..prefix.len() - rest.len()];
        let max = |n: &Node<V>| bound.unwrap_or_else(|| n.max());
        match node {
            Node::Bucket(_) => return Some((node, path, rest, max(node))),
            Node::Inner(inner) => {
                if rest.len() <= inner.prefix.len() {
                    return inner
                        .prefix
                        .starts_with(rest)
                        .then(|| (node, path, &[][..], max(node)));
                }
                let tail = rest.strip_prefix(&*inner.prefix)?;
                let (first, tail) = tail.split_first().expect("longer than the prefix");
                let i = inner.find(*first).ok()?;
                node = &inner.children[i];
                bound = Some(inner.child_max[i]);
                rest = tail;
            }
        }
    }
}
