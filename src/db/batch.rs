//! [`Batch`]: one group's changes, staged over the published state (trie
//! copies, pending stack and cache changes, created and deleted names) and
//! invisible to readers until the writer commits it after the group is
//! durable. A refused command changes nothing in it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::{add, Command, DbError, IntCache, Reply, State, TrieIndex, Value, ValueStack};
use crate::fold::Fold;
use crate::store::Op;
use crate::trie::Trie;

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
    pub(super) ops: Vec<Op>,
    /// Created (`Some`) and deleted (`None`) tries.
    tries: BTreeMap<String, Option<TrieIndex>>,
    /// Indexes with staged changes.
    touched: Vec<TrieIndex>,
    stacks: BTreeMap<String, StackState>,
    caches: BTreeMap<String, CacheState>,
    /// Applying a group another node committed: the caps on names were
    /// checked by the writer that committed it, under its own settings.
    following: bool,
}

impl<'a> Batch<'a> {
    pub(super) fn new(state: &'a State) -> Self {
        Batch {
            following: false,
            state,
            ops: Vec::new(),
            tries: BTreeMap::new(),
            touched: Vec::new(),
            stacks: BTreeMap::new(),
            caches: BTreeMap::new(),
        }
    }

    /// A batch for a group another node committed.
    pub(super) fn following(state: &'a State) -> Self {
        Batch {
            following: true,
            ..Batch::new(state)
        }
    }

    /// Refuses one more name past `limit`, unless following.
    fn room(&self, kind: &'static str, live: usize, limit: usize) -> Result<(), DbError> {
        if self.following {
            return Ok(());
        }
        room(kind, live, limit)
    }

    fn trie(&self, name: &str) -> Option<TrieIndex> {
        match self.tries.get(name) {
            Some(t) => t.clone(),
            None => self.state.tries.load().get(name).cloned(),
        }
    }

    fn trie_or_create(&mut self, name: &str) -> Result<TrieIndex, DbError> {
        match self.trie(name) {
            Some(t) => Ok(t),
            None => self.create(name, Fold::None),
        }
    }

    /// Creates a trie that does not exist.
    fn create(&mut self, name: &str, fold: Fold) -> Result<TrieIndex, DbError> {
        let published = self.state.tries.load();
        let live = count(&published, self.tries.iter().map(|(k, t)| (k, t.is_some())));
        self.room("tries", live, self.state.limits.max_tries)?;
        let t = TrieIndex::from_trie(Trie::with_fold(fold));
        self.tries.insert(name.to_owned(), Some(t.clone()));
        let trie = name.to_owned();
        self.ops.push(match fold {
            Fold::None => Op::TrieCreate { trie },
            fold => Op::TrieSettings { trie, fold },
        });
        Ok(t)
    }

    /// Refuses to create one more stack past the limit.
    fn stack_room(&mut self, name: &str) -> Result<(), DbError> {
        if self.stack_state(name, false).is_some() {
            return Ok(());
        }
        let published = self.state.stacks.load();
        let live = count(
            &published,
            self.stacks
                .iter()
                .map(|(k, s)| (k, matches!(s, StackState::Live { .. }))),
        );
        self.room("stacks", live, self.state.limits.max_stacks)
    }

    /// Refuses to create one more cache past the limit.
    fn cache_room(&mut self, name: &str) -> Result<(), DbError> {
        if self.cache_state(name, false).is_some() {
            return Ok(());
        }
        let published = self.state.caches.load();
        let live = count(
            &published,
            self.caches
                .iter()
                .map(|(k, c)| (k, matches!(c, CacheState::Live { .. }))),
        );
        self.room("caches", live, self.state.limits.max_caches)
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
                // Checked before anything changes, the trie's creation
                // included: a refused batch leaves no trace in the group.
                if entries.iter().any(|e| e.score.is_some()) {
                    match self.trie(trie) {
                        Some(index) => index.stage(|t| (false, add::check(Some(t), entries)))?,
                        None => add::check(None, entries)?,
                    }
                }
                let index = self.trie_or_create(trie)?;
                let ops = &mut self.ops;
                let mut interner = self
                    .state
                    .interner
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                let counts = index.stage(|t| {
                    let counts = add::apply(t, trie, entries, ops, &mut interner);
                    (counts.added + counts.updated > 0, counts)
                });
                self.touch(&index);
                Ok(Reply::Added {
                    added: counts.added,
                    updated: counts.updated,
                    unchanged: counts.unchanged,
                })
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
            Command::TrieCreate { trie, fold } => match self.trie(trie) {
                Some(index) => {
                    let existing = index.stage(|t| (false, t.fold()));
                    if existing == *fold {
                        Ok(Reply::Created(false))
                    } else {
                        Err(DbError::SettingsConflict {
                            trie: trie.clone(),
                            existing,
                            asked: *fold,
                        })
                    }
                }
                None => {
                    self.create(trie, *fold)?;
                    Ok(Reply::Created(true))
                }
            },
            Command::TrieDrop { trie } => {
                if self.trie(trie).is_none() {
                    return Err(DbError::NotFound(format!("trie {trie}")));
                }
                self.tries.insert(trie.clone(), None);
                self.ops.push(Op::TrieDrop { trie: trie.clone() });
                Ok(Reply::Done)
            }
            Command::StackPush { stack, value } => {
                self.stack_room(stack)?;
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
                self.cache_room(cache)?;
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
                self.cache_room(cache)?;
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

/// How many names are live once a batch's changes (`name`, live after?)
/// apply over `published`.
fn count<'n, T>(
    published: &BTreeMap<String, T>,
    changes: impl Iterator<Item = (&'n String, bool)>,
) -> usize {
    let mut n = published.len();
    for (name, live) in changes {
        match (live, published.contains_key(name)) {
            (true, false) => n += 1,
            (false, true) => n -= 1,
            _ => {}
        }
    }
    n
}

/// Whether one more of `kind` fits under `limit` with `live` of them.
fn room(kind: &'static str, live: usize, limit: usize) -> Result<(), DbError> {
    if live >= limit {
        return Err(DbError::TooMany { kind, limit });
    }
    Ok(())
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
