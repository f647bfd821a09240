//! The options of a suggestion ([`Order`], [`Fuzzy`], [`SuggestOptions`])
//! and the key-order walk that keeps one answer per value; the ranked
//! search itself is [`ranked`](super::ranked)'s, the typo-tolerant one
//! [`fuzzy`](super::fuzzy)'s.

use std::collections::BTreeSet;

use super::iter::{PrefixIter, Suggestions};
use super::node::Node;

/// The order of an answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Order {
    /// Key (code point) order, then the order each key's values were added.
    #[default]
    Key,
    /// Highest score first; ties by key, then by the order the values were
    /// added to that key.
    Score,
}

/// How [`Trie::suggest_with`](super::Trie::suggest_with) orders and filters its answer.
///
/// # Examples
/// ```
/// use typeahead::{Order, SuggestOptions};
///
/// let opts = SuggestOptions::new().order(Order::Score).dedupe(true);
/// assert_eq!(opts.order, Order::Score);
/// assert!(opts.dedupe);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SuggestOptions {
    /// The order of the entries.
    pub order: Order,
    /// Each distinct value at most once, at its best position in `order`.
    pub dedupe: bool,
    /// How many typos a match may have.
    pub fuzzy: Fuzzy,
}

/// How many typos a match may have: a key matches at distance `d` when the
/// smallest optimal-string-alignment distance (insert, delete, substitute,
/// swap two adjacent characters, in code points) between the folded query
/// and a prefix of the folded key is `d`. Answers come by distance first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fuzzy {
    /// At most this many (0 to 2; more is taken as 2).
    Distance(u8),
    /// 0 for a query of fewer than 4 code points (as sent, before
    /// folding), 1 from 4, 2 from 8.
    Auto,
}

impl Default for Fuzzy {
    fn default() -> Self {
        Fuzzy::Distance(0)
    }
}

impl Fuzzy {
    /// The bound for `query`.
    ///
    /// # Examples
    /// ```
    /// use typeahead::Fuzzy;
    ///
    /// assert_eq!(Fuzzy::Auto.bound("mar"), 0);
    /// assert_eq!(Fuzzy::Auto.bound("mari"), 1);
    /// assert_eq!(Fuzzy::Auto.bound("christop"), 2);
    /// assert_eq!(Fuzzy::Distance(7).bound("x"), 2);
    /// ```
    pub fn bound(self, query: &str) -> u8 {
        match self {
            Fuzzy::Distance(d) => d.min(crate::fold::osa::MAX_DISTANCE),
            Fuzzy::Auto => match query.chars().count() {
                0..4 => 0,
                4..8 => 1,
                _ => 2,
            },
        }
    }
}

impl SuggestOptions {
    /// Key order, no dedupe: what [`Trie::suggest`](super::Trie::suggest) answers.
    pub fn new() -> Self {
        Self::default()
    }

    /// The same options in order `order`.
    pub fn order(self, order: Order) -> Self {
        SuggestOptions { order, ..self }
    }

    /// The same options with `fuzzy` set.
    pub fn fuzzy(self, fuzzy: Fuzzy) -> Self {
        SuggestOptions { fuzzy, ..self }
    }

    /// The same options with `dedupe` set or not.
    pub fn dedupe(self, dedupe: bool) -> Self {
        SuggestOptions { dedupe, ..self }
    }
}

/// The values already in an answer, for `dedupe`.
pub(crate) struct Seen<'a, V>(pub(crate) BTreeSet<&'a V>);

impl<'a, V: Ord> Seen<'a, V> {
    /// True (and remembered) when `v` is new.
    pub(crate) fn first(&mut self, v: &'a V) -> bool {
        self.0.insert(v)
    }
}

/// Key order, every pair (stored keys).
pub(crate) fn by_key<V: Clone>(root: &Node<V>, prefix: &[u8], limit: usize) -> Suggestions<V> {
    let mut it = PrefixIter::empty();
    it.descend(root, prefix);
    Suggestions::collect(&mut it, limit)
}

/// Key order with each value once, at its first key (stored keys).
pub(crate) fn by_key_distinct<V: Clone + Ord>(
    root: &Node<V>,
    prefix: &[u8],
    limit: usize,
) -> Suggestions<V> {
    let mut out = Suggestions::with_capacity(limit.min(64));
    let mut seen = Seen(BTreeSet::new());
    let mut it = PrefixIter::new(root, prefix);
    'keys: while out.len() < limit {
        let Some((key, values)) = it.next_key_bytes() else {
            break;
        };
        for (v, s) in values.scored() {
            if seen.first(v) {
                out.push(key, v.clone(), s);
                if out.len() == limit {
                    break 'keys;
                }
            }
        }
    }
    out
}
