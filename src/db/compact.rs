//! Compaction: rewriting the store from the live state when its history
//! has grown much larger than the state, so that start-up time and disk
//! follow the data, not its history.

use super::{State, Value};
use crate::store::{LoadStats, Op, Store};

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
