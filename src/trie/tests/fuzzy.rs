//! Property tests for folding tries and typo-tolerant answers: random
//! writes, removes and queries over keys drawn from every plane (astral
//! characters, combining sequences, ligatures, Greek final sigma, Turkish
//! dotted and dotless i, full-width and Japanese forms, control bytes),
//! checked against a brute-force oracle: fold every key, compute the
//! distance of the folded query to every prefix of it, sort, cut.

use crate::fold::tests::osa_distance;
use crate::fold::Fold;
use crate::trie::{Fuzzy, Order, ScoreOp, SuggestOptions, Trie};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Upsert(String, u8, f64),
    Remove(String, u8),
    RemoveKey(String),
    Get(String),
    Suggest(String, usize, Order, bool, u8),
}

/// Characters that fold in every interesting way.
const ALPHABET: &[&str] = &[
    "a", "b", "A", "e", "é", "e\u{301}", "E\u{301}", "ß", "S", "s", "ss", "ﬁ", "f", "i", "Σ", "σ",
    "ς", "İ", "ı", "I", "ｆ", "ア", "ｱ", "が", "か", "😀", "𝔄", "\u{0}", "\u{1}",
];

fn text(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(prop::sample::select(ALPHABET), 1..=max).prop_map(|v| v.concat())
}

fn op() -> impl Strategy<Value = Op> {
    let order = prop_oneof![Just(Order::Key), Just(Order::Score)];
    prop_oneof![
        6 => (text(4), 0u8..6, (-2i32..3).prop_map(f64::from))
            .prop_map(|(k, v, s)| Op::Upsert(k, v, s)),
        1 => (text(4), 0u8..6).prop_map(|(k, v)| Op::Remove(k, v)),
        1 => text(4).prop_map(Op::RemoveKey),
        1 => text(4).prop_map(Op::Get),
        4 => (prop_oneof![Just(String::new()), text(4)], 1usize..8, order, any::<bool>(), 0u8..3)
            .prop_map(|(q, n, o, d, f)| Op::Suggest(q, n, o, d, f)),
    ]
}

/// The oracle: every pair (key, value, score) in insertion order per key.
#[derive(Default)]
struct Model {
    pairs: Vec<(String, u8, f64)>,
}

impl Model {
    fn suggest(
        &self,
        fold: Fold,
        q: &str,
        limit: usize,
        order: Order,
        dedupe: bool,
        max: u8,
    ) -> Vec<(String, u8, f64, u8)> {
        let fq: Vec<char> = fold.apply(q).chars().collect();
        let mut hits: Vec<(u8, String, String, usize, u8, f64)> = Vec::new();
        for (seq, (k, v, s)) in self.pairs.iter().enumerate() {
            let fk: Vec<char> = fold.apply(k).chars().collect();
            let d = (0..=fk.len())
                .map(|j| osa_distance(&fq, &fk[..j]))
                .min()
                .expect("the empty prefix");
            if d <= usize::from(max) {
                hits.push((d as u8, fold.apply(k).into_owned(), k.clone(), seq, *v, *s));
            }
        }
        hits.sort_by(|a, b| {
            let by_key = (&a.1, &a.2, a.3).cmp(&(&b.1, &b.2, b.3));
            a.0.cmp(&b.0).then(match order {
                Order::Key => by_key,
                Order::Score => b.5.total_cmp(&a.5).then(by_key),
            })
        });
        let mut seen = std::collections::BTreeSet::new();
        hits.into_iter()
            .filter(|h| !dedupe || seen.insert(h.4))
            .take(limit)
            .map(|(d, _, k, _, v, s)| (k, v, s, d))
            .collect()
    }
}

fn run(fold: Fold, burst: usize, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut t: Trie<u8> = Trie::from_scored(burst, fold, Vec::new()).unwrap();
    let mut m = Model::default();
    for op in ops {
        match op {
            Op::Upsert(k, v, s) => {
                t.upsert(&k, v, ScoreOp::Set(s)).unwrap();
                match m.pairs.iter_mut().find(|p| p.0 == k && p.1 == v) {
                    Some(p) => p.2 = s,
                    None => m.pairs.push((k, v, s)),
                }
            }
            Op::Remove(k, v) => {
                let there = m.pairs.iter().any(|p| p.0 == k && p.1 == v);
                prop_assert_eq!(t.remove(&k, &v), there);
                m.pairs.retain(|p| !(p.0 == k && p.1 == v));
            }
            Op::RemoveKey(k) => {
                let want: Vec<u8> = m.pairs.iter().filter(|p| p.0 == k).map(|p| p.1).collect();
                prop_assert_eq!(t.remove_key(&k), want);
                m.pairs.retain(|p| p.0 != k);
            }
            Op::Get(k) => {
                let want: Vec<u8> = m.pairs.iter().filter(|p| p.0 == k).map(|p| p.1).collect();
                let got: Vec<u8> = t.get(&k).copied().collect();
                prop_assert_eq!(got, want);
            }
            Op::Suggest(q, limit, order, dedupe, max) => {
                let opts = SuggestOptions::new()
                    .order(order)
                    .dedupe(dedupe)
                    .fuzzy(Fuzzy::Distance(max));
                let found = t.suggest_with(&q, limit, opts);
                let got: Vec<(String, u8, f64, u8)> = found
                    .iter_scored()
                    .enumerate()
                    .map(|(i, (k, v, s))| (k.to_owned(), *v, s, found.distance(i).unwrap_or(0)))
                    .collect();
                let want = m.suggest(fold, &q, limit, order, dedupe, max);
                prop_assert_eq!(&got, &want, "q={:?} max={}", q, max);
                if max == 0 && order == Order::Key && !dedupe {
                    let plain: Vec<(String, u8)> = t.suggest(&q, limit).into_vec();
                    let want: Vec<(String, u8)> = want.iter().map(|w| (w.0.clone(), w.1)).collect();
                    prop_assert_eq!(plain, want);
                }
                for (k, _, _, d) in &got {
                    let m = t.matched(&q, k, max).expect("an answer matches");
                    prop_assert_eq!(m.distance, *d);
                }
            }
        }
        prop_assert_eq!(t.len(), m.pairs.len());
    }
    t.assert_invariants();
    // The key-order walk over everything lends the keys as given.
    let mut all: Vec<String> = t.iter_prefix("").map(|(k, _)| k).collect();
    all.dedup();
    let mut want: Vec<String> = m.pairs.iter().map(|p| p.0.clone()).collect();
    want.sort_by(|a, b| (fold.apply(a), a).cmp(&(fold.apply(b), b)));
    want.dedup();
    prop_assert_eq!(all, want);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn folding_and_typos_match_the_oracle(
        fold in prop_oneof![Just(Fold::None), Just(Fold::Case), Just(Fold::Full)],
        burst in prop_oneof![Just(1usize), Just(2), Just(4), Just(256)],
        ops in proptest::collection::vec(op(), 1..60),
    ) {
        run(fold, burst, ops)?;
    }
}
