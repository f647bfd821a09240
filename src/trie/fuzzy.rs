//! Typo-tolerant suggestions: the trie walked with the query's
//! optimal-string-alignment automaton ([`crate::fold::osa`]).
//!
//! # What it owns
//! The answer to a query with a typo bound `max`: the keys whose smallest
//! distance between the folded query and a prefix of the folded key is at
//! most `max`, by distance first, then in the order asked for.
//!
//! # Why it is built this way
//! A key's distance is the smallest one along its path, so once a prefix
//! is within the bound, its whole subtree is: the walk does not list keys,
//! it finds *regions*, the shortest prefixes at which the distance drops
//! to a new low (first within `max`, then lower inside that). It descends
//! only where the automaton's floor says the distance can still drop, so
//! it visits the query's neighbourhood, not the trie, even when a short
//! query with a large bound matches everything. Exact matches are answered
//! before any walk, and each distance gets its own walk bounded by it, so
//! a query pays only for the distances its answer needs. The keys at distance
//! exactly `d` are those under a region at `d` and under no region below
//! `d`. Each distance is then answered by the engine's own searches, from
//! several starting prefixes instead of one. In key order a walk finds the
//! regions at its bound in key order (its DFS takes children and records
//! in byte order, and regions at one distance are disjoint), so each is
//! answered as it is found, and the walk ends as soon as the answer is
//! full: a long query whose typo has many matches stops after the first
//! few branches instead of proving the whole neighbourhood. By score the
//! best pairs may lie under any region, so the walk finishes and the
//! best-first ranked search starts with every region queued at once. The
//! automaton is the lazily built DFA of `fold::dfa`: a walk reads
//! a few hundred trie bytes but reaches a few dozen states.
//!
//! In a bucket, records come sorted: the automaton states of the previous
//! record's path are kept per byte and reused up to the common prefix, and
//! records that share a prefix already known to lead nowhere are skipped,
//! each jump reading on from where the scan is (a jump is most often a few
//! records long) before it turns to the bucket's index.

use std::collections::BTreeSet;

use smallvec::SmallVec;

use super::bucket::{Bucket, Pos};
use super::iter::{PrefixIter, Suggestions};
use super::node::Node;
use super::options::{Order, Seen};
use super::prefetch::prefetch;
use super::ranked;
use crate::fold::dfa::{Dfa, Id};

/// A state of the automaton fed bytes: the character being decoded, and
/// for a folding trie's stored keys the escape and the end of the folded
/// part (nothing after the `0x00` changes a distance).
#[derive(Clone, Copy)]
struct ByteState {
    s: Id,
    buf: [u8; 4],
    have: u8,
    escaped: bool,
    ended: bool,
}

/// A prefix at which the distance drops to `dist`.
struct Region {
    prefix: Vec<u8>,
    dist: u8,
}

/// Told each region at a walk's bound; true when the answer is full.
type Sink<'s> = &'s mut dyn FnMut(&[u8]) -> bool;

/// The bytes useful characters start with, inline.
type Leads = SmallVec<[u8; 8]>;

struct Walk<'q, 's> {
    dfa: Dfa<'q>,
    folded: bool,
    path: Vec<u8>,
    regions: Vec<Region>,
    /// Told each region at the bound as it is found, in key order; true
    /// when the answer is full, which ends the walk.
    sink: Option<Sink<'s>>,
    stop: bool,
    /// Each automaton state's leads once asked for, by state number.
    known: Vec<Option<Option<Leads>>>,
    /// A bucket's per-byte states, kept between buckets.
    states: Vec<ByteState>,
}

/// The UTF-8 length a lead byte announces.
fn utf8_len(b: u8) -> u8 {
    match b {
        0..0x80 => 1,
        0xE0..0xF0 => 3,
        0xF0.. => 4,
        _ => 2,
    }
}

impl Walk<'_, '_> {
    /// Reads `b` (already pushed on `path`); a completed character that
    /// brings the distance to a new low within the bound makes `path` a
    /// region.
    fn step(&mut self, mut bs: ByteState, b: u8) -> ByteState {
        if bs.ended || self.stop {
            return bs;
        }
        let c = if self.folded && bs.escaped {
            bs.escaped = false;
            if b == 1 {
                '\0'
            } else {
                '\u{1}'
            }
        } else if self.folded && b == 0 {
            bs.ended = true;
            return bs;
        } else if self.folded && b == 1 {
            bs.escaped = true;
            return bs;
        } else if bs.have == 0 && b < 0x80 {
            // ASCII, the most of most keys: a character of its own.
            char::from(b)
        } else {
            bs.buf[usize::from(bs.have)] = b;
            bs.have += 1;
            if bs.have < utf8_len(bs.buf[0]) {
                return bs;
            }
            let n = usize::from(bs.have);
            bs.have = 0;
            match std::str::from_utf8(&bs.buf[..n]) {
                Ok(s) => s.chars().next().expect("one character"),
                Err(_) => char::REPLACEMENT_CHARACTER,
            }
        };
        let before = self.dfa.best(bs.s);
        bs.s = self.dfa.step(bs.s, c);
        let dist = self.dfa.last(bs.s);
        if dist < before.min(self.dfa.max() + 1) {
            self.found(dist);
        }
        bs
    }

    /// `path` is a region at `dist`.
    fn found(&mut self, dist: u8) {
        if dist == self.dfa.max() {
            if let Some(sink) = self.sink.as_mut() {
                self.stop = sink(&self.path);
            }
        }
        self.regions.push(Region {
            prefix: self.path.clone(),
            dist,
        });
    }

    /// Whether anything below can bring the distance lower.
    fn alive(&self, bs: &ByteState) -> bool {
        !bs.ended && !self.stop && self.dfa.can_improve(bs.s)
    }

    /// The bytes a useful next character can start with, ascending, when
    /// `bs` is between characters and only some characters are useful
    /// (`Osa::useful_chars`); `None` when any byte may be.
    fn leads(&mut self, bs: &ByteState) -> Option<&Leads> {
        if bs.have != 0 || bs.escaped || bs.ended {
            return None;
        }
        let id = bs.s as usize;
        if self.known.get(id).is_none_or(Option::is_none) {
            let found = self.lead_bytes(bs.s);
            if self.known.len() <= id {
                self.known.resize(id + 1, None);
            }
            self.known[id] = Some(found);
        }
        self.known[id].as_ref().and_then(Option::as_ref)
    }

    /// [`leads`](Self::leads) at a character boundary in state `id`.
    fn lead_bytes(&mut self, id: Id) -> Option<Leads> {
        let folded = self.folded;
        let chars = self.dfa.useful_chars(id)?;
        let mut out: Leads = chars
            .iter()
            .map(|&c| match c {
                '\0' | '\u{1}' if folded => 1,
                c => {
                    let mut buf = [0; 4];
                    c.encode_utf8(&mut buf).as_bytes()[0]
                }
            })
            .collect();
        if folded {
            // The end of the folded text: it ends a walk, but a region
            // needs no more characters.
            out.push(0);
        }
        out.sort_unstable();
        out.dedup();
        Some(out)
    }

    fn node<V>(&mut self, node: &Node<V>, mut bs: ByteState) {
        let base = self.path.len();
        match node {
            Node::Inner(inner) => {
                for &b in inner.prefix.iter() {
                    self.path.push(b);
                    bs = self.step(bs, b);
                    if !self.alive(&bs) {
                        self.path.truncate(base);
                        return;
                    }
                }
                let here = self.path.len();
                let visit = |walk: &mut Self, b: u8, index: usize| {
                    walk.path.push(b);
                    let next = walk.step(bs, b);
                    if walk.alive(&next) {
                        walk.node(&inner.children[index], next);
                    }
                    walk.path.truncate(here);
                };
                let found: Option<SmallVec<[(u8, usize); 8]>> = self.leads(&bs).map(|leads| {
                    leads
                        .iter()
                        .filter_map(|&b| Some((b, inner.find(b).ok()?)))
                        .collect()
                });
                match found {
                    // Only the children a useful character can start.
                    Some(found) => {
                        // The children are visited one after another, each
                        // walk a chain of cache misses: ask for every
                        // useful child's first line now, so that the later
                        // ones arrive while the first is walked.
                        for &(_, index) in &found {
                            prefetch(&*inner.children[index]);
                        }
                        for (b, index) in found {
                            visit(self, b, index);
                            if self.stop {
                                break;
                            }
                        }
                    }
                    None => {
                        let mut label = 0;
                        let mut index = 0;
                        while let Some(b) = inner.next_label(label) {
                            label = usize::from(b) + 1;
                            visit(self, b, index);
                            index += 1;
                            if self.stop {
                                break;
                            }
                        }
                    }
                }
            }
            Node::Bucket(bucket) => self.bucket(bucket, bs),
        }
        self.path.truncate(base);
    }

    fn bucket<V>(&mut self, bucket: &Bucket<V>, bs: ByteState) {
        let base = self.path.len();
        // states[k]: after the first k bytes of the previous suffix.
        let mut states = std::mem::take(&mut self.states);
        states.clear();
        states.push(bs);
        let mut prev: &[u8] = &[];
        // The previous suffix's first `dead` bytes lead nowhere.
        let mut dead = usize::MAX;
        let mut seek: Vec<u8> = Vec::new();
        let mut at = Pos::default();
        while at.byte < bucket.records_end() && !self.stop {
            let r = bucket.record(at);
            let suffix = bucket.suffix(&r);
            let common = prev.iter().zip(suffix).take_while(|(a, b)| a == b).count();
            prev = suffix;
            at = r.next();
            if common >= dead {
                // Under a prefix already known dead: jump past it.
                if successor(&suffix[..dead], &mut seek) {
                    at = bucket.lower_bound_from(at, &seek);
                } else {
                    break;
                }
                continue;
            }
            dead = usize::MAX;
            states.truncate(common + 1);
            self.path.truncate(base + common);
            for (k, &b) in suffix[common..].iter().enumerate() {
                let depth = common + k;
                let state = *states.last().expect("the start");
                // `Some` when no useful character starts with `b`, with the
                // next lead after it, if any.
                let miss = self
                    .leads(&state)
                    .and_then(|l| l.binary_search(&b).err().map(|i| l.get(i).copied()));
                if let Some(next_lead) = miss {
                    // No useful character starts with `b`: the next
                    // record worth reading starts with the next lead
                    // (or leaves this prefix).
                    dead = depth + 1;
                    seek.clear();
                    seek.extend_from_slice(&suffix[..depth]);
                    let jump = match next_lead {
                        Some(next) => {
                            seek.push(next);
                            true
                        }
                        None => successor(&suffix[..depth], &mut seek),
                    };
                    if !jump {
                        at = bucket.end();
                    } else {
                        at = bucket.lower_bound_from(at, &seek);
                    }
                    break;
                }
                self.path.push(b);
                let next = self.step(state, b);
                states.push(next);
                if !self.alive(&next) {
                    dead = depth + 1;
                    break;
                }
            }
        }
        self.path.truncate(base);
        self.states = states;
    }
}

/// Writes into `out` the smallest byte string above every string that
/// starts with `prefix`; false when there is none (all bytes 0xFF).
fn successor(prefix: &[u8], out: &mut Vec<u8>) -> bool {
    out.clear();
    out.extend_from_slice(prefix);
    while let Some(last) = out.pop() {
        if last < u8::MAX {
            out.push(last + 1);
            return true;
        }
    }
    false
}

/// The regions of `q` within `max` (module docs), and whether the walk
/// finished: a `sink`, told each region at `max` in key order, ends it
/// by answering true.
fn regions<V>(
    root: &Node<V>,
    q: &[char],
    folded: bool,
    max: u8,
    sink: Option<Sink<'_>>,
) -> (Vec<Region>, bool) {
    let dfa = Dfa::new(q, max);
    let start = (dfa.best(0), 0);
    let mut walk = Walk {
        dfa,
        folded,
        path: Vec::new(),
        regions: Vec::new(),
        sink,
        stop: false,
        known: Vec::new(),
        states: Vec::new(),
    };
    if start.0 <= max {
        walk.found(start.0);
    }
    let bs = ByteState {
        s: start.1,
        buf: [0; 4],
        have: 0,
        escaped: false,
        ended: false,
    };
    if walk.alive(&bs) {
        walk.node(root, bs);
    }
    (walk.regions, !walk.stop)
}

/// The shortest of `prefixes`, sorted, none a prefix of another: a key
/// under any of them is under exactly one of these.
fn outermost(mut prefixes: Vec<&[u8]>) -> Vec<&[u8]> {
    prefixes.sort_unstable();
    let mut out: Vec<&[u8]> = Vec::with_capacity(prefixes.len());
    for p in prefixes {
        if !out.last().is_some_and(|q| p.starts_with(q)) {
            out.push(p);
        }
    }
    out
}

/// Whether `key` starts with one of `sorted` (outermost prefixes).
fn under(sorted: &[&[u8]], key: &[u8]) -> bool {
    // The greatest prefix not above the key is the only candidate.
    let i = sorted.partition_point(|p| *p <= key);
    i > 0 && key.starts_with(sorted[i - 1])
}

/// Up to `limit` entries within `max` typos of the folded query `q`, by
/// distance, then `order`; keys as stored (the caller strips a folding
/// trie's).
/// `exact` is the query as stored keys start with it: the one region at
/// distance 0, answered before anything is walked, so that a query whose
/// exact matches fill the answer costs what an exact query does.
#[allow(clippy::too_many_arguments)]
pub(crate) fn suggest<V: Clone + Ord>(
    root: &Node<V>,
    q: &[char],
    exact: &[u8],
    folded: bool,
    max: u8,
    limit: usize,
    order: Order,
    dedupe: bool,
) -> Suggestions<V> {
    // Each ranked walk's regions, kept for as long as the answer borrows
    // them (declared before `seen`, which borrows from what they lead to).
    let walks: [std::cell::OnceCell<Vec<Region>>; crate::fold::osa::MAX_DISTANCE as usize] =
        Default::default();
    let mut out = Suggestions::with_capacity(limit.min(64));
    let mut seen = Seen(BTreeSet::new());
    let none = |_: &[u8]| false;
    match order {
        Order::Key => {
            by_key(root, exact, limit, dedupe, &mut seen, &none, &mut out);
        }
        Order::Score => ranked::top_from(root, &[exact], limit, dedupe, &mut seen, &none, &mut out),
    }
    out.set_distances(0, 0);
    // The regions of the last finished walk: every prefix at which the
    // distance drops to a new low up to `d - 1` (the exact query alone
    // before the first walk).
    let mut closer: Vec<Vec<u8>> = vec![exact.to_vec()];
    for d in 1..=max {
        if out.len() >= limit {
            break;
        }
        // A walk bounded by `d` finds every region up to `d` (a drop in
        // the distance along a path does not depend on the bound) and
        // prunes far more than one bounded by `max`: a query whose answer
        // fills at distance 1 never pays for the walk at 2.
        let from = out.len();
        let near = outermost(closer.iter().map(|p| &p[..]).collect());
        let skip = |key: &[u8]| under(&near, key);
        let (regions, finished) = match order {
            // Regions at one distance are disjoint and found in key order:
            // each is answered as it is found, and the walk ends with the
            // answer.
            Order::Key => {
                let mut sink =
                    |prefix: &[u8]| by_key(root, prefix, limit, dedupe, &mut seen, &skip, &mut out);
                let (found, finished) = regions(root, q, folded, d, Some(&mut sink));
                (found.into_iter().map(|r| r.prefix).collect(), finished)
            }
            // The best pairs may lie under any region: all of them first.
            Order::Score => {
                let (found, finished) = regions(root, q, folded, d, None);
                let found = walks[usize::from(d) - 1].get_or_init(|| found);
                let starts = outermost(
                    found
                        .iter()
                        .filter(|r| r.dist == d)
                        .map(|r| &r.prefix[..])
                        .collect(),
                );
                ranked::top_from(root, &starts, limit, dedupe, &mut seen, &skip, &mut out);
                (found.iter().map(|r| r.prefix.clone()).collect(), finished)
            }
        };
        out.set_distances(from, d);
        if !finished {
            break;
        }
        closer = regions;
    }
    out
}

/// Key order under `start`, after what `out` holds; true once it is full.
fn by_key<'a, V: Clone + Ord>(
    root: &'a Node<V>,
    start: &[u8],
    limit: usize,
    dedupe: bool,
    seen: &mut Seen<'a, V>,
    skip: &dyn Fn(&[u8]) -> bool,
    out: &mut Suggestions<V>,
) -> bool {
    let mut it = PrefixIter::new(root, start);
    while out.len() < limit {
        let Some((key, values)) = it.next_key_bytes() else {
            break;
        };
        if skip(key) {
            continue;
        }
        for (v, s) in values.scored() {
            if !dedupe || seen.first(v) {
                out.push(key, v.clone(), s);
                if out.len() >= limit {
                    return true;
                }
            }
        }
    }
    out.len() >= limit
}
