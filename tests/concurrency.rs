//! The race of the textbook design, reproduced against `Index`, `Cache` and
//! `Stack`: many threads write prefix-sharing keys while others read, and
//! nothing may be lost, duplicated or seen half-done.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use typeahead::{Cache, Index, Stack};

/// Keys that share prefixes heavily: "g", "go", "git", "gob", "gopher"...
fn key(writer: usize, i: usize) -> String {
    const STEMS: [&str; 6] = ["g", "go", "git", "gob", "gopher", "gi"];
    format!(
        "{}{}",
        STEMS[i % STEMS.len()],
        (i / STEMS.len()) % 50 + writer % 3
    )
}

#[test]
fn concurrent_writers_lose_nothing_and_readers_see_valid_snapshots() {
    const WRITERS: usize = 8;
    const PER_WRITER: usize = 1_500;
    let index: Index<u64> = Index::with_burst(4);
    let done = Arc::new(AtomicBool::new(false));

    let readers: Vec<_> = (0..4)
        .map(|_| {
            let index = index.clone();
            let done = Arc::clone(&done);
            thread::spawn(move || {
                let mut last_version = 0;
                let mut seen = 0usize;
                while !done.load(Ordering::Acquire) || seen == 0 {
                    let snap = index.snapshot();
                    assert!(snap.version() >= last_version, "version went backwards");
                    last_version = snap.version();
                    snap.trie().assert_invariants();
                    let s = snap.trie().suggest("go", 20).into_vec();
                    assert!(s.iter().all(|(k, _)| k.starts_with("go")));
                    assert!(s.windows(2).all(|w| w[0].0 <= w[1].0), "out of order");
                    seen += 1;
                }
                seen
            })
        })
        .collect();

    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let index = index.clone();
            thread::spawn(move || {
                for i in 0..PER_WRITER {
                    let value = (w * PER_WRITER + i) as u64;
                    assert_eq!(index.insert(&key(w, i), value), Ok(true));
                    if i % 10 == 0 {
                        // A batch: publishes once, both pairs or neither.
                        let mut batch = index.write();
                        batch.insert(&key(w, i + 1), value + 1_000_000).unwrap();
                        batch.remove(&key(w, i + 1), &(value + 1_000_000));
                        batch.publish();
                    }
                }
            })
        })
        .collect();
    for w in writers {
        w.join().expect("writer panicked");
    }
    done.store(true, Ordering::Release);
    for r in readers {
        assert!(r.join().expect("reader panicked") > 0);
    }

    let snap = index.snapshot();
    snap.trie().assert_invariants();
    let want: BTreeSet<(String, u64)> = (0..WRITERS)
        .flat_map(|w| (0..PER_WRITER).map(move |i| (key(w, i), (w * PER_WRITER + i) as u64)))
        .collect();
    let got: Vec<(String, u64)> = snap.trie().suggest("", usize::MAX).into_vec();
    let got_set: BTreeSet<_> = got.iter().cloned().collect();
    assert_eq!(got.len(), got_set.len(), "a pair is present twice");
    assert_eq!(got_set, want, "pairs lost or invented");
}

#[test]
fn concurrent_increments_are_exact() {
    const THREADS: usize = 8;
    const N: i64 = 5_000;
    let cache: Arc<Cache<String, i64>> = Arc::new(Cache::with_shards(4));
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let cache = Arc::clone(&cache);
            thread::spawn(move || {
                for i in 0..N {
                    cache.incr(format!("k{}", i % 3), 1).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let total: i64 = (0..3).map(|i| cache.get(&format!("k{i}")).unwrap()).sum();
    assert_eq!(total, THREADS as i64 * N);
}

#[test]
fn overflow_leaves_the_value_unchanged() {
    let cache: Cache<String, i64> = Cache::new();
    cache.set("x".into(), i64::MAX - 1);
    assert_eq!(cache.incr("x".into(), 1), Ok(i64::MAX));
    assert!(cache.incr("x".into(), 1).is_err());
    assert!(cache.incr("y".into(), i64::MIN).is_ok());
    assert!(cache.incr("y".into(), -1).is_err());
    assert_eq!(cache.get("x"), Some(i64::MAX));
    assert_eq!(cache.get("y"), Some(i64::MIN));
}

#[test]
fn concurrent_stack_pops_every_item_exactly_once() {
    const THREADS: usize = 8;
    const N: usize = 3_000;
    let stack = Arc::new(Stack::new());
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let stack = Arc::clone(&stack);
            thread::spawn(move || {
                let mut popped = Vec::new();
                for i in 0..N {
                    stack.push(t * N + i);
                    if i % 2 == 0 {
                        popped.extend(stack.pop());
                    }
                }
                popped
            })
        })
        .collect();
    let mut all: Vec<usize> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    while let Some(x) = stack.pop() {
        all.push(x);
    }
    all.sort_unstable();
    assert_eq!(all, (0..THREADS * N).collect::<Vec<_>>());
}
