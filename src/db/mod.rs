//! The served state: tries, stacks and caches by name, changed by one writer
//! with group commit.
//!
//! # What it owns
//! [`Db`] is what the server (and the import pool) talk to. Reads go straight
//! to published state and never wait: the registries of names are published
//! like the tries themselves (an `ArcSwap` of an immutable map), a trie read
//! is an [`Index`] snapshot read, and stacks and caches are read under their
//! own short locks. Every write is a command sent over a bounded channel
//! to the single writer thread (module `writer`), which takes everything waiting,
//! applies it to staged copies, makes it durable with one [`Store::append`],
//! and only then publishes it and answers. Readers therefore never see a
//! write that is not durable, and a failed sync answers every request of the
//! group with [`DbError::Unavailable`] and changes nothing. An add whose
//! scores would not all stay finite is refused whole before it changes
//! anything (module `add`).
//!
//! # Why one writer
//! Writes to one trie are serialized anyway (one copy-on-write writer copy);
//! funnelling every write through one thread turns many small writes into one
//! disk sync and one snapshot publish per group, which is what makes
//! thousands of durable writes per second possible on one disk.

mod add;
mod batch;
mod command;
mod compact;
mod error;
mod follow;
mod idempotency;
mod release;
mod repack;
mod replay;
mod scheduling;
mod writer;

use std::collections::BTreeMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::sync::{mpsc, oneshot};

use crate::store::{LoadStats, Store, StoreError};
use crate::sync::{Cache, Index, Stack};
pub use crate::trie::ScoreOp;
pub use crate::value::Value;
use command::{Command, Reply};
pub use compact::MIN_OPS as COMPACT_MIN_OPS;
pub use error::DbError;
pub use idempotency::{fingerprint, IdemKey, WINDOW as IDEMPOTENCY_WINDOW};
pub use release::on_release;
pub(crate) use release::release as release_memory;
pub use scheduling::on_write_load;

/// A trie of JSON values.
pub type TrieIndex = Index<Value>;
/// A stack of JSON values.
pub type ValueStack = Stack<Value>;
/// A string-to-integer cache.
pub type IntCache = Cache<String, i64>;

/// Set by [`Db`]'s write methods once a command is queued for the writer, for the
/// request running inside [`QueuedFlag::scope`]: from then on the command
/// may be applied whether or not anyone waits for its answer.
#[derive(Clone, Default, Debug)]
pub struct QueuedFlag(Arc<(std::sync::atomic::AtomicBool, std::sync::OnceLock<IdemKey>)>);

tokio::task_local! {
    static QUEUED: QueuedFlag;
}

impl QueuedFlag {
    /// Gives the request's write an idempotency key (the first one set
    /// stays).
    pub fn set_key(&self, key: IdemKey) {
        let _ = self.0 .1.set(key);
    }

    fn key() -> Option<IdemKey> {
        QUEUED.try_with(|q| q.0 .1.get().cloned()).ok().flatten()
    }

    /// Runs `fut` with this flag as the one [`Db`]'s write methods set.
    pub async fn scope<F: std::future::Future>(&self, fut: F) -> F::Output {
        QUEUED.scope(self.clone(), fut).await
    }

    /// Whether a command was queued.
    pub fn is_set(&self) -> bool {
        self.0 .0.load(std::sync::atomic::Ordering::Acquire)
    }

    fn mark() {
        let _ = QUEUED.try_with(|q| q.0 .0.store(true, std::sync::atomic::Ordering::Release));
    }
}

/// What [`Db::add_entries`] and [`Db::add_scored`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Added {
    /// New pairs.
    pub added: usize,
    /// Pairs that were already there and whose score changed.
    pub updated: usize,
    /// Pairs that were already there and stayed as they were (a plain add
    /// of a stored pair, or a score equal to the stored one).
    pub unchanged: usize,
    /// Pairs that were already there: `updated + unchanged` (what clients
    /// of the API before scores read).
    pub existing: usize,
}

/// One entry of [`Db::add_scored`]: a pair and what to do to its score.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredEntry {
    /// Key (non-empty, checked by the caller).
    pub key: String,
    /// Value.
    pub value: Value,
    /// Set or increment the pair's score; `None` adds the pair with score 0
    /// when it is new and leaves a stored pair's score as it is.
    pub score: Option<ScoreOp>,
}

impl ScoredEntry {
    /// A pair without a score change.
    pub fn plain(key: String, value: Value) -> Self {
        ScoredEntry {
            key,
            value,
            score: None,
        }
    }
}

pub(crate) struct Request {
    command: Command,
    reply: oneshot::Sender<Result<Reply, DbError>>,
    idem: Option<IdemKey>,
}

/// Published state; only the writer thread changes it.
/// How many tries, stacks and caches a [`Db`] may hold, so that no client
/// can create names without bound (each costs memory and a log record).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most tries.
    pub max_tries: usize,
    /// Most stacks.
    pub max_stacks: usize,
    /// Most caches.
    pub max_caches: usize,
    /// The fewest operations that make housekeeping worth it: a checkpoint
    /// (the log rewritten from the live state) once the operations since
    /// the last pass this many and half the live state (an eighth once
    /// writes pause), and a repack of the tries after a pause once the
    /// writes since the last pass this many and an eighth of the state.
    pub compact_min_ops: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_tries: 10_000,
            max_stacks: 10_000,
            max_caches: 10_000,
            compact_min_ops: compact::MIN_OPS,
        }
    }
}

#[derive(Default)]
pub(crate) struct State {
    /// Caps on the number of names.
    limits: Limits,
    /// Set once the store failed in a way only a restart recovers from.
    failed: std::sync::atomic::AtomicBool,
    /// Answers to writes sent with an idempotency key (only the writer
    /// thread locks it).
    remembered: std::sync::Mutex<idempotency::Remembered>,
    /// The one text of each long value the tries hold (only the writer
    /// thread locks it, and replay before it starts).
    interner: std::sync::Mutex<crate::value::Interner>,
    tries: ArcSwap<BTreeMap<String, TrieIndex>>,
    stacks: ArcSwap<BTreeMap<String, Arc<ValueStack>>>,
    caches: ArcSwap<BTreeMap<String, Arc<IntCache>>>,
}

/// Handle on the served state; cheap to clone (shares everything).
#[derive(Clone)]
pub struct Db {
    state: Arc<State>,
    tx: mpsc::Sender<Request>,
}

/// How many requests may wait for the writer before senders wait too
/// (backpressure instead of unbounded buffering).
const QUEUE: usize = 4096;

fn unexpected<T>(reply: Reply) -> Result<T, DbError> {
    tracing::error!(?reply, "the writer gave an unexpected reply");
    Err(DbError::Internal)
}

fn added(r: Result<Reply, DbError>) -> Result<Added, DbError> {
    match r? {
        Reply::Added {
            added,
            updated,
            unchanged,
        } => Ok(Added {
            added,
            updated,
            unchanged,
            existing: updated + unchanged,
        }),
        other => unexpected(other),
    }
}

fn plain(entries: Vec<(String, Value)>) -> Vec<ScoredEntry> {
    entries
        .into_iter()
        .map(|(key, value)| ScoredEntry::plain(key, value))
        .collect()
}

fn done(r: Result<Reply, DbError>) -> Result<(), DbError> {
    match r? {
        Reply::Done | Reply::Removed(_) => Ok(()),
        other => unexpected(other),
    }
}

fn int(r: Result<Reply, DbError>) -> Result<i64, DbError> {
    match r? {
        Reply::Int(v) => Ok(v),
        other => unexpected(other),
    }
}

impl Db {
    /// Loads everything `store` holds, then starts the writer thread.
    /// Returns the handle, what was loaded, and the writer thread (which ends
    /// once every handle is dropped).
    ///
    /// # Errors
    /// What [`Store::load`] reports: corruption (file and offset) or I/O.
    pub fn open(
        store: impl Store,
    ) -> Result<(Db, LoadStats, std::thread::JoinHandle<()>), StoreError> {
        Db::open_with(store, Limits::default())
    }

    /// As [`Db::open`], with caps on the number of tries, stacks and caches
    /// (what the store already holds loads whatever the caps).
    ///
    /// # Errors
    /// As [`Db::open`].
    pub fn open_with(
        mut store: impl Store,
        limits: Limits,
    ) -> Result<(Db, LoadStats, std::thread::JoinHandle<()>), StoreError> {
        let (mut state, loaded) = replay::load(&mut store)?;
        let stats = loaded.stats;
        state.limits = limits;
        let history = compact::compact_if_worth_it(&state, &mut store, stats.ops);
        // Rewritten at start-up, the store is one checkpoint.
        let unsorted = if history == stats.ops {
            loaded.unsorted
        } else {
            0
        };
        let state = Arc::new(state);
        let (tx, rx) = mpsc::channel(QUEUE);
        let thread_state = Arc::clone(&state);
        let handle = std::thread::Builder::new()
            .name("typeahead-writer".into())
            .spawn(move || {
                // A writer that panicked would leave a server that answers
                // reads and refuses every write forever: stop the process
                // instead, so that a supervisor restarts it and recovery
                // decides from what is on disk (nothing unacknowledged is
                // lost by stopping; nothing acknowledged is lost either).
                let run = std::panic::AssertUnwindSafe(|| {
                    writer::run(thread_state, Box::new(store), rx, history, unsorted)
                });
                if std::panic::catch_unwind(run).is_err() {
                    tracing::error!("the writer thread panicked; stopping the process");
                    std::process::abort();
                }
            })
            .expect("spawn the writer thread");
        Ok((Db { state, tx }, stats, handle))
    }

    /// Sends a write to the writer and waits until it is durable and
    /// visible (or refused).
    ///
    /// # Errors
    /// The command's own refusals (see [`Command`]), [`DbError::Unavailable`]
    /// when the disk failed, [`DbError::ShuttingDown`] when the writer is gone.
    async fn execute(&self, command: Command) -> Result<Reply, DbError> {
        let (reply, rx) = oneshot::channel();
        let idem = QueuedFlag::key();
        self.tx
            .send(Request {
                command,
                reply,
                idem,
            })
            .await
            .map_err(|_| DbError::ShuttingDown)?;
        QueuedFlag::mark();
        rx.await.map_err(|_| DbError::ShuttingDown)?
    }

    /// As [`Db::execute`], for threads outside the async runtime.
    ///
    /// # Errors
    /// As [`Db::execute`].
    fn execute_blocking(&self, command: Command) -> Result<Reply, DbError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .blocking_send(Request {
                command,
                reply,
                idem: None,
            })
            .map_err(|_| DbError::ShuttingDown)?;
        rx.blocking_recv().map_err(|_| DbError::ShuttingDown)?
    }

    /// Adds pairs in order, creating the trie if needed; all or nothing.
    /// A new pair gets score 0; a stored pair keeps its score.
    ///
    /// # Errors
    /// [`DbError::Unavailable`], [`DbError::StorageFull`] and the other
    /// storage and idempotency errors every write can get.
    pub async fn add_entries(
        &self,
        trie: String,
        entries: Vec<(String, Value)>,
    ) -> Result<Added, DbError> {
        self.add_scored(trie, plain(entries)).await
    }

    /// As [`Db::add_entries`], for threads outside the async runtime.
    ///
    /// # Errors
    /// As [`Db::add_entries`].
    pub fn add_entries_blocking(
        &self,
        trie: String,
        entries: Vec<(String, Value)>,
    ) -> Result<Added, DbError> {
        self.add_scored_blocking(trie, plain(entries))
    }

    /// Adds pairs in order and sets or increments the scores of those that
    /// carry a [`ScoreOp`], creating the trie if needed; all or nothing.
    /// Entries apply one after another, so an increment sees the sets and
    /// increments of the same pair before it in the batch.
    ///
    /// # Errors
    /// [`DbError::InvalidScore`] when a score or an increment is not finite
    /// or an increment's sum is not (it overflows), wherever in the batch:
    /// nothing of the batch is applied. Otherwise as [`Db::add_entries`].
    pub async fn add_scored(
        &self,
        trie: String,
        entries: Vec<ScoredEntry>,
    ) -> Result<Added, DbError> {
        added(self.execute(Command::TrieAdd { trie, entries }).await)
    }

    /// As [`Db::add_scored`], for threads outside the async runtime.
    ///
    /// # Errors
    /// As [`Db::add_scored`].
    ///
    /// # Examples
    /// ```
    /// use typeahead::db::{Db, DbError, ScoreOp, ScoredEntry, Value};
    ///
    /// let (db, _, _) = Db::open(typeahead::store::NullStore).unwrap();
    /// let one = Value::parse("1").unwrap();
    /// let go = |op| ScoredEntry { key: "go".into(), value: one.clone(), score: Some(op) };
    /// let done = db
    ///     .add_scored_blocking("t".into(), vec![go(ScoreOp::Set(2.0)), go(ScoreOp::Incr(0.5))])
    ///     .unwrap();
    /// assert_eq!((done.added, done.updated, done.existing), (1, 1, 1));
    /// let score = |db: &Db| db.trie("t").unwrap().read(|s| s.trie().score("go", &one));
    /// assert_eq!(score(&db), Some(2.5));
    /// // An increment past the largest double refuses the whole batch.
    /// let batch = vec![go(ScoreOp::Set(f64::MAX)), go(ScoreOp::Incr(f64::MAX))];
    /// let err = db.add_scored_blocking("t".into(), batch);
    /// assert!(matches!(err, Err(DbError::InvalidScore { index: 1, .. })));
    /// assert_eq!(score(&db), Some(2.5));
    /// ```
    pub fn add_scored_blocking(
        &self,
        trie: String,
        entries: Vec<ScoredEntry>,
    ) -> Result<Added, DbError> {
        added(self.execute_blocking(Command::TrieAdd { trie, entries }))
    }

    /// Removes pairs, or whole keys where the value is `None`; returns the
    /// pairs removed.
    ///
    /// # Errors
    /// [`DbError::NotFound`] for a missing trie, and the storage errors.
    pub async fn remove_entries(
        &self,
        trie: String,
        entries: Vec<(String, Option<Value>)>,
    ) -> Result<usize, DbError> {
        match self.execute(Command::TrieRemove { trie, entries }).await? {
            Reply::Removed(n) => Ok(n),
            other => unexpected(other),
        }
    }

    /// Removes one key with all its values; returns the pairs removed.
    ///
    /// # Errors
    /// [`DbError::NotFound`] when the trie or the key is missing, and the
    /// storage errors.
    pub async fn remove_key(&self, trie: String, key: String) -> Result<usize, DbError> {
        match self.execute(Command::TrieRemoveKey { trie, key }).await? {
            Reply::Removed(n) => Ok(n),
            other => unexpected(other),
        }
    }

    /// Creates a trie with `fold`; returns true when it is new and false
    /// when it exists with the same settings.
    ///
    /// # Errors
    /// [`DbError::SettingsConflict`] when it exists with other settings,
    /// [`DbError::TooMany`], and the storage errors.
    pub async fn create_trie(
        &self,
        trie: String,
        fold: crate::fold::Fold,
    ) -> Result<bool, DbError> {
        match self.execute(Command::TrieCreate { trie, fold }).await? {
            Reply::Created(new) => Ok(new),
            other => unexpected(other),
        }
    }

    /// Deletes a trie.
    ///
    /// # Errors
    /// [`DbError::NotFound`], and the storage errors.
    pub async fn drop_trie(&self, trie: String) -> Result<(), DbError> {
        done(self.execute(Command::TrieDrop { trie }).await)
    }

    /// Pushes onto a stack (creating it); returns its length after.
    ///
    /// # Errors
    /// The storage errors.
    pub async fn push(&self, stack: String, value: Value) -> Result<usize, DbError> {
        match self.execute(Command::StackPush { stack, value }).await? {
            Reply::Len(n) => Ok(n),
            other => unexpected(other),
        }
    }

    /// Pops a stack's top; returns it and the length left.
    ///
    /// # Errors
    /// [`DbError::Empty`], and the storage errors.
    pub async fn pop(&self, stack: String) -> Result<(Value, usize), DbError> {
        match self.execute(Command::StackPop { stack }).await? {
            Reply::Popped(v, n) => Ok((v, n)),
            other => unexpected(other),
        }
    }

    /// Deletes a stack.
    ///
    /// # Errors
    /// [`DbError::NotFound`], and the storage errors.
    pub async fn drop_stack(&self, stack: String) -> Result<(), DbError> {
        done(self.execute(Command::StackDrop { stack }).await)
    }

    /// Sets a cache key (creating the cache); returns the value.
    ///
    /// # Errors
    /// The storage errors.
    pub async fn cache_set(&self, cache: String, key: String, value: i64) -> Result<i64, DbError> {
        int(self.execute(Command::CacheSet { cache, key, value }).await)
    }

    /// Adds `by` to a cache key (from 0 when missing); returns the value.
    ///
    /// # Errors
    /// [`DbError::Overflow`] (nothing changes), and the storage errors.
    pub async fn incr(&self, cache: String, key: String, by: i64) -> Result<i64, DbError> {
        int(self.execute(Command::CacheIncr { cache, key, by }).await)
    }

    /// Removes a cache key.
    ///
    /// # Errors
    /// [`DbError::NotFound`] for a missing cache or key, and the storage
    /// errors.
    pub async fn cache_remove(&self, cache: String, key: String) -> Result<(), DbError> {
        done(self.execute(Command::CacheRemove { cache, key }).await)
    }

    /// Deletes a cache.
    ///
    /// # Errors
    /// [`DbError::NotFound`], and the storage errors.
    pub async fn drop_cache(&self, cache: String) -> Result<(), DbError> {
        done(self.execute(Command::CacheDrop { cache }).await)
    }

    /// Whether the store failed in a way that refuses every write until a
    /// restart (a failed sync): `/healthz` then answers 503.
    pub fn failed(&self) -> bool {
        self.state.failed.load(std::sync::atomic::Ordering::Acquire)
    }

    /// The trie called `name`.
    pub fn trie(&self, name: &str) -> Option<TrieIndex> {
        self.state.tries.load().get(name).cloned()
    }

    /// Every trie, sorted by name.
    pub fn tries(&self) -> Vec<(String, TrieIndex)> {
        let map = self.state.tries.load();
        map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// The stack called `name`.
    pub fn stack(&self, name: &str) -> Option<Arc<ValueStack>> {
        self.state.stacks.load().get(name).cloned()
    }

    /// Every stack, sorted by name.
    pub fn stacks(&self) -> Vec<(String, Arc<ValueStack>)> {
        let map = self.state.stacks.load();
        map.iter()
            .map(|(k, v)| (k.clone(), Arc::clone(v)))
            .collect()
    }

    /// The cache called `name`.
    pub fn cache(&self, name: &str) -> Option<Arc<IntCache>> {
        self.state.caches.load().get(name).cloned()
    }

    /// Every cache, sorted by name.
    pub fn caches(&self) -> Vec<(String, Arc<IntCache>)> {
        let map = self.state.caches.load();
        map.iter()
            .map(|(k, v)| (k.clone(), Arc::clone(v)))
            .collect()
    }
}

#[cfg(test)]
mod tests;
