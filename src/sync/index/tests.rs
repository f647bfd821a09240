//! Tests of [`Index`](super::Index)'s prefetching of new versions
//! (`warm`, `Trie::fresh_lines`) and of where its fields lie in memory.

use super::*;

use crate::trie::PREFETCHES;

fn warmed() -> u64 {
    WARMED.with(|w| w.get())
}

/// A new version names the lines its writer created (capped), version 0
/// names none, and reads that warm each new version, on more indexes in
/// turn than [`SEEN`] remembers, still read the right versions. Small
/// enough for Miri, which runs it over the prefetch.
#[test]
fn versions_name_their_new_lines_and_warmed_reads_agree() {
    let indexes: Vec<Index<u64>> = (0..SEEN_SLOTS + 2).map(|_| Index::new()).collect();
    assert!(indexes[0].snapshot().fresh.is_empty());
    for round in 0..4u64 {
        for (n, index) in indexes.iter().enumerate() {
            let key = format!("k{n}-{round}");
            index.insert(&key, round).unwrap();
            let s = index.snapshot();
            assert_eq!(!s.fresh.is_empty(), PREFETCHES);
            assert!(s.fresh.len() <= FRESH_LINES);
            assert_eq!(s.version(), round + 1);
            assert_eq!(index.get(&key), [round]);
            assert_eq!(
                index.suggest(&format!("k{n}-"), 10).len(),
                round as usize + 1
            );
        }
    }
}

/// A thread warms each version once, however many versions follow one
/// another (a freed snapshot's memory is often the next one's, which
/// must not pass for a version already seen).
#[test]
fn each_new_version_is_warmed_once_per_thread() {
    let index = Index::<u64>::new();
    for i in 0..200u64 {
        index.insert(&format!("key{i}"), i).unwrap();
        let before = warmed();
        assert_eq!(index.get(&format!("key{i}")), [i]);
        assert_eq!(index.suggest("key", 3).len(), 3.min(i as usize + 1));
        assert_eq!(index.snapshot().version(), i + 1);
        assert_eq!(warmed() - before, 1, "version {}", i + 1);
    }
}

/// Up to [`SEEN_SLOTS`] indexes read in turn are warmed once each; one
/// more, and every read warms again.
#[test]
fn a_thread_remembers_seen_slots_indexes() {
    for (count, rewarms) in [(SEEN_SLOTS, false), (SEEN_SLOTS + 1, true)] {
        let indexes: Vec<Index<u64>> = (0..count).map(|_| Index::new()).collect();
        for index in &indexes {
            index.insert("k", 1).unwrap();
            index.get("k");
        }
        let before = warmed();
        for _ in 0..3 {
            for index in &indexes {
                assert_eq!(index.get("k"), [1]);
            }
        }
        let expected = if rewarms { 3 * count as u64 } else { 0 };
        assert_eq!(warmed() - before, expected, "{count} indexes");
    }
}

/// A batch that copies more than [`FRESH_LINES`] lines names only that
/// many.
#[test]
fn a_big_batch_names_at_most_the_cap() {
    let index = Index::<u64>::new();
    let mut w = index.write();
    for i in 0..3000 {
        w.insert(&format!("{i:x}-key"), i).unwrap();
    }
    w.publish();
    let expected = if PREFETCHES { FRESH_LINES } else { 0 };
    assert_eq!(index.snapshot().fresh.len(), expected);
}

/// The 128-byte blocks (line pairs) of a field.
fn blocks(offset: usize, size: usize) -> std::ops::RangeInclusive<usize> {
    offset / 128..=(offset + size - 1) / 128
}

/// Every read loads `published`; every write dirties `writer` (see
/// [`Lines`]). No 128-byte block may hold bytes of both, and `Shared`
/// must start a block, so that the `Arc` counters in front of it (bumped
/// by every `Index::clone`) sit in a block of their own too.
#[test]
fn snapshot_pointer_shares_no_line_pair_with_the_writer() {
    let index = Index::<u64>::new();
    let writer = blocks(
        std::mem::offset_of!(Shared<u64>, writer),
        std::mem::size_of_val(&index.shared.writer),
    );
    let published = blocks(
        std::mem::offset_of!(Shared<u64>, published),
        std::mem::size_of_val(&index.shared.published),
    );
    assert!(
        writer.end() < published.start() || published.end() < writer.start(),
        "writer in blocks {writer:?}, snapshot pointer in {published:?}"
    );
    assert_eq!(std::mem::align_of::<Shared<u64>>(), 128);
}
