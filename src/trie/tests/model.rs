//! Property tests: random operations on a trie, checked step by step
//! against a `BTreeMap` model, at burst sizes that exercise every shape
//! (nodes per key, indexed buckets, big keys, long keys).

use crate::trie::Trie;
use proptest::prelude::*;
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
enum Op {
    Insert(String, u8),
    Remove(String, u8),
    RemoveKey(String),
    Get(String),
    Suggest(String, usize),
    /// Clone the trie, mutate the clone, check the original is untouched.
    CloneThenMutate(String, u8),
    /// Go on with the repacked trie (`Trie::repacked`).
    Repack,
}

pub(super) fn key() -> impl Strategy<Value = String> {
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
        1 => Just(Op::Repack),
    ]
}

/// A few keys (one a prefix of the others, so some end at inner nodes) that
/// gather many values: exercises moving values to and from `BigValues`.
fn many_values_op() -> impl Strategy<Value = Op> {
    let keys = prop::sample::select(vec!["a", "ab", "abc", "b", "é"]).prop_map(String::from);
    ops_over(keys.boxed(), 60)
}

type Model = BTreeMap<String, Vec<u8>>;

pub(super) fn model_suggest<V: Copy>(
    m: &BTreeMap<String, Vec<V>>,
    p: &str,
    n: usize,
) -> Vec<(String, V)> {
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
            Op::Repack => t = super::repacked_checked(&t),
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
        1 => Just(Op::Repack),
    ]
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
