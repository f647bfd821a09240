//! The writer's semantics, and a failing store that must leave no trace.

use super::batch::Batch;
use super::*;
use crate::store::{NullStore, Op};
use std::sync::atomic::{AtomicBool, Ordering};

/// A store that refuses appends while `fail` is set, and records the rest.
#[derive(Clone, Default)]
pub(super) struct Flaky {
    pub(super) fail: Arc<AtomicBool>,
    pub(super) ops: Arc<std::sync::Mutex<Vec<Op>>>,
}

impl Store for Flaky {
    fn append(&mut self, ops: &[Op]) -> Result<(), StoreError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(StoreError::Io {
                path: "flaky".into(),
                source: std::io::Error::other("disk full"),
            });
        }
        self.ops.lock().unwrap().extend_from_slice(ops);
        Ok(())
    }
    fn load(
        &mut self,
        sink: &mut dyn FnMut(crate::store::OpRef<'_>),
    ) -> Result<LoadStats, StoreError> {
        let ops = self.ops.lock().unwrap().clone();
        let n = ops.len() as u64;
        ops.iter().for_each(|op| sink(op.as_ref()));
        Ok(LoadStats {
            ops: n,
            ..Default::default()
        })
    }
}

pub(super) fn v(text: &str) -> Value {
    Value::parse(text).unwrap()
}

fn add(trie: &str, pairs: &[(&str, &str)]) -> Command {
    Command::TrieAdd {
        trie: trie.into(),
        entries: pairs
            .iter()
            .map(|(k, x)| ScoredEntry::plain(k.to_string(), v(x)))
            .collect(),
    }
}

#[test]
fn commands_answer_like_the_api_says() {
    let (db, _, _) = Db::open(NullStore).unwrap();
    let ex = |c| db.execute_blocking(c);
    assert_eq!(
        ex(add("t", &[("go", "1"), ("go", "1"), ("git", "2")])),
        Ok(Reply::Added {
            added: 2,
            updated: 0,
            unchanged: 1
        })
    );
    assert_eq!(db.trie("t").unwrap().get("go"), [v("1")]);
    assert_eq!(
        ex(Command::TrieRemoveKey {
            trie: "t".into(),
            key: "nope".into()
        }),
        Err(DbError::NotFound("key \"nope\" in trie t".into()))
    );
    assert_eq!(
        ex(Command::StackPop { stack: "s".into() }),
        Err(DbError::Empty("s".into()))
    );
    assert_eq!(
        ex(Command::StackPush {
            stack: "s".into(),
            value: v("[1]")
        }),
        Ok(Reply::Len(1))
    );
    assert_eq!(
        ex(Command::StackPop { stack: "s".into() }),
        Ok(Reply::Popped(v("[1]"), 0))
    );
    assert!(db.stack("s").is_some(), "an emptied stack still exists");
    let incr = |by| Command::CacheIncr {
        cache: "c".into(),
        key: "k".into(),
        by,
    };
    assert_eq!(ex(incr(5)), Ok(Reply::Int(5)));
    assert_eq!(
        ex(incr(i64::MAX)),
        Err(DbError::Overflow {
            key: "k".into(),
            current: 5,
            by: i64::MAX
        })
    );
    assert_eq!(db.cache("c").unwrap().get("k"), Some(5));
}

#[test]
fn a_refused_group_changes_nothing_and_later_writes_work() {
    let store = Flaky::default();
    let (db, _, _) = Db::open(store.clone()).unwrap();
    let ex = |c| db.execute_blocking(c);
    ex(add("t", &[("a", "1")])).unwrap();
    ex(Command::StackPush {
        stack: "s".into(),
        value: v("1"),
    })
    .unwrap();
    ex(Command::CacheSet {
        cache: "c".into(),
        key: "k".into(),
        value: 1,
    })
    .unwrap();
    let version = db.trie("t").unwrap().stats().version;

    store.fail.store(true, Ordering::SeqCst);
    for c in [
        add("t", &[("b", "2")]),
        add("new", &[("x", "1")]),
        Command::TrieDrop { trie: "t".into() },
        Command::StackPush {
            stack: "s".into(),
            value: v("2"),
        },
        Command::StackPop { stack: "s".into() },
        Command::CacheIncr {
            cache: "c".into(),
            key: "k".into(),
            by: 1,
        },
        Command::CacheDrop { cache: "c".into() },
    ] {
        assert!(matches!(ex(c), Err(DbError::Unavailable(_))));
    }
    let t = db.trie("t").expect("trie kept");
    assert_eq!(t.stats().version, version);
    assert!(t.get("b").is_empty());
    assert!(db.trie("new").is_none());
    assert_eq!(db.stack("s").unwrap().peek(), Some(v("1")));
    assert_eq!(db.stack("s").unwrap().len(), 1);
    assert_eq!(db.cache("c").unwrap().get("k"), Some(1));

    store.fail.store(false, Ordering::SeqCst);
    ex(add("t", &[("b", "2")])).unwrap();
    assert_eq!(db.trie("t").unwrap().get("b"), [v("2")]);
    // Replaying what the store kept gives the same state.
    let (again, stats, _) = Db::open(store.clone()).unwrap();
    assert!(stats.ops > 0);
    assert_eq!(
        again.trie("t").unwrap().suggest("", 10),
        db.trie("t").unwrap().suggest("", 10)
    );
    assert_eq!(again.stack("s").unwrap().len(), 1);
    assert_eq!(again.cache("c").unwrap().get("k"), Some(1));
}

#[test]
fn a_group_sees_its_own_earlier_commands() {
    let (db, _, _) = Db::open(NullStore).unwrap();
    db.execute_blocking(Command::StackPush {
        stack: "s".into(),
        value: v("1"),
    })
    .unwrap();
    let mut batch = Batch::new(&db.state);
    let push = |x: &str| Command::StackPush {
        stack: "s".into(),
        value: v(x),
    };
    let pop = Command::StackPop { stack: "s".into() };
    assert_eq!(batch.apply(&push("2")), Ok(Reply::Len(2)));
    assert_eq!(batch.apply(&pop), Ok(Reply::Popped(v("2"), 1)));
    assert_eq!(batch.apply(&pop), Ok(Reply::Popped(v("1"), 0)));
    assert_eq!(batch.apply(&pop), Err(DbError::Empty("s".into())));
    assert_eq!(batch.apply(&push("3")), Ok(Reply::Len(1)));
    let incr = Command::CacheIncr {
        cache: "c".into(),
        key: "k".into(),
        by: 2,
    };
    assert_eq!(batch.apply(&incr), Ok(Reply::Int(2)));
    assert_eq!(batch.apply(&incr), Ok(Reply::Int(4)));
    assert_eq!(
        batch.apply(&add("t", &[("a", "1")])),
        Ok(Reply::Added {
            added: 1,
            updated: 0,
            unchanged: 0
        })
    );
    assert_eq!(
        batch.apply(&Command::TrieDrop { trie: "t".into() }),
        Ok(Reply::Done)
    );
    assert_eq!(
        batch.apply(&add("t", &[("a", "1")])),
        Ok(Reply::Added {
            added: 1,
            updated: 0,
            unchanged: 0
        })
    );
    // Nothing is visible before commit.
    assert_eq!(db.stack("s").unwrap().peek(), Some(v("1")));
    assert!(db.cache("c").is_none() && db.trie("t").is_none());
    batch.commit();
    assert_eq!(db.stack("s").unwrap().with_items(|i| i.to_vec()), [v("3")]);
    assert_eq!(db.cache("c").unwrap().get("k"), Some(4));
    assert_eq!(db.trie("t").unwrap().get("a"), [v("1")]);
}

/// A log whose history dwarfs its state is rewritten at start-up, and the
/// rewritten log gives back exactly the same state.
#[test]
fn startup_compacts_a_log_of_mostly_history() {
    let dir = tempfile::tempdir().unwrap();
    let open = || Db::open(crate::store::LogStore::open(dir.path()).unwrap()).unwrap();
    let entries = |lo: usize, hi: usize| -> Vec<(String, Value)> {
        (lo..hi)
            .map(|i| (format!("k{}", i % 997), v(&i.to_string())))
            .collect()
    };
    {
        // No compaction while running, so that start-up finds the history.
        let no_online = Limits {
            compact_min_ops: u64::MAX,
            ..Limits::default()
        };
        let store = crate::store::LogStore::open(dir.path()).unwrap();
        let (db, _, writer) = Db::open_with(store, no_online).unwrap();
        db.add_entries_blocking("t".into(), entries(0, 60_000))
            .unwrap();
        let gone = entries(0, 59_000)
            .into_iter()
            .map(|(k, x)| (k, Some(x)))
            .collect();
        db.execute_blocking(Command::TrieRemove {
            trie: "t".into(),
            entries: gone,
        })
        .unwrap();
        db.execute_blocking(Command::StackPush {
            stack: "s".into(),
            value: v("1"),
        })
        .unwrap();
        db.execute_blocking(Command::StackPop { stack: "s".into() })
            .unwrap();
        db.execute_blocking(Command::CacheSet {
            cache: "c".into(),
            key: "k".into(),
            value: 7,
        })
        .unwrap();
        db.execute_blocking(Command::CacheSet {
            cache: "e".into(),
            key: "k".into(),
            value: 1,
        })
        .unwrap();
        db.execute_blocking(Command::CacheRemove {
            cache: "e".into(),
            key: "k".into(),
        })
        .unwrap();
        drop(db);
        writer.join().unwrap();
    }
    let log = dir.path().join(crate::store::LOG_FILE);
    let before = std::fs::metadata(&log).unwrap().len();
    let (db, stats, writer) = open();
    assert!(stats.ops > 100_000);
    let after = std::fs::metadata(&log).unwrap().len();
    assert!(
        after * 10 < before,
        "log not compacted: {before} -> {after} bytes"
    );
    let want = db.trie("t").unwrap().suggest("", usize::MAX);
    assert_eq!(want.len(), 1_000);
    drop(db);
    writer.join().unwrap();
    // The compacted log replays to the same state, empty stack and cache included.
    let (db, stats, _) = open();
    assert!(stats.ops < 2_000, "{stats:?}");
    assert_eq!(db.trie("t").unwrap().suggest("", usize::MAX), want);
    assert_eq!(db.stack("s").unwrap().len(), 0);
    assert_eq!(db.cache("c").unwrap().get("k"), Some(7));
    assert!(db.cache("e").unwrap().is_empty());
    // And it takes writes again.
    db.execute_blocking(Command::StackPush {
        stack: "s".into(),
        value: v("2"),
    })
    .unwrap();
}

/// A store that records appends and sends each rewrite's operations.
struct Rewrites {
    tx: std::sync::mpsc::Sender<Vec<Op>>,
}

impl Store for Rewrites {
    fn append(&mut self, _ops: &[Op]) -> Result<(), StoreError> {
        Ok(())
    }
    fn load(
        &mut self,
        _sink: &mut dyn FnMut(crate::store::OpRef<'_>),
    ) -> Result<LoadStats, StoreError> {
        Ok(LoadStats::default())
    }
    fn rewrite(&mut self, produce: &mut crate::store::Producer<'_>) -> Result<(), StoreError> {
        let mut ops = Vec::new();
        produce(&mut |op| ops.push(op));
        let _ = self.tx.send(ops);
        Ok(())
    }
}

/// The keys of a rewrite's trie operations, in the order written.
fn rewritten_keys(ops: &[Op]) -> Vec<String> {
    ops.iter()
        .filter_map(|op| match op {
            Op::TrieInsert { key, .. } | Op::TrieScore { key, .. } => Some(key.clone()),
            _ => None,
        })
        .collect()
}

/// Writes in no key order: a burst as large as half the state is followed
/// by a checkpoint at once, and a smaller one (an eighth of the state or
/// more) by a checkpoint once the writes pause. Each checkpoint lists the
/// live pairs with the keys ascending, which is what replay loads without
/// hashing.
#[test]
fn a_burst_of_writes_ends_in_a_checkpoint_in_key_order() {
    let (tx, rx) = std::sync::mpsc::channel();
    let limits = Limits {
        compact_min_ops: 1_000,
        ..Limits::default()
    };
    let (db, _, writer) = Db::open_with(Rewrites { tx }, limits).unwrap();
    let scrambled = |lo: usize, hi: usize| -> Vec<(String, Value)> {
        (lo..hi)
            .map(|i| (format!("k{:05}", (i * 7919) % 100_000), v(&i.to_string())))
            .collect()
    };
    let wait = std::time::Duration::from_secs(60);
    db.add_entries_blocking("t".into(), scrambled(0, 4_000))
        .unwrap();
    let first = rx.recv_timeout(wait).expect("a checkpoint after the burst");
    let keys = rewritten_keys(&first);
    assert_eq!(keys.len(), 4_000);
    assert!(keys.windows(2).all(|w| w[0] < w[1]), "keys out of order");
    // A tenth more: not due while writes go on, due once they pause.
    db.add_entries_blocking("t".into(), scrambled(4_000, 4_500))
        .unwrap();
    db.add_entries_blocking("t".into(), scrambled(4_500, 5_000))
        .unwrap();
    let second = rx
        .recv_timeout(wait)
        .expect("a checkpoint once the writes paused");
    let keys = rewritten_keys(&second);
    assert_eq!(keys.len(), 5_000);
    assert!(keys.windows(2).all(|w| w[0] < w[1]), "keys out of order");
    let mut want: Vec<String> = scrambled(0, 5_000).into_iter().map(|(k, _)| k).collect();
    want.sort();
    assert_eq!(keys, want);
    drop(db);
    writer.join().unwrap();
    assert!(rx.try_recv().is_err(), "no checkpoint without new writes");
}

/// Once a burst of writes pauses, the trie is repacked: a new version with
/// exactly the same answers, in no more memory.
#[test]
fn a_paused_burst_of_writes_repacks_the_trie_without_changing_an_answer() {
    let limits = Limits {
        compact_min_ops: 1_000,
        ..Limits::default()
    };
    let (db, _, writer) = Db::open_with(NullStore, limits).unwrap();
    let entries: Vec<(String, Value)> = (0..4_000usize)
        .map(|i| (format!("k{:05}", (i * 7919) % 100), v(&i.to_string())))
        .collect();
    for chunk in entries.chunks(500) {
        db.add_entries_blocking("t".into(), chunk.to_vec()).unwrap();
    }
    let index = db.trie("t").unwrap();
    let written = index.snapshot();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    // Polled: the repack starts once the writes have paused, on a thread of
    // its own, and is published when the writer next looks.
    while index.snapshot().version() == written.version() {
        assert!(std::time::Instant::now() < deadline, "never repacked");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let packed = index.snapshot();
    assert_eq!(packed.version(), written.version() + 1);
    assert_eq!(
        packed.trie().suggest("", usize::MAX),
        written.trie().suggest("", usize::MAX)
    );
    for p in ["k0", "k0000", "k00009", "k0005"] {
        let opts = crate::trie::SuggestOptions::new().order(crate::trie::Order::Score);
        assert_eq!(
            packed.trie().suggest_with(p, 10, opts),
            written.trie().suggest_with(p, 10, opts)
        );
    }
    packed.trie().assert_invariants();
    assert!(packed.trie().memory().total_bytes <= written.trie().memory().total_bytes);
    drop(db);
    writer.join().unwrap();
}
