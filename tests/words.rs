//! Folding and typo tolerance over real words: keys drawn from the word
//! fixtures (English, German, Russian, Japanese; `tests/data/words`) and
//! written in random case, queries made from a word's prefix with up to
//! two random typos, every answer checked against a brute-force oracle
//! that folds every key and measures the query against every prefix.

use std::sync::OnceLock;

use proptest::prelude::*;
use typeahead::{Fold, Fuzzy, Order, ScoreOp, SuggestOptions, Trie};

fn words() -> &'static [String] {
    static WORDS: OnceLock<Vec<String>> = OnceLock::new();
    WORDS.get_or_init(|| {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/words");
        ["en", "de", "ru", "ja"]
            .iter()
            .flat_map(|lang| {
                let text = std::fs::read_to_string(format!("{dir}/{lang}.tsv")).expect("fixture");
                text.lines()
                    .filter_map(|l| l.split('\t').next())
                    .filter(|w| !w.is_empty())
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect()
    })
}

/// The textbook optimal string alignment distance over code points.
fn osa(a: &[char], b: &[char]) -> usize {
    let (n, m) = (a.len(), b.len());
    let mut d = vec![vec![0usize; m + 1]; n + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=n {
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[n][m]
}

/// A word as someone might type it: lowercase, Capitalised or UPPER.
fn cased(word: &str, how: u8) -> String {
    match how % 3 {
        0 => word.to_owned(),
        1 => {
            let mut c = word.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect())
                .unwrap_or_default()
        }
        _ => word.to_uppercase(),
    }
}

/// `word`'s first `len` characters with `typos` random edits.
fn typed(word: &str, len: usize, typos: &[(u8, usize, char)]) -> String {
    let mut q: Vec<char> = word.chars().take(len.max(1)).collect();
    for &(kind, at, c) in typos {
        if q.is_empty() {
            break;
        }
        let i = at % q.len();
        match kind % 4 {
            0 => q[i] = c,
            1 => q.insert(i, c),
            2 => {
                q.remove(i);
            }
            _ if i + 1 < q.len() => q.swap(i, i + 1),
            _ => {}
        }
    }
    q.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn words_match_the_oracle(
        picks in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), -3i32..50), 50..200),
        queries in proptest::collection::vec(
            (any::<prop::sample::Index>(), 1usize..8, proptest::collection::vec((any::<u8>(), any::<usize>(), prop::sample::select(vec!['a', 'e', 'é', 'ß', 'и', 'の', 'X'])), 0..3), 0u8..3, any::<bool>(), any::<bool>()),
            1..6),
        fold in prop_oneof![Just(Fold::Case), Just(Fold::Full)],
    ) {
        let all = words();
        let mut t: Trie<u32> = Trie::with_fold(fold);
        let mut pairs: Vec<(String, u32, f64)> = Vec::new();
        for (i, (pick, case, score)) in picks.iter().enumerate() {
            let key = cased(&all[pick.index(all.len())], *case);
            let value = (i % 40) as u32;
            t.upsert(&key, value, ScoreOp::Set(f64::from(*score))).unwrap();
            match pairs.iter_mut().find(|p| p.0 == key && p.1 == value) {
                Some(p) => p.2 = f64::from(*score),
                None => pairs.push((key, value, f64::from(*score))),
            }
        }
        for (pick, len, typos, max, by_score, dedupe) in queries {
            let q = typed(&all[pick.index(all.len())], len, &typos);
            let order = if by_score { Order::Score } else { Order::Key };
            let opts = SuggestOptions::new().order(order).dedupe(dedupe).fuzzy(Fuzzy::Distance(max));
            let found = t.suggest_with(&q, 10, opts);
            let got: Vec<(String, u32, u8)> = found
                .iter()
                .enumerate()
                .map(|(i, (k, v))| (k.to_owned(), *v, found.distance(i).unwrap_or(0)))
                .collect();
            let fq: Vec<char> = fold.apply(&q).chars().collect();
            let mut hits: Vec<(usize, String, String, usize, u32, f64)> = pairs
                .iter()
                .enumerate()
                .filter_map(|(seq, (k, v, s))| {
                    let fk: Vec<char> = fold.apply(k).chars().collect();
                    let d = (0..=fk.len()).map(|j| osa(&fq, &fk[..j])).min().unwrap();
                    (d <= usize::from(max)).then(|| (d, fold.apply(k).into_owned(), k.clone(), seq, *v, *s))
                })
                .collect();
            hits.sort_by(|a, b| {
                let by_key = (&a.1, &a.2, a.3).cmp(&(&b.1, &b.2, b.3));
                a.0.cmp(&b.0).then(if by_score { b.5.total_cmp(&a.5).then(by_key) } else { by_key })
            });
            let mut seen = std::collections::HashSet::new();
            let want: Vec<(String, u32, u8)> = hits
                .into_iter()
                .filter(|h| !dedupe || seen.insert(h.4))
                .take(10)
                .map(|h| (h.2, h.4, h.0 as u8))
                .collect();
            prop_assert_eq!(&got, &want, "q={:?} max={} order={:?}", q, max, order);
            for (k, _, d) in &got {
                let m = t.matched(&q, k, max).expect("an answer matches");
                prop_assert_eq!(m.distance, *d);
                prop_assert!(m.highlight[1] <= k.chars().count());
            }
        }
    }
}
