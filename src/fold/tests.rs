//! Folding against its definition, and the automaton against the textbook
//! dynamic program over every prefix.

use super::dfa::Dfa;
use super::osa::{best_prefix, Osa};
use super::*;
use proptest::prelude::*;

/// The textbook optimal string alignment distance over code points.
pub(crate) fn osa_distance(a: &[char], b: &[char]) -> usize {
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

/// Brute force: the best distance over every prefix and the longest
/// prefix at it.
fn model_best_prefix(q: &[char], text: &[char], max: u8) -> Option<(u8, usize)> {
    let mut best: Option<(usize, usize)> = None;
    for j in 0..=text.len() {
        let d = osa_distance(q, &text[..j]);
        if best.is_none_or(|(b, _)| d <= b) {
            best = Some((d, j));
        }
    }
    let (d, j) = best.expect("the empty prefix");
    (d <= usize::from(max)).then_some((d as u8, j))
}

fn small_text() -> impl Strategy<Value = Vec<char>> {
    proptest::collection::vec(prop::sample::select(vec!['a', 'b', 'c', 'é', '😀']), 0..9)
}

/// Texts that also hold characters no query of `small_text` has, ASCII
/// and not, which share one class of the lazy automaton.
fn text_with_others() -> impl Strategy<Value = Vec<char>> {
    proptest::collection::vec(
        prop::sample::select(vec!['a', 'b', 'c', 'é', '😀', 'x', 'ß', '\u{10FFFF}']),
        0..9,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Every state's distance and floor agree with the dynamic program.
    #[test]
    fn automaton_matches_the_dynamic_program(q in small_text(), t in small_text(), max in 0u8..=2) {
        let osa = Osa::new(&q, max);
        let mut s = osa.start();
        let cap = usize::from(max) + 1;
        for j in 0..=t.len() {
            if j > 0 {
                s = osa.step(&s, t[j - 1]);
            }
            let d = osa_distance(&q, &t[..j]);
            prop_assert_eq!(usize::from(osa.last(&s)), d.min(cap));
            // The floor bounds every continuation.
            for k in j..=t.len() {
                prop_assert!(usize::from(osa.floor(&s)) <= osa_distance(&q, &t[..k]).min(cap));
            }
        }
    }

    /// No character outside `useful_chars` is useful.
    #[test]
    fn useful_chars_hold_every_useful_character(q in small_text(), t in small_text(), max in 0u8..=2) {
        let osa = Osa::new(&q, max);
        let mut s = osa.start();
        for c in t {
            let allowed = osa.useful_chars(&s);
            for probe in ['a', 'b', 'c', 'é', '😀', 'z', '\u{10FFFF}'] {
                if osa.useful(&s, probe) {
                    prop_assert!(allowed.as_ref().is_none_or(|a| a.contains(&probe)), "{:?} {:?}", probe, allowed);
                }
            }
            s = osa.step(&s, c);
        }
    }

    /// Stored keys of any folding sort by folded key, then original key,
    /// in code point order, and give the original back: keys that are
    /// their own folded text (one byte after it), keys below and above
    /// theirs, and keys holding the escaped bytes.
    #[test]
    fn stored_keys_sort_and_give_back_the_original(
        keys in proptest::collection::vec(
            proptest::collection::vec(
                prop::sample::select(vec!["a", "A", "e", "é", "E\u{301}", "ß", "ss", "S", "ﬁ", "\u{0}", "\u{1}", "\u{2}", "😀"]),
                1..5,
            ).prop_map(|v| v.concat()),
            1..12,
        ),
        fold in prop_oneof![Just(Fold::Case), Just(Fold::Full)],
    ) {
        let mut keys = keys;
        keys.sort();
        keys.dedup();
        let mut stored: Vec<Vec<u8>> = keys.iter().map(|k| fold.stored_key(k).into_owned()).collect();
        stored.sort();
        keys.sort_by(|a, b| (fold.apply(a), a).cmp(&(fold.apply(b), b)));
        let back: Vec<&str> = stored.iter().map(|s| std::str::from_utf8(original(s)).unwrap()).collect();
        prop_assert_eq!(back, keys.iter().map(|k| k.as_str()).collect::<Vec<_>>());
    }

    /// The built-as-walked automaton answers as the one it memoizes, over
    /// several texts read with one automaton (as a walk reads many paths),
    /// including characters outside the query's.
    #[test]
    fn the_lazy_dfa_answers_as_the_automaton(
        q in small_text(),
        texts in proptest::collection::vec(text_with_others(), 1..6),
        max in 0u8..=2,
    ) {
        let osa = Osa::new(&q, max);
        let mut dfa = Dfa::new(&q, max);
        for t in texts {
            let (mut s, mut id) = (osa.start(), 0);
            for c in t {
                prop_assert_eq!(dfa.last(id), osa.last(&s));
                prop_assert_eq!(dfa.best(id), s.best);
                prop_assert_eq!(dfa.can_improve(id), osa.can_improve(&s));
                prop_assert_eq!(dfa.useful_chars(id).cloned(), osa.useful_chars(&s));
                s = osa.step(&s, c);
                id = dfa.step(id, c);
            }
            prop_assert_eq!(dfa.last(id), osa.last(&s));
            prop_assert_eq!(dfa.best(id), s.best);
        }
    }

    #[test]
    fn best_prefix_matches_brute_force(q in small_text(), t in small_text(), max in 0u8..=2) {
        let text: String = t.iter().collect();
        prop_assert_eq!(best_prefix(&q, &text, max), model_best_prefix(&q, &t, max));
    }
}

#[test]
fn folds_as_documented() {
    assert_eq!(Fold::Case.apply("STRASSE"), Fold::Case.apply("straße"));
    assert_eq!(Fold::Case.apply("ΣΊΣΥΦΟΣ"), Fold::Case.apply("σίσυφος"));
    assert_eq!(Fold::Case.apply("José"), "josé");
    assert_eq!(Fold::Full.apply("José"), "jose");
    assert_eq!(Fold::Full.apply("ﬁle"), "file");
    assert_eq!(Fold::Full.apply("ｆｕｌｌ"), "full");
    assert_eq!(Fold::Full.apply("Ångström"), "angstrom");
    assert_eq!(Fold::Full.apply("İ"), "i");
    assert_eq!(Fold::None.apply("ABC"), "ABC");
}

#[test]
fn stored_keys_sort_by_folded_then_original() {
    let mut keys = [
        "josef",
        "jose",
        "José",
        "JOSE",
        "Jose",
        "josé",
        "jose\u{301}",
        "jos\u{0}x",
        "jos\u{1}",
    ];
    let mut stored: Vec<_> = keys
        .iter()
        .map(|k| Fold::Full.stored_key(k).into_owned())
        .collect();
    stored.sort();
    keys.sort_by(|a, b| (Fold::Full.apply(a), *a).cmp(&(Fold::Full.apply(b), *b)));
    let back: Vec<&str> = stored
        .iter()
        .map(|s| std::str::from_utf8(original(s)).unwrap())
        .collect();
    assert_eq!(back, keys);
}

#[test]
fn highlights_cover_whole_characters() {
    let m = Fold::Full.matched("STRAS", "Straße", 0).unwrap();
    assert_eq!(m.highlight, [0, 5]);
    let m = Fold::Full.matched("e", "e\u{301}\u{302}x", 0).unwrap();
    assert_eq!(m.highlight, [0, 3]);
    let m = Fold::None.matched("", "abc", 0).unwrap();
    assert_eq!(m.highlight, [0, 0]);
    let m = Fold::Full.matched("file", "ﬁles", 0).unwrap();
    assert_eq!(m.highlight, [0, 3]);
    let m = Fold::Full.matched("fi", "ﬁles", 0).unwrap();
    assert_eq!(m.highlight, [0, 1]);
}
