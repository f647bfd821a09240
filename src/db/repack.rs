//! Repacking the tries after a burst of writes: each rebuilt in fresh,
//! tight allocations ([`crate::Trie::repacked`]) on a thread of its own,
//! and published in place of the one it copies if no write came meanwhile.
//!
//! # Why it is built this way
//! An import of 1M users (3M pairs) leaves a trie of 41 bytes per pair by
//! its own count, and a server of about 85 resident bytes per pair: room
//! to grow in every bucket, and nodes spread by copy-on-write over pages
//! among freed copies, which the allocator cannot give back while one live
//! node remains on them. The same pairs loaded at start-up take 32 and 55.
//! A repacked copy is what start-up would have built; once the old trie is
//! dropped its pages are wholly free and go back to the system (module
//! `release`). The copy is made from a snapshot while reads and writes go
//! on; the writer publishes it only when the trie is still at that
//! snapshot's version (a write meanwhile wins, and a later pause repacks
//! again), so a repack changes no answer and loses no write.

use std::sync::mpsc;

use super::{State, TrieIndex, Value};
use crate::trie::Trie;

/// The repack rule of [`Repacker::due`]: `since` writes are at least
/// `min_ops` and an eighth of the `live` state.
fn worth_it(since: u64, live: u64, min_ops: u64) -> bool {
    since >= min_ops && since >= live / 8
}

/// A trie repacked from the snapshot at `version`.
struct Done {
    name: String,
    index: TrieIndex,
    version: u64,
    trie: Trie<Value>,
}

/// The writer's side: operations since the last repack, and the one in
/// flight.
#[derive(Default)]
pub(super) struct Repacker {
    since: u64,
    pending: Option<mpsc::Receiver<Vec<Done>>>,
}

impl Repacker {
    /// Counts a committed group's operations.
    pub(super) fn wrote(&mut self, ops: u64) {
        self.since += ops;
    }

    /// Whether a pause should start a repack: none in flight, and since
    /// the last one at least `compact_min_ops` writes (the threshold that
    /// makes compaction worth it, [`super::Limits::compact_min_ops`]) and
    /// an eighth of what the state holds. A repack copies every trie, so
    /// it is paid for, like a checkpoint, by writes in proportion to the
    /// state: a server taking a steady stream of writes with short pauses
    /// (a load generator's rounds) otherwise copied five million pairs
    /// every 100,000 writes, on the core its requests needed.
    pub(super) fn due(&self, state: &State) -> bool {
        self.may_be_due(state.limits.compact_min_ops)
            && worth_it(
                self.since,
                super::compact::live_ops(state),
                state.limits.compact_min_ops,
            )
    }

    /// Whether a pause may find a repack [`due`](Self::due): the part of
    /// the rule that needs no count of the state, cheap enough to ask after
    /// every group.
    pub(super) fn may_be_due(&self, min_ops: u64) -> bool {
        self.pending.is_none() && self.since >= min_ops
    }

    /// Whether a repack is under way (the writer polls it while idle).
    pub(super) fn in_flight(&self) -> bool {
        self.pending.is_some()
    }

    /// Starts repacking every trie, from its current snapshot, on a thread
    /// of its own.
    pub(super) fn start(&mut self, state: &State) {
        let work: Vec<(String, TrieIndex)> = state
            .tries
            .load()
            .iter()
            .map(|(name, index)| (name.clone(), index.clone()))
            .collect();
        let (tx, rx) = mpsc::channel();
        tracing::info!(tries = work.len(), "repacking the tries");
        let spawned = std::thread::Builder::new()
            .name("typeahead-repack".into())
            .spawn(move || {
                let done = work
                    .into_iter()
                    .map(|(name, index)| {
                        let snapshot = index.snapshot();
                        let trie = snapshot.trie().repacked();
                        let version = snapshot.version();
                        Done {
                            name,
                            index,
                            version,
                            trie,
                        }
                    })
                    .collect();
                let _ = tx.send(done);
            });
        match spawned {
            Ok(_) => {
                self.pending = Some(rx);
                self.since = 0;
            }
            Err(e) => tracing::warn!(error = %e, "could not start repacking the tries"),
        }
    }

    /// Publishes a finished repack: each trie still at the version it was
    /// copied from is replaced by its copy. Returns true when a repack
    /// finished (then the old tries' memory can go back).
    pub(super) fn finish(&mut self, state: &State) -> bool {
        let Some(rx) = &self.pending else {
            return false;
        };
        let done = match rx.try_recv() {
            Ok(done) => done,
            Err(mpsc::TryRecvError::Empty) => return false,
            Err(mpsc::TryRecvError::Disconnected) => {
                tracing::warn!("the repacking thread stopped");
                self.pending = None;
                return false;
            }
        };
        self.pending = None;
        let tries = state.tries.load();
        let mut replaced = 0;
        for d in done {
            let current = tries.get(&d.name);
            if current.is_some_and(|i| i.same_as(&d.index) && i.snapshot().version() == d.version) {
                d.index.stage(|t| {
                    *t = d.trie;
                    (true, ())
                });
                d.index.publish();
                replaced += 1;
            }
        }
        tracing::info!(tries = replaced, "repacked the tries");
        true
    }
}

#[cfg(test)]
mod tests {
    use super::worth_it;

    #[test]
    fn a_repack_is_paid_for_by_writes_in_proportion_to_the_state() {
        // Start-up counts everything it loaded: the first pause repacks.
        assert!(worth_it(3_000_000, 3_000_000, 100_000));
        // A round of writes on a large state waits for more.
        assert!(!worth_it(300_000, 4_800_000, 100_000));
        assert!(worth_it(600_000, 4_800_000, 100_000));
        // A small state still needs the minimum.
        assert!(!worth_it(999, 4_000, 1_000));
        assert!(worth_it(1_000, 4_000, 1_000));
    }
}
