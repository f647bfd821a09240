//! A node's remembered best answer: the top pairs by score of an inner
//! node's subtree, computed by the first ranked search that starts there
//! and kept with that version of the node.
//!
//! # What it owns
//! [`TopCache`], the slot in every inner node, and [`Cached`], what it
//! holds: the subtree's best [`CACHED`] pairs in ranked order, and whether
//! that is all of them.
//!
//! # Why it is built this way
//! A prefix of one or two characters covers hundreds of thousands of
//! pairs. The bounded search ([`ranked`](super::ranked)) does not walk
//! them, but it still opens a bucket per answer or more, each a few cache
//! misses: microseconds, where a key-order answer takes a few hundred
//! nanoseconds. The prefixes that cost the most are also the few that are
//! asked most often (every query starts with one character), so the answer
//! is worth keeping where it was found.
//!
//! Kept, not maintained. A node is immutable while readers share it
//! (copy-on-write): its remembered answer is exact for as long as that
//! version lives, and nothing has to keep it in step with writes. A write
//! passing through an inner node forgets the node's answer (a copy made
//! for a write starts empty, and a node written in place is cleared), so a
//! write costs one pointer check per node on its path, and the first
//! ranked search after it pays for the search again.
//!
//! Readers do not wait for each other to fill it: a reader that finds the
//! slot empty searches on its own and offers its answer; the first offer
//! is kept and the others dropped (two readers racing on one empty slot
//! both search; the loser waits only for the winner's pointer store).
//!
//! The memory is bounded by the number of inner nodes (one per a dozen
//! buckets) and is only spent on nodes a ranked search started from.

use std::sync::OnceLock;

use super::iter::Suggestions;

/// How many pairs a remembered answer holds: a search for at most this
/// many answers that starts at an inner node reads it instead of the
/// subtree (past it, or past what `dedupe` leaves of it, the search opens
/// the subtree for the rest).
#[cfg(not(test))]
pub(crate) const CACHED: usize = 16;
/// Small in tests, so that the model tests reach past a remembered answer
/// (a `dedupe` that leaves out some of it, a typo search that skips keys).
#[cfg(test)]
pub(crate) const CACHED: usize = 4;

/// The best pairs of a subtree by score.
pub(crate) struct Cached<V> {
    /// The subtree's best `CACHED` pairs (all of them when fewer), best
    /// first, with their full stored keys.
    pub(crate) best: Suggestions<V>,
    /// True when `best` is every pair of the subtree.
    pub(crate) all: bool,
}

/// An inner node's slot for its [`Cached`] answer.
pub(crate) struct TopCache<V>(OnceLock<Box<Cached<V>>>);

impl<V> Default for TopCache<V> {
    fn default() -> Self {
        TopCache(OnceLock::new())
    }
}

/// A copy starts empty: nodes are copied to be written (`Arc::make_mut`),
/// and a written node's answer is no longer its own.
impl<V> Clone for TopCache<V> {
    fn clone(&self) -> Self {
        TopCache::default()
    }
}

impl<V> std::fmt::Debug for TopCache<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.get() {
            Some(c) => write!(f, "TopCache({} pairs)", c.best.len()),
            None => f.write_str("TopCache(empty)"),
        }
    }
}

impl<V> TopCache<V> {
    /// Forgets the answer: the node is about to change.
    #[inline]
    pub(crate) fn clear(&mut self) {
        if self.0.get().is_some() {
            self.0 = OnceLock::new();
        }
    }

    /// The remembered answer, if any.
    #[inline]
    pub(crate) fn get(&self) -> Option<&Cached<V>> {
        self.0.get().map(|c| &**c)
    }

    /// The remembered answer, or the one `compute` finds (kept, unless
    /// another reader kept its own first).
    pub(crate) fn get_or_compute(&self, compute: impl FnOnce() -> Cached<V>) -> &Cached<V> {
        if let Some(c) = self.0.get() {
            return c;
        }
        let _ = self.0.set(Box::new(compute()));
        self.0.get().expect("set by this reader or an earlier one")
    }

    /// True when an answer is remembered.
    #[cfg(test)]
    pub(crate) fn is_set(&self) -> bool {
        self.0.get().is_some()
    }

    /// Heap bytes held, counting the values' own heap with `value_heap`.
    pub(crate) fn heap_bytes(&self, value_heap: &impl Fn(&V) -> usize) -> usize {
        self.0.get().map_or(0, |c| {
            std::mem::size_of::<Cached<V>>() + c.best.heap_bytes(value_heap)
        })
    }
}
