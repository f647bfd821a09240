//! Unit and property tests of the trie against a `BTreeMap` model.

use super::Trie;
use proptest::prelude::*;
use std::collections::BTreeMap;

/// The tutorial's example: values keep insertion order within a key.
#[test]
fn tutorial_example() {
    let mut t = Trie::new();
    for (k, v) in [("go", 1), ("git", 2), ("gob", 3), ("go", 4)] {
        assert_eq!(t.insert(k, v), Ok(true));
    }
    let s = |p: &str, n: usize| -> Vec<(String, i32)> { t.suggest(p, n).into_vec() };
    assert_eq!(
        s("g", 10),
        [
            ("git".into(), 2),
            ("go".into(), 1),
            ("go".into(), 4),
            ("gob".into(), 3)
        ]
    );
    assert_eq!(s("go", 2), [("go".into(), 1), ("go".into(), 4)]);
    assert_eq!(s("x", 10), []);
    assert_eq!(s("gobble", 10), []);
    t.assert_invariants();
}

/// `Matches` reads the same however it is read, and compares with pairs.
#[test]
fn matches_accessors_agree() {
    let mut t = Trie::new();
    for (k, v) in [("go", 1), ("git", 2), ("gob", 3), ("go", 4)] {
        t.insert(k, v).unwrap();
    }
    let m = t.suggest("g", 10);
    assert_eq!(m.len(), 4);
    assert!(!m.is_empty());
    assert_eq!(m.get(1), Some(("go", &1)));
    assert_eq!(m.get(2), Some(("go", &4)));
    assert_eq!(m.get(4), None);
    let via_iter: Vec<(String, i32)> = m.iter().map(|(k, v)| (k.to_owned(), *v)).collect();
    assert_eq!(via_iter, m.clone().into_vec());
    assert_eq!(m, [("git", 2), ("go", 1), ("go", 4), ("gob", 3)]);
    assert_ne!(m, [("git", 2), ("go", 4), ("go", 1), ("gob", 3)]);
    assert_eq!(format!("{:?}", t.suggest("gi", 1)), r#"[("git", 2)]"#);
    assert!(t.suggest("x", 10).is_empty());
}

#[test]
fn code_point_order_for_non_ascii() {
    let mut t = Trie::with_burst(2);
    let keys = ["zebra", "é", "e", "ß", "я", "中", "😀", "e\u{301}", "Z"];
    for (i, k) in keys.iter().enumerate() {
        t.insert(k, i).unwrap();
    }
    let mut want: Vec<&str> = keys.to_vec();
    want.sort_by(|a, b| a.chars().cmp(b.chars()));
    let got: Vec<String> = t.iter_prefix("").map(|(k, _)| k).collect();
    assert_eq!(got, want);
    t.assert_invariants();
}

#[test]
fn remove_prunes_and_frees_memory() {
    let mut t = Trie::with_burst(2);
    let empty = t.memory().total_bytes;
    for i in 0..2000u64 {
        t.insert(&format!("user{i:05}"), i).unwrap();
    }
    let full = t.memory();
    assert!(full.inner_nodes > 10 && full.buckets > 10, "{full:?}");
    for i in 0..2000u64 {
        assert!(t.remove(&format!("user{i:05}"), &i));
    }
    t.assert_invariants();
    assert!(t.is_empty());
    assert_eq!(t.memory().total_bytes, empty, "memory not given back");
}

#[test]
fn clone_is_independent_and_unshared_writes_copy_nothing() {
    let mut a = Trie::with_burst(4);
    for i in 0..100u64 {
        a.insert(&format!("k{i}"), i).unwrap();
    }
    let b = a.clone();
    assert!(a.shares_root_with(&b));
    a.insert("k1", 1000).unwrap();
    assert!(!a.shares_root_with(&b));
    assert_eq!(b.get("k1"), [1]);
    assert_eq!(a.get("k1"), [1, 1000]);
    // `a` is now unshared at the root: writing keeps its root allocation.
    let root = std::sync::Arc::as_ptr(&a.root);
    a.insert("k2", 2000).unwrap();
    assert_eq!(std::sync::Arc::as_ptr(&a.root), root);
}

#[test]
fn long_shared_prefixes_compress() {
    let mut t = Trie::with_burst(1);
    let long = "x".repeat(500);
    t.insert(&format!("{long}a"), 1).unwrap();
    t.insert(&format!("{long}b"), 2).unwrap();
    let m = t.memory();
    assert!(m.inner_nodes <= 2, "a chain cost a node per byte: {m:?}");
    t.assert_invariants();
}

/// Records store suffix lengths as varints: suffixes of 128 bytes and more
/// take the multi-byte path, in indexed buckets too (more than 8 keys).
#[test]
fn long_suffixes_in_one_bucket() {
    let mut t = Trie::new();
    let keys: Vec<String> = (0..20)
        .map(|i| format!("{}{i:02}", "a".repeat(120 + i * 10)))
        .chain((0..5).map(|i| format!("b{i}")))
        .collect();
    for (i, k) in keys.iter().enumerate() {
        t.insert(k, i).unwrap();
    }
    assert_eq!(t.memory().inner_nodes, 0, "expected one bucket");
    t.assert_invariants();
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(t.get(k).to_vec(), vec![i], "{}", k.len());
    }
    let mut want: Vec<(&str, usize)> = keys.iter().map(String::as_str).zip(0..).collect();
    want.sort();
    let got = t.suggest("", 100);
    let got: Vec<(&str, usize)> = got.iter().map(|(k, v)| (k, *v)).collect();
    assert_eq!(got, want);
    let long_prefix = "a".repeat(200);
    assert_eq!(
        t.suggest(&long_prefix, 100).len(),
        keys.iter().filter(|k| k.starts_with(&long_prefix)).count()
    );
    assert_eq!(t.remove_key(&keys[10]).len(), 1);
    assert!(t.get(&keys[10]).to_vec().is_empty());
    t.assert_invariants();
}

/// A bucket whose records pass 64 KiB has the wide index (32-bit
/// positions); every seek in it must land as in a narrow one.
#[test]
fn wide_index_in_a_bucket_past_64_kib() {
    let mut t = Trie::new();
    let tail = "z".repeat(300);
    let keys: Vec<String> = (0..250).map(|i| format!("{i:03}{tail}")).collect();
    for (i, k) in keys.iter().enumerate().rev() {
        t.insert(k, i).unwrap();
    }
    assert_eq!(t.memory().inner_nodes, 0, "expected one bucket");
    t.assert_invariants();
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(t.get(k).to_vec(), vec![i]);
        let got = t.suggest(&k[..3], 2).into_vec();
        assert_eq!(got, vec![(k.clone(), i)]);
    }
    let got = t.suggest("1", 300).into_vec();
    let want: Vec<(String, usize)> = (100..200).map(|i| (keys[i].clone(), i)).collect();
    assert_eq!(got, want);
    for i in (0..250).step_by(3) {
        assert_eq!(t.remove_key(&keys[i]), vec![i]);
    }
    t.assert_invariants();
    assert_eq!(t.suggest("", 1000).len(), 250 - 84);
}

#[test]
fn empty_key_is_rejected() {
    let mut t: Trie<u8> = Trie::new();
    assert!(t.insert("", 1).is_err());
    assert!(t.is_empty());
}

#[derive(Debug, Clone)]
enum Op {
    Insert(String, u8),
    Remove(String, u8),
    RemoveKey(String),
    Get(String),
    Suggest(String, usize),
    /// Clone the trie, mutate the clone, check the original is untouched.
    CloneThenMutate(String, u8),
}

fn key() -> impl Strategy<Value = String> {
    // Few distinct pieces so that keys often share prefixes or are prefixes
    // of each other; the pieces cover 1- to 4-byte UTF-8 and combining marks.
    let piece = prop::sample::select(vec![
        "a", "b", "ab", "é", "e\u{301}", "ß", "ж", "я", "中", "文", "😀", "🦀", "z",
    ]);
    prop::collection::vec(piece, 1..6).prop_map(|p| p.concat())
}

fn prefix() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), key()]
}

fn op() -> impl Strategy<Value = Op> {
    ops_over(key().boxed(), 4)
}

/// Operations over `keys` with values below `values`.
fn ops_over(keys: BoxedStrategy<String>, values: u8) -> impl Strategy<Value = Op> {
    let k = move || keys.clone();
    prop_oneof![
        4 => (k(), 0..values).prop_map(|(k, v)| Op::Insert(k, v)),
        2 => (k(), 0..values).prop_map(|(k, v)| Op::Remove(k, v)),
        1 => k().prop_map(Op::RemoveKey),
        1 => k().prop_map(Op::Get),
        2 => (prefix(), 0..12usize).prop_map(|(p, n)| Op::Suggest(p, n)),
        1 => (k(), 0..values).prop_map(|(k, v)| Op::CloneThenMutate(k, v)),
    ]
}

/// A few keys (one a prefix of the others, so some end at inner nodes) that
/// gather many values: exercises moving values to and from `BigValues`.
fn many_values_op() -> impl Strategy<Value = Op> {
    let keys = prop::sample::select(vec!["a", "ab", "abc", "b", "é"]).prop_map(String::from);
    ops_over(keys.boxed(), 60)
}

type Model = BTreeMap<String, Vec<u8>>;

fn model_suggest<V: Copy>(m: &BTreeMap<String, Vec<V>>, p: &str, n: usize) -> Vec<(String, V)> {
    m.range(p.to_string()..)
        .take_while(|(k, _)| k.starts_with(p))
        .flat_map(|(k, vs)| vs.iter().map(move |v| (k.clone(), *v)))
        .take(n)
        .collect()
}

fn run(burst: usize, ops: Vec<Op>) {
    let mut t = Trie::with_burst(burst);
    let mut m = Model::new();
    for op in ops {
        match op {
            Op::Insert(k, v) => {
                let vs = m.entry(k.clone()).or_default();
                let new = !vs.contains(&v);
                if new {
                    vs.push(v);
                }
                assert_eq!(t.insert(&k, v), Ok(new));
            }
            Op::Remove(k, v) => {
                let had = m.get(&k).is_some_and(|vs| vs.contains(&v));
                if had {
                    let vs = m.get_mut(&k).unwrap();
                    vs.retain(|x| *x != v);
                    if vs.is_empty() {
                        m.remove(&k);
                    }
                }
                assert_eq!(t.remove(&k, &v), had);
            }
            Op::RemoveKey(k) => {
                assert_eq!(t.remove_key(&k), m.remove(&k).unwrap_or_default());
            }
            Op::Get(k) => {
                let want = m.get(&k).map(Vec::as_slice).unwrap_or(&[]);
                let got = t.get(&k);
                assert_eq!(got, want);
                assert_eq!(got.len(), want.len());
                for v in 0..=u8::MAX {
                    assert_eq!(got.contains(&v), want.contains(&v), "contains({v})");
                }
                // Partly consumed, the rest still knows its length and members.
                let mut rest = t.get(&k);
                let taken = want.len().min(17);
                for _ in 0..taken {
                    rest.next();
                }
                assert_eq!(rest.len(), want.len() - taken);
                for v in 0..=u8::MAX {
                    assert_eq!(
                        rest.contains(&v),
                        want[taken..].contains(&v),
                        "rest contains({v})"
                    );
                }
            }
            Op::Suggest(p, n) => {
                let want = model_suggest(&m, &p, n);
                assert_eq!(t.suggest(&p, n), want);
                // The streaming forms agree: by entry, and by key.
                let mut it = t.iter_prefix(&p);
                let mut by_entry = Vec::new();
                while by_entry.len() < n {
                    let Some((k, v)) = it.next_entry() else { break };
                    by_entry.push((k.to_owned(), *v));
                }
                assert_eq!(by_entry, want);
                let mut it = t.iter_prefix(&p);
                let mut by_key = Vec::new();
                while by_key.len() < n {
                    let Some((k, vs)) = it.next_key() else { break };
                    assert!(!vs.is_empty(), "a key without values");
                    let room = n - by_key.len();
                    by_key.extend(vs.take(room).map(|v| (k.to_owned(), *v)));
                }
                assert_eq!(by_key, want);
            }
            Op::CloneThenMutate(k, v) => {
                let before = t.suggest("", usize::MAX).into_vec();
                let mut c = t.clone();
                c.insert(&k, v).unwrap();
                c.remove(&k, &v.wrapping_add(1));
                c.remove_key(&format!("{k}a"));
                if let Some(first) = before.first() {
                    c.remove(&first.0, &first.1);
                }
                c.assert_invariants();
                assert_eq!(t.suggest("", usize::MAX), before, "clone's write leaked");
            }
        }
        t.assert_invariants();
        assert_eq!(t.len(), m.values().map(Vec::len).sum::<usize>());
        assert_eq!(t.key_count(), m.len());
    }
    assert_eq!(t.suggest("", usize::MAX), model_suggest(&m, "", usize::MAX));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn agrees_with_model_burst_1(ops in prop::collection::vec(op(), 1..120)) {
        run(1, ops);
    }

    #[test]
    fn agrees_with_model_burst_2(ops in prop::collection::vec(op(), 1..120)) {
        run(2, ops);
    }

    #[test]
    fn agrees_with_model_many_values_per_key(ops in prop::collection::vec(many_values_op(), 100..600)) {
        run(2, ops);
    }

    #[test]
    fn agrees_with_model_burst_8(ops in prop::collection::vec(op(), 1..200)) {
        run(8, ops);
    }

    #[test]
    fn agrees_with_model_long_keys(
        ops in prop::collection::vec(indexed_ops_over(long_keys(), 4), 1..300),
        burst in prop_oneof![Just(1usize), Just(3), Just(40)],
    ) {
        run(burst, ops);
    }

    /// Buckets big enough to carry a sparse index (more than `INDEX_MIN`
    /// keys), over keys whose first four bytes often tie, including NUL
    /// bytes, which the index's zero padding must not confuse.
    #[test]
    fn agrees_with_model_indexed_buckets(ops in prop::collection::vec(indexed_op(), 50..400)) {
        run(40, ops);
    }

    #[test]
    fn agrees_with_model_indexed_buckets_many_values(
        ops in prop::collection::vec(indexed_many_values_op(), 200..800)
    ) {
        run(40, ops);
    }
}

fn indexed_keys() -> BoxedStrategy<String> {
    let piece = prop::sample::select(vec!["a", "b", "ab", "\0", "é", "z"]);
    prop::collection::vec(piece, 1..8)
        .prop_map(|p| p.concat())
        .boxed()
}

/// Keys from 1 to about 60 bytes whose paths and suffixes fall on both
/// sides of the 16 bytes that suggest copies as one fixed window (and,
/// with burst 1, whose inner nodes have compressed paths longer than a few
/// bytes).
fn long_keys() -> BoxedStrategy<String> {
    let piece = prop::sample::select(vec!["a", "b", "0123456789", "abcdefghijklmnop", "é", "😀"]);
    prop::collection::vec(piece, 1..6)
        .prop_map(|p| p.concat())
        .boxed()
}

fn indexed_op() -> impl Strategy<Value = Op> {
    indexed_ops_over(indexed_keys(), 3)
}

/// As [`indexed_op`], but a few hot keys among the many collect up to 60
/// values: big keys (promoted past 32, heads refilled, demoted) inside
/// indexed buckets, so anchors carry non-zero big indexes.
fn indexed_many_values_op() -> impl Strategy<Value = Op> {
    let hot = prop::sample::select(vec!["ab", "aba", "b", "zz"]).prop_map(String::from);
    indexed_ops_over(prop_oneof![3 => hot, 2 => indexed_keys()].boxed(), 60)
}

fn indexed_ops_over(keys: BoxedStrategy<String>, values: u8) -> impl Strategy<Value = Op> {
    let k = move || keys.clone();
    prop_oneof![
        8 => (k(), 0..values).prop_map(|(k, v)| Op::Insert(k, v)),
        3 => (k(), 0..values).prop_map(|(k, v)| Op::Remove(k, v)),
        1 => k().prop_map(Op::RemoveKey),
        2 => k().prop_map(Op::Get),
        3 => (prop_oneof![Just(String::new()), k()], 0..12usize).prop_map(|(p, n)| Op::Suggest(p, n)),
        1 => (k(), 0..values).prop_map(|(k, v)| Op::CloneThenMutate(k, v)),
    ]
}

/// A key with many values moves them to a sorted index and back, in buckets
/// and in inner nodes, keeping insertion order throughout.
#[test]
fn many_values_move_out_of_line_and_back() {
    for burst in [1, 4, 128] {
        let mut t = Trie::with_burst(burst);
        for k in ["smith", "smit", "smiths", "x"] {
            t.insert(k, 0u32).unwrap();
        }
        let order: Vec<u32> = (1..200).map(|i| (i * 7919) % 1000 + 1).collect();
        for &v in &order {
            for k in ["smith", "smit"] {
                assert_eq!(t.insert(k, v), Ok(true));
                assert_eq!(t.insert(k, v), Ok(false), "duplicate accepted");
            }
            t.assert_invariants();
        }
        let want: Vec<u32> = std::iter::once(0).chain(order.iter().copied()).collect();
        assert_eq!(t.get("smith"), want);
        assert_eq!(t.get("smit"), want);
        let bigger = t.memory().total_bytes;
        for &v in &order[..195] {
            assert!(t.remove("smith", &v));
            assert!(!t.remove("smith", &v));
            t.assert_invariants();
        }
        let left: Vec<u32> = std::iter::once(0)
            .chain(order[195..].iter().copied())
            .collect();
        assert_eq!(t.get("smith"), left);
        assert!(t.memory().total_bytes < bigger);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// A bulk-built trie equals one built by inserting the same pairs.
    #[test]
    fn from_sorted_equals_inserting(
        pairs in prop::collection::vec((key(), 0..50u8), 0..300),
        burst in prop_oneof![1..6usize, 9..40usize],
    ) {
        let mut inserted = Trie::with_burst(burst);
        let mut model: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        for (k, v) in &pairs {
            inserted.insert(k, *v).unwrap();
            model.entry(k.clone()).or_default().push(*v);
        }
        let built = Trie::from_sorted(burst, model.into_iter().collect()).unwrap();
        built.assert_invariants();
        prop_assert_eq!(built.len(), inserted.len());
        prop_assert_eq!(built.key_count(), inserted.key_count());
        prop_assert_eq!(built.suggest("", usize::MAX), inserted.suggest("", usize::MAX));
        // And it keeps working as a trie afterwards.
        let mut built = built;
        let mut removed = std::collections::HashSet::new();
        for (k, v) in pairs.iter().take(20) {
            prop_assert_eq!(built.remove(k, v), removed.insert((k.clone(), *v)));
        }
        built.assert_invariants();
    }
}

#[test]
fn from_sorted_refuses_unsorted_or_empty_keys() {
    let t = Trie::from_sorted(
        4,
        vec![("b".to_string(), vec![1]), ("a".to_string(), vec![2])],
    );
    assert!(matches!(t, Err(crate::TrieError::Unsorted { .. })));
    let t = Trie::from_sorted(4, vec![(String::new(), vec![1])]);
    assert_eq!(t.unwrap_err(), crate::TrieError::EmptyKey);
}

/// A big key whose inline head ran short (it fell to 16 values and lost one
/// from the head) keeps the head in step through later adds and removals:
/// suggest once repeated a value and dropped another here.
#[test]
fn big_key_with_a_short_head_stays_in_step() {
    let mut t = Trie::new();
    for v in 0..33 {
        t.insert("smith", v).unwrap();
    }
    for v in 16..33 {
        assert!(t.remove("smith", &v));
    }
    assert!(t.remove("smith", &0));
    t.assert_invariants();
    for v in [100, 101] {
        t.insert("smith", v).unwrap();
        t.assert_invariants();
    }
    assert!(t.remove("smith", &1));
    t.assert_invariants();
    let want: Vec<i32> = (2..16).chain([100, 101]).collect();
    let got: Vec<i32> = t.suggest("smith", 100).iter().map(|(_, v)| *v).collect();
    assert_eq!(got, want);
    assert_eq!(t.get("smith"), want);
}

/// Removing a big key's oldest values leaves a run of dead slots at the front
/// of its list; reading past them must not depend on how many there are
/// (checked here for correctness; `benches/big_key` times the writes).
#[test]
fn oldest_values_removed_first() {
    let mut t = Trie::new();
    let n = 5_000;
    for v in 0..n {
        t.insert("k", v).unwrap();
    }
    for v in 0..n - 40 {
        assert!(t.remove("k", &v));
        if v % 997 == 0 {
            t.assert_invariants();
        }
    }
    t.assert_invariants();
    let want: Vec<i32> = (n - 40..n).collect();
    let got: Vec<i32> = t.suggest("k", 100).iter().map(|(_, v)| *v).collect();
    assert_eq!(got, want);
    assert_eq!(t.get("k"), want);
}

/// A removed value of a big key stays allocated until the key is rebuilt, and
/// `memory()` keeps counting it until then.
#[test]
fn memory_counts_removed_values_still_held() {
    let mut t = Trie::new();
    for i in 0..200 {
        t.insert("k", format!("{i:05}{}", "x".repeat(10_000)))
            .unwrap();
    }
    let before = t.memory().total_bytes;
    assert!(before > 200 * 10_000);
    for i in 0..60 {
        assert!(t.remove("k", &format!("{i:05}{}", "x".repeat(10_000))));
    }
    // 60 dead slots of 200: no rebuild yet, all 200 strings still held.
    assert!(t.memory().total_bytes > 200 * 10_000);
    t.assert_invariants();
}

/// A walk deeper than the iterator's inline frames (burst 1 nests a node
/// per key here) spills to the heap and still yields every key in order.
#[test]
fn deep_walks_spill_their_stack() {
    let mut t = Trie::with_burst(1);
    let keys: Vec<String> = (1..=40).map(|n| "ab".repeat(n)).collect();
    for (i, k) in keys.iter().enumerate().rev() {
        t.insert(k, i).unwrap();
        t.insert(&format!("{k}z"), i + 100).unwrap();
    }
    t.assert_invariants();
    let mut want: Vec<(String, usize)> = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        want.push((k.clone(), i));
    }
    for (i, k) in keys.iter().enumerate() {
        want.push((format!("{k}z"), i + 100));
    }
    want.sort();
    assert_eq!(t.suggest("", usize::MAX), want);
    assert_eq!(t.suggest("abab", 3), want[1..4].to_vec());
}

/// `next_key` after a partial `next_entry` moves on to the next key: the
/// rest of the current key's values are skipped, not handed out twice.
#[test]
fn next_key_skips_what_next_entry_left() {
    let mut t = Trie::with_burst(2);
    for (k, v) in [("go", 1), ("go", 4), ("go", 5), ("gob", 3), ("git", 2)] {
        t.insert(k, v).unwrap();
    }
    let mut it = t.iter_prefix("go");
    assert_eq!(it.next_entry(), Some(("go", &1)));
    let (k, vs) = it.next_key().expect("gob follows");
    assert_eq!((k, vs.to_vec()), ("gob", vec![3]));
    assert!(it.next_key().is_none());
    assert!(it.next_entry().is_none());
}

/// One bucket at sizes from no index (8 keys) to an index of 174 anchors
/// (700 keys, past any default burst), with heads that are all distinct
/// and heads that tie in runs of 24 keys. Every key is found, every absent
/// key between them is not, and a suggestion from anywhere agrees with a
/// sorted model.
#[test]
fn every_index_layout_finds_every_key() {
    for n in [
        8, 9, 36, 37, 40, 41, 72, 73, 100, 291, 292, 293, 296, 297, 400, 700,
    ] {
        for ties in [false, true] {
            // Even numbers are stored, odd ones are the gaps between them.
            let key = |i: usize| {
                if ties {
                    format!("{:02}-{i:05}", i / 24)
                } else {
                    format!("{i:05}")
                }
            };
            let mut t = Trie::with_burst(1000);
            let mut model = BTreeMap::new();
            for i in (0..2 * n).step_by(2).rev() {
                t.insert(&key(i), i).unwrap();
                model.insert(key(i), vec![i]);
            }
            assert_eq!(t.memory().inner_nodes, 0, "expected one bucket");
            t.assert_invariants();
            for k in (0..2 * n + 1).map(key) {
                let want = model.get(&k).cloned().unwrap_or_default();
                assert_eq!(t.get(&k).to_vec(), want, "n {n}, ties {ties}, key {k}");
                let got = t.suggest(&k, 3).into_vec();
                assert_eq!(
                    got,
                    model_suggest(&model, &k, 3),
                    "n {n}, ties {ties}, prefix {k}"
                );
            }
            let prefix = &key(n)[..3];
            let got = t.suggest(prefix, 5).into_vec();
            assert_eq!(
                got,
                model_suggest(&model, prefix, 5),
                "n {n}, ties {ties}, prefix {prefix}"
            );
        }
    }
}

/// Addresses and depths of every node reachable from `t`'s root.
fn node_addresses<V>(t: &Trie<V>) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut stack = vec![(&t.root, 0)];
    while let Some((n, depth)) = stack.pop() {
        out.push((std::sync::Arc::as_ptr(n) as usize, depth));
        if let super::Node::Inner(i) = &**n {
            stack.extend(i.children.iter().map(|c| (c, depth + 1)));
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// `fresh_lines` names the line of every node created or copied since
    /// the last clone, and of no node the clone still shares; the lines are
    /// line-aligned, shallowest first, and a cap keeps a prefix of them.
    #[test]
    fn fresh_lines_name_exactly_the_new_nodes(
        before in prop::collection::vec((key(), 0..4u8), 0..80),
        after in prop::collection::vec((key(), 0..4u8, any::<bool>()), 0..40),
        burst in 1..6usize,
        cap in 0..40usize,
    ) {
        let mut t = Trie::with_burst(burst);
        for (k, v) in &before {
            t.insert(k, *v).unwrap();
        }
        let old = t.clone();
        prop_assert!(t.fresh_lines(usize::MAX).is_empty(), "nothing is new right after a clone");
        for (k, v, insert) in &after {
            if *insert {
                t.insert(k, *v).unwrap();
            } else {
                t.remove(k, v);
            }
        }
        let all = t.fresh_lines(usize::MAX);
        prop_assert!(all.iter().all(|a| a % super::node::LINE == 0));
        let fresh: std::collections::HashSet<usize> = all.iter().copied().collect();
        let old_nodes: std::collections::HashSet<usize> =
            node_addresses(&old).into_iter().map(|(n, _)| n).collect();
        let depths: std::collections::HashMap<usize, usize> = node_addresses(&t).into_iter().collect();
        for &n in depths.keys() {
            // Nodes are line-aligned, so a node's first line is its alone.
            prop_assert_eq!(fresh.contains(&n), !old_nodes.contains(&n), "node {:#x}", n);
        }
        // Shallowest first: the new nodes' lines come in order of depth.
        let order: Vec<usize> = all.iter().filter_map(|a| depths.get(a).copied()).collect();
        prop_assert!(order.is_sorted(), "depths in list order: {:?}", order);
        let capped = t.fresh_lines(cap);
        prop_assert_eq!(&capped[..], &all[..cap.min(all.len())]);
        drop(old);
    }
}
