//! The runs of the search: candidates of one source selected a few at a
//! time ([`Search::select`], a bucket's range scanned once with its big keys
//! and stopped as soon as nothing later can enter), queued one by one, and
//! selected again past the last one taken when a run is used up (the module
//! docs of [`ranked`](super) say why).

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::{cand_order, starts_with, Cand, Item, Kind, Run, Search, Source, Span};
use crate::trie::prefetch::prefetch;

/// What [`Search::select`] found.
pub(super) struct Selected<'a, V> {
    pub(super) cands: Vec<Cand<'a, V>>,
    pub(super) complete: bool,
    /// Big keys met past the source's frontier: (index, record byte).
    bigs: Vec<(usize, usize)>,
    /// The byte where a bucket scan stopped.
    reached: usize,
}

/// A candidate ordered by [`cand_order`]: the greatest is the worst.
struct Worst<'a, V>(Cand<'a, V>);

impl<V> PartialEq for Worst<'_, V> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl<V> Eq for Worst<'_, V> {}

impl<V> PartialOrd for Worst<'_, V> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<V> Ord for Worst<'_, V> {
    fn cmp(&self, other: &Self) -> Ordering {
        cand_order(&self.0, &other.0)
    }
}

/// The best `want` candidates offered so far: a heap whose top is the
/// worst of them, so that a candidate that cannot enter costs one
/// comparison. A bucket range under a short prefix offers thousands of
/// pairs for ten places; pushing them all, then selecting, took most of a
/// 15 µs query ("gil", 148 keys, in the 1M-user mix).
struct Best<'a, V> {
    heap: BinaryHeap<Worst<'a, V>>,
    want: usize,
    /// Candidates offered, kept or not.
    offered: usize,
}

impl<'a, V> Best<'a, V> {
    fn new(want: usize) -> Self {
        Best {
            heap: BinaryHeap::with_capacity(want.min(64)),
            want,
            offered: 0,
        }
    }

    fn offer(&mut self, c: Cand<'a, V>) {
        self.offered += 1;
        if self.heap.len() < self.want {
            self.heap.push(Worst(c));
        } else if let Some(mut worst) = self.heap.peek_mut() {
            if cand_order(&c, &worst.0) == Ordering::Less {
                *worst = Worst(c);
            }
        }
    }

    /// The kept candidates, best first.
    fn into_sorted(self) -> Vec<Cand<'a, V>> {
        let mut out: Vec<Cand<'a, V>> = self.heap.into_iter().map(|w| w.0).collect();
        out.sort_unstable_by(cand_order);
        out
    }
}

impl<'a, V: Clone + Ord> Search<'a, V> {
    /// Selects the best candidates of `source` after `after` (all when
    /// `None`): at most `want`, sorted. Returns them, whether that is all
    /// there are, and, for a bucket scan that finds big keys, those it met
    /// (each as its index and record) and the byte where it stopped.
    pub(super) fn select(
        &self,
        source: &Source<'a, V>,
        after: Option<Cand<'a, V>>,
    ) -> Selected<'a, V> {
        let want = self.want.max(1);
        let mut best = Best::new(want);
        let mut bigs = Vec::new();
        let mut reached = 0;
        let keep = |c: &Cand<'a, V>| after.is_none_or(|a| cand_order(c, &a) == Ordering::Greater);
        let keep = &keep;
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
                    if best.offered >= want && first_min >= *max.get_or_insert_with(|| bucket.max())
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
                            if best.offered < want {
                                first_min = first_min.min(c.score);
                            }
                            best.offer(c);
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
                            best.offer(c);
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
                        best.offer(c);
                    }
                }
            }
        }
        let complete = !stopped && best.offered <= want;
        Selected {
            cands: best.into_sorted(),
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
