//! The options of a suggestion ([`Order`], [`SuggestOptions`]) and the
//! key-order walk that keeps one answer per value; the ranked search
//! itself is [`ranked`](super::ranked)'s.

use std::collections::BTreeSet;

use super::iter::Suggestions;
use super::Trie;

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

/// How [`Trie::suggest_with`] orders and filters its answer.
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
}

impl SuggestOptions {
    /// Key order, no dedupe: what [`Trie::suggest`] answers.
    pub fn new() -> Self {
        Self::default()
    }

    /// The same options in order `order`.
    pub fn order(self, order: Order) -> Self {
        SuggestOptions { order, ..self }
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

/// Key order with each value once, at its first key.
pub(crate) fn by_key_distinct<V: Clone + Ord>(
    t: &Trie<V>,
    prefix: &str,
    limit: usize,
) -> Suggestions<V> {
    let mut out = Suggestions::with_capacity(limit.min(64));
    let mut seen = Seen(BTreeSet::new());
    let mut it = t.iter_prefix(prefix);
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
