//! Compaction and checkpoints: rewriting the store from the live state
//! when its history has grown much larger than the state, so that disk and
//! start-up time follow the data, not its history (a hot counter
//! incremented a million times is one operation after it); and when many
//! operations have come since the last rewrite (an import of a million
//! users), so that the next start reads a checkpoint. A rewrite lists each
//! trie's pairs in key order, which replay loads without hashing a key and
//! builds without sorting (module `replay`); a log of the same pairs in the
//! order they were written costs a hash map of every key.
//!
//! The state is frozen at a group boundary, in the writer thread: trie
//! snapshots are immutable already (an `Arc` each), stacks, caches and
//! remembered idempotency answers are copied. At start-up the store is
//! rewritten from it at once; while running, the store writes it in the
//! background ([`Store::start_rewrite`]) while groups keep being appended,
//! and switches files between two groups.

use std::sync::Arc;

use super::{State, TrieIndex, Value};
use crate::store::{Op, Store};
use crate::sync::Snapshot;

/// History must exceed this many operations before compaction is worth it,
/// by default ([`crate::db::Limits::compact_min_ops`]).
pub const MIN_OPS: u64 = 100_000;

/// The live state at one moment, ready to be written as operations.
pub(super) struct Frozen {
    tries: Vec<(String, Arc<Snapshot<Value>>)>,
    stacks: Vec<(String, Vec<Value>)>,
    caches: Vec<(String, Vec<(String, i64)>)>,
    remembered: Vec<Op>,
}

/// How many operations the live state takes (an empty stack or cache is
/// written as one set and one removal), without copying it.
pub(super) fn live_ops(state: &State) -> u64 {
    let tries = state.tries.load();
    let stacks = state.stacks.load();
    let caches = state.caches.load();
    tries
        .values()
        .map(|t: &TrieIndex| 1 + t.stats().entries as u64)
        .sum::<u64>()
        + stacks.values().map(|s| s.len().max(2) as u64).sum::<u64>()
        + caches.values().map(|c| c.len().max(2) as u64).sum::<u64>()
        + state
            .remembered
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len() as u64
}

/// Whether `history` operations are worth rewriting into `live` ones.
pub(super) fn worth_it(history: u64, live: u64, min_ops: u64) -> bool {
    history >= min_ops && history > 2 * live
}

/// Whether `unsorted` operations since the last checkpoint call for a new
/// one: at least `min_ops`, and at least half the live state while writes
/// go on (a rewrite, which writes the whole live state, is then paid for
/// by the appends since the last one: at most three writes of each
/// operation in all) or an eighth of it once they have paused (a burst,
/// an import, ends with a checkpoint, so the next start reads one).
pub(super) fn checkpoint_due(unsorted: u64, live: u64, min_ops: u64, quiet: bool) -> bool {
    let share = if quiet { live / 8 } else { live / 2 };
    unsorted >= min_ops && unsorted >= share
}

impl Frozen {
    /// Freezes the published state. Call it in the writer thread between
    /// groups, so that it is exactly the state the log holds.
    pub(super) fn capture(state: &State) -> Frozen {
        let tries = state
            .tries
            .load()
            .iter()
            .map(|(name, index)| (name.clone(), index.snapshot()))
            .collect();
        let stacks = state
            .stacks
            .load()
            .iter()
            .map(|(name, s)| (name.clone(), s.with_items(<[Value]>::to_vec)))
            .collect();
        let caches = state
            .caches
            .load()
            .iter()
            .map(|(name, c)| (name.clone(), c.entries()))
            .collect();
        let remembered = state
            .remembered
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .ops()
            .collect();
        Frozen {
            tries,
            stacks,
            caches,
            remembered,
        }
    }

    /// Passes every operation of the frozen state to `sink`.
    pub(super) fn produce(&self, sink: &mut dyn FnMut(Op)) {
        for (name, snapshot) in &self.tries {
            let fold = snapshot.trie().fold();
            sink(if fold == crate::fold::Fold::None {
                Op::TrieCreate { trie: name.clone() }
            } else {
                Op::TrieSettings {
                    trie: name.clone(),
                    fold,
                }
            });
            let mut it = snapshot.trie().iter_prefix("");
            while let Some((key, values)) = it.next_key() {
                for (value, score) in values.scored() {
                    // Score 0 is what an insert gives: the smaller record.
                    sink(if score == 0.0 {
                        Op::TrieInsert {
                            trie: name.clone(),
                            key: key.to_owned(),
                            value: value.clone(),
                        }
                    } else {
                        Op::TrieScore {
                            trie: name.clone(),
                            key: key.to_owned(),
                            value: value.clone(),
                            score,
                        }
                    });
                }
            }
        }
        for (name, items) in &self.stacks {
            if items.is_empty() {
                sink(Op::StackPush {
                    stack: name.clone(),
                    value: Value::from_canonical("0"),
                });
                sink(Op::StackPop {
                    stack: name.clone(),
                });
            }
            for value in items {
                sink(Op::StackPush {
                    stack: name.clone(),
                    value: value.clone(),
                });
            }
        }
        for op in &self.remembered {
            sink(op.clone());
        }
        for (name, entries) in &self.caches {
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
                    key: key.clone(),
                    value: *value,
                });
            }
        }
    }
}

/// At start-up: rewrites the store at once when `history` (the operations
/// just replayed) is much larger than the live state. A failure keeps the
/// old log and is only logged. Returns how many operations the store holds
/// after.
pub(super) fn compact_if_worth_it(state: &State, store: &mut dyn Store, history: u64) -> u64 {
    let live = live_ops(state);
    if !worth_it(history, live, state.limits.compact_min_ops) {
        return history;
    }
    let started = std::time::Instant::now();
    let frozen = Frozen::capture(state);
    match store.rewrite(&mut |sink| frozen.produce(sink)) {
        Ok(()) => {
            tracing::info!(
                ops_before = history,
                ops_after = live,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "compacted the log"
            );
            live
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not compact the log; keeping it as it is");
            history
        }
    }
}

/// When the writes have paused: starts a background checkpoint if one is
/// due ([`checkpoint_due`]).
pub(super) fn start_checkpoint_if_quiet(
    state: &State,
    store: &mut dyn Store,
    history: &mut u64,
    unsorted: &mut u64,
) {
    let live = live_ops(state);
    if checkpoint_due(*unsorted, live, state.limits.compact_min_ops, true) {
        start(state, store, history, unsorted, live);
    }
}

/// While running, after a group: starts a background rewrite when the
/// store's operations (`history`) have grown much larger than the live
/// state, or when the operations since the last checkpoint (`unsorted`)
/// call for one ([`checkpoint_due`]); then `history` is what the new file
/// will hold and `unsorted` is 0. The live count is only taken every
/// quarter of the threshold.
pub(super) fn maybe_start(
    state: &State,
    store: &mut dyn Store,
    history: &mut u64,
    unsorted: &mut u64,
    next_check: &mut u64,
) {
    if *history < *next_check {
        return;
    }
    let min_ops = state.limits.compact_min_ops;
    let step = (min_ops / 4).max(1);
    let live = live_ops(state);
    if !worth_it(*history, live, min_ops) && !checkpoint_due(*unsorted, live, min_ops, false) {
        *next_check = *history + step;
        return;
    }
    if !start(state, store, history, unsorted, live) {
        *next_check = *history + step;
    } else {
        *next_check = live + step;
    }
}

/// Starts a background rewrite of `live` operations; true when one started
/// (then `history` is `live` and `unsorted` 0).
fn start(
    state: &State,
    store: &mut dyn Store,
    history: &mut u64,
    unsorted: &mut u64,
    live: u64,
) -> bool {
    let frozen = Frozen::capture(state);
    let produce: crate::store::Rewrite = Box::new(move |sink| frozen.produce(sink));
    match store.start_rewrite(produce) {
        Ok(true) => {
            tracing::info!(
                ops_before = *history,
                ops_since_checkpoint = *unsorted,
                ops_after = live,
                "rewriting the log from the live state in the background"
            );
            *history = live;
            *unsorted = 0;
            true
        }
        Ok(false) => false,
        Err(e) => {
            tracing::warn!(error = %e, "could not start compacting the log");
            false
        }
    }
}
