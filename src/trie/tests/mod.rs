//! Tests of the trie: unit tests here, property tests against a `BTreeMap`
//! model in [`model`] (the bulk build in [`bulk`]), and copy-on-write
//! bookkeeping in [`fresh_lines`], a bucket's seeks in [`seek`].

mod bulk;
mod fresh_lines;
mod fuzzy;
mod model;
mod ranked;
mod seek;

use super::Trie;
use model::model_suggest;
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

/// `Suggestions` reads the same however it is read, and compares with pairs.
#[test]
fn suggestions_accessors_agree() {
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

/// One bucket that grows past 64 KiB of records while keys arrive out of
/// order, keys already there gain values and one key turns big early: its
/// sparse index, kept through adds by moving its anchors, narrow and then
/// wide, with big indexes, is checked after every insert.
#[test]
fn a_bucket_keeps_its_index_through_adds_narrow_and_wide() {
    let mut t = Trie::new();
    let tail = "z".repeat(300);
    let keys: Vec<String> = (0..240)
        .map(|i| format!("{:03}{tail}", (i * 97) % 240))
        .collect();
    let mut want: std::collections::BTreeMap<String, Vec<usize>> = Default::default();
    let mut add = |t: &mut Trie<usize>, k: &str, v: usize| {
        t.insert(k, v).unwrap();
        want.entry(k.to_owned()).or_default().push(v);
        t.assert_invariants();
    };
    for (n, k) in keys.iter().enumerate() {
        add(&mut t, k, n);
        if n % 3 == 0 {
            add(&mut t, &keys[n / 2], 1000 + n);
        }
        if n == 40 {
            for v in 0..40 {
                add(&mut t, &keys[3], 5000 + v);
            }
        }
    }
    assert_eq!(t.memory().inner_nodes, 0, "expected one bucket");
    for (k, vs) in &want {
        assert_eq!(t.get(k).to_vec(), *vs, "{}", &k[..3]);
    }
}

#[test]
fn empty_key_is_rejected() {
    let mut t: Trie<u8> = Trie::new();
    assert!(t.insert("", 1).is_err());
    assert!(t.is_empty());
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

/// `t` repacked (`Trie::repacked`), checked to share no root with it and
/// to be no larger: what the model tests go on with after a `Repack` step.
fn repacked_checked<V: Clone + Ord + super::HeapSize>(t: &Trie<V>) -> Trie<V> {
    let packed = t.repacked();
    assert!(!std::sync::Arc::ptr_eq(&packed.root, &t.root));
    assert!(
        packed.memory().total_bytes <= t.memory().total_bytes,
        "a repacked trie is no larger"
    );
    packed
}

/// A repack part by part (`Trie::part`, `Part::repacked`,
/// `Trie::replace_part`): each part's copy takes its place and nothing
/// answers differently; a part written under after it was taken is not
/// replaced, so the write stays; and a part is replaced once.
#[test]
fn parts_repacked_one_at_a_time_replace_only_what_no_write_changed() {
    let mut t = Trie::with_burst(4);
    let mut want = Vec::new();
    for i in 0..600u32 {
        let key = format!("{}{i:03}", char::from(b'a' + (i % 7) as u8));
        t.insert(&key, i).unwrap();
        want.push((key, i));
    }
    let parts: Vec<_> = (0..).map_while(|i| t.part(i)).collect();
    assert_eq!(parts.len(), 7, "one part per first letter");
    let stale = &parts[0];
    let copy = stale.repacked();
    t.insert("a999", 999).unwrap();
    want.push(("a999".into(), 999));
    assert!(!t.replace_part(stale, copy), "a part written under is kept");
    for part in &parts[1..] {
        assert!(t.replace_part(part, part.repacked()));
        assert!(!t.replace_part(part, part.repacked()), "replaced once");
    }
    want.sort();
    assert_eq!(t.suggest("", usize::MAX).into_vec(), want);
    assert_eq!(t.get("a999").copied().collect::<Vec<_>>(), [999]);
    t.assert_invariants();

    // A trie whose root is a bucket is one part.
    let mut small = Trie::new();
    small.insert("x", 1).unwrap();
    let parts: Vec<_> = (0..).map_while(|i| small.part(i)).collect();
    assert_eq!(parts.len(), 1);
    assert!(small.replace_part(&parts[0], parts[0].repacked()));
    assert_eq!(small.suggest("", 5).into_vec(), [("x".to_string(), 1)]);
}
