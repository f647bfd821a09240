//! Property tests for scores and ranked answers: random adds, score
//! changes (set and incr, overflow included), removes and ranked queries
//! on a trie, checked step by step against a brute-force model (collect
//! every pair under the prefix, sort, cut), at burst sizes that exercise
//! every shape, including big keys whose pairs live in list leaves.

use crate::trie::{Order, ScoreOp, SuggestOptions, Trie, TrieError, Upserted};
use proptest::prelude::*;
use std::collections::BTreeMap;

use super::model::key;

#[derive(Debug, Clone)]
enum Op {
    Insert(String, u8),
    Upsert(String, u8, ScoreOp),
    Remove(String, u8),
    RemoveKey(String),
    Get(String),
    Top(String, usize, bool),
    KeyDistinct(String, usize),
    /// Clone the trie, rescore the clone, check the original is untouched.
    CloneThenRescore(String, u8, f64),
    /// Go on with the repacked trie (`Trie::repacked`).
    Repack,
}

/// Scores that tie often, negative and fractional ones, some that need
/// the exact side table (0.1, 2^24 + 1), and large ones whose sum
/// overflows.
fn score(spread: bool) -> BoxedStrategy<f64> {
    if !spread {
        return Just(1.0).boxed();
    }
    prop_oneof![
        3 => (-3i32..4).prop_map(f64::from),
        1 => Just(0.1),
        1 => Just(-2.5),
        1 => Just(16_777_217.0),
        1 => Just(1e300),
        1 => Just(f64::MAX),
    ]
    .boxed()
}

fn score_op(spread: bool) -> impl Strategy<Value = ScoreOp> {
    prop_oneof![
        4 => score(spread).prop_map(ScoreOp::Set),
        4 => score(spread).prop_map(ScoreOp::Incr),
        1 => Just(ScoreOp::Set(f64::NAN)),
        1 => Just(ScoreOp::Incr(f64::INFINITY)),
    ]
}

fn prefix() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        key(),
        key().prop_map(|k| k.chars().take(1).collect())
    ]
}

fn ops_over(keys: BoxedStrategy<String>, values: u8, spread: bool) -> impl Strategy<Value = Op> {
    let k = move || keys.clone();
    prop_oneof![
        2 => (k(), 0..values).prop_map(|(k, v)| Op::Insert(k, v)),
        5 => (k(), 0..values, score_op(spread)).prop_map(|(k, v, s)| Op::Upsert(k, v, s)),
        2 => (k(), 0..values).prop_map(|(k, v)| Op::Remove(k, v)),
        1 => k().prop_map(Op::RemoveKey),
        1 => k().prop_map(Op::Get),
        3 => (prefix(), 0..14usize, any::<bool>()).prop_map(|(p, n, d)| Op::Top(p, n, d)),
        1 => (prefix(), 0..14usize).prop_map(|(p, n)| Op::KeyDistinct(p, n)),
        1 => (k(), 0..values, score(spread)).prop_map(|(k, v, s)| Op::CloneThenRescore(k, v, s)),
        1 => Just(Op::Repack),
    ]
}

/// Key -> values in insertion order with their scores.
type Model = BTreeMap<String, Vec<(u8, f64)>>;

/// Every pair under `p`, best first, deduplicated by value when asked, cut.
fn model_top(m: &Model, p: &str, n: usize, dedupe: bool) -> Vec<(String, u8, f64)> {
    let mut all: Vec<(f64, &String, usize, u8)> = m
        .range(p.to_string()..)
        .take_while(|(k, _)| k.starts_with(p))
        .flat_map(|(k, vs)| vs.iter().enumerate().map(move |(i, (v, s))| (*s, k, i, *v)))
        .collect();
    all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)).then(a.2.cmp(&b.2)));
    let mut seen = Vec::new();
    all.into_iter()
        .filter(|(_, _, _, v)| {
            !dedupe
                || (!seen.contains(v) && {
                    seen.push(*v);
                    true
                })
        })
        .take(n)
        .map(|(s, k, _, v)| (k.clone(), v, s))
        .collect()
}

fn model_key_distinct(m: &Model, p: &str, n: usize) -> Vec<(String, u8, f64)> {
    let mut seen = Vec::new();
    m.range(p.to_string()..)
        .take_while(|(k, _)| k.starts_with(p))
        .flat_map(|(k, vs)| vs.iter().map(move |(v, s)| (k.clone(), *v, *s)))
        .filter(|(_, v, _)| {
            !seen.contains(v) && {
                seen.push(*v);
                true
            }
        })
        .take(n)
        .collect()
}

/// What the model says an upsert does (and does to the model).
fn model_upsert(m: &mut Model, k: &str, v: u8, op: ScoreOp) -> Result<Upserted, TrieError> {
    let x = match op {
        ScoreOp::Set(x) | ScoreOp::Incr(x) => x,
    };
    if !x.is_finite() {
        return Err(TrieError::InvalidScore);
    }
    let vs = m.entry(k.to_string()).or_default();
    match vs.iter_mut().find(|(w, _)| *w == v) {
        Some((_, s)) => {
            let next = match op {
                ScoreOp::Set(x) => x,
                ScoreOp::Incr(d) => *s + d,
            };
            if !next.is_finite() {
                return Err(TrieError::InvalidScore);
            }
            if next == *s {
                return Ok(Upserted::Unchanged);
            }
            *s = next + 0.0;
            Ok(Upserted::Updated)
        }
        None => {
            vs.push((v, x + 0.0));
            Ok(Upserted::Added)
        }
    }
}

fn entries(s: &crate::trie::Suggestions<u8>) -> Vec<(String, u8, f64)> {
    s.iter_scored()
        .map(|(k, v, s)| (k.to_string(), *v, s))
        .collect()
}

fn run(burst: usize, ops: Vec<Op>) {
    let mut t = Trie::with_burst(burst);
    let mut m = Model::new();
    for op in ops {
        match op {
            Op::Insert(k, v) => {
                let vs = m.entry(k.clone()).or_default();
                let new = !vs.iter().any(|(w, _)| *w == v);
                if new {
                    vs.push((v, 0.0));
                }
                assert_eq!(t.insert(&k, v), Ok(new));
            }
            Op::Upsert(k, v, op) => {
                let want = model_upsert(&mut m, &k, v, op);
                m.retain(|_, vs| !vs.is_empty());
                assert_eq!(t.upsert(&k, v, op), want, "upsert {k:?} {v} {op:?}");
            }
            Op::Remove(k, v) => {
                let had = m.get(&k).is_some_and(|vs| vs.iter().any(|(w, _)| *w == v));
                if let Some(vs) = m.get_mut(&k) {
                    vs.retain(|(w, _)| *w != v);
                    if vs.is_empty() {
                        m.remove(&k);
                    }
                }
                assert_eq!(t.remove(&k, &v), had);
            }
            Op::RemoveKey(k) => {
                let want: Vec<u8> = m
                    .remove(&k)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|p| p.0)
                    .collect();
                assert_eq!(t.remove_key(&k), want);
            }
            Op::Get(k) => {
                let want = m.get(&k).cloned().unwrap_or_default();
                let got: Vec<(u8, f64)> = t.get(&k).scored().map(|(v, s)| (*v, s)).collect();
                assert_eq!(got, want);
                for (v, s) in &want {
                    assert_eq!(t.score(&k, v), Some(*s));
                }
            }
            Op::Top(p, n, dedupe) => {
                let opts = SuggestOptions::new().order(Order::Score).dedupe(dedupe);
                let got = entries(&t.suggest_with(&p, n, opts));
                assert_eq!(
                    got,
                    model_top(&m, &p, n, dedupe),
                    "top {n} of {p:?}, dedupe {dedupe}"
                );
            }
            Op::KeyDistinct(p, n) => {
                let got = entries(&t.suggest_with(&p, n, SuggestOptions::new().dedupe(true)));
                assert_eq!(got, model_key_distinct(&m, &p, n));
                // Key order carries scores too.
                let all = entries(&t.suggest(&p, n));
                let want: Vec<(String, u8, f64)> = m
                    .range(p.clone()..)
                    .take_while(|(k, _)| k.starts_with(&p))
                    .flat_map(|(k, vs)| vs.iter().map(move |(v, s)| (k.clone(), *v, *s)))
                    .take(n)
                    .collect();
                assert_eq!(all, want);
            }
            Op::Repack => t = super::repacked_checked(&t),
            Op::CloneThenRescore(k, v, s) => {
                let before = entries(&t.suggest("", usize::MAX));
                // Ranked answers from the shared nodes, so that they
                // remember their best pairs before the clone writes.
                let first: String = k.chars().take(1).collect();
                let ranked = |t: &Trie<u8>, p: &str, d: bool| {
                    let opts = SuggestOptions::new().order(Order::Score).dedupe(d);
                    entries(&t.suggest_with(p, 3, opts))
                };
                let shared: Vec<_> = ["", &first, &k]
                    .iter()
                    .map(|p| ranked(&t, p, false))
                    .collect();
                let mut c = t.clone();
                let mut mc = m.clone();
                let a = model_upsert(&mut mc, &k, v, ScoreOp::Set(s));
                assert_eq!(c.upsert(&k, v, ScoreOp::Set(s)), a);
                let b = model_upsert(&mut mc, &k, v.wrapping_add(1), ScoreOp::Incr(s));
                assert_eq!(c.upsert(&k, v.wrapping_add(1), ScoreOp::Incr(s)), b);
                mc.retain(|_, vs| !vs.is_empty());
                c.assert_invariants();
                assert_eq!(
                    entries(&t.suggest("", usize::MAX)),
                    before,
                    "clone's write leaked"
                );
                for (i, p) in ["", &first, &k].iter().enumerate() {
                    assert_eq!(ranked(&t, p, false), shared[i], "original's top of {p:?}");
                    for d in [false, true] {
                        assert_eq!(
                            ranked(&c, p, d),
                            model_top(&mc, p, 3, d),
                            "clone's top of {p:?}"
                        );
                    }
                }
            }
        }
        t.assert_invariants();
        assert_eq!(t.len(), m.values().map(Vec::len).sum::<usize>());
        assert_eq!(t.key_count(), m.len());
    }
    let all = SuggestOptions::new().order(Order::Score);
    assert_eq!(
        entries(&t.suggest_with("", usize::MAX, all)),
        model_top(&m, "", usize::MAX, false)
    );
}

/// A few keys (one a prefix of the others) that gather many values, so
/// that big keys, their list leaves and the heads in their buckets move
/// with the scores.
fn big_keys() -> BoxedStrategy<String> {
    prop::sample::select(vec!["a", "ab", "abc", "b", "é"])
        .prop_map(String::from)
        .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(160))]

    #[test]
    fn scores_agree_with_a_model_burst_1(ops in prop::collection::vec(ops_over(key().boxed(), 4, true), 1..120)) {
        run(1, ops);
    }

    #[test]
    fn scores_agree_with_a_model_burst_4(ops in prop::collection::vec(ops_over(key().boxed(), 4, true), 1..120)) {
        run(4, ops);
    }

    #[test]
    fn scores_agree_with_a_model_default_burst(ops in prop::collection::vec(ops_over(key().boxed(), 4, true), 1..120)) {
        run(crate::trie::DEFAULT_BURST, ops);
    }

    #[test]
    fn equal_scores_rank_by_key_then_insertion(ops in prop::collection::vec(ops_over(key().boxed(), 6, false), 1..120)) {
        run(2, ops);
    }

    #[test]
    fn big_keys_rank_and_dedupe(ops in prop::collection::vec(ops_over(big_keys(), 70, true), 1..400)) {
        run(2, ops);
    }

    #[test]
    fn big_keys_with_equal_scores(ops in prop::collection::vec(ops_over(big_keys(), 70, false), 1..400)) {
        run(3, ops);
    }

    #[test]
    fn crowded_buckets_rank_like_the_model(ops in prop::collection::vec(crowded_ops(), 1..400)) {
        run(crate::trie::DEFAULT_BURST, ops);
    }

    #[test]
    fn big_keys_inside_a_bucket_range_rank_like_the_model(ops in prop::collection::vec(bucket_bigs_ops(), 1..500)) {
        run(crate::trie::DEFAULT_BURST, ops);
    }
}

/// One bucket whose keys share a first letter, a few of them gathering
/// enough values to become big keys, and prefixes that end inside the
/// bucket: ranges that mix big keys with inline pairs, big keys whose best
/// value outranks a range's pairs or not, listed scores an `f32` does not
/// hold, answers longer than a big key's list, with and without dedupe.
fn bucket_bigs_ops() -> impl Strategy<Value = Op> {
    let many = || prop::sample::select(vec!["ma", "mae", "mo", "m"]).prop_map(String::from);
    let few = || {
        prop::collection::vec(prop::sample::select(vec!['a', 'e', 'o']), 0..3)
            .prop_map(|t| std::iter::once('m').chain(t).collect::<String>())
    };
    let k = move || prop_oneof![3 => many(), 2 => few()];
    let p = || {
        prop::sample::select(vec!["", "m", "ma", "mae", "mo", "me", "mx"]).prop_map(String::from)
    };
    let s = || {
        prop_oneof![
            4 => (0u32..30).prop_map(|e| (1.7f64).powi(e as i32).floor()),
            1 => (-5i32..5).prop_map(f64::from),
            1 => Just(0.1),
            1 => Just(16_777_217.0),
        ]
    };
    prop_oneof![
        10 => (k(), 0u8..70, s()).prop_map(|(k, v, s)| Op::Upsert(k, v, ScoreOp::Set(s))),
        2 => (k(), 0u8..70, s()).prop_map(|(k, v, s)| Op::Upsert(k, v, ScoreOp::Incr(s))),
        2 => (k(), 0u8..70).prop_map(|(k, v)| Op::Remove(k, v)),
        4 => (p(), 1..20usize, any::<bool>()).prop_map(|(p, n, d)| Op::Top(p, n, d)),
        1 => Just(Op::Repack),
    ]
}

/// Many keys of one bucket with scores spread over many orders of
/// magnitude, changed up and down in place, and prefixes that end inside
/// the bucket: ranked scans of long ranges of records (past the sparse
/// index's anchors), with and without dedupe, a few keys gathering enough
/// values to become big keys among them.
fn crowded_ops() -> impl Strategy<Value = Op> {
    let tail = || prop::collection::vec(prop::sample::select(vec!['a', 'e', 'o', 's', 't']), 0..4);
    let k = move || tail().prop_map(|t| std::iter::once('m').chain(t).collect::<String>());
    let p = move || {
        prop::collection::vec(prop::sample::select(vec!['a', 'e', 'o', 's', 't']), 0..3)
            .prop_map(|t| std::iter::once('m').chain(t).collect::<String>())
    };
    let s = || {
        prop_oneof![
            3 => (0u32..40).prop_map(|e| (1.7f64).powi(e as i32).floor()),
            1 => (-50i32..50).prop_map(f64::from),
            1 => 0.0f64..1.0,
            1 => Just(1e12),
        ]
    };
    // Values up to 40 under a few keys: past the promotion to a big key.
    let v = || prop_oneof![3 => 0u8..4, 1 => 0u8..40];
    prop_oneof![
        8 => (k(), v(), s()).prop_map(|(k, v, s)| Op::Upsert(k, v, ScoreOp::Set(s))),
        2 => (k(), v(), s()).prop_map(|(k, v, s)| Op::Upsert(k, v, ScoreOp::Incr(s))),
        1 => (k(), v()).prop_map(|(k, v)| Op::Remove(k, v)),
        3 => (p(), 1..24usize, any::<bool>()).prop_map(|(p, n, d)| Op::Top(p, n, d)),
        1 => Just(Op::Repack),
    ]
}

/// The heaviest pair sits in the deepest leaf of a long chain of keys.
#[test]
fn the_heaviest_pair_in_the_deepest_leaf_comes_first() {
    let mut t = Trie::with_burst(2);
    let mut deep = String::new();
    for i in 0..40u32 {
        deep.push(char::from(b'a' + (i % 3) as u8));
        t.upsert(&deep, i, ScoreOp::Set(f64::from(i % 5))).unwrap();
    }
    t.upsert(&deep, 999, ScoreOp::Set(1e9)).unwrap();
    let top = t.suggest_with("a", 3, SuggestOptions::new().order(Order::Score));
    assert_eq!(top.get(0), Some((deep.as_str(), &999)));
    assert_eq!(top.score(0), Some(1e9));
    t.assert_invariants();
}

/// Building from sorted scored pairs gives the same answers as adding them.
#[test]
fn from_sorted_scored_matches_upserts() {
    let items: Vec<(String, Vec<(u32, f64)>)> = (0..500u32)
        .map(|i| {
            (
                format!("k{i:04}"),
                (0..(i % 40))
                    .map(|v| (v, f64::from((v * 7 + i) % 13) / 4.0))
                    .collect(),
            )
        })
        .collect();
    let built = Trie::from_sorted_scored(8, items.clone()).unwrap();
    let mut added = Trie::with_burst(8);
    for (k, vs) in &items {
        for (v, s) in vs {
            added.upsert(k, *v, ScoreOp::Set(*s)).unwrap();
        }
    }
    built.assert_invariants();
    let opts = SuggestOptions::new().order(Order::Score);
    for p in ["", "k", "k0", "k01", "k049"] {
        assert_eq!(
            built.suggest_with(p, 50, opts),
            added.suggest_with(p, 50, opts)
        );
    }
    let bad = vec![("a".to_string(), vec![(1u32, f64::NAN)])];
    assert_eq!(
        Trie::from_sorted_scored(8, bad).unwrap_err(),
        TrieError::InvalidScore
    );
}

/// The root's remembered answer, if any (the root is an inner node).
fn root_remembers(t: &Trie<u8>) -> bool {
    match &*t.root {
        crate::trie::node::Node::Inner(inner) => inner.top.is_set(),
        crate::trie::node::Node::Bucket(_) => panic!("the root should be an inner node"),
    }
}

#[test]
fn a_ranked_search_remembers_its_start_and_a_write_forgets_it() {
    let mut t = Trie::with_burst(1);
    for (i, k) in ["ma", "mb", "nc", "nd", "oe", "of"].iter().enumerate() {
        t.upsert(k, i as u8, ScoreOp::Set(i as f64)).unwrap();
    }
    let top =
        |t: &Trie<u8>| entries(&t.suggest_with("", 2, SuggestOptions::new().order(Order::Score)));
    assert!(!root_remembers(&t));
    assert_eq!(top(&t), [("of".into(), 5, 5.0), ("oe".into(), 4, 4.0)]);
    assert!(root_remembers(&t), "the search kept its answer");

    // A clone shares the node and its answer; the clone's write copies
    // the root, which starts empty, and leaves the original's answer.
    let mut c = t.clone();
    c.upsert("mz", 9, ScoreOp::Set(9.0)).unwrap();
    assert!(root_remembers(&t) && !root_remembers(&c));
    assert_eq!(top(&c), [("mz".into(), 9, 9.0), ("of".into(), 5, 5.0)]);
    assert_eq!(top(&t), [("of".into(), 5, 5.0), ("oe".into(), 4, 4.0)]);

    // Written in place (not shared), the node forgets its answer.
    t.upsert("oe", 4, ScoreOp::Set(-1.0)).unwrap();
    assert!(!root_remembers(&t));
    assert_eq!(top(&t), [("of".into(), 5, 5.0), ("nd".into(), 3, 3.0)]);
    t.remove("of", &5);
    assert!(!root_remembers(&t));
    assert_eq!(top(&t), [("nd".into(), 3, 3.0), ("nc".into(), 2, 2.0)]);
}

#[test]
fn a_typo_search_past_a_remembered_answer_gives_each_pair_once() {
    // The typo pass for "ｆ" starts at the root, whose remembered answer
    // (4 pairs in tests) holds the exact matches it skips and "S", which
    // it gives; it then opens the root for the rest, where the child "S"
    // remembers "S" again.
    let mut t = Trie::with_burst(1);
    for (k, v) in [("ｆ", 0), ("ｆ", 1), ("S", 0), ("Sa", 0)] {
        t.upsert(k, v, ScoreOp::Set(0.0)).unwrap();
    }
    let opts = SuggestOptions::new()
        .order(Order::Score)
        .fuzzy(crate::trie::Fuzzy::Distance(1));
    // Once to fill the nodes' answers, once to read them.
    for _ in 0..2 {
        let s = t.suggest_with("ｆ", 5, opts);
        let got: Vec<(String, u8, Option<u8>)> = (0..s.len())
            .map(|i| {
                let (k, v) = s.get(i).unwrap();
                (k.to_string(), *v, s.distance(i))
            })
            .collect();
        let want: Vec<(String, u8, Option<u8>)> =
            [("ｆ", 0, 0), ("ｆ", 1, 0), ("S", 0, 1), ("Sa", 0, 1)]
                .iter()
                .map(|&(k, v, d)| (k.to_string(), v, Some(d)))
                .collect();
        assert_eq!(got, want);
    }
}

/// A scan of a bucket's range stops once nothing later can enter (here
/// every score ties, so after as many pairs as wanted); when dedupe then
/// drops those pairs (one value under three keys), the next scan must
/// still find the big key past where the first one stopped.
#[test]
fn a_scan_stopped_early_still_finds_the_big_keys_past_it() {
    for burst in [64, crate::trie::DEFAULT_BURST] {
        let mut ops: Vec<Op> = ["aba", "abb", "abc"]
            .iter()
            .map(|k| Op::Upsert(k.to_string(), 1, ScoreOp::Set(5.0)))
            .collect();
        for v in 100..150 {
            ops.push(Op::Upsert("abz".into(), v, ScoreOp::Set(5.0)));
        }
        for (n, dedupe) in [(3, true), (5, true), (3, false), (60, true)] {
            ops.push(Op::Top("ab".into(), n, dedupe));
        }
        run(burst, ops);
        // The case it is about: the big key's pairs are in the answer.
        let mut t = Trie::with_burst(burst);
        for k in ["aba", "abb", "abc"] {
            t.upsert(k, 1u8, ScoreOp::Set(5.0)).unwrap();
        }
        for v in 100..150u8 {
            t.upsert("abz", v, ScoreOp::Set(5.0)).unwrap();
        }
        let top = t.suggest_with(
            "ab",
            3,
            SuggestOptions::new().order(Order::Score).dedupe(true),
        );
        assert_eq!(top.get(1), Some(("abz", &100)));
    }
}
