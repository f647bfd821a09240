//! Unicode folding: the text a trie created with a [`Fold`] matches on.
//!
//! # What it owns
//! - [`Fold`]: `none` (the bytes as given), `case` (Unicode full case
//!   folding, CaseFolding.txt statuses C and F) or `full` (NFKC, full case
//!   folding, then NFD with every nonspacing mark removed), from ICU4X's
//!   normalizer, case mapper and general category data (Unicode 18.0).
//! - The stored form of a key in a folding trie: the folded text, escaped
//!   so that it holds no `0x00`, then `0x00`, then one byte for a key that
//!   is its own folded text, or a byte that says on which side of its
//!   folded text the key sorts and the key as given (see
//!   [`Fold::stored_key`]). Byte order of stored keys is the order the API
//!   promises (folded key, then original key, both in code point order),
//!   a query's folded text is a byte prefix of every key it matches, and
//!   the original comes back from the bytes around the first `0x00`.
//! - [`osa`]: the optimal-string-alignment automaton over code points that
//!   the trie's typo-tolerant search walks, and [`Fold::matched`], the
//!   distance and highlight of one key.
//!
//! # Why it is built this way
//! Keys that fold alike ("Jose", "José", "JOSE") stay distinct keys with
//! their own values, and answers return them as they were added, so the
//! original must be stored. Storing it after the folded text, rather than
//! folding at query time, keeps a prefix query a plain walk of the trie,
//! exactly as fast as in a trie that does not fold. ASCII takes a shortcut
//! (lowercasing is all that folding does to it).

pub(crate) mod dfa;
pub mod osa;

use std::borrow::Cow;

use icu_casemap::CaseMapperBorrowed;
use icu_normalizer::{ComposingNormalizerBorrowed, DecomposingNormalizerBorrowed};
use icu_properties::props::{GeneralCategory, GeneralCategoryGroup};
use icu_properties::CodePointMapData;

/// How a trie folds keys and queries before it compares them.
///
/// # Examples
/// ```
/// use typeahead::Fold;
///
/// assert_eq!(Fold::Case.apply("STRASSE"), Fold::Case.apply("straße"));
/// assert_eq!(Fold::Case.apply("ΣΊΣΥΦΟΣ"), Fold::Case.apply("σίσυφος"));
/// assert_eq!(Fold::Full.apply("José"), "jose");
/// assert_eq!(Fold::Full.apply("ﬁle"), "file");
/// assert_eq!(Fold::Full.apply("ｆｕｌｌ"), "full");
/// assert_eq!(Fold::Full.apply("Ångström"), "angstrom");
/// assert_eq!(Fold::None.apply("José"), "José");
/// assert_eq!("full".parse(), Ok(Fold::Full));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Fold {
    /// Keys match byte for byte.
    #[default]
    None,
    /// Unicode full case folding (statuses C and F).
    Case,
    /// NFKC, full case folding, then NFD without nonspacing marks (Mn).
    Full,
}

/// The error of parsing a [`Fold`] from text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("fold must be none, case or full, got {0:?}")]
pub struct UnknownFold(pub String);

impl std::str::FromStr for Fold {
    type Err = UnknownFold;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => Ok(Fold::None),
            "case" => Ok(Fold::Case),
            "full" => Ok(Fold::Full),
            _ => Err(UnknownFold(s.to_owned())),
        }
    }
}

impl std::fmt::Display for Fold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The distance and highlight of a key that matches a query: see
/// [`Fold::matched`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Match {
    /// The smallest optimal-string-alignment distance between the folded
    /// query and a prefix of the folded key, in code points.
    pub distance: u8,
    /// The span of the original key, in code points, that matched: from 0
    /// to the end of the longest folded prefix at `distance`, widened to
    /// cover whole characters (with the combining marks after them).
    pub highlight: [usize; 2],
}

impl Fold {
    /// The setting's name in the API: `none`, `case` or `full`.
    pub fn as_str(self) -> &'static str {
        match self {
            Fold::None => "none",
            Fold::Case => "case",
            Fold::Full => "full",
        }
    }

    /// The setting as one byte, for the log.
    pub fn code(self) -> u8 {
        match self {
            Fold::None => 0,
            Fold::Case => 1,
            Fold::Full => 2,
        }
    }

    /// The setting a byte from [`Fold::code`] names.
    pub fn from_code(code: u8) -> Option<Fold> {
        match code {
            0 => Some(Fold::None),
            1 => Some(Fold::Case),
            2 => Some(Fold::Full),
            _ => None,
        }
    }

    /// `s` folded: what keys and queries are compared as.
    pub fn apply(self, s: &str) -> Cow<'_, str> {
        match self {
            Fold::None => Cow::Borrowed(s),
            _ if s.is_ascii() => {
                if s.bytes().any(|b| b.is_ascii_uppercase()) {
                    Cow::Owned(s.to_ascii_lowercase())
                } else {
                    Cow::Borrowed(s)
                }
            }
            Fold::Case => CaseMapperBorrowed::new().fold_string(s),
            Fold::Full => {
                let nfkc = ComposingNormalizerBorrowed::new_nfkc().normalize(s);
                let folded = CaseMapperBorrowed::new().fold_string(&nfkc).into_owned();
                let nfd = DecomposingNormalizerBorrowed::new_nfd().normalize(&folded);
                let gc = CodePointMapData::<GeneralCategory>::new();
                if nfd
                    .chars()
                    .any(|c| gc.get(c) == GeneralCategory::NonspacingMark)
                {
                    Cow::Owned(
                        nfd.chars()
                            .filter(|&c| gc.get(c) != GeneralCategory::NonspacingMark)
                            .collect(),
                    )
                } else {
                    Cow::Owned(nfd.into_owned())
                }
            }
        }
    }

    /// How `key` is stored in a trie with this setting: the key's bytes
    /// for [`Fold::None`]; otherwise the folded key with `0x00` written as
    /// `0x01 0x01` and `0x01` as `0x01 0x02` (an order-preserving code with
    /// no `0x00`), then `0x00`, then where the key sorts against its folded
    /// text and the key itself:
    /// - `0x02` alone when the key is its folded text and holds neither
    ///   `0x00` nor `0x01` (the folded part then spells it out: most keys
    ///   of a folding trie, and every lowercase ASCII one, cost one byte
    ///   more than their folded text, not twice it);
    /// - `0x01` then the key when the key sorts below its folded text;
    /// - `0x03` then the key otherwise.
    ///
    /// Among the keys of one folded text, those below it, the folded text
    /// itself, then those above it, each group in code point order: byte
    /// order is code point order of the originals.
    pub fn stored_key(self, key: &str) -> Cow<'_, [u8]> {
        if self == Fold::None {
            return Cow::Borrowed(key.as_bytes());
        }
        let folded = self.apply(key);
        if *folded == *key && !key.bytes().any(|b| b <= 1) {
            let mut out = Vec::with_capacity(key.len() + 2);
            out.extend_from_slice(key.as_bytes());
            out.extend_from_slice(&[0, SAME]);
            return Cow::Owned(out);
        }
        let mut out = Vec::with_capacity(folded.len() + key.len() + 3);
        push_escaped(&folded, &mut out);
        out.push(0);
        out.push(if key < &*folded { BELOW } else { ABOVE });
        out.extend_from_slice(key.as_bytes());
        Cow::Owned(out)
    }

    /// What a query looks for in stored keys: the folded, escaped query,
    /// a byte prefix of every stored key whose folded key starts with it.
    pub fn stored_prefix(self, query: &str) -> Cow<'_, [u8]> {
        if self == Fold::None {
            return Cow::Borrowed(query.as_bytes());
        }
        let folded = self.apply(query);
        let mut out = Vec::with_capacity(folded.len() + 2);
        push_escaped(&folded, &mut out);
        Cow::Owned(out)
    }

    /// [`Fold::stored_prefix`] written into `out` (cleared first): what a
    /// hot query uses to avoid an allocation.
    pub fn push_stored_prefix(self, query: &str, out: &mut impl Extend<u8>) {
        let folded = self.apply(query);
        if self == Fold::None || !folded.bytes().any(|b| b <= 1) {
            out.extend(folded.bytes());
            return;
        }
        for &b in folded.as_bytes() {
            match b {
                0 => out.extend([1, 1]),
                1 => out.extend([1, 2]),
                b => out.extend([b]),
            }
        }
    }

    /// The distance and highlight of `key` for `query`, or `None` when the
    /// distance exceeds `max` (see [`Match`]).
    ///
    /// # Examples
    /// ```
    /// use typeahead::Fold;
    ///
    /// let m = Fold::Full.matched("jose", "José María", 0).unwrap();
    /// assert_eq!((m.distance, m.highlight), (0, [0, 4]));
    /// // "Jose\u{301}" is "José" with a combining accent: the span covers it.
    /// let m = Fold::Full.matched("jose", "Jose\u{301} M", 0).unwrap();
    /// assert_eq!(m.highlight, [0, 5]);
    /// let m = Fold::Case.matched("mathew", "Matthew", 1).unwrap();
    /// assert_eq!((m.distance, m.highlight), (1, [0, 7]));
    /// assert_eq!(Fold::None.matched("jose", "José", 0), None);
    /// ```
    pub fn matched(self, query: &str, key: &str, max: u8) -> Option<Match> {
        Matcher::new(self, query).matched(key, max)
    }

    /// The code point length of the shortest prefix of `key` whose folded
    /// text starts with the first `len` code points of `folded` (the whole
    /// key folded), widened over the combining marks that follow it.
    fn original_end(self, key: &str, folded: &str, len: usize) -> usize {
        let chars: Vec<(usize, char)> = key.char_indices().collect();
        if len == 0 {
            return 0;
        }
        let end = if self == Fold::None || key.is_ascii() {
            // Folding maps each character to one: positions agree.
            len.min(chars.len())
        } else {
            let target: String = folded.chars().take(len).collect();
            let covers = |i: usize| {
                let cut = chars.get(i).map_or(key.len(), |&(b, _)| b);
                self.apply(&key[..cut]).starts_with(&target)
            };
            // The smallest prefix that covers the target; folding a longer
            // prefix only appends (so a binary search finds it), with a
            // linear fallback should some sequence fold otherwise.
            let (mut lo, mut hi) = (1, chars.len());
            while lo < hi {
                let mid = (lo + hi) / 2;
                if covers(mid) {
                    hi = mid;
                } else {
                    lo = mid + 1;
                }
            }
            if covers(lo) {
                lo
            } else {
                (1..=chars.len())
                    .find(|&i| covers(i))
                    .unwrap_or(chars.len())
            }
        };
        let rest = chars.get(end).map_or("", |&(b, _)| &key[b..]);
        end + marks_after(rest)
    }
}

/// A query folded once, to match many keys: what a server uses to
/// highlight every entry of an answer.
#[derive(Clone, Debug)]
pub struct Matcher<'q> {
    fold: Fold,
    query: &'q str,
    q: Vec<char>,
}

impl<'q> Matcher<'q> {
    /// `query` prepared for `fold`.
    pub fn new(fold: Fold, query: &'q str) -> Self {
        Matcher {
            fold,
            query,
            q: fold.apply(query).chars().collect(),
        }
    }

    /// As [`Fold::matched`].
    pub fn matched(&self, key: &str, max: u8) -> Option<Match> {
        if max == 0 && self.fold == Fold::None {
            // A plain prefix: the span is the query's length.
            if !key.starts_with(self.query) {
                return None;
            }
            let end = self.q.len() + marks_after(&key[self.query.len()..]);
            return Some(Match {
                distance: 0,
                highlight: [0, end],
            });
        }
        let folded = self.fold.apply(key);
        let (distance, len) = osa::best_prefix(&self.q, &folded, max)?;
        let end = self.fold.original_end(key, &folded, len);
        Some(Match {
            distance,
            highlight: [0, end],
        })
    }
}

/// How many combining marks `rest` starts with.
fn marks_after(rest: &str) -> usize {
    if rest.as_bytes().first().is_none_or(u8::is_ascii) {
        return 0;
    }
    let gc = CodePointMapData::<GeneralCategory>::new();
    rest.chars()
        .take_while(|&c| GeneralCategoryGroup::Mark.contains(gc.get(c)))
        .count()
}

/// Appends `folded` with `0x00` as `0x01 0x01` and `0x01` as `0x01 0x02`.
fn push_escaped(folded: &str, out: &mut Vec<u8>) {
    for &b in folded.as_bytes() {
        match b {
            0 => out.extend_from_slice(&[1, 1]),
            1 => out.extend_from_slice(&[1, 2]),
            b => out.push(b),
        }
    }
}

/// After a stored key's `0x00`: the key is its folded text, spelled out
/// before the `0x00` (see [`Fold::stored_key`]).
const SAME: u8 = 2;
/// After a stored key's `0x00`: the key follows, and sorts below its
/// folded text.
const BELOW: u8 = 1;
/// After a stored key's `0x00`: the key follows, and sorts above its
/// folded text.
const ABOVE: u8 = 3;

/// The key as given, from a stored key of a folding trie.
pub(crate) fn original(stored: &[u8]) -> &[u8] {
    &stored[original_range(stored)]
}

/// Where the key as given lies in a stored key of a folding trie: before
/// the first `0x00` when it is its folded text, after the byte that follows
/// that `0x00` otherwise.
pub(crate) fn original_range(stored: &[u8]) -> std::ops::Range<usize> {
    // Most keys are their own folded text, stored as that text (which
    // holds no `0x00`: the escape writes it as `0x01 0x01`) and `0x00
    // SAME`. An original after the separator may end in the same two
    // bytes, but then the separator is an earlier `0x00`.
    if let [text @ .., 0, SAME] = stored {
        if !text.contains(&0) {
            return 0..text.len();
        }
    }
    match stored.iter().position(|&b| b == 0) {
        Some(i) if stored.get(i + 1) == Some(&SAME) => 0..i,
        Some(i) => (i + 2).min(stored.len())..stored.len(),
        None => 0..stored.len(),
    }
}

#[cfg(test)]
pub(crate) mod tests;
