//! Start-up replay: the store's operations, oldest first, into fresh state.
//!
//! # Why it runs on a thread of its own
//! Replay holds a model of every trie (a map of keys to their pairs) until
//! the tries are built from it, so its peak is about twice the state it
//! leaves. The allocator (mimalloc) keeps freed pages in the heap of the
//! thread that freed them and returns them to the system after a delay, on
//! that thread's later calls or when it exits; the tokio thread that starts
//! a server waits ten idle seconds before it exits. So the log is read and
//! the tries built on a thread that ends with the load, and the load ends by
//! asking the allocator to return what the model took at once (the hook of
//! module `release`): after a restart with 1M users, 172 MB resident instead
//! of 383 MB.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use smallvec::{smallvec, SmallVec};

use super::idempotency::Remembered;
use super::{IntCache, State, TrieIndex, Value, ValueStack};
use crate::fold::Fold;
use crate::store::{LoadStats, OpRef, Store, StoreError};
use crate::trie::Trie;

/// One trie's state while the log replays: key -> (value, score) pairs in
/// order. A pair's insert is in the log only when it was new, and its score
/// op ([`OpRef::TrieScore`]) carries the score it ended with, so replay
/// appends pairs and overwrites scores, and the trie is built in one pass at
/// the end ([`Trie::from_sorted_scored`]), which is several times faster
/// than inserting millions of pairs one by one.
///
/// A key with up to [`TrieModel::MAP_ABOVE`] values finds a value by a scan.
/// A bigger one gets, at its first removal or score, a value -> slot map,
/// and marks removed slots dead instead of shifting the rest, so replaying
/// k removals or scores of a k-value key is O(k), not O(k²). A log without
/// such removals or scores builds no map: restart time and memory stay those
/// of plain appends.
///
/// The model is most of replay's peak memory and time, so it is kept lean:
/// a key is a boxed `str`, its first pair lives in the map's slot (most keys
/// of a user index, the usernames, have one value), and the map hashes with
/// foldhash (SipHash took a tenth of the load in a profile), seeded per process
/// like the standard one, so keys chosen to collide cannot make a restart
/// quadratic.
///
/// A checkpoint (the log rewritten from the live state, module `compact`)
/// lists a trie's keys in ascending order. Keys that arrive that way are
/// appended to `run`, which needs no hashing and is built without sorting.
/// The operations after it (the tail: writes since the checkpoint) find
/// their key in the run by a binary search, or in the map, where keys new
/// out of order go; a removal that empties a run key leaves it empty, and
/// the build skips it. So a restart from a checkpoint with a short tail
/// hashes only the tail's keys: with 1M users and a tail of 91,000 adds,
/// moving the run into the map took the load from 0.9 to 1.6 s. A tail
/// longer than an eighth of the run (a log never checkpointed) moves the
/// run into the map after all, and replay goes on there: a hash lookup
/// costs less than a binary search over a million keys.
#[derive(Default)]
struct TrieModel {
    /// Keys in strictly ascending order (a key emptied by a removal stays,
    /// with no pairs), until they move into `keys`.
    run: Vec<(Box<str>, Pairs)>,
    /// Keys not in the run: those that came out of order, or every key
    /// once the run has moved here.
    keys: FastMap<Box<str>, Pairs>,
    /// Whether the run has moved into `keys` (it stays empty then).
    spilled: bool,
    /// Operations that were not appends to the run in order (what a
    /// checkpoint would save).
    unsorted: u64,
    /// The big keys that have seen a removal or a score.
    holes: FastMap<Box<str>, Holes>,
    fold: Fold,
}

/// A key's pairs in the order they were added.
type Pairs = SmallVec<[(Value, f64); 1]>;

/// A hash map with foldhash's per-process seeded hasher.
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Where a big key's live values are, and which slots are dead.
struct Holes {
    at: FastMap<Value, usize>,
    dead: Vec<bool>,
}

impl TrieModel {
    /// Up to this many values a lookup scans them.
    const MAP_ABOVE: usize = 32;
    /// Operations out of order that never move the run, however short:
    /// a small trie's binary searches cost nothing either way.
    const SPILL_MIN: u64 = 64;

    fn insert(&mut self, key: &str, value: Value) {
        self.set(key, value, None);
    }

    /// Adds the pair when it is absent (with `score`, or 0), and sets the
    /// score of the pair when `score` is given.
    fn set(&mut self, key: &str, value: Value, score: Option<f64>) {
        if key.is_empty() {
            return; // never written by this server; a trie cannot hold it
        }
        let after_run = self.run.last().is_none_or(|(last, _)| **last < *key);
        if !self.spilled && after_run && (self.keys.is_empty() || !self.keys.contains_key(key)) {
            self.run
                .push((key.into(), smallvec![(value, score.unwrap_or(0.0))]));
            return;
        }
        let on_last = self.run.last().is_some_and(|(last, _)| **last == *key);
        if !on_last {
            self.unsorted += 1;
            self.spill_if_long();
        }
        let found = if on_last && !self.spilled {
            self.run.last_mut().map(|(_, v)| v) // a checkpoint's next pair of a key
        } else {
            Self::pairs_in(&mut self.keys, &mut self.run, key)
        };
        let Some(values) = found else {
            self.keys
                .insert(key.into(), smallvec![(value, score.unwrap_or(0.0))]);
            return;
        };
        if let Some(score) = score {
            let slot = if values.len() > Self::MAP_ABOVE || self.holes.contains_key(key) {
                Self::holes_of(&mut self.holes, key, values)
                    .at
                    .get(value.as_bytes())
                    .copied()
            } else {
                values.iter().position(|(v, _)| *v == value)
            };
            if let Some(i) = slot {
                values[i].1 = score;
                return;
            }
        }
        // A plain insert of a pair already there is not in a log this
        // server wrote (it records only new pairs), so no lookup is made for it.
        if let Some(h) = self.holes.get_mut(key) {
            h.at.insert(value.clone(), values.len());
            h.dead.push(false);
        }
        values.push((value, score.unwrap_or(0.0)));
    }

    /// A key's pairs, wherever they are (an emptied run key has none).
    /// Takes the two fields, so that the caller may use `holes` meanwhile.
    fn pairs_in<'m>(
        keys: &'m mut FastMap<Box<str>, Pairs>,
        run: &'m mut [(Box<str>, Pairs)],
        key: &str,
    ) -> Option<&'m mut Pairs> {
        if keys.contains_key(key) {
            return keys.get_mut(key);
        }
        let i = run.binary_search_by(|(k, _)| (**k).cmp(key)).ok()?;
        Some(&mut run[i].1)
    }

    /// Moves the run into the map once the operations out of order pass an
    /// eighth of it, and [`TrieModel::SPILL_MIN`] (module docs).
    fn spill_if_long(&mut self) {
        if !self.spilled && self.unsorted > self.run.len() as u64 / 8 + Self::SPILL_MIN {
            self.spilled = true;
            self.keys
                .extend(self.run.drain(..).filter(|(_, v)| !v.is_empty()));
        }
    }

    /// The value -> slot map of a key, built at its first use.
    fn holes_of<'h>(
        holes: &'h mut FastMap<Box<str>, Holes>,
        key: &str,
        values: &[(Value, f64)],
    ) -> &'h mut Holes {
        if !holes.contains_key(key) {
            let h = Holes {
                at: values.iter().map(|(v, _)| v.clone()).zip(0..).collect(),
                dead: vec![false; values.len()],
            };
            holes.insert(key.into(), h);
        }
        holes.get_mut(key).expect("inserted above")
    }

    fn remove(&mut self, key: &str, value: Option<&str>) {
        self.unsorted += 1;
        self.spill_if_long();
        let Some(values) = Self::pairs_in(&mut self.keys, &mut self.run, key) else {
            return;
        };
        let Some(v) = value else {
            values.clear();
            self.forget_if_empty(key);
            return;
        };
        let empty = if values.len() > Self::MAP_ABOVE || self.holes.contains_key(key) {
            let h = Self::holes_of(&mut self.holes, key, values);
            if let Some(i) = h.at.remove(v.as_bytes()) {
                h.dead[i] = true;
            }
            h.at.is_empty()
        } else {
            if let Some(i) = values.iter().position(|(x, _)| x.as_str() == v) {
                values.remove(i);
            }
            values.is_empty()
        };
        if empty {
            Self::pairs_in(&mut self.keys, &mut self.run, key)
                .expect("found above")
                .clear();
            self.forget_if_empty(key);
        }
    }

    /// Drops a key whose pairs are gone: from the map, or (a run key) left
    /// empty in place, which the build skips.
    fn forget_if_empty(&mut self, key: &str) {
        self.holes.remove(key);
        if self.keys.get(key).is_some_and(|v| v.is_empty()) {
            self.keys.remove(key);
        }
    }

    fn build(mut self) -> Trie<Value> {
        // The run first: sorting finds it in order, and the map's keys,
        // none of them in the run, after it.
        let items: Vec<(String, Vec<(Value, f64)>)> = self
            .run
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .chain(self.keys)
            .map(|(k, v)| match self.holes.remove(&k) {
                None => (k.into_string(), v.into_vec()),
                Some(h) => {
                    let live = v
                        .into_iter()
                        .zip(h.dead)
                        .filter(|(_, d)| !d)
                        .map(|(v, _)| v);
                    (k.into_string(), live.collect())
                }
            })
            .collect();
        Trie::from_scored(crate::trie::DEFAULT_BURST, self.fold, items)
            .expect("distinct non-empty keys, finite scores")
    }
}

/// What replay found besides the state.
pub(super) struct Loaded {
    pub(super) stats: LoadStats,
    /// Trie operations that did not arrive as part of a checkpoint's
    /// ascending run ([`TrieModel`]): what a checkpoint written now would
    /// save the next start.
    pub(super) unsorted: u64,
}

/// Replays the store into fresh state (on a thread that ends with it:
/// module docs).
pub(super) fn load(store: &mut dyn Store) -> Result<(State, Loaded), StoreError> {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("typeahead-load".into())
            .spawn_scoped(s, || read(store))
            .map_err(no_thread)?
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

/// A thread that could not start, as the I/O error it is.
fn no_thread(source: std::io::Error) -> StoreError {
    StoreError::Io {
        path: "(a thread to load the data on)".into(),
        source,
    }
}

/// Reads the store into models, and builds the state from them on a thread
/// of its own.
fn read(store: &mut dyn Store) -> Result<(State, Loaded), StoreError> {
    let mut tries: BTreeMap<String, TrieModel> = BTreeMap::new();
    let mut stacks: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut caches: BTreeMap<String, HashMap<String, i64>> = BTreeMap::new();
    let mut remembered = Remembered::default();
    let started = std::time::Instant::now();
    let mut n: u64 = 0;
    // Equal long values share one text, as the writer stores them.
    let mut interner = crate::value::Interner::default();
    fn model<'m, T: Default>(map: &'m mut BTreeMap<String, T>, name: &str) -> &'m mut T {
        if !map.contains_key(name) {
            map.insert(name.to_owned(), T::default());
        }
        map.get_mut(name).expect("inserted above")
    }
    let stats = store.load(&mut |op| {
        n += 1;
        if n.is_multiple_of(1_000_000) {
            tracing::info!(
                ops = n,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "loading data"
            );
        }
        match op {
            OpRef::TrieCreate { trie } => {
                model(&mut tries, trie);
            }
            OpRef::TrieSettings { trie, fold } => {
                model(&mut tries, trie).fold = fold;
            }
            OpRef::TrieInsert { trie, key, value } => {
                let v = interner.canonical(value);
                model(&mut tries, trie).insert(key, v);
            }
            OpRef::TrieScore {
                trie,
                key,
                value,
                score,
            } => {
                let v = interner.canonical(value);
                model(&mut tries, trie).set(key, v, Some(score));
            }
            OpRef::TrieRemove { trie, key, value } => {
                if let Some(t) = tries.get_mut(trie) {
                    t.remove(key, value);
                }
            }
            OpRef::TrieDrop { trie } => {
                tries.remove(trie);
            }
            OpRef::StackPush { stack, value } => {
                model(&mut stacks, stack).push(Value::from_canonical(value))
            }
            OpRef::StackPop { stack } => {
                model(&mut stacks, stack).pop();
            }
            OpRef::StackDrop { stack } => {
                stacks.remove(stack);
            }
            OpRef::CacheSet { cache, key, value } => {
                model(&mut caches, cache).insert(key.to_owned(), value);
            }
            OpRef::CacheRemove { cache, key } => {
                model(&mut caches, cache).remove(key);
            }
            OpRef::CacheDrop { cache } => {
                caches.remove(cache);
            }
            OpRef::Idempotent {
                key,
                fingerprint,
                reply,
            } => remembered.replay(key, fingerprint, reply),
        }
    })?;
    let replayed_ms = started.elapsed().as_millis() as u64;
    let unsorted = tries.values().map(|t| t.unsorted).sum();
    let state = State {
        remembered: std::sync::Mutex::new(remembered),
        interner: std::sync::Mutex::new(interner),
        ..State::default()
    };
    state.tries.store(Arc::new(
        tries
            .into_iter()
            .map(|(k, t)| (k, TrieIndex::from_trie(t.build())))
            .collect(),
    ));
    state.stacks.store(Arc::new(
        stacks
            .into_iter()
            .map(|(k, items)| {
                let s = ValueStack::new();
                s.replace_top(0, items);
                (k, Arc::new(s))
            })
            .collect(),
    ));
    state.caches.store(Arc::new(
        caches
            .into_iter()
            .map(|(k, m)| {
                let c = IntCache::new();
                for (key, v) in m {
                    c.set(key, v);
                }
                (k, Arc::new(c))
            })
            .collect(),
    ));
    // The model is gone; what it took goes back before serving starts.
    super::release::release();
    if stats.ops > 0 {
        tracing::info!(
            ops = stats.ops,
            bytes = stats.bytes,
            replay_ms = replayed_ms,
            unsorted,
            total_ms = started.elapsed().as_millis() as u64,
            "data loaded"
        );
    }
    Ok((state, Loaded { stats, unsorted }))
}

#[cfg(test)]
mod replay_tests {
    use super::*;

    /// Replay keeps insertion order through removals and re-adds, for keys
    /// below and above the size where removals switch to the value map.
    #[test]
    fn replayed_order_matches_a_vec_model() {
        for n in [5usize, 40, 500] {
            let mut m = TrieModel::default();
            let mut want: Vec<String> = Vec::new();
            let v = |i: usize| i.to_string();
            for i in 0..n {
                m.insert("k", Value::from_canonical(&v(i)));
                want.push(v(i));
            }
            for i in (0..n).step_by(3) {
                m.remove("k", Some(&v(i)));
                want.retain(|x| *x != v(i));
            }
            m.remove("k", Some("absent"));
            m.insert("k", Value::from_canonical(&v(0)));
            want.push(v(0));
            let t = m.build();
            let got: Vec<String> = t.get("k").map(|x| x.as_str().to_owned()).collect();
            assert_eq!(got, want, "n = {n}");
            t.assert_invariants();
        }
        let mut m = TrieModel::default();
        m.insert("gone", Value::from_canonical("1"));
        m.remove("gone", Some("1"));
        m.insert("cleared", Value::from_canonical("2"));
        m.remove("cleared", None);
        assert!(m.build().is_empty());
    }

    /// Scores replay to the last one recorded for each pair, through
    /// removals and re-adds (a re-added pair starts again from its insert),
    /// for keys below and above the size where lookups switch to the map.
    #[test]
    fn replayed_scores_match_a_vec_model() {
        for n in [5usize, 40, 500] {
            let mut m = TrieModel::default();
            let mut want: Vec<(String, f64)> = Vec::new();
            let v = |i: usize| i.to_string();
            let val = |i: usize| Value::from_canonical(&v(i));
            for i in 0..n {
                if i % 4 == 0 {
                    m.set("k", val(i), Some(i as f64 + 0.5));
                    want.push((v(i), i as f64 + 0.5));
                } else {
                    m.insert("k", val(i));
                    want.push((v(i), 0.0));
                }
            }
            for i in (0..n).step_by(3) {
                m.set("k", val(i), Some(-(i as f64)));
                want.iter_mut().find(|(x, _)| *x == v(i)).unwrap().1 = -(i as f64);
            }
            for i in (0..n).step_by(5) {
                m.remove("k", Some(&v(i)));
                want.retain(|(x, _)| *x != v(i));
            }
            m.insert("k", val(0));
            want.push((v(0), 0.0));
            m.set("k", val(n), Some(7.0));
            want.push((v(n), 7.0));
            let t = m.build();
            let got: Vec<(String, f64)> = t
                .get("k")
                .scored()
                .map(|(x, s)| (x.as_str().to_owned(), s))
                .collect();
            assert_eq!(got, want, "n = {n}");
            t.assert_invariants();
        }
    }

    /// One replayed operation of the model test: keys `k00`.. sort as
    /// their numbers do.
    #[derive(Debug, Clone)]
    enum Step {
        Insert(u8, u8),
        Score(u8, u8, i8),
        RemovePair(u8, u8),
        RemoveKey(u8),
    }

    fn step() -> impl proptest::strategy::Strategy<Value = Step> {
        use proptest::prelude::*;
        prop_oneof![
            3 => (0u8..12, 0u8..40).prop_map(|(k, v)| Step::Insert(k, v)),
            3 => (0u8..12, 0u8..40, any::<i8>()).prop_map(|(k, v, s)| Step::Score(k, v, s)),
            1 => (0u8..12, 0u8..40).prop_map(|(k, v)| Step::RemovePair(k, v)),
            1 => (0u8..12).prop_map(Step::RemoveKey),
        ]
    }

    proptest::proptest! {
        /// A checkpoint (keys ascending, each pair once, some keys past the
        /// size where lookups use a map) followed by any tail of inserts,
        /// scores and removals replays to what a brute-force model holds:
        /// each key's pairs in the order they were added, with their last
        /// scores. The tail finds its keys in the ascending run, or moves
        /// the run into the map part way (past 64 operations out of order).
        #[test]
        fn a_checkpoint_and_any_tail_replay_like_a_model(
            checkpoint in proptest::collection::btree_map(
                0u8..12,
                proptest::collection::vec((0u8..40, -3i8..3), 1..40),
                0..8,
            ),
            tail in proptest::collection::vec(step(), 0..160),
        ) {
            let key = |k: u8| format!("k{k:02}");
            let val = |x: u8| x.to_string();
            let mut m = TrieModel::default();
            let mut want: BTreeMap<String, Vec<(String, f64)>> = BTreeMap::new();
            for (k, pairs) in &checkpoint {
                for &(x, s) in pairs {
                    let w = want.entry(key(*k)).or_default();
                    if w.iter().any(|(y, _)| *y == val(x)) {
                        continue; // a checkpoint lists a pair once
                    }
                    w.push((val(x), f64::from(s)));
                    if s == 0 {
                        m.insert(&key(*k), Value::from_canonical(&val(x)));
                    } else {
                        m.set(&key(*k), Value::from_canonical(&val(x)), Some(f64::from(s)));
                    }
                }
            }
            proptest::prop_assert_eq!(m.unsorted, 0, "a checkpoint is one ascending run");
            for st in tail {
                match st {
                    Step::Insert(k, x) => {
                        let w = want.entry(key(k)).or_default();
                        // The log holds an insert only for a new pair.
                        if !w.iter().any(|(y, _)| *y == val(x)) {
                            w.push((val(x), 0.0));
                            m.insert(&key(k), Value::from_canonical(&val(x)));
                        }
                    }
                    Step::Score(k, x, s) => {
                        let w = want.entry(key(k)).or_default();
                        match w.iter_mut().find(|(y, _)| *y == val(x)) {
                            Some(p) => p.1 = f64::from(s),
                            None => w.push((val(x), f64::from(s))),
                        }
                        m.set(&key(k), Value::from_canonical(&val(x)), Some(f64::from(s)));
                    }
                    Step::RemovePair(k, x) => {
                        if let Some(w) = want.get_mut(&key(k)) {
                            w.retain(|(y, _)| *y != val(x));
                            if w.is_empty() {
                                want.remove(&key(k));
                            }
                        }
                        m.remove(&key(k), Some(&val(x)));
                    }
                    Step::RemoveKey(k) => {
                        want.remove(&key(k));
                        m.remove(&key(k), None);
                    }
                }
            }
            let t = m.build();
            t.assert_invariants();
            proptest::prop_assert_eq!(t.len(), want.values().map(Vec::len).sum::<usize>());
            for (k, pairs) in &want {
                let got: Vec<(String, f64)> = t
                    .get(k)
                    .scored()
                    .map(|(x, s)| (x.as_str().to_owned(), s))
                    .collect();
                proptest::prop_assert_eq!(&got, pairs, "key {}", k);
            }
        }
    }
}
