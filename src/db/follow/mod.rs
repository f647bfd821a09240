//! Applying a group another node committed, on a follower of a shared
//! store: the group's operations become commands for a [`Batch`], which
//! stages them over the published state and publishes them at once, exactly
//! as the writer published them. Readers never wait, and versions only grow.

use super::batch::Batch;
use super::command::Command;
use super::{ScoreOp, ScoredEntry, State};
use crate::fold::Fold;
use crate::store::Op;

/// Applies one committed group and publishes it.
pub(super) fn apply(state: &State, ops: Vec<Op>) {
    let mut batch = Batch::following(state);
    for op in ops {
        let command = match op {
            Op::TrieCreate { trie } => Command::TrieCreate {
                trie,
                fold: Fold::None,
            },
            Op::TrieSettings { trie, fold } => Command::TrieCreate { trie, fold },
            Op::TrieInsert { trie, key, value } => Command::TrieAdd {
                trie,
                entries: vec![ScoredEntry::plain(key, value)],
            },
            Op::TrieScore {
                trie,
                key,
                value,
                score,
            } => Command::TrieAdd {
                trie,
                entries: vec![ScoredEntry {
                    key,
                    value,
                    score: Some(ScoreOp::Set(score)),
                }],
            },
            Op::TrieRemove { trie, key, value } => Command::TrieRemove {
                trie,
                entries: vec![(key, value)],
            },
            Op::TrieDrop { trie } => Command::TrieDrop { trie },
            Op::StackPush { stack, value } => Command::StackPush { stack, value },
            Op::StackPop { stack } => Command::StackPop { stack },
            Op::StackDrop { stack } => Command::StackDrop { stack },
            Op::CacheSet { cache, key, value } => Command::CacheSet { cache, key, value },
            Op::CacheRemove { cache, key } => Command::CacheRemove { cache, key },
            Op::CacheDrop { cache } => Command::CacheDrop { cache },
            Op::Idempotent {
                key,
                fingerprint,
                reply,
            } => {
                state
                    .remembered
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .replay(&key, fingerprint, &reply);
                continue;
            }
        };
        // The writer applied the same operation to the same state, so a
        // refusal here (creating a trie that exists) changes nothing there
        // either.
        if let Err(e) = batch.apply(&command) {
            tracing::debug!(error = %e, "a committed operation changed nothing");
        }
    }
    batch.commit();
}

#[cfg(test)]
mod tests;
