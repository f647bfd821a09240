//! Durable storage: the [`Store`] trait, the operations it records, and the
//! embedded default, [`LogStore`].
//!
//! # What it owns
//! Making a batch of operations durable (one sync per batch), and streaming
//! every recorded operation back at start-up. It knows nothing of HTTP and
//! nothing of how the operations are applied.
//!
//! # Why a write-ahead log
//! The in-memory structures are the index; the disk only has to survive a
//! crash and rebuild them at start-up. An append-only log of checksummed
//! records (the Redis AOF design) does that with one sequential write and one
//! `fdatasync` per group of requests, which is the cheapest durable write
//! there is. An embedded B-tree (redb) would keep a second, random-access copy
//! of data we never read back except at start-up, and pays a copy-on-write
//! page commit per transaction. What the log gives,
//! measured by `scripts/bench-http.sh` on the 2-core development machine:
//! 38.8k acknowledged (fsynced) single adds/s with 50 clients, 212k entries/s
//! in batches of 100, a 1M-user data dir (3M entries, 65 MB, 21.7 bytes per
//! entry) restarting in 2.7 s. `cargo bench --bench store` measures it
//! against redb with the same groups: 14.1k vs 9.6k durable single-op
//! groups/s, 6.4k vs 4.2k groups of 100, and 27.9 vs 1,843 (groups of 1) or
//! 22.6 vs 94.9 (groups of 100) disk bytes per operation; reading everything
//! back, 9.2M vs 1.9M ops/s (groups of 1). At start-up a log
//! that is mostly history is rewritten from the live state
//! ([`Store::rewrite`]), so it grows with the data, not with every write.
//!
//! The trait is small on purpose: [`pg::PgStore`] (many nodes on one
//! PostgreSQL) implements `append` as one transaction and `load` as a
//! checkpoint and an ordered scan, and adds what a shared store needs on
//! top (`is_writer`, `follow`, `committed`, `tick`), which the embedded log
//! answers trivially.

mod codec;
mod disk;
mod lock;
mod log;
pub mod pg;
mod record;

pub use codec::{Op, OpRef};
pub use lock::{DirLock, LockError, LOCK_FILE};
pub use log::{Disk, LogStore, SlowSync, Staged, LOG_FILE};

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The disk refused a read, write or sync.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The disk is full: nothing of the write was kept, and later writes
    /// may succeed once space is free.
    #[error("no space left on the disk holding {path}; nothing was written")]
    Full {
        /// The file.
        path: String,
    },
    /// The sync of this write failed after its bytes were written: the
    /// write may or may not survive a crash (and may be replayed at the next
    /// start-up), and every later write is refused until a restart.
    #[error("syncing {path} failed: {source}; the write may or may not have been kept")]
    SyncFailed {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// An earlier sync failed (or a failed write could not be rolled back),
    /// so what is on disk is unknown: every write is refused until a restart
    /// re-reads the file.
    #[error(
        "an earlier sync of {path} failed; writes are refused until a restart recovers the log"
    )]
    Failed {
        /// The file.
        path: String,
    },
    /// This node is not (or no longer) the writer of a shared store: nothing
    /// was written.
    #[error("this node is not the writer; nothing was written")]
    NotWriter,
    /// A shared store refused the write before committing it: nothing was
    /// written, and the write may be sent again.
    #[error("the database refused the write; nothing was written: {0}")]
    Retry(String),
    /// A shared store's commit failed or broke off: the write may or may not
    /// have been kept. The node stops writing and follows the store again,
    /// which applies the write if it was kept.
    #[error("the commit broke off; the write may or may not have been kept: {0}")]
    Unknown(String),
    /// A node can no longer follow a shared store (what it needs next was
    /// pruned): it must restart to load a checkpoint.
    #[error("{0}")]
    Diverged(String),
    /// The data is damaged or was written by an incompatible version.
    #[error("{path} is damaged at byte offset {offset}: {reason}. The file was not changed. To keep every record before the damage, copy the file aside and cut it at that offset (truncate -s {offset} FILE), or restore a backup")]
    Corrupt {
        /// The file.
        path: String,
        /// Where the damage starts.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
}

/// What [`Store::rewrite`] takes: a function that passes every operation
/// of the live state to the sink it is given.
pub type Producer<'a> = dyn FnMut(&mut dyn FnMut(Op)) + 'a;

/// What [`Store::start_rewrite`] takes: a function, run on another thread,
/// that passes every operation of a frozen live state to its sink.
pub type Rewrite = Box<dyn FnOnce(&mut dyn FnMut(Op)) + Send>;

/// Counts reported by [`Store::load`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadStats {
    /// Operations replayed.
    pub ops: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Bytes of an incomplete last record that were cut off (a write torn by a
    /// crash before it was acknowledged).
    pub truncated_tail: u64,
}

/// Where the durable state lives.
pub trait Store: Send + 'static {
    /// Makes `ops` durable as one unit: when this returns `Ok`, all of them
    /// survive a crash; when it returns `Err`, none of them will be replayed.
    ///
    /// # Errors
    /// [`StoreError::Io`] when the disk refuses the write or the sync.
    fn append(&mut self, ops: &[Op]) -> Result<(), StoreError>;

    /// Streams every durable operation, oldest first, into `sink`.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] naming the file and offset of damage that is
    /// not a torn tail; [`StoreError::Io`] when reading fails.
    fn load(&mut self, sink: &mut dyn FnMut(OpRef<'_>)) -> Result<LoadStats, StoreError>;

    /// Replaces everything stored with the operations `produce` passes to
    /// its sink (the live state, written as operations), atomically: after a crash either all the old content or
    /// all the new is there. Start-up calls it when the history has grown much
    /// larger than the state. Stores that do not compact keep what they have.
    ///
    /// # Errors
    /// [`StoreError::Io`]; the old content is then still in place (or the
    /// store refuses further writes until a restart, if it cannot tell).
    fn rewrite(&mut self, produce: &mut Producer<'_>) -> Result<(), StoreError> {
        let _ = produce;
        Ok(())
    }

    /// Starts replacing everything stored with what `produce` passes (a
    /// frozen live state) while appends go on, and switches over once it
    /// is written, between two appends: afterwards the store holds the
    /// frozen state followed by every append made since `start_rewrite`. A
    /// crash at any moment keeps either the old content or the new, each
    /// with every acknowledged append. Returns `false` when a rewrite is
    /// already under way. Stores that cannot rewrite in the background do it
    /// at once ([`Store::rewrite`]).
    ///
    /// # Errors
    /// As [`Store::rewrite`].
    fn start_rewrite(&mut self, produce: Rewrite) -> Result<bool, StoreError> {
        let mut produce = Some(produce);
        self.rewrite(&mut |sink| {
            if let Some(p) = produce.take() {
                p(sink);
            }
        })?;
        Ok(true)
    }

    /// Whether this node may append now. A store of one node always may; a
    /// shared store only while this node is its writer.
    fn is_writer(&self) -> bool {
        true
    }

    /// Whether a background rewrite ([`Store::start_rewrite`]) is under way
    /// and waits for [`Store::finish_rewrite`] or an append to switch over.
    fn rewriting(&self) -> bool {
        false
    }

    /// Switches over to a background rewrite that is written, without
    /// waiting for an append (what an idle writer calls, so that a rewrite
    /// finished after the last write takes effect).
    ///
    /// # Errors
    /// As [`Store::append`] when the store refuses writes.
    fn finish_rewrite(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Called once the group of the last successful [`Store::append`] is
    /// visible to readers: a shared store publishes its position then, so
    /// that a position always names a state readers can see.
    fn committed(&mut self) {}

    /// On a node that is not the writer: waits up to `wait` for groups
    /// another node committed, passes each one's operations to `apply`,
    /// oldest first, and tries to become the writer.
    ///
    /// # Errors
    /// [`StoreError::Io`] when the store cannot be reached (the caller
    /// tries again later); [`StoreError::Diverged`] when the node can no
    /// longer follow.
    fn follow(
        &mut self,
        wait: std::time::Duration,
        apply: &mut dyn FnMut(Vec<Op>),
    ) -> Result<(), StoreError> {
        let _ = (wait, apply);
        Ok(())
    }

    /// On the writer, between groups and when idle: lets a shared store
    /// keep its record of the node fresh and notice a lost connection.
    ///
    /// # Errors
    /// [`StoreError::Io`] when the store cannot be reached (the node is
    /// then no longer the writer).
    fn tick(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
}

impl<S: Store + ?Sized> Store for Box<S> {
    fn append(&mut self, ops: &[Op]) -> Result<(), StoreError> {
        (**self).append(ops)
    }
    fn load(&mut self, sink: &mut dyn FnMut(OpRef<'_>)) -> Result<LoadStats, StoreError> {
        (**self).load(sink)
    }
    fn rewrite(&mut self, produce: &mut Producer<'_>) -> Result<(), StoreError> {
        (**self).rewrite(produce)
    }
    fn start_rewrite(&mut self, produce: Rewrite) -> Result<bool, StoreError> {
        (**self).start_rewrite(produce)
    }
    fn is_writer(&self) -> bool {
        (**self).is_writer()
    }
    fn rewriting(&self) -> bool {
        (**self).rewriting()
    }
    fn finish_rewrite(&mut self) -> Result<(), StoreError> {
        (**self).finish_rewrite()
    }
    fn committed(&mut self) {
        (**self).committed()
    }
    fn follow(
        &mut self,
        wait: std::time::Duration,
        apply: &mut dyn FnMut(Vec<Op>),
    ) -> Result<(), StoreError> {
        (**self).follow(wait, apply)
    }
    fn tick(&mut self) -> Result<(), StoreError> {
        (**self).tick()
    }
}

/// A store that keeps nothing (for tests and `--in-memory` runs).
#[derive(Debug, Default)]
pub struct NullStore;

impl Store for NullStore {
    fn append(&mut self, _ops: &[Op]) -> Result<(), StoreError> {
        Ok(())
    }
    fn load(&mut self, _sink: &mut dyn FnMut(OpRef<'_>)) -> Result<LoadStats, StoreError> {
        Ok(LoadStats::default())
    }
}
