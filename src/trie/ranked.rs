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
//! A search that starts at an inner node (or opens one on the way) reads
//! the node's remembered best pairs when it has them
//! ([`cached`](super::cached)), and opens the node part by part only past
//! them.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use super::big::{BigValues, ListNode};
use super::bucket::{Bucket, TopEntry, TOP};
use super::cached::{Cached, CACHED};
use super::iter::Suggestions;
use super::node::{Inner, Node};
use super::options::Seen;
use super::prefetch::prefetch;
use super::scores::ScoreSlice;
use super::values::Vals;

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
    /// with `filter`; the bucket's path is `path`.
    Bucket {
        bucket: &'a Bucket<V>,
        filter: &'a [u8],
        path: Span,
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

    /// Queues entry `pos` of a remembered answer; past its last one, the
    /// node itself, bounded by that entry, unless the answer was all of it.
    fn push_cached(&mut self, c: &'a Cached<V>, pos: usize, node: &'a Node<V>, path: Span) {
        if let Some((key, _)) = c.best.get(pos) {
            let score = c.best.score(pos).expect("in step with the entries");
            let key = self.span(&[key.as_bytes()]);
            self.push(Item {
                score,
                key,
                rank: 1,
                seq: pos as u64,
                kind: Kind::Cached(c, pos as u32, node, path),
            });
        } else if !c.all && pos > 0 {
            // What the node holds past its best `CACHED` ranks after the
            // last of them: that entry's score bounds it, and its keys
            // start with the node's path.
            let score = c.best.score(pos - 1).expect("pos - 1 is an entry");
            let Node::Inner(inner) = node else {
                unreachable!("only inner nodes remember answers")
            };
            self.push(Item {
                score,
                key: path,
                rank: 0,
                seq: 0,
                kind: Kind::Open(inner),
            });
        }
    }

    /// True when a remembered answer already gave the pair.
    fn given(&self, key: &[u8], value: &V) -> bool {
        self.given
            .iter()
            .any(|&(k, v)| v == value && self.key(k) == key)
    }

    /// Opens a subtree: pushes its parts.
    /// An inner node that remembers an answer gives it while at most
    /// [`CACHED`] answers are wanted, so a search from a node on the path
    /// of a write (which forgot its own) reads its unchanged children's.
    /// A node without one is opened part by part: only a search that
    /// starts at a node computes its answer, so a search never pays for
    /// answers below it that it does not need.
    fn open_node(&mut self, node: &'a Node<V>, path: Span, filter: &'a [u8]) {
        match node {
            Node::Inner(inner) => match inner.top.get() {
                Some(c) if self.want <= CACHED => self.push_cached(c, 0, node, path),
                _ => self.open_inner(inner, path),
            },
            Node::Bucket(bucket) => self.open_bucket(bucket, path, filter),
        }
    }

    fn open_inner(&mut self, inner: &'a Inner<V>, path: Span) {
        let path = self.extend(path, &inner.prefix);
        match &inner.values {
            Vals::Inline(vals, scores) if !vals.is_empty() => {
                let source = Source::Inline {
                    vals,
                    scores: scores.slice(),
                };
                self.start_run(source, Some(path));
            }
            Vals::Big(big) => self.queue_big(big, path),
            Vals::Inline(..) => {}
        }
        self.push_children(inner, path, [0; 4]);
    }

    /// Queues the best child of `inner` not in `taken` as the node's
    /// `Children` item: one item per node, not one per child, so that a
    /// node with many children costs a scan of their bounds, not a queue
    /// entry each.
    fn push_children(&mut self, inner: &'a Inner<V>, path: Span, taken: [u64; 4]) {
        let Some((i, max)) = best_left(&inner.child_max, |i| taken[i / 64] >> (i % 64) & 1 == 1)
        else {
            return;
        };
        let key = self.extend(path, &[inner.label_at(i)]);
        self.push(Item {
            score: max,
            key,
            rank: 0,
            seq: 0,
            kind: Kind::Children(inner, path, taken),
        });
    }

    /// Opens the best child left of a `Children` item, and queues the rest.
    fn open_children(&mut self, inner: &'a Inner<V>, path: Span, key: Span, mut taken: [u64; 4]) {
        let (i, max) = best_left(&inner.child_max, |i| taken[i / 64] >> (i % 64) & 1 == 1)
            .expect("a child left");
        taken[i / 64] |= 1 << (i % 64);
        self.push(Item {
            score: max,
            key,
            rank: 0,
            seq: 0,
            kind: Kind::Node(&inner.children[i], &[]),
        });
        self.push_children(inner, path, taken);
    }

    /// Queues a big key, bounded by its best value, to open when it comes
    /// up: a bucket of common names holds many big keys, and most of them
    /// never reach the answer.
    fn queue_big(&mut self, big: &'a BigValues<V>, key: Span) {
        self.push(Item {
            score: big.max(),
            key,
            rank: 0,
            seq: 0,
            kind: Kind::BigKey(big),
        });
    }

    /// Opens a big key: its listed best values become a run; past them
    /// (an answer that takes more from this one key), its list is searched
    /// by its subtrees' bounds for what ranks after the last listed one.
    fn open_big(&mut self, big: &'a BigValues<V>, key: Span) {
        let (cands, complete, taken) = self.listed(big, 0);
        self.add_run(cands, complete, Source::Big(big, taken), Some(key));
    }

    /// The listed values of `big` from the `from`-th on, as candidates, as
    /// many as the answer still wants. Returns them, whether they are the
    /// key's last, and how many are listed up to them.
    fn listed(&self, big: &'a BigValues<V>, from: usize) -> (Vec<Cand<'a, V>>, bool, usize) {
        let n = self.want.max(1);
        let end = (from + n).min(big.top().len());
        let cands: Vec<Cand<'a, V>> = big.top()[from..end]
            .iter()
            .map(|&p| {
                let (value, score) = big.at_scored(p);
                Cand {
                    score,
                    rec: 0,
                    seq: p,
                    value,
                }
            })
            .collect();
        let complete = big.top_is_all() && end == big.top().len();
        (cands, complete, end)
    }

    /// Queues the list of `big` for what ranks after `after`.
    fn open_big_rest(&mut self, big: &'a BigValues<V>, key: Span, after: Cand<'a, V>) {
        let (root, height) = big.list_root();
        self.push(Item {
            score: big.max(),
            key,
            rank: 0,
            seq: 0,
            kind: Kind::List(root, height, 0, 0, (after.score, after.seq)),
        });
    }

    fn open_list(
        &mut self,
        node: &'a ListNode<V>,
        (height, base, taken): (u32, usize, u64),
        after: (f64, u32),
        key: Span,
    ) {
        match node {
            ListNode::Leaf { vals, scores, dead } => {
                let source = Source::Leaf {
                    vals,
                    scores: scores.slice(),
                    dead: *dead,
                    base,
                };
                let after = Cand {
                    score: after.0,
                    rec: 0,
                    seq: after.1,
                    value: &vals[0],
                };
                let (cands, complete) = self.select(&source, Some(after));
                self.add_run(cands, complete, source, Some(key));
            }
            ListNode::Branch { children, max, .. } => {
                // The best child left opens; the branch goes back in the
                // queue bounded by the next best (two items, not one per
                // child). On a tie the lower position goes first, and the
                // branch's item carries the next child's first position.
                let span = super::big::span(height);
                let Some((i, m)) = best_left(max, |i| taken >> i & 1 == 1) else {
                    return;
                };
                self.push(Item {
                    score: m,
                    key,
                    rank: 0,
                    seq: (base + i * span) as u64,
                    kind: Kind::List(&children[i], height - 1, base + i * span, 0, after),
                });
                let taken = taken | 1 << i;
                if let Some((j, m)) = best_left(max, |i| taken >> i & 1 == 1) {
                    self.push(Item {
                        score: m,
                        key,
                        rank: 0,
                        seq: (base + j * span) as u64,
                        kind: Kind::List(node, height, base, taken, after),
                    });
                }
            }
        }
    }

    /// Opens a bucket: its big keys become bounds, its other pairs a run.
    /// A whole bucket starts from its ranked list (no scan); a bucket
    /// narrowed by the rest of the prefix is scanned over that range.
    fn open_bucket(&mut self, bucket: &'a Bucket<V>, path: Span, filter: &'a [u8]) {
        let source = Source::Bucket {
            bucket,
            filter,
            path,
        };
        if !filter.is_empty() {
            self.open_bigs(bucket, path, filter, false);
            self.start_run(source, None);
            return;
        }
        let mut cands = Vec::with_capacity(TOP);
        let mut listed = 0;
        for e in bucket.top() {
            listed += 1;
            if e.slot & TopEntry::BIG != 0 {
                let key = self.extend(path, bucket.suffix_at(e.rec as usize));
                self.queue_big(&bucket.big[(e.slot & !TopEntry::BIG) as usize], key);
            } else {
                cands.push(Cand {
                    score: bucket.scores.get(e.slot as usize),
                    rec: e.rec,
                    seq: e.slot,
                    value: &bucket.values[e.slot as usize],
                });
            }
        }
        if bucket.rest_max() > f64::NEG_INFINITY {
            self.push(Item {
                score: bucket.rest_max(),
                key: path,
                rank: 0,
                seq: 0,
                kind: Kind::BucketRest(bucket),
            });
        }
        // The listed pairs are the bucket's best inline ones; whatever
        // ranks after the last of them is selected when they run out (or,
        // when the list names only big keys, when the last listed bound
        // comes up).
        let complete = listed < TOP;
        if cands.is_empty() {
            if !complete {
                let last = bucket.top().last().expect("a full list");
                self.push(Item {
                    score: bucket.bound(last),
                    key: path,
                    rank: 0,
                    seq: 0,
                    kind: Kind::BucketMore(bucket),
                });
            }
            return;
        }
        self.add_run(cands, complete, source, None);
    }

    /// Opens the big keys of `bucket` under `filter` that `skip` (a ranked
    /// list already opened) does not name.
    fn open_bigs(&mut self, bucket: &'a Bucket<V>, path: Span, filter: &'a [u8], listed: bool) {
        if bucket.big.is_empty() {
            return;
        }
        let mut at = bucket.lower_bound(filter);
        while at.byte < bucket.records_end() {
            let r = bucket.record(at);
            let suffix = bucket.suffix(&r);
            if !starts_with(suffix, filter) {
                break;
            }
            at = r.next();
            if let Some(b) = r.big {
                let slot = b as u32 | TopEntry::BIG;
                if listed && bucket.top().any(|e| e.slot == slot) {
                    continue;
                }
                let key = self.extend(path, suffix);
                self.queue_big(&bucket.big[b], key);
            }
        }
    }

    /// Selects the best candidates of `source` after `after` (all when
    /// `None`): at most `want`, sorted. Returns them and whether that is
    /// all there are.
    fn select(
        &self,
        source: &Source<'a, V>,
        after: Option<Cand<'a, V>>,
    ) -> (Vec<Cand<'a, V>>, bool) {
        let mut cands = Vec::new();
        let keep = |c: &Cand<'a, V>| after.is_none_or(|a| cand_order(c, &a) == Ordering::Greater);
        let keep = &keep;
        match source {
            Source::Bucket { bucket, filter, .. } => {
                let mut at = bucket.lower_bound(filter);
                while at.byte < bucket.records_end() {
                    let r = bucket.record(at);
                    if !starts_with(bucket.suffix(&r), filter) {
                        break;
                    }
                    at = r.next();
                    if r.big.is_some() {
                        continue;
                    }
                    let scores = bucket.scores.range(r.value_start..r.value_end());
                    for (i, v) in bucket.inline_of(&r).iter().enumerate() {
                        // The slot, not the index within the key: the same
                        // order within a key, and what a ranked list names.
                        let c = Cand {
                            score: scores.get(i),
                            rec: r.start as u32,
                            seq: (r.value_start + i) as u32,
                            value: v,
                        };
                        if keep(&c) {
                            cands.push(c);
                        }
                    }
                }
            }
            Source::Leaf {
                vals,
                scores,
                dead,
                base,
            } => {
                for (i, v) in vals.iter().enumerate() {
                    if (dead >> i) & 1 == 0 {
                        let c = Cand {
                            score: scores.get(i),
                            rec: 0,
                            seq: (base + i) as u32,
                            value: v,
                        };
                        if keep(&c) {
                            cands.push(c);
                        }
                    }
                }
            }
            Source::Big(..) => unreachable!("a big key past its list is searched by its bounds"),
            Source::Inline { vals, scores } => {
                for (i, v) in vals.iter().enumerate() {
                    let c = Cand {
                        score: scores.get(i),
                        rec: 0,
                        seq: i as u32,
                        value: v,
                    };
                    if keep(&c) {
                        cands.push(c);
                    }
                }
            }
        }
        let want = self.want.max(1);
        let complete = cands.len() <= want;
        if !complete {
            cands.select_nth_unstable_by(want - 1, cand_order);
            cands.truncate(want);
        }
        cands.sort_unstable_by(cand_order);
        (cands, complete)
    }

    fn start_run(&mut self, source: Source<'a, V>, key: Option<Span>) {
        let (cands, complete) = self.select(&source, None);
        self.add_run(cands, complete, source, key);
    }

    fn add_run(
        &mut self,
        cands: Vec<Cand<'a, V>>,
        complete: bool,
        source: Source<'a, V>,
        key: Option<Span>,
    ) {
        if cands.is_empty() && complete {
            return;
        }
        if cands.is_empty() {
            // Nothing listed (the list holds only big keys): select now.
            let (cands, complete) = self.select(&source, None);
            if !cands.is_empty() {
                self.add_run(cands, complete, source, key);
            }
            return;
        }
        // An answer's value is read when it comes out, often long after
        // its record was scanned, and a bucket's values lie apart from its
        // records: start the loads now, side by side, rather than one
        // cache miss per answer at the end.
        for c in &cands {
            prefetch(c.value);
        }
        self.runs.push(Run {
            cands,
            pos: 0,
            complete,
            source,
            key,
        });
        self.push_run(self.runs.len() - 1);
    }

    /// Queues run `i`'s current candidate, selecting more when it has used
    /// up what it selected.
    fn push_run(&mut self, i: usize) {
        let run = &self.runs[i];
        if run.pos == run.cands.len() {
            if run.complete {
                return;
            }
            // What the run has not selected ranks after its last candidate:
            // queue that as a bound, and select only if it comes up.
            let last = run.cands[run.pos - 1];
            let key = match (run.key, &run.source) {
                (Some(k), _) => k,
                (None, Source::Bucket { path, .. }) => *path,
                (None, _) => unreachable!("only a bucket run has keys of its own"),
            };
            self.push(Item {
                score: last.score,
                key,
                rank: 0,
                seq: u64::from(last.seq),
                kind: Kind::RunMore(i),
            });
            return;
        }
        let c = run.cands[run.pos];
        let key = match (run.key, &run.source) {
            (Some(k), _) => k,
            (None, Source::Bucket { bucket, path, .. }) => {
                let (bucket, path) = (*bucket, *path);
                self.extend(path, bucket.suffix_at(c.rec as usize))
            }
            (None, _) => unreachable!("only a bucket run has keys of its own"),
        };
        self.push(Item {
            score: c.score,
            key,
            rank: 1,
            seq: u64::from(c.seq),
            kind: Kind::Run(i),
        });
    }

    /// Selects what run `i` had not selected (it came up as a bound).
    fn run_more(&mut self, i: usize) {
        let run = &self.runs[i];
        let last = run.cands[run.pos - 1];
        if let Source::Big(big, taken) = run.source {
            let key = run.key.expect("a big key's run has its key");
            if taken < big.top().len() {
                let (cands, complete, taken) = self.listed(big, taken);
                for c in &cands {
                    prefetch(c.value);
                }
                let run = &mut self.runs[i];
                (run.cands, run.pos, run.complete) = (cands, 0, complete);
                run.source = Source::Big(big, taken);
                self.push_run(i);
                return;
            }
            self.runs[i].complete = true;
            self.open_big_rest(big, key, last);
            return;
        }
        let (cands, complete) = self.select(&self.runs[i].source, Some(last));
        let run = &mut self.runs[i];
        (run.cands, run.pos, run.complete) = (cands, 0, complete);
        if !run.cands.is_empty() {
            self.push_run(i);
        }
    }
}

/// The best `limit` pairs under `prefix` by score (module docs).
pub(crate) fn top<V: Clone + Ord>(
    root: &Node<V>,
    prefix: &[u8],
    limit: usize,
    dedupe: bool,
) -> Suggestions<V> {
    let mut out = Suggestions::with_capacity(limit.min(64));
    let mut seen = Seen(BTreeSet::new());
    top_from(
        root,
        &[prefix],
        limit,
        dedupe,
        &mut seen,
        &|_| false,
        &mut out,
    );
    out
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
        &[(node, path, &[])],
        CACHED,
        false,
        &mut seen,
        &|_| false,
        &mut best,
        false,
    );
    let all = best.len() < CACHED;
    Cached { best, all }
}

/// Where a search starts: a node, its path and, for a bucket, the filter
/// its suffixes must start with.
type Start<'a, V> = (&'a Node<V>, &'a [u8], &'a [u8]);

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
    for &(start, path, filter) in starts {
        let span = s.span(&[path]);
        if let (Node::Inner(inner), true) = (start, remembered && s.want <= CACHED) {
            let c = inner.top.get_or_compute(|| compute(start, path));
            if starts.len() > 1 {
                s.push_cached(c, 0, start, span);
                continue;
            }
            // The one start: its remembered answer is the answer's first
            // part, read straight through without the queue.
            for (key, value, score) in c.best.iter_scored() {
                if skip(key.as_bytes()) || (dedupe && !seen.first(value)) {
                    continue;
                }
                out.push_str(key, value.clone(), score);
                if out.len() >= limit {
                    return;
                }
                if !dedupe && !c.all {
                    let key = s.span(&[key.as_bytes()]);
                    s.given.push((key, value));
                }
                s.want = limit - out.len();
            }
            // Past it, the node itself (unless it was all of it).
            s.push_cached(c, c.best.len(), start, span);
            continue;
        }
        let kind = match start {
            Node::Inner(inner) => Kind::Open(inner),
            Node::Bucket(_) => Kind::Node(start, filter),
        };
        s.push(Item {
            score: start.max(),
            key: span,
            rank: 0,
            seq: 0,
            kind,
        });
    }
    while let Some(item) = s.pop() {
        match item.kind {
            Kind::Node(node, filter) => s.open_node(node, item.key, filter),
            Kind::Open(inner) => s.open_inner(inner, item.key),
            Kind::List(node, height, base, taken, after) => {
                s.open_list(node, (height, base, taken), after, item.key)
            }
            Kind::Children(inner, path, taken) => s.open_children(inner, path, item.key, taken),
            Kind::BucketRest(bucket) => s.open_bigs(bucket, item.key, &[], true),
            Kind::BigKey(big) => s.open_big(big, item.key),
            Kind::RunMore(i) => s.run_more(i),
            Kind::BucketMore(bucket) => s.start_run(
                Source::Bucket {
                    bucket,
                    filter: &[],
                    path: item.key,
                },
                None,
            ),
            Kind::Cached(c, pos, node, path) => {
                let (_, value) = c.best.get(pos as usize).expect("a queued entry");
                let key = s.key(item.key);
                if !skip(key)
                    && (!dedupe || seen.first(value))
                    && (s.given.is_empty() || !s.given(key, value))
                {
                    out.push(key, value.clone(), item.score);
                    if out.len() >= limit {
                        break;
                    }
                    s.want = limit - out.len();
                    if !dedupe && !c.all {
                        s.given.push((item.key, value));
                    }
                }
                s.push_cached(c, pos as usize + 1, node, path);
            }
            Kind::Run(i) => {
                let run = &mut s.runs[i];
                let c = run.cands[run.pos];
                run.pos += 1;
                let key = s.key(item.key);
                if !skip(key)
                    && (!dedupe || seen.first(c.value))
                    && (s.given.is_empty() || !s.given(key, c.value))
                {
                    out.push(key, c.value.clone(), c.score);
                    if out.len() >= limit {
                        break;
                    }
                    s.want = limit - out.len();
                }
                s.push_run(i);
            }
        }
    }
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
    loop {
        let path = &prefix[..prefix.len() - rest.len()];
        match node {
            Node::Bucket(_) => return Some((node, path, rest)),
            Node::Inner(inner) => {
                if rest.len() <= inner.prefix.len() {
                    return inner
                        .prefix
                        .starts_with(rest)
                        .then_some((node, path, &[][..]));
                }
                let tail = rest.strip_prefix(&*inner.prefix)?;
                let (first, tail) = tail.split_first().expect("longer than the prefix");
                let i = inner.find(*first).ok()?;
                node = &inner.children[i];
                rest = tail;
            }
        }
    }
}
