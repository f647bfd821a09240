//! The bulk build (`Trie::from_sorted_scored`) against a model: lists with
//! repeated values, and lists of distinct values long enough to make big
//! keys, each built with its sorted index and ranked list.

use std::collections::BTreeMap;

use proptest::prelude::*;

use crate::trie::Trie;
use crate::{Order, SuggestOptions};

/// Key -> values with scores, as given (repeats included).
type Lists = BTreeMap<String, Vec<(u16, f64)>>;

fn lists() -> impl Strategy<Value = Lists> {
    let score = || (-3i8..4).prop_map(|s| f64::from(s) / 2.0);
    let pair = (0u16..70, score());
    // Repeats, or distinct values in any order (long ones are big keys
    // with nothing for the duplicate check to remove).
    let repeats = prop::collection::vec(pair, 1..100);
    let distinct = (1usize..90)
        .prop_flat_map(move |n| {
            let values = Just((0..n as u16).collect::<Vec<_>>()).prop_shuffle();
            (values, prop::collection::vec(score(), n))
        })
        .prop_map(|(vs, ss)| vs.into_iter().zip(ss).collect());
    let list = prop_oneof![repeats, distinct];
    prop::collection::btree_map("[a-c]{1,3}", list, 1..8)
}

/// Each value once, at its first place, with that place's score.
fn model(lists: &Lists) -> BTreeMap<String, Vec<(u16, f64)>> {
    lists
        .iter()
        .map(|(k, vs)| {
            let mut kept: Vec<(u16, f64)> = Vec::new();
            for &(v, s) in vs {
                if !kept.iter().any(|&(w, _)| w == v) {
                    kept.push((v, s));
                }
            }
            (k.clone(), kept)
        })
        .collect()
}

proptest! {
    #[test]
    fn bulk_build_keeps_first_values_and_indexes_big_keys(lists in lists(), burst in 1usize..6) {
        let items: Vec<(String, Vec<(u16, f64)>)> = lists.clone().into_iter().collect();
        let mut t = Trie::from_sorted_scored(burst, items).expect("sorted, non-empty keys");
        t.assert_invariants();
        let m = model(&lists);
        // Every key's values and scores, in order.
        let mut got = BTreeMap::new();
        {
            let mut it = t.iter_prefix("");
            while let Some((k, vs)) = it.next_key() {
                got.insert(
                    k.to_owned(),
                    vs.scored().map(|(v, s)| (*v, s)).collect::<Vec<_>>(),
                );
            }
        }
        prop_assert_eq!(&got, &m);
        // Ranked answers: collect, sort, cut.
        let mut all: Vec<(f64, &str, usize, u16)> = m
            .iter()
            .flat_map(|(k, vs)| vs.iter().enumerate().map(move |(i, &(v, s))| (s, k.as_str(), i, v)))
            .collect();
        all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)).then(a.2.cmp(&b.2)));
        let want: Vec<(String, u16)> = all.iter().take(12).map(|&(_, k, _, v)| (k.to_owned(), v)).collect();
        let top = t.suggest_with("", 12, SuggestOptions::new().order(Order::Score)).into_vec();
        prop_assert_eq!(top, want);
        // The index finds every value (a duplicate add changes nothing) and
        // places new ones.
        for (k, vs) in &m {
            for &(v, _) in vs {
                prop_assert!(!t.insert(k, v).expect("a valid key"));
            }
            prop_assert!(t.insert(k, 1000).expect("a valid key"));
            prop_assert!(t.remove(k, &vs[0].0));
        }
        t.assert_invariants();
    }
}
