//! Adding scored pairs to a staged trie, all or nothing.
//!
//! # What it owns
//! The writer's half of [`Command::TrieAdd`](super::Command): checking a
//! batch's scores ([`check`]) and applying it ([`apply`]), with the operations
//! the log records for it.
//!
//! # Why check first
//! A batch either applies whole or not at all, and it shares the writer's
//! staged trie with the other commands of its group: a batch refused halfway
//! cannot be undone by discarding the staged copy without throwing away the
//! group's other commands too. So the batch is simulated before anything
//! changes: each score and increment must be finite, and so must every sum
//! an increment makes, counted from the pair's stored score (or a score set
//! or incremented earlier in the same batch). Only a batch that passes is
//! applied, and then [`Trie::upsert`] cannot refuse any of it.
//!
//! # What the log records
//! A new pair with score 0 is recorded as [`Op::TrieInsert`] (the shape of
//! every entry written before scores existed, and the smallest); any other
//! added or changed pair as [`Op::TrieScore`] with its resulting score, so an
//! increment replays as the sum it made, whatever came before it. A pair
//! left unchanged records nothing.

use std::collections::HashMap;

use super::{DbError, ScoreOp, ScoredEntry, Value};
use crate::store::Op;
use crate::trie::{Trie, Upserted};
use crate::value::{score_text, Interner};

/// Pair counts of an applied batch.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Counts {
    pub(super) added: usize,
    pub(super) updated: usize,
    pub(super) unchanged: usize,
}

/// Refuses a batch in which any score, increment or sum is not finite.
/// `trie` is the staged trie, or `None` when the batch would create it.
pub(super) fn check(trie: Option<&Trie<Value>>, entries: &[ScoredEntry]) -> Result<(), DbError> {
    // Scores set or incremented earlier in this batch, by pair. Only an
    // increment reads them, so a batch without one (an import's) keeps
    // none: hashing every pair of an import was a tenth of the writer's
    // time.
    let incrs = entries
        .iter()
        .any(|e| matches!(e.score, Some(ScoreOp::Incr(_))));
    let mut pending: HashMap<(&str, &Value), f64, foldhash::fast::RandomState> = HashMap::default();
    for (index, e) in entries.iter().enumerate() {
        let Some(op) = e.score else {
            // A plain add leaves a stored pair's score and gives a new pair
            // 0, which is what an absent pair counts as below.
            continue;
        };
        let invalid = |reason: String| DbError::InvalidScore { index, reason };
        let next = match op {
            ScoreOp::Set(s) => {
                if !s.is_finite() {
                    return Err(invalid(format!(
                        "score {} is not a finite number",
                        score_text(s)
                    )));
                }
                s
            }
            ScoreOp::Incr(d) => {
                if !d.is_finite() {
                    return Err(invalid(format!(
                        "incr {} is not a finite number",
                        score_text(d)
                    )));
                }
                let pair = (e.key.as_str(), &e.value);
                let old = match pending.get(&pair) {
                    Some(&s) => s,
                    None => trie.and_then(|t| t.score(&e.key, &e.value)).unwrap_or(0.0),
                };
                let sum = old + d;
                if !sum.is_finite() {
                    return Err(invalid(format!(
                        "adding {} to the score {} of key {:?} overflows to {}infinity (a score stays within ±1.8e308)",
                        score_text(d),
                        score_text(old),
                        e.key,
                        if sum < 0.0 { "-" } else { "" },
                    )));
                }
                sum
            }
        };
        if incrs {
            pending.insert((e.key.as_str(), &e.value), next);
        }
    }
    Ok(())
}

/// Applies a batch that [`check`] passed, pushing the operations that
/// record it onto `ops`. Values are stored through `interner`, so that equal
/// long values share one text.
pub(super) fn apply(
    t: &mut Trie<Value>,
    trie: &str,
    entries: &[ScoredEntry],
    ops: &mut Vec<Op>,
    interner: &mut Interner,
) -> Counts {
    let mut counts = Counts::default();
    for e in entries {
        let value = interner.intern(&e.value);
        let outcome = match e.score {
            None => t.insert(&e.key, value).map(|new| {
                if new {
                    Upserted::Added
                } else {
                    Upserted::Unchanged
                }
            }),
            Some(op) => t.upsert(&e.key, value, op),
        };
        let score = match outcome {
            Ok(Upserted::Added) => {
                counts.added += 1;
                match e.score {
                    Some(ScoreOp::Set(s) | ScoreOp::Incr(s)) if s != 0.0 => s,
                    _ => {
                        ops.push(Op::TrieInsert {
                            trie: trie.to_owned(),
                            key: e.key.clone(),
                            value: e.value.clone(),
                        });
                        continue;
                    }
                }
            }
            Ok(Upserted::Updated) => {
                counts.updated += 1;
                match e.score {
                    Some(ScoreOp::Set(s)) => s,
                    // The sum the engine made, read back rather than
                    // computed twice.
                    _ => t.score(&e.key, &e.value).unwrap_or(0.0),
                }
            }
            Ok(Upserted::Unchanged) => {
                counts.unchanged += 1;
                continue;
            }
            Err(error) => {
                // Keys are checked upstream and scores by `check`: nothing
                // is left for the engine to refuse.
                tracing::error!(%error, key = %e.key, "the engine refused a checked entry");
                counts.unchanged += 1;
                continue;
            }
        };
        ops.push(Op::TrieScore {
            trie: trie.to_owned(),
            key: e.key.clone(),
            value: e.value.clone(),
            score,
        });
    }
    counts
}

#[cfg(test)]
mod tests;
