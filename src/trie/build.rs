//! Building a trie in one pass from sorted keys: what start-up and
//! checkpoints use to load millions of entries; and repacking one that
//! grew by writes into fresh, tight allocations.

use std::sync::Arc;

use super::big::BigValues;
use super::bucket::{inline_len, Bucket};
use super::node::{common_prefix_len, Inner, Node};
use super::values::Vals;
use super::{Trie, TrieError};
use crate::fold::Fold;

/// A key's values with their scores.
type ScoredValues<V> = Vec<(V, f64)>;

impl<V: Clone + Ord> Trie<V> {
    /// Builds a trie from `(key, values)` pairs in one pass, much faster than
    /// inserting them one by one (no searching, no shifting): what start-up
    /// uses to load millions of entries. Keys must be non-empty and strictly
    /// ascending (byte order); a repeated value within a key is kept once, at
    /// its first position; keys with no values are skipped.
    ///
    /// # Errors
    /// [`TrieError::EmptyKey`] or [`TrieError::Unsorted`].
    ///
    /// # Examples
    /// ```
    /// let t = typeahead::Trie::from_sorted(2, vec![
    ///     ("go".to_string(), vec![1, 4]),
    ///     ("gob".to_string(), vec![3]),
    ///     ("gopher".to_string(), vec![5, 5]),
    /// ]).unwrap();
    /// assert_eq!(t.suggest("go", 10).len(), 4);
    /// assert_eq!(t.get("gopher"), [5]);
    /// ```
    pub fn from_sorted(burst: usize, items: Vec<(String, Vec<V>)>) -> Result<Self, TrieError> {
        let items = items
            .into_iter()
            .map(|(k, v)| {
                let n = v.len();
                (k, v.into_iter().zip(std::iter::repeat_n(0.0, n)).collect())
            })
            .collect();
        Self::from_sorted_scored(burst, items)
    }

    /// [`Trie::from_sorted`] with a score for every value: what start-up
    /// uses to load a log or a checkpoint. A repeated value within a key is
    /// kept once, at its first position and with its first score.
    ///
    /// # Errors
    /// [`TrieError::EmptyKey`], [`TrieError::Unsorted`], or
    /// [`TrieError::InvalidScore`] for a score that is not finite.
    ///
    /// # Examples
    /// ```
    /// use typeahead::{SuggestOptions, Order, Trie};
    ///
    /// let t = Trie::from_sorted_scored(256, vec![
    ///     ("mara".to_string(), vec![(1, 5.0)]),
    ///     ("mark".to_string(), vec![(2, 90.0), (3, 7.5)]),
    /// ]).unwrap();
    /// let top = t.suggest_with("mar", 2, SuggestOptions::new().order(Order::Score));
    /// assert_eq!(top, [("mark", 2), ("mark", 3)]);
    /// ```
    pub fn from_sorted_scored(
        burst: usize,
        mut items: Vec<(String, Vec<(V, f64)>)>,
    ) -> Result<Self, TrieError> {
        items.retain(|(_, v)| !v.is_empty());
        for w in items.windows(2) {
            if w[0].0 >= w[1].0 {
                return Err(TrieError::Unsorted {
                    key: w[1].0.clone(),
                });
            }
        }
        if items.first().is_some_and(|(k, _)| k.is_empty()) {
            return Err(TrieError::EmptyKey);
        }
        if items
            .iter()
            .any(|(_, v)| v.iter().any(|(_, s)| !s.is_finite()))
        {
            return Err(TrieError::InvalidScore);
        }
        let mut len = 0;
        for (_, values) in &mut items {
            dedup_keep_first(values);
            len += values.len();
        }
        let mut t = Self::with_burst(burst);
        t.len = len;
        t.keys = items.len();
        if items.is_empty() {
            return Ok(t);
        }
        let mut refs: Vec<(&[u8], Vec<V>, Vec<f64>)> = items
            .iter_mut()
            .map(|(k, v)| {
                let (vals, scores) = std::mem::take(v).into_iter().unzip();
                (k.as_bytes(), vals, scores)
            })
            .collect();
        t.root = Arc::new(build_sorted(&mut refs, 0, t.burst));
        Ok(t)
    }

    /// [`Trie::from_sorted_scored`] for a trie with `fold`, from keys in
    /// any order (each once): what start-up uses to load a folding trie.
    ///
    /// # Errors
    /// As [`Trie::from_sorted_scored`]; a repeated key is
    /// [`TrieError::Unsorted`].
    ///
    /// # Examples
    /// ```
    /// use typeahead::{Fold, Trie};
    ///
    /// let t = Trie::from_scored(256, Fold::Case, vec![
    ///     ("Mark".to_string(), vec![(2, 90.0)]),
    ///     ("MARA".to_string(), vec![(1, 5.0)]),
    /// ]).unwrap();
    /// assert_eq!(t.suggest("mar", 10), [("MARA", 1), ("Mark", 2)]);
    /// ```
    pub fn from_scored(
        burst: usize,
        fold: Fold,
        items: Vec<(String, Vec<(V, f64)>)>,
    ) -> Result<Self, TrieError> {
        if fold == Fold::None {
            let mut items = items;
            items.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            return Self::from_sorted_scored(burst, items);
        }
        let mut stored: Vec<(Vec<u8>, String, ScoredValues<V>)> = items
            .into_iter()
            .map(|(k, v)| (fold.stored_key(&k).into_owned(), k, v))
            .collect();
        stored.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        // Stored keys are UTF-8: the folded part is escaped UTF-8, then
        // 0x00 and the key.
        let items = stored
            .into_iter()
            .map(|(s, k, v)| {
                let s = String::from_utf8(s).map_err(|_| TrieError::Unsorted { key: k })?;
                Ok((s, v))
            })
            .collect::<Result<Vec<_>, TrieError>>()?;
        let mut t = Self::from_sorted_scored(burst, items).map_err(|e| match e {
            TrieError::Unsorted { key } => TrieError::Unsorted {
                key: String::from_utf8_lossy(crate::fold::original(key.as_bytes())).into_owned(),
            },
            e => e,
        })?;
        t.fold = fold;
        Ok(t)
    }
}

impl<V: Clone + Ord> Trie<V> {
    /// The same trie (every key, value, score and order) in new
    /// allocations, shared with nothing, each no larger than it needs.
    ///
    /// A trie grown by millions of writes holds room to grow in every node
    /// and bucket, and its copy-on-write has spread its nodes over pages
    /// among the freed copies, which the allocator cannot give back while
    /// one live node remains on them. A repacked copy, made in one pass on
    /// one thread, lies on pages of its own; once the old one is dropped
    /// its pages are wholly free. Big keys drop the slots of removed values.
    ///
    /// # Examples
    /// ```
    /// let mut t = typeahead::Trie::new();
    /// for i in 0..1000 {
    ///     t.insert(&format!("key{}", i % 97), i).unwrap();
    /// }
    /// let packed = t.repacked();
    /// assert_eq!(packed.suggest("key1", 5), t.suggest("key1", 5));
    /// assert!(packed.memory().total_bytes <= t.memory().total_bytes);
    /// ```
    pub fn repacked(&self) -> Self {
        Trie {
            root: Arc::new(repack(&self.root)),
            ..self.clone()
        }
    }
}

/// A part of a trie that a repack copies on its own: one child of the
/// root (by its label), or the root itself when it is a bucket.
///
/// A repack of the whole trie at once holds the old trie and its copy
/// together, the peak of a large import; part by part, each part's old
/// copy is dropped once its new one replaces it, so the peak is the trie
/// and one part.
pub(crate) struct Part<V> {
    label: Option<u8>,
    node: Arc<Node<V>>,
}

impl<V: Clone + Ord> Part<V> {
    /// The same part in tight allocations (see [`Trie::repacked`]).
    pub(crate) fn repacked(&self) -> Self {
        Part {
            label: self.label,
            node: Arc::new(repack(&self.node)),
        }
    }
}

impl<V: Clone + Ord> Trie<V> {
    /// The trie's `i`-th part in key order (see [`Part`]), if it has that
    /// many: one part taken at a time, so that a repack holds no other.
    pub(crate) fn part(&self, i: usize) -> Option<Part<V>> {
        match &*self.root {
            Node::Inner(inner) => {
                let node = Arc::clone(inner.children.get(i)?);
                let mut label = inner.next_label(0);
                for _ in 0..i {
                    label = inner.next_label(usize::from(label?) + 1);
                }
                Some(Part { label, node })
            }
            Node::Bucket(_) => (i == 0).then(|| Part {
                label: None,
                node: Arc::clone(&self.root),
            }),
        }
    }

    /// Puts `new` in place of `old` when the trie still holds `old` as it
    /// was (a write under it since would have replaced it: copy-on-write);
    /// false, and nothing changed, otherwise. The two must hold the same
    /// pairs, as a part and its [`Part::repacked`] copy do: counts and
    /// bounds are not touched.
    pub(crate) fn replace_part(&mut self, old: &Part<V>, new: Part<V>) -> bool {
        let Some(label) = old.label else {
            if !Arc::ptr_eq(&self.root, &old.node) {
                return false;
            }
            self.root = new.node;
            return true;
        };
        let index = match &*self.root {
            Node::Inner(inner) => match inner.find(label) {
                Ok(i) if Arc::ptr_eq(&inner.children[i], &old.node) => i,
                _ => return false,
            },
            Node::Bucket(_) => return false,
        };
        match Arc::make_mut(&mut self.root) {
            Node::Inner(inner) => inner.children[index] = new.node,
            Node::Bucket(_) => unreachable!("the root was an inner node a moment ago"),
        }
        true
    }
}

/// A deep copy of `node` with tight allocations (see [`Trie::repacked`]):
/// vectors cloned hold exactly their length, and big keys are rebuilt.
fn repack<V: Clone + Ord>(node: &Node<V>) -> Node<V> {
    match node {
        Node::Bucket(b) => {
            let mut copy = b.clone();
            copy.big = b.big.iter().map(|v| repack_big(v)).collect();
            Node::Bucket(copy)
        }
        Node::Inner(inner) => {
            let mut copy = (**inner).clone();
            copy.children = inner.children.iter().map(|c| Arc::new(repack(c))).collect();
            if let Vals::Big(v) = &inner.values {
                copy.values = Vals::Big(repack_big(v));
            }
            Node::Inner(Box::new(copy))
        }
    }
}

/// A big key's live values, in order, in a new list.
fn repack_big<V: Clone + Ord>(big: &BigValues<V>) -> Arc<BigValues<V>> {
    let mut values = Vec::with_capacity(big.len());
    let mut scores = Vec::with_capacity(big.len());
    let mut it = big.iter();
    while let Some((v, s)) = it.next_scored() {
        values.push(v.clone());
        scores.push(s);
    }
    Arc::new(BigValues::from_vecs(values, scores))
}

/// Removes repeated values, keeping each at its first position.
fn dedup_keep_first<V: Ord>(values: &mut Vec<(V, f64)>) {
    if values.len() <= 32 {
        let mut i = 0;
        while i < values.len() {
            if values[..i].iter().any(|(v, _)| *v == values[i].0) {
                values.remove(i);
            } else {
                i += 1;
            }
        }
        return;
    }
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].0.cmp(&values[b].0).then(a.cmp(&b)));
    let mut keep = vec![true; values.len()];
    let mut any = false;
    for w in order.windows(2) {
        if values[w[0]].0 == values[w[1]].0 {
            keep[w[1]] = false;
            any = true;
        }
    }
    if any {
        let mut it = keep.iter();
        values.retain(|_| *it.next().expect("one flag per value"));
    }
}

/// Builds a subtree from keys in strictly ascending order (all sharing
/// their first `depth` bytes) with distinct, non-empty value lists, in
/// O(total key bytes): no searching, no shifting. The values are moved out.
pub(crate) fn build_sorted<V: Clone + Ord>(
    items: &mut [(&[u8], Vec<V>, Vec<f64>)],
    depth: usize,
    burst: usize,
) -> Node<V> {
    if items.len() <= burst {
        let mut b = Bucket::default();
        // Exact room for the records (a suffix and its two varints, one
        // byte each below 128) and the inline values (a big key's head).
        let bytes = items.iter().map(|(k, _, _)| k.len() - depth + 2).sum();
        let values = items.iter().map(|(_, v, _)| inline_len(v.len())).sum();
        b.reserve_exact(bytes, values);
        for (key, values, scores) in items.iter_mut() {
            b.push_record(
                &key[depth..],
                std::mem::take(values),
                std::mem::take(scores),
            );
        }
        b.reindex();
        b.refresh_max();
        // Grown an eighth at a time: the slack would be a few percent of
        // every bucket, kept for the trie's life.
        b.shrink_to_fit();
        return Node::Bucket(b);
    }
    let (first, last) = (items[0].0, items[items.len() - 1].0);
    let lcp = common_prefix_len(&first[depth..], &last[depth..]);
    let mut inner = Inner::new(&first[depth..depth + lcp]);
    let d = depth + lcp;
    let mut i = 0;
    if first.len() == d {
        // Sorted order puts the key that ends here first.
        let (values, scores) = (&mut items[0].1, &mut items[0].2);
        inner.values = Vals::from_vecs(std::mem::take(values), std::mem::take(scores));
        i = 1;
    }
    while i < items.len() {
        let label = items[i].0[d];
        let end = i + items[i..]
            .iter()
            .position(|(k, _, _)| k[d] != label)
            .unwrap_or(items.len() - i);
        let child = build_sorted(&mut items[i..end], d + 1, burst);
        inner.push_child(label, Arc::new(child));
        i = end;
    }
    inner.children.shrink_to_fit();
    inner.child_max.shrink_to_fit();
    Node::Inner(Box::new(inner))
}
