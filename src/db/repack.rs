//! Repacking the tries after a burst of writes: each rebuilt in fresh,
//! tight allocations ([`crate::Trie::repacked`]) on a thread of its own,
//! one part at a time, each part published in place of the one it copies if
//! no write came under it meanwhile.
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
//! on; the writer publishes a part's copy only when the trie still holds
//! that very part (a write under it meanwhile wins, and a later pause
//! repacks again), so a repack changes no answer and loses no write.
//!
//! Part by part ([`crate::trie::Part`]: a child of the root), because a
//! copy of the whole trie held the old trie and the new one at once: the
//! peak of a large import (1M users: 270-277 MiB resident against about
//! 220 MiB at the end of the import itself). A part's old copy goes as
//! soon as its new one is published, and the thread copies at most a few
//! parts ahead of the writer.

use std::sync::mpsc;

use super::{State, TrieIndex, Value};
use crate::trie::Part;

/// Parts copied and not yet published, at most (the thread waits).
const AHEAD: usize = 2;

/// The repack rule of [`Repacker::due`]: `since` writes are at least
/// `min_ops` and an eighth of the `live` state.
fn worth_it(since: u64, live: u64, min_ops: u64) -> bool {
    since >= min_ops && since >= live / 8
}

/// What the repacking thread sends the writer.
enum Copied {
    /// A part of trie `name` (`index`) and its copy.
    Part {
        name: String,
        index: TrieIndex,
        old: Part<Value>,
        new: Part<Value>,
    },
    /// Every part of every trie was sent.
    Done,
}

/// The writer's side: operations since the last repack, and the one in
/// flight.
#[derive(Default)]
pub(super) struct Repacker {
    since: u64,
    /// Parts published by the repack in flight.
    parts: u64,
    pending: Option<mpsc::Receiver<Copied>>,
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

    /// Starts repacking every trie, part by part, each part from the
    /// trie's snapshot when its turn comes, on a thread of its own.
    pub(super) fn start(&mut self, state: &State) {
        let work: Vec<(String, TrieIndex)> = state
            .tries
            .load()
            .iter()
            .map(|(name, index)| (name.clone(), index.clone()))
            .collect();
        let (tx, rx) = mpsc::sync_channel(AHEAD);
        tracing::info!(tries = work.len(), "repacking the tries");
        let spawned = std::thread::Builder::new()
            .name("typeahead-repack".into())
            .spawn(move || {
                for (name, index) in work {
                    // Each part taken from the trie as it is at its turn,
                    // so that the thread holds no part that writes have
                    // replaced while it waited for the writer.
                    for i in 0.. {
                        let Some(old) = index.snapshot().trie().part(i) else {
                            break;
                        };
                        let new = old.repacked();
                        let copied = Copied::Part {
                            name: name.clone(),
                            index: index.clone(),
                            old,
                            new,
                        };
                        if tx.send(copied).is_err() {
                            return;
                        }
                    }
                }
                let _ = tx.send(Copied::Done);
            });
        match spawned {
            Ok(_) => {
                self.pending = Some(rx);
                self.since = 0;
            }
            Err(e) => tracing::warn!(error = %e, "could not start repacking the tries"),
        }
    }

    /// Publishes the parts copied so far: each part the trie still holds
    /// is replaced by its copy, and the old one dropped. Returns true when
    /// the repack finished (then the old tries' memory can go back).
    pub(super) fn finish(&mut self, state: &State) -> bool {
        let Some(rx) = &self.pending else {
            return false;
        };
        loop {
            match rx.try_recv() {
                Ok(Copied::Part {
                    name,
                    index,
                    old,
                    new,
                }) => {
                    // A trie dropped or replaced since holds none of it.
                    let live = state
                        .tries
                        .load()
                        .get(&name)
                        .is_some_and(|i| i.same_as(&index));
                    if live
                        && index.stage(|t| {
                            let replaced = t.replace_part(&old, new);
                            (replaced, replaced)
                        })
                    {
                        index.publish();
                        self.parts += 1;
                    }
                }
                Ok(Copied::Done) => break,
                Err(mpsc::TryRecvError::Empty) => return false,
                Err(mpsc::TryRecvError::Disconnected) => {
                    tracing::warn!("the repacking thread stopped");
                    break;
                }
            }
        }
        self.pending = None;
        tracing::info!(
            parts = std::mem::take(&mut self.parts),
            "repacked the tries"
        );
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
