//! How the search opens what it pops: a remembered answer, an inner
//! node's children, a bucket's ranked list or its range under the prefix,
//! a big key's listed values and its list (the runs of candidates these
//! give are [`run`](super::run)'s; the module docs of [`ranked`](super) say
//! why).

use super::{best_left, Answer, Cand, Item, Kind, Search, Source, Span};
use crate::trie::big::{BigValues, ListNode};
use crate::trie::bucket::{Bucket, TopEntry, TOP};
use crate::trie::cached::{Cached, CACHED};
use crate::trie::node::{Inner, Node};
use crate::trie::values::Vals;

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
            .map(|(l, value)| {
                let (p, score) = (l.pos(), big.listed_score(*l));
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
}
