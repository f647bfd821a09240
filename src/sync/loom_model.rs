//! Loom model of the publish/read protocol of [`Index`](super::Index).
//!
//! Run with `RUSTFLAGS="--cfg typeahead_loom" cargo test --release --lib sync::loom_model`.
//! Under `cfg(typeahead_loom)` the index's writer mutex is loom's and the published
//! snapshot sits behind a loom `RwLock` standing in for `ArcSwap` (whose own
//! atomics arc-swap tests itself), so loom explores every interleaving of two
//! writers and a reader.

use super::Index;

#[test]
fn readers_see_whole_batches_in_version_order() {
    loom::model(|| {
        let index: Index<u32> = Index::new();
        let (w1, w2) = (index.clone(), index.clone());
        let t1 = loom::thread::spawn(move || {
            w1.insert("go", 1).unwrap();
        });
        let t2 = loom::thread::spawn(move || {
            let mut w = w2.write();
            w.insert("git", 2).unwrap();
            w.insert("gob", 3).unwrap();
            w.publish();
        });
        let first = index.snapshot();
        let second = index.snapshot();
        assert!(
            first.version() <= second.version(),
            "version went backwards"
        );
        for s in [&first, &second] {
            let t = s.trie();
            // The batch is atomic: both of its keys or neither.
            assert_eq!(t.get("git").is_empty(), t.get("gob").is_empty());
            let batches =
                usize::from(!t.get("go").is_empty()) + usize::from(!t.get("git").is_empty());
            assert_eq!(
                s.version() as usize,
                batches,
                "version counts published batches"
            );
        }
        t1.join().unwrap();
        t2.join().unwrap();
        let last = index.snapshot();
        assert_eq!(last.version(), 2);
        assert_eq!(last.trie().suggest("g", 10).len(), 3, "a write was lost");
    });
}

#[test]
fn dropped_batch_is_invisible_and_rolled_back() {
    loom::model(|| {
        let index: Index<u32> = Index::new();
        let w = index.clone();
        let t = loom::thread::spawn(move || {
            let mut b = w.write();
            b.insert("x", 1).unwrap();
            drop(b);
            w.insert("y", 2).unwrap();
        });
        let s = index.snapshot();
        assert!(s.trie().get("x").is_empty());
        t.join().unwrap();
        let s = index.snapshot();
        assert!(s.trie().get("x").is_empty());
        assert_eq!(s.trie().get("y"), [2]);
    });
}
