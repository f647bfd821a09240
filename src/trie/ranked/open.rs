//! How the search opens what it pops: a remembered answer, an inner
//! node's children, a bucket's ranked list or its range under the prefix,
//! a big key's listed values and its list; and the runs of candidates
//! those give, selected a few at a time (the module docs of
//! [`ranked`](super) say why).

use std::cmp::Ordering;

use super::{
    best_left, cand_order, starts_with, Answer, Cand, Item, Kind, Run, Search, Source, Span,
};
use crate::trie::big::{BigValues, ListNode};
use crate::trie::bucket::{Bucket, TopEntry, TOP};
use crate::trie::cached::{Cached, CACHED};
use crate::trie::node::{Inner, Node};
use crate::trie::prefetch::prefetch;
use crate::trie::values::Vals;

/// What [`Search::select`] found.
pub(super) struct Selected<'a, V> {
    cands: Vec<Cand<'a, V>>,
    complete: bool,
    /// Big keys met past the source's frontier: (index, record byte).
    bigs: Vec<(usize, usize)>,
    /// The byte where a bucket scan stopped.
    reached: usize,
}

impl<'a, V: Clone + Ord> Search<'a, V> {
    /// Queues entry `pos` of a remembered answer; past its last one, the
    /// node itself, bounded by that entry, unless the answer was all of it.
    pub(super) fn push_cached(
        &mut self,
        c: &'a Cached<V>,
        pos: usize,
        node: &'a Node<V>,
        path: Span,
    ) {
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

    /// Gives the pair (`key`, `value`) that came up in ranked order, unless
    /// `skip`, `dedupe` or a remembered answer that gave it already leaves
    /// it out; `note` keeps it for that check, for a pair from a
    /// remembered answer that the search may open its node past. Returns
    /// true when the answer is full.
    pub(super) fn give(
        &mut self,
        a: &mut Answer<'_, 'a, V>,
        key: Span,
        value: &'a V,
        score: f64,
        note: bool,
    ) -> bool {
        let k = self.key(key);
        let given = self
            .given
            .iter()
            .any(|&(g, v)| v == value && self.key(g) == k);
        if (a.skip)(k) || (a.dedupe && !a.seen.first(value)) || given {
            return false;
        }
        a.out.push(k, value.clone(), score);
        if a.out.len() >= a.limit {
            return true;
        }
        self.want = a.limit - a.out.len();
        if note && !a.dedupe {
            self.given.push((key, value));
        }
        false
    }

    /// Opens a subtree: pushes its parts. An inner node that remembers an answer gives it while at most
    /// [`CACHED`] answers are wanted, so a search from a node on the path
    /// of a write (which forgot its own) reads its unchanged children's.
    /// A node without one is opened part by part: only a search that
    /// starts at a node computes its answer, so a search never pays for
    /// answers below it that it does not need.
    pub(super) fn open_node(
        &mut self,
        node: &'a Node<V>,
        path: Span,
        filter: &'a [u8],
        bound: f64,
    ) {
        match node {
            Node::Inner(inner) => match inner.top.get() {
                Some(c) if self.want <= CACHED => self.push_cached(c, 0, node, path),
                _ => self.open_inner(inner, path),
            },
            Node::Bucket(bucket) => self.open_bucket(bucket, path, filter, bound),
        }
    }

    pub(super) fn open_inner(&mut self, inner: &'a Inner<V>, path: Span) {
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
    pub(super) fn push_children(&mut self, inner: &'a Inner<V>, path: Span, taken: [u64; 4]) {
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
    pub(super) fn open_children(
        &mut self,
        inner: &'a Inner<V>,
        path: Span,
        key: Span,
        mut taken: [u64; 4],
    ) {
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
    pub(super) fn queue_big(&mut self, big: &'a BigValues<V>, key: Span) {
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
    pub(super) fn open_big(&mut self, big: &'a BigValues<V>, key: Span) {
        let (cands, complete, taken) = self.listed(big, 0);
        self.add_run(cands, complete, Source::Big(big, taken), Some(key));
    }

    /// The listed values of `big` from the `from`-th on, as candidates, as
    /// many as the answer still wants. Returns them, whether they are the
    /// key's last, and how many are listed up to them.
    pub(super) fn listed(
        &self,
        big: &'a BigValues<V>,
        from: usize,
    ) -> (Vec<Cand<'a, V>>, bool, usize) {
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
    pub(super) fn open_big_rest(&mut self, big: &'a BigValues<V>, key: Span, after: Cand<'a, V>) {
        let (root, height) = big.list_root();
        self.push(Item {
            score: big.max(),
            key,
            rank: 0,
            seq: 0,
            kind: Kind::List(root, height, 0, 0, (after.score, after.seq)),
        });
    }

    pub(super) fn open_list(
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
                let sel = self.select(&source, Some(after));
                self.add_run(sel.cands, sel.complete, source, Some(key));
            }
            ListNode::Branch { children, max, .. } => {
                // The best child left opens; the branch goes back in the
                // queue bounded by the next best (two items, not one per
                // child). On a tie the lower position goes first, and the
                // branch's item carries the next child's first position.
                let span = crate::trie::big::span(height);
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
    /// `bound` is the bucket's highest score, as its parent keeps it.
    pub(super) fn open_bucket(
        &mut self,
        bucket: &'a Bucket<V>,
        path: Span,
        filter: &'a [u8],
        bound: f64,
    ) {
        if !filter.is_empty() {
            // One scan of the range finds its big keys and selects its
            // other pairs, and stops as soon as nothing later can enter.
            let source = Source::Bucket {
                bucket,
                filter,
                path,
                bigs_from: Some(0),
                max: Some(bound),
            };
            self.start_run(source, None);
            return;
        }
        let source = Source::Bucket {
            bucket,
            filter,
            path,
            bigs_from: None,
            max: Some(bound),
        };
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

    /// Opens the big keys of a whole `bucket` that its ranked list (opened
    /// already) does not name.
    pub(super) fn open_bigs(&mut self, bucket: &'a Bucket<V>, path: Span) {
        if bucket.big.is_empty() {
            return;
        }
        let mut at = bucket.lower_bound(&[]);
        while at.byte < bucket.records_end() {
            let r = bucket.record(at);
            at = r.next();
            if let Some(b) = r.big {
                let slot = b as u32 | TopEntry::BIG;
                if bucket.top().any(|e| e.slot == slot) {
                    continue;
                }
                let key = self.extend(path, bucket.suffix(&r));
                self.queue_big(&bucket.big[b], key);
            }
        }
    }

    /// Selects the best candidates of `source` after `after` (all when
    /// `None`): at most `want`, sorted. Returns them, whether that is all
    /// there are, and, for a bucket scan that finds big keys, those it met
    /// (each as its index and record) and the byte where it stopped.
    pub(super) fn select(
        &self,
        source: &Source<'a, V>,
        after: Option<Cand<'a, V>>,
    ) -> Selected<'a, V> {
        let mut cands = Vec::new();
        let mut bigs = Vec::new();
        let mut reached = 0;
        let keep = |c: &Cand<'a, V>| after.is_none_or(|a| cand_order(c, &a) == Ordering::Greater);
        let keep = &keep;
        let want = self.want.max(1);
        // Whether the scan stopped before the end of its range.
        let mut stopped = false;
        match source {
            Source::Bucket {
                bucket,
                filter,
                bigs_from,
                max,
                ..
            } => {
                // The lowest score among the first `want` candidates: the
                // best `want` are at least that good. Once it reaches the
                // bucket's maximum, every later pair (a later key, or a big
                // key's values) scores no higher and loses the tie on key,
                // so none can enter: the scan stops there. With equal
                // scores, that is after `want` pairs, as in key order.
                let mut first_min = f64::INFINITY;
                let mut max = *max;
                let mut at = bucket.lower_bound(filter);
                while at.byte < bucket.records_end() {
                    let r = bucket.record(at);
                    if !starts_with(bucket.suffix(&r), filter) {
                        break;
                    }
                    if cands.len() >= want && first_min >= *max.get_or_insert_with(|| bucket.max())
                    {
                        stopped = true;
                        break;
                    }
                    let here = at.byte;
                    at = r.next();
                    if let Some(b) = r.big {
                        if bigs_from.is_some_and(|from| here >= from) {
                            bigs.push((b, here));
                        }
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
                            if cands.len() < want {
                                first_min = first_min.min(c.score);
                            }
                            cands.push(c);
                        }
                    }
                }
                reached = at.byte;
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
        let complete = !stopped && cands.len() <= want;
        if cands.len() > want {
            cands.select_nth_unstable_by(want - 1, cand_order);
            cands.truncate(want);
        }
        cands.sort_unstable_by(cand_order);
        Selected {
            cands,
            complete,
            bigs,
            reached,
        }
    }

    /// Queues the big keys a scan of `source` met and moves the source's
    /// frontier to where the scan stopped (a bucket scan that finds big
    /// keys; nothing otherwise).
    fn queue_met(&mut self, source: &mut Source<'a, V>, bigs: Vec<(usize, usize)>, reached: usize) {
        if let Source::Bucket {
            bigs_from: Some(from),
            ..
        } = source
        {
            *from = (*from).max(reached);
        }
        if bigs.is_empty() {
            return;
        }
        if let Source::Bucket { bucket, path, .. } = *source {
            for (b, rec) in bigs {
                let key = self.extend(path, bucket.suffix_at(rec));
                self.queue_big(&bucket.big[b], key);
            }
        }
    }

    pub(super) fn start_run(&mut self, mut source: Source<'a, V>, key: Option<Span>) {
        let sel = self.select(&source, None);
        self.queue_met(&mut source, sel.bigs, sel.reached);
        self.add_run(sel.cands, sel.complete, source, key);
    }

    pub(super) fn add_run(
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
            let mut source = source;
            let sel = self.select(&source, None);
            self.queue_met(&mut source, sel.bigs, sel.reached);
            if !sel.cands.is_empty() {
                self.add_run(sel.cands, sel.complete, source, key);
            }
            return;
        }
        prefetch_values(&cands);
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
    pub(super) fn push_run(&mut self, i: usize) {
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
    pub(super) fn run_more(&mut self, i: usize) {
        let run = &self.runs[i];
        let last = run.cands[run.pos - 1];
        if let Source::Big(big, taken) = run.source {
            let key = run.key.expect("a big key's run has its key");
            if taken < big.top().len() {
                let (cands, complete, taken) = self.listed(big, taken);
                self.runs[i].source = Source::Big(big, taken);
                self.refill(i, cands, complete);
                return;
            }
            self.runs[i].complete = true;
            self.open_big_rest(big, key, last);
            return;
        }
        let sel = self.select(&self.runs[i].source, Some(last));
        // A source is a few references: copied out while the queue grows.
        let mut source = self.runs[i].source;
        self.queue_met(&mut source, sel.bigs, sel.reached);
        self.runs[i].source = source;
        self.refill(i, sel.cands, sel.complete);
    }

    /// Gives run `i` the next candidates its source selected, and queues
    /// the first of them.
    fn refill(&mut self, i: usize, cands: Vec<Cand<'a, V>>, complete: bool) {
        prefetch_values(&cands);
        let run = &mut self.runs[i];
        (run.cands, run.pos, run.complete) = (cands, 0, complete);
        if !run.cands.is_empty() {
            self.push_run(i);
        }
    }
}

/// Starts loading the candidates' values. An answer's value is read when
/// it comes out, often long after its record was scanned, and a bucket's
/// values lie apart from its records: the loads go side by side now rather
/// than one cache miss per answer at the end.
fn prefetch_values<V>(cands: &[Cand<'_, V>]) {
    for c in cands {
        prefetch(c.value);
    }
}
