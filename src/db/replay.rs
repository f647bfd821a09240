//! Start-up replay: the store's operations, oldest first, into fresh state.
//!
//! # Why it runs on threads of its own
//! Replay holds a model of every trie (a map of keys to their pairs) until
//! the tries are built from it, so its peak is several times the state it
//! leaves. The allocator (mimalloc) keeps freed pages in the heap of the
//! thread that allocated them and returns them to the system only on that
//! thread's later allocations, or when the thread exits. So the log is read
//! on a thread of its own, the tries are built on another (their nodes then
//! lie on pages of their own, not among the model's), and both threads
//! exit when loading is done: what the model took goes back to the system
//! at once, not when some long-lived thread happens to allocate again.

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
#[derive(Default)]
struct TrieModel {
    keys: FastMap<Box<str>, Pairs>,
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

    fn insert(&mut self, key: &str, value: Value) {
        self.set(key, value, None);
    }

    /// Adds the pair when it is absent (with `score`, or 0), and sets the
    /// score of the pair when `score` is given.
    fn set(&mut self, key: &str, value: Value, score: Option<f64>) {
        if key.is_empty() {
            return; // never written by this server; a trie cannot hold it
        }
        let Some(values) = self.keys.get_mut(key) else {
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
        let Some(values) = self.keys.get_mut(key) else {
            return;
        };
        let Some(v) = value else {
            self.keys.remove(key);
            self.holes.remove(key);
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
            self.keys.remove(key);
            self.holes.remove(key);
        }
    }

    fn build(mut self) -> Trie<Value> {
        let items: Vec<(String, Vec<(Value, f64)>)> = self
            .keys
            .into_iter()
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

/// Replays the store into fresh state (on two threads that end with it:
/// module docs).
pub(super) fn load(store: &mut dyn Store) -> Result<(State, LoadStats), StoreError> {
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
fn read(store: &mut dyn Store) -> Result<(State, LoadStats), StoreError> {
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
            total_ms = started.elapsed().as_millis() as u64,
            "data loaded"
        );
    }
    Ok((state, stats))
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
}
