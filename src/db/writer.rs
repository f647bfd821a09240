//! The single writer: group commit, and start-up replay.
//!
//! [`run`] takes every request waiting on the channel (up to [`MAX_GROUP`]),
//! applies them in order to a [`Batch`], an overlay over the published state
//! (staged trie copies, pending stack and cache changes, created and deleted
//! names), appends the batch's operations to the store with one sync, and
//! then publishes (or, if the store failed, discards) the overlay and answers.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use tokio::sync::mpsc;

use super::idempotency::{self, Remembered, Seen};
use super::{Command, DbError, IntCache, Reply, Request, State, TrieIndex, Value, ValueStack};
use crate::store::{LoadStats, Op, OpRef, Store, StoreError};
use crate::trie::Trie;

/// Most requests committed together.
const MAX_GROUP: usize = 1024;
/// A group stops taking requests once their inputs pass this many bytes, so
/// that one group's record and staged copies stay bounded however large the
/// requests waiting are.
const MAX_GROUP_BYTES: usize = 32 << 20;

pub(super) fn run(state: Arc<State>, mut store: Box<dyn Store>, mut rx: mpsc::Receiver<Request>) {
    while let Some(first) = rx.blocking_recv() {
        let mut requests = vec![first];
        let mut bytes = requests[0].command.weight();
        while requests.len() < MAX_GROUP && bytes < MAX_GROUP_BYTES {
            match rx.try_recv() {
                Ok(r) => {
                    bytes += r.command.weight();
                    requests.push(r);
                }
                Err(_) => break,
            }
        }
        // A client that gave up (its request timed out, its connection
        // closed) before its command was applied is not applied at all: its
        // answer, whatever it was, reached nobody, so the write would be one
        // that nobody was told about.
        requests.retain(|r| !r.reply.is_closed());
        if requests.is_empty() {
            continue;
        }
        let mut batch = Batch::new(&state);
        let mut remembered = state.remembered.lock().unwrap_or_else(|e| e.into_inner());
        // Keyed answers of this group, remembered once it is durable.
        let mut fresh: Vec<(String, i64, Reply)> = Vec::new();
        let mut replies = Vec::with_capacity(requests.len());
        for r in &requests {
            let Some(k) = &r.idem else {
                replies.push(batch.apply(&r.command));
                continue;
            };
            let seen = match fresh.iter().find(|(key, _, _)| *key == k.key) {
                Some((_, f, reply)) if *f == k.fingerprint => Seen::Again(reply.clone()),
                Some(_) => Seen::Conflict,
                None => remembered.check(k),
            };
            let out = match seen {
                Seen::Again(reply) => Ok(reply),
                Seen::Conflict => Err(DbError::IdempotencyKeyReused),
                Seen::New => {
                    let out = batch.apply(&r.command);
                    if let Ok(reply) = &out {
                        batch.ops.push(Op::Idempotent {
                            key: k.key.clone(),
                            fingerprint: k.fingerprint,
                            reply: idempotency::encode(reply),
                        });
                        fresh.push((k.key.clone(), k.fingerprint, reply.clone()));
                    }
                    out
                }
            };
            replies.push(out);
        }
        let outcome = if batch.ops.is_empty() {
            Ok(())
        } else {
            store.append(&batch.ops)
        };
        match outcome {
            Ok(()) => {
                batch.commit();
                for (key, f, reply) in fresh {
                    remembered.remember(key, f, reply);
                }
                drop(remembered);
                for (req, reply) in requests.into_iter().zip(replies) {
                    // A client that went away no longer waits for its answer.
                    let _ = req.reply.send(reply);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, requests = requests.len(), "store refused a group; nothing applied");
                drop(remembered);
                batch.abort();
                let err = match e {
                    StoreError::Full { .. } => DbError::StorageFull(e.to_string()),
                    _ => {
                        state
                            .failed
                            .store(true, std::sync::atomic::Ordering::Release);
                        DbError::Unavailable(e.to_string())
                    }
                };
                for req in requests {
                    let _ = req.reply.send(Err(err.clone()));
                }
            }
        }
    }
}

enum StackState {
    Live {
        stack: Arc<ValueStack>,
        is_new: bool,
        /// Items popped off the live stack's top.
        popped: usize,
        /// Items pushed after those pops.
        pushed: Vec<Value>,
    },
    Deleted,
}

enum CacheState {
    Live {
        cache: Arc<IntCache>,
        is_new: bool,
        /// Pending values (`None`: removed).
        changes: HashMap<String, Option<i64>>,
    },
    Deleted,
}

/// A group's changes, not yet visible to anyone.
pub(super) struct Batch<'a> {
    state: &'a State,
    ops: Vec<Op>,
    /// Created (`Some`) and deleted (`None`) tries.
    tries: BTreeMap<String, Option<TrieIndex>>,
    /// Indexes with staged changes.
    touched: Vec<TrieIndex>,
    stacks: BTreeMap<String, StackState>,
    caches: BTreeMap<String, CacheState>,
}

impl<'a> Batch<'a> {
    pub(super) fn new(state: &'a State) -> Self {
        Batch {
            state,
            ops: Vec::new(),
            tries: BTreeMap::new(),
            touched: Vec::new(),
            stacks: BTreeMap::new(),
            caches: BTreeMap::new(),
        }
    }

    fn trie(&self, name: &str) -> Option<TrieIndex> {
        match self.tries.get(name) {
            Some(t) => t.clone(),
            None => self.state.tries.load().get(name).cloned(),
        }
    }

    fn trie_or_create(&mut self, name: &str) -> TrieIndex {
        if let Some(t) = self.trie(name) {
            return t;
        }
        let t = TrieIndex::new();
        self.tries.insert(name.to_owned(), Some(t.clone()));
        self.ops.push(Op::TrieCreate {
            trie: name.to_owned(),
        });
        t
    }

    fn touch(&mut self, t: &TrieIndex) {
        if !self.touched.iter().any(|x| x.same_as(t)) {
            self.touched.push(t.clone());
        }
    }

    fn stack_state(&mut self, name: &str, create: bool) -> Option<&mut StackState> {
        if !self.stacks.contains_key(name) {
            let live = self.state.stacks.load().get(name).cloned();
            let st = match live {
                Some(stack) => StackState::Live {
                    stack,
                    is_new: false,
                    popped: 0,
                    pushed: Vec::new(),
                },
                None => StackState::Deleted,
            };
            self.stacks.insert(name.to_owned(), st);
        }
        let st = self.stacks.get_mut(name).expect("inserted above");
        if create && matches!(st, StackState::Deleted) {
            *st = StackState::Live {
                stack: Arc::new(ValueStack::new()),
                is_new: true,
                popped: 0,
                pushed: Vec::new(),
            };
        }
        match st {
            StackState::Deleted => None,
            live => Some(live),
        }
    }

    fn cache_state(&mut self, name: &str, create: bool) -> Option<&mut CacheState> {
        if !self.caches.contains_key(name) {
            let live = self.state.caches.load().get(name).cloned();
            let st = match live {
                Some(cache) => CacheState::Live {
                    cache,
                    is_new: false,
                    changes: HashMap::new(),
                },
                None => CacheState::Deleted,
            };
            self.caches.insert(name.to_owned(), st);
        }
        let st = self.caches.get_mut(name).expect("inserted above");
        if create && matches!(st, CacheState::Deleted) {
            *st = CacheState::Live {
                cache: Arc::new(IntCache::new()),
                is_new: true,
                changes: HashMap::new(),
            };
        }
        match st {
            CacheState::Deleted => None,
            live => Some(live),
        }
    }

    /// Applies one command to the overlay. A refused command changes nothing.
    pub(super) fn apply(&mut self, command: &Command) -> Result<Reply, DbError> {
        match command {
            Command::TrieAdd { trie, entries } => {
                let index = self.trie_or_create(trie);
                let ops = &mut self.ops;
                let (added, existing) = index.stage(|t| {
                    let (mut added, mut existing) = (0, 0);
                    for (key, value) in entries {
                        match t.insert(key, value.clone()) {
                            Ok(true) => {
                                added += 1;
                                ops.push(Op::TrieInsert {
                                    trie: trie.clone(),
                                    key: key.clone(),
                                    value: value.clone(),
                                });
                            }
                            // Empty keys are refused by validation upstream.
                            Ok(false) | Err(_) => existing += 1,
                        }
                    }
                    (added > 0, (added, existing))
                });
                self.touch(&index);
                Ok(Reply::Added { added, existing })
            }
            Command::TrieRemove { trie, entries } => {
                let index = self
                    .trie(trie)
                    .ok_or_else(|| DbError::NotFound(format!("trie {trie}")))?;
                let ops = &mut self.ops;
                let removed = index.stage(|t| {
                    let mut removed = 0;
                    for (key, value) in entries {
                        let n = match value {
                            Some(v) => usize::from(t.remove(key, v)),
                            None => t.remove_key(key).len(),
                        };
                        if n > 0 {
                            ops.push(Op::TrieRemove {
                                trie: trie.clone(),
                                key: key.clone(),
                                value: value.clone(),
                            });
                        }
                        removed += n;
                    }
                    (removed > 0, removed)
                });
                self.touch(&index);
                Ok(Reply::Removed(removed))
            }
            Command::TrieRemoveKey { trie, key } => {
                let index = self
                    .trie(trie)
                    .ok_or_else(|| DbError::NotFound(format!("trie {trie}")))?;
                let removed = index.stage(|t| {
                    let n = t.remove_key(key).len();
                    (n > 0, n)
                });
                if removed == 0 {
                    return Err(DbError::NotFound(format!("key {key:?} in trie {trie}")));
                }
                self.ops.push(Op::TrieRemove {
                    trie: trie.clone(),
                    key: key.clone(),
                    value: None,
                });
                self.touch(&index);
                Ok(Reply::Removed(removed))
            }
            Command::TrieDrop { trie } => {
                if self.trie(trie).is_none() {
                    return Err(DbError::NotFound(format!("trie {trie}")));
                }
                self.tries.insert(trie.clone(), None);
                self.ops.push(Op::TrieDrop { trie: trie.clone() });
                Ok(Reply::Done)
            }
            Command::StackPush { stack, value } => {
                let Some(StackState::Live {
                    stack: live,
                    popped,
                    pushed,
                    ..
                }) = self.stack_state(stack, true)
                else {
                    unreachable!("created above")
                };
                pushed.push(value.clone());
                let len = live.len() - *popped + pushed.len();
                self.ops.push(Op::StackPush {
                    stack: stack.clone(),
                    value: value.clone(),
                });
                Ok(Reply::Len(len))
            }
            Command::StackPop { stack } => {
                let empty = || DbError::Empty(stack.clone());
                let Some(StackState::Live {
                    stack: live,
                    popped,
                    pushed,
                    ..
                }) = self.stack_state(stack, false)
                else {
                    return Err(empty());
                };
                let value = match pushed.pop() {
                    Some(v) => v,
                    None => {
                        let v = live
                            .with_items(|items| {
                                items
                                    .len()
                                    .checked_sub(*popped + 1)
                                    .map(|i| items[i].clone())
                            })
                            .ok_or_else(empty)?;
                        *popped += 1;
                        v
                    }
                };
                let len = live.len() - *popped + pushed.len();
                self.ops.push(Op::StackPop {
                    stack: stack.clone(),
                });
                Ok(Reply::Popped(value, len))
            }
            Command::StackDrop { stack } => {
                if self.stack_state(stack, false).is_none() {
                    return Err(DbError::NotFound(format!("stack {stack}")));
                }
                self.stacks.insert(stack.clone(), StackState::Deleted);
                self.ops.push(Op::StackDrop {
                    stack: stack.clone(),
                });
                Ok(Reply::Done)
            }
            Command::CacheSet { cache, key, value } => {
                let Some(CacheState::Live { changes, .. }) = self.cache_state(cache, true) else {
                    unreachable!("created above")
                };
                changes.insert(key.clone(), Some(*value));
                self.ops.push(Op::CacheSet {
                    cache: cache.clone(),
                    key: key.clone(),
                    value: *value,
                });
                Ok(Reply::Int(*value))
            }
            Command::CacheIncr { cache, key, by } => {
                let Some(CacheState::Live {
                    cache: live,
                    changes,
                    ..
                }) = self.cache_state(cache, true)
                else {
                    unreachable!("created above")
                };
                let current = match changes.get(key) {
                    Some(pending) => pending.unwrap_or(0),
                    None => live.get(key.as_str()).unwrap_or(0),
                };
                let next = current.checked_add(*by).ok_or_else(|| DbError::Overflow {
                    key: key.clone(),
                    current,
                    by: *by,
                })?;
                changes.insert(key.clone(), Some(next));
                // The log records the result, so replay needs no arithmetic.
                self.ops.push(Op::CacheSet {
                    cache: cache.clone(),
                    key: key.clone(),
                    value: next,
                });
                Ok(Reply::Int(next))
            }
            Command::CacheRemove { cache, key } => {
                let not_found = || DbError::NotFound(format!("key {key:?} in cache {cache}"));
                let Some(CacheState::Live {
                    cache: live,
                    changes,
                    ..
                }) = self.cache_state(cache, false)
                else {
                    return Err(DbError::NotFound(format!("cache {cache}")));
                };
                let present = match changes.get(key) {
                    Some(pending) => pending.is_some(),
                    None => live.get(key.as_str()).is_some(),
                };
                if !present {
                    return Err(not_found());
                }
                changes.insert(key.clone(), None);
                self.ops.push(Op::CacheRemove {
                    cache: cache.clone(),
                    key: key.clone(),
                });
                Ok(Reply::Done)
            }
            Command::CacheDrop { cache } => {
                if self.cache_state(cache, false).is_none() {
                    return Err(DbError::NotFound(format!("cache {cache}")));
                }
                self.caches.insert(cache.clone(), CacheState::Deleted);
                self.ops.push(Op::CacheDrop {
                    cache: cache.clone(),
                });
                Ok(Reply::Done)
            }
        }
    }

    /// The group is durable: make it visible.
    pub(super) fn commit(self) {
        for index in &self.touched {
            index.publish();
        }
        publish_names(&self.state.tries, self.tries);
        let mut stacks = BTreeMap::new();
        for (name, st) in self.stacks {
            match st {
                StackState::Live {
                    stack,
                    is_new,
                    popped,
                    pushed,
                } => {
                    stack.replace_top(popped, pushed);
                    if is_new {
                        stacks.insert(name, Some(stack));
                    }
                }
                StackState::Deleted => {
                    stacks.insert(name, None);
                }
            }
        }
        publish_names(&self.state.stacks, stacks);
        let mut caches = BTreeMap::new();
        for (name, st) in self.caches {
            match st {
                CacheState::Live {
                    cache,
                    is_new,
                    changes,
                } => {
                    for (k, v) in changes {
                        match v {
                            Some(v) => cache.set(k, v),
                            None => cache.remove(k.as_str()),
                        };
                    }
                    if is_new {
                        caches.insert(name, Some(cache));
                    }
                }
                CacheState::Deleted => {
                    caches.insert(name, None);
                }
            }
        }
        publish_names(&self.state.caches, caches);
    }

    /// The store refused the group: forget it.
    pub(super) fn abort(self) {
        for index in &self.touched {
            index.discard();
        }
    }
}

/// Rewrites the store from the live state when its history has grown much
/// larger than the state (over twice the live operations, and at least
/// 100,000), so that start-up time and disk follow the data, not its
/// history. A failure keeps the old log and is only logged.
pub(super) fn compact_if_worth_it(state: &State, store: &mut dyn Store, stats: &LoadStats) {
    let tries = state.tries.load();
    let stacks = state.stacks.load();
    let caches = state.caches.load();
    // An empty stack or cache is written as one set and one removal.
    let live: u64 = tries
        .values()
        .map(|t| 1 + t.stats().entries as u64)
        .sum::<u64>()
        + stacks.values().map(|s| s.len().max(2) as u64).sum::<u64>()
        + caches.values().map(|c| c.len().max(2) as u64).sum::<u64>()
        + state
            .remembered
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len() as u64;
    if stats.ops < 100_000 || stats.ops <= 2 * live {
        return;
    }
    let started = std::time::Instant::now();
    let placeholder = Value::from_canonical("0");
    let result = store.rewrite(&mut |sink| {
        for (name, index) in tries.iter() {
            sink(Op::TrieCreate { trie: name.clone() });
            let snapshot = index.snapshot();
            let mut it = snapshot.trie().iter_prefix("");
            while let Some((key, value)) = it.next_entry() {
                sink(Op::TrieInsert {
                    trie: name.clone(),
                    key: key.to_owned(),
                    value: value.clone(),
                });
            }
        }
        for (name, stack) in stacks.iter() {
            let items = stack.with_items(<[Value]>::to_vec);
            if items.is_empty() {
                let value = placeholder.clone();
                sink(Op::StackPush {
                    stack: name.clone(),
                    value,
                });
                sink(Op::StackPop {
                    stack: name.clone(),
                });
            }
            for value in items {
                sink(Op::StackPush {
                    stack: name.clone(),
                    value,
                });
            }
        }
        for op in state
            .remembered
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .ops()
        {
            sink(op);
        }
        for (name, cache) in caches.iter() {
            let entries = cache.entries();
            if entries.is_empty() {
                sink(Op::CacheSet {
                    cache: name.clone(),
                    key: String::new(),
                    value: 0,
                });
                sink(Op::CacheRemove {
                    cache: name.clone(),
                    key: String::new(),
                });
            }
            for (key, value) in entries {
                sink(Op::CacheSet {
                    cache: name.clone(),
                    key,
                    value,
                });
            }
        }
    });
    match result {
        Ok(()) => tracing::info!(
            ops_before = stats.ops,
            ops_after = live,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "compacted the log"
        ),
        Err(e) => tracing::warn!(error = %e, "could not compact the log; keeping it as it is"),
    }
}

/// Publishes a new map of names: `Some` adds or replaces, `None` removes.
/// Only the writer thread calls this, so load-modify-store cannot race.
fn publish_names<T: Clone>(
    registry: &arc_swap::ArcSwap<BTreeMap<String, T>>,
    changes: BTreeMap<String, Option<T>>,
) {
    if changes.is_empty() {
        return;
    }
    let mut map = BTreeMap::clone(&registry.load());
    for (name, t) in changes {
        match t {
            Some(t) => map.insert(name, t),
            None => map.remove(&name),
        };
    }
    registry.store(Arc::new(map));
}

/// One trie's state while the log replays: key -> values in order. Replay
/// only appends (the log holds a pair's insert only when it was new), and the
/// trie is built in one pass at the end ([`Trie::from_sorted`]), which is
/// several times faster than inserting millions of pairs one by one.
///
/// A key with up to [`TrieModel::MAP_ABOVE`] values removes by a scan. A
/// bigger one gets, at its first removal, a value -> slot map and marks
/// removed slots dead instead of shifting the rest, so replaying k removals of
/// a k-value key is O(k), not O(k²). A log without such removals builds no
/// map: restart time and memory stay those of plain appends.
#[derive(Default)]
struct TrieModel {
    keys: HashMap<String, Vec<Value>>,
    /// The big keys that have seen a removal.
    holes: HashMap<String, Holes>,
}

/// Where a big key's live values are, and which slots are dead.
struct Holes {
    at: HashMap<Value, usize>,
    dead: Vec<bool>,
}

impl TrieModel {
    /// Up to this many values a removal scans them.
    const MAP_ABOVE: usize = 32;

    fn insert(&mut self, key: &str, value: Value) {
        if key.is_empty() {
            return; // never written by this server; a trie cannot hold it
        }
        match self.keys.get_mut(key) {
            Some(values) => {
                if let Some(h) = self.holes.get_mut(key) {
                    h.at.insert(value.clone(), values.len());
                    h.dead.push(false);
                }
                values.push(value);
            }
            None => {
                self.keys.insert(key.to_owned(), vec![value]);
            }
        }
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
            let h = self.holes.entry(key.to_owned()).or_insert_with(|| Holes {
                at: values.iter().cloned().zip(0..).collect(),
                dead: vec![false; values.len()],
            });
            if let Some(i) = h.at.remove(v.as_bytes()) {
                h.dead[i] = true;
            }
            h.at.is_empty()
        } else {
            if let Some(i) = values.iter().position(|x| x.as_str() == v) {
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
        let mut items: Vec<(String, Vec<Value>)> = self
            .keys
            .into_iter()
            .map(|(k, v)| match self.holes.remove(&k) {
                None => (k, v),
                Some(h) => {
                    let live = v
                        .into_iter()
                        .zip(h.dead)
                        .filter(|(_, d)| !d)
                        .map(|(v, _)| v);
                    (k, live.collect())
                }
            })
            .collect();
        items.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        Trie::from_sorted(crate::trie::DEFAULT_BURST, items)
            .expect("distinct non-empty keys, sorted")
    }
}

/// Replays the store into fresh state.
pub(super) fn load(store: &mut dyn Store) -> Result<(State, LoadStats), StoreError> {
    let mut tries: BTreeMap<String, TrieModel> = BTreeMap::new();
    let mut stacks: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut caches: BTreeMap<String, HashMap<String, i64>> = BTreeMap::new();
    let mut remembered = Remembered::default();
    let started = std::time::Instant::now();
    let mut n: u64 = 0;
    // Consecutive inserts often carry the same value (one user's keys):
    // reuse it instead of building it again.
    let mut last_value: Option<Value> = None;
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
            OpRef::TrieInsert { trie, key, value } => {
                let v = match &last_value {
                    Some(last) if last.as_str() == value => last.clone(),
                    _ => {
                        let v = Value::from_canonical(value);
                        last_value = Some(v.clone());
                        v
                    }
                };
                model(&mut tries, trie).insert(key, v);
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
}
