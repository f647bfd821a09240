//! Ordered prefix iteration: [`PrefixIter`], the streaming walk that
//! [`Trie::iter_prefix`](super::Trie::iter_prefix) returns, and
//! [`Suggestions`], the collected answer of
//! [`Trie::suggest`](super::Trie::suggest).
//!
//! [`PrefixIter`] walks the subtree under a prefix depth-first with an
//! explicit stack, so the work done is the descent to the prefix plus what is
//! yielded: nothing below the prefix is visited before it is needed, and no
//! subtree is empty (the trie prunes), so every step leads to output.

use super::bucket::{Bucket, Pos, WINDOW};
use super::node::{Inner, Node};
use super::values::Values;
use smallvec::SmallVec;

enum Frame<'a, V> {
    /// The children of an inner node whose path is `key[..path_len]`;
    /// `label` is the smallest label not yet visited, `index` its child.
    /// `own` is set once the node's own key (its path) has been yielded.
    Children {
        inner: &'a Inner<V>,
        label: usize,
        index: usize,
        path_len: usize,
        own: bool,
    },
    /// The records of a bucket from `at` on, while their suffix starts with
    /// the walk's `filter` (when `filtered`: the start bucket only); the
    /// bucket's path is `key[..path_len]`.
    Bucket {
        bucket: &'a Bucket<V>,
        at: Pos,
        filtered: bool,
        path_len: usize,
    },
}

/// Frames kept inline up to a typical depth; deeper walks (long keys in a
/// deep branch) spill to the heap.
const INLINE_FRAMES: usize = 8;

/// Key bytes kept inline up to this length (nearly every key).
const KEY_INLINE: usize = 64;

/// Streaming iterator over the entries under a prefix, in key order and then
/// in the order each key's values were added.
///
/// Three ways to read it, cheapest first:
/// - [`PrefixIter::next_key`]: one key at a time with all its values,
///   the key borrowed from an internal buffer;
/// - [`PrefixIter::next_entry`]: one (key, value) entry at a time, the key
///   borrowed (what a server writing JSON wants);
/// - [`Iterator::next`]: owned entries, a `String` per entry.
pub struct PrefixIter<'a, V> {
    /// The current path. With the stack inline too, a walk allocates
    /// nothing of its own.
    key: SmallVec<[u8; KEY_INLINE]>,
    stack: SmallVec<[Frame<'a, V>; INLINE_FRAMES]>,
    /// The rest of the current key's values, for `next_entry`.
    current: Values<'a, V>,
    /// What the start bucket's suffixes must start with: the rest of the
    /// prefix below the bucket's path (copied, so a walk does not borrow
    /// the prefix, which a folding trie computes).
    filter: SmallVec<[u8; 16]>,
    /// Whether keys are stored in a folding trie's form: the walk then
    /// lends only the original part of each key (see [`crate::fold`]).
    strip: bool,
}

impl<'a, V> PrefixIter<'a, V> {
    #[inline]
    pub(crate) fn new(root: &'a Node<V>, prefix: &[u8]) -> Self {
        let mut it = Self::empty();
        it.descend(root, prefix);
        it
    }

    /// A walk over nothing, to [`descend`](Self::descend) from in place.
    /// `Trie::suggest` does that rather than take a walk from `new`: a
    /// started walk is a few hundred bytes (its stack and key buffer are
    /// inline), and returning one would copy it with a `memcpy` (see
    /// docs/design.md).
    #[inline]
    pub(crate) fn empty() -> Self {
        PrefixIter {
            key: SmallVec::new(),
            stack: SmallVec::new(),
            current: Values::empty(),
            filter: SmallVec::new(),
            strip: false,
        }
    }

    /// Makes the walk lend the original part of folding-trie keys.
    pub(crate) fn stripping(mut self, strip: bool) -> Self {
        self.strip = strip;
        self
    }

    /// Walks down to `prefix` and pushes the frame that enumerates it.
    ///
    /// On the way down the path is always a prefix of `prefix` itself, so
    /// the key buffer is written once, at the end, not at every level.
    pub(crate) fn descend(&mut self, mut node: &'a Node<V>, prefix: &[u8]) {
        let mut rest = prefix;
        loop {
            let path = &prefix[..prefix.len() - rest.len()];
            match node {
                Node::Bucket(bucket) => {
                    let at = bucket.lower_bound(rest);
                    self.key.extend_from_slice(path);
                    self.filter.clear();
                    self.filter.extend_from_slice(rest);
                    self.stack.push(Frame::Bucket {
                        bucket,
                        at,
                        filtered: !rest.is_empty(),
                        path_len: path.len(),
                    });
                    return;
                }
                Node::Inner(inner) => {
                    if rest.len() <= inner.prefix.len() {
                        if starts_with(&inner.prefix, rest) {
                            self.key.extend_from_slice(path);
                            self.push_inner(inner);
                        }
                        return;
                    }
                    if !starts_with(rest, &inner.prefix) {
                        return;
                    }
                    let tail = &rest[inner.prefix.len()..];
                    let (first, tail) = tail.split_first().expect("longer than prefix");
                    let Ok(i) = inner.find(*first) else {
                        return;
                    };
                    node = &inner.children[i];
                    rest = tail;
                }
            }
        }
    }

    /// Pushes everything under `inner`, whose path is the current key buffer
    /// without the node's own prefix.
    fn push_inner(&mut self, inner: &'a Inner<V>) {
        let key = &mut self.key;
        key.extend_from_slice(&inner.prefix);
        let path_len = key.len();
        self.stack.push(Frame::Children {
            inner,
            label: 0,
            index: 0,
            path_len,
            own: false,
        });
    }

    /// Moves to the next key, leaving its bytes in `self.key`,
    /// and returns its values.
    fn advance(&mut self) -> Option<Values<'a, V>> {
        loop {
            let top = self.stack.last_mut()?;
            match top {
                Frame::Children {
                    inner,
                    label,
                    index,
                    path_len,
                    own,
                } => {
                    let inner: &'a Inner<V> = inner;
                    let path_len = *path_len;
                    if !*own {
                        *own = true;
                        if !inner.values.is_empty() {
                            self.key.truncate(path_len);
                            return Some(inner.values.values());
                        }
                    }
                    let Some(b) = inner.next_label(*label) else {
                        self.stack.pop();
                        continue;
                    };
                    let child = &inner.children[*index];
                    *label = usize::from(b) + 1;
                    *index += 1;
                    let key = &mut self.key;
                    key.truncate(path_len);
                    key.push(b);
                    match &**child {
                        Node::Inner(child) => self.push_inner(child),
                        Node::Bucket(bucket) => self.stack.push(Frame::Bucket {
                            bucket,
                            at: Pos::default(),
                            filtered: false,
                            path_len: self.key.len(),
                        }),
                    }
                }
                Frame::Bucket {
                    bucket,
                    at,
                    filtered,
                    path_len,
                } => {
                    let bucket: &'a Bucket<V> = bucket;
                    if at.byte >= bucket.records_end() {
                        self.stack.pop();
                        continue;
                    }
                    let r = bucket.record(*at);
                    let suffix = bucket.suffix(&r);
                    if *filtered && !starts_with(suffix, &self.filter) {
                        self.stack.pop();
                        continue;
                    }
                    *at = r.next();
                    let path_len = *path_len;
                    let key = &mut self.key;
                    key.truncate(path_len);
                    key.extend_from_slice(suffix);
                    return Some(bucket.values_of(&r));
                }
            }
        }
    }

    /// The next key with all its values (at least one), the key borrowed
    /// from the iterator. Skips whatever `next_entry` left of the previous
    /// key's values.
    pub fn next_key(&mut self) -> Option<(&str, Values<'a, V>)> {
        let (key, values) = self.next_key_bytes()?;
        Some((key_str(key), values))
    }

    /// [`next_key`](Self::next_key) with the key as bytes, not checked
    /// again: they are UTF-8 (keys go in as `&str`), and a caller that only
    /// copies them into UTF-8 output (the server's JSON) need not pay for the
    /// check.
    pub fn next_key_bytes(&mut self) -> Option<(&[u8], Values<'a, V>)> {
        self.current = Values::empty();
        let values = self.advance()?;
        Some((self.lent_key(), values))
    }

    /// The current key as lent: the stored key, or its original part.
    #[inline]
    fn lent_key(&self) -> &[u8] {
        if self.strip {
            crate::fold::original(&self.key)
        } else {
            &self.key
        }
    }

    /// The next entry, with the key borrowed from the iterator.
    pub fn next_entry(&mut self) -> Option<(&str, &'a V)> {
        loop {
            if let Some(value) = self.current.next() {
                return Some((key_str(self.lent_key()), value));
            }
            self.current = self.advance()?;
        }
    }
}

/// A complete key as text: keys were inserted as `&str`, so valid UTF-8.
fn key_str(key: &[u8]) -> &str {
    std::str::from_utf8(key).expect("a complete key is valid UTF-8")
}

/// `a.starts_with(b)` without a `memcmp` call: filters are short, and most
/// checks fail or succeed in the first bytes.
#[inline]
fn starts_with(a: &[u8], b: &[u8]) -> bool {
    a.len() >= b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

impl<'a, V> Iterator for PrefixIter<'a, V> {
    type Item = (String, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        self.next_entry().map(|(k, v)| (k.to_owned(), v))
    }
}

/// The answer of [`Trie::suggest`](super::Trie::suggest): entries in order,
/// with their keys written once into one shared string.
///
/// A suggestion list is read, serialized and dropped; owning a `String` per
/// entry would cost an allocation per entry (most of a hot query's time), and
/// the values of one key would repeat its text. Here a whole answer is three
/// allocations, whatever the limit.
#[derive(Clone, PartialEq)]
pub struct Suggestions<V> {
    text: String,
    /// Each entry's key as a byte range of `text`, and its value.
    entries: Vec<(usize, usize, V)>,
    /// Each entry's score, in step with `entries`.
    scores: Vec<f64>,
    /// Each entry's typo distance, in step with `entries`, for an answer
    /// to a typo-tolerant query; empty otherwise.
    distances: Vec<u8>,
}

impl<V> Default for Suggestions<V> {
    fn default() -> Self {
        Suggestions {
            text: String::new(),
            entries: Vec::new(),
            scores: Vec::new(),
            distances: Vec::new(),
        }
    }
}

/// Appends a key's values to `entries`, up to `limit` entries in all, each
/// with `key`, the key's byte range in the answer's text.
#[inline]
fn push_values<V: Clone>(
    entries: &mut Vec<(usize, usize, V)>,
    scores: &mut Vec<f64>,
    values: Values<'_, V>,
    key: std::ops::Range<usize>,
    limit: usize,
) {
    let (start, end) = (key.start, key.end);
    let room = limit - entries.len();
    // Most keys' values are one slice in the bucket: copy from it directly;
    // only a big key past its head goes through the list.
    let (head, head_scores, more) = values.leading_slice();
    let n = head.len().min(room);
    entries.extend(head[..n].iter().map(|v| (start, end, v.clone())));
    scores.extend(head_scores.iter().take(n));
    if more && n < room {
        let mut rest = values;
        if n > 0 {
            rest.nth(n - 1);
        }
        for (v, s) in rest.scored().take(room - n) {
            entries.push((start, end, v.clone()));
            scores.push(s);
        }
    }
}

/// Appends the first `len` bytes of `window`: a fixed-size copy, then a cut.
#[inline(always)]
fn push_window(text: &mut Vec<u8>, window: &[u8; WINDOW], len: usize) {
    let end = text.len() + len;
    text.extend_from_slice(window);
    text.truncate(end);
}

impl<V> Suggestions<V> {
    /// Collects up to `limit` entries from `it`.
    ///
    /// It borrows the walk: a walk is a few hundred bytes, not to be copied.
    pub(crate) fn collect(it: &mut PrefixIter<'_, V>, limit: usize) -> Self
    where
        V: Clone,
    {
        // Keys go in as bytes and the text is checked for UTF-8 once at the
        // end, not once per key.
        let mut text = Vec::with_capacity(limit.min(64) * 12);
        let mut entries = Vec::with_capacity(limit.min(64));
        let mut scores = Vec::with_capacity(limit.min(64));
        while entries.len() < limit {
            // Most entries come from a run of one bucket's records: take
            // them here in one loop, writing each key straight from the
            // bucket's path and the record's suffix, with no trip through
            // the iterator's key buffer. The loop steps through the run as
            // `advance`'s bucket arm does; sharing those steps in a helper
            // costs more instructions per query (callgrind), so they are
            // written out in both places.
            if let Some(Frame::Bucket {
                bucket,
                at,
                filtered,
                path_len,
            }) = it.stack.last_mut()
            {
                let filter: &[u8] = if *filtered { &it.filter } else { &[] };
                let path = &it.key[..*path_len];
                // Short paths and suffixes are copied as fixed 16-byte
                // windows and the text cut back to the key's length: a few
                // instructions each instead of two `memcpy` calls per key.
                let mut path_window = [0u8; WINDOW];
                let short_path = path.len() <= WINDOW;
                if short_path {
                    path_window[..path.len()].copy_from_slice(path);
                }
                let bucket: &Bucket<V> = bucket;
                let drained = loop {
                    if at.byte >= bucket.records_end() {
                        break true;
                    }
                    let r = bucket.record(*at);
                    let suffix = bucket.suffix(&r);
                    if !starts_with(suffix, filter) {
                        break true;
                    }
                    *at = r.next();
                    let start = text.len();
                    if short_path {
                        push_window(&mut text, &path_window, path.len());
                    } else {
                        text.extend_from_slice(path);
                    }
                    match bucket.suffix_window(&r) {
                        Some(w) => push_window(&mut text, w, suffix.len()),
                        None => text.extend_from_slice(suffix),
                    }
                    push_values(
                        &mut entries,
                        &mut scores,
                        bucket.values_of(&r),
                        start..text.len(),
                        limit,
                    );
                    if entries.len() >= limit {
                        break false;
                    }
                };
                if drained {
                    it.stack.pop();
                }
                continue;
            }
            let Some(values) = it.advance() else { break };
            let start = text.len();
            text.extend_from_slice(&it.key);
            push_values(&mut entries, &mut scores, values, start..text.len(), limit);
        }
        Suggestions {
            text: String::from_utf8(text).expect("stored keys are valid UTF-8"),
            entries,
            scores,
            distances: Vec::new(),
        }
    }

    /// An answer being built entry by entry (the ranked search's).
    pub(crate) fn with_capacity(n: usize) -> Self {
        Suggestions {
            text: String::with_capacity(n * 12),
            entries: Vec::with_capacity(n),
            scores: Vec::with_capacity(n),
            distances: Vec::new(),
        }
    }

    /// An answer from its parts: the keys' bytes one after the other (valid
    /// UTF-8 once whole, checked once here), each entry's span of them and
    /// value, and the entries' scores.
    pub(crate) fn from_parts(
        text: Vec<u8>,
        entries: Vec<(usize, usize, V)>,
        scores: Vec<f64>,
    ) -> Self {
        Suggestions {
            text: String::from_utf8(text).expect("stored keys are valid UTF-8"),
            entries,
            scores,
            distances: Vec::new(),
        }
    }

    /// Gives back the room reserved for more entries.
    pub(crate) fn shrink_to_fit(&mut self) {
        self.text.shrink_to_fit();
        self.entries.shrink_to_fit();
        self.scores.shrink_to_fit();
        self.distances.shrink_to_fit();
    }

    /// Cuts every key to its original part (keys of a folding trie).
    pub(crate) fn strip_folded(&mut self) {
        let text = self.text.as_bytes();
        // A key's values share its text: cut it once.
        let mut last = (usize::MAX, 0, 0..0);
        for (s, e, _) in &mut self.entries {
            if (last.0, last.1) != (*s, *e) {
                last = (*s, *e, crate::fold::original_range(&text[*s..*e]));
            }
            (*s, *e) = (*s + last.2.start, *s + last.2.end);
        }
    }

    /// Marks the entries from `from` on as found at `distance`.
    pub(crate) fn set_distances(&mut self, from: usize, distance: u8) {
        self.distances.resize(from, 0);
        self.distances.resize(self.entries.len(), distance);
    }

    /// The `i`-th entry's typo distance: `Some` in the answer of a query
    /// with [`Fuzzy`](super::Fuzzy) other than `Distance(0)`.
    pub fn distance(&self, i: usize) -> Option<u8> {
        self.distances.get(i).copied()
    }

    /// Heap bytes held, counting the values' own heap with `value_heap`.
    pub(crate) fn heap_bytes(&self, value_heap: &impl Fn(&V) -> usize) -> usize {
        self.text.capacity()
            + self.entries.capacity() * std::mem::size_of::<(usize, usize, V)>()
            + self.scores.capacity() * std::mem::size_of::<f64>()
            + self.distances.capacity()
            + self.entries.iter().map(|e| value_heap(&e.2)).sum::<usize>()
    }

    /// Appends an entry.
    pub(crate) fn push(&mut self, key: &[u8], value: V, score: f64) {
        let start = self.text.len();
        self.text
            .push_str(std::str::from_utf8(key).expect("stored keys are valid UTF-8"));
        self.entries.push((start, self.text.len(), value));
        self.scores.push(score);
    }

    /// The `i`-th entry's score.
    pub fn score(&self, i: usize) -> Option<f64> {
        self.scores.get(i).copied()
    }

    /// The entries in order with their scores, borrowing their keys.
    pub fn iter_scored(&self) -> impl ExactSizeIterator<Item = (&str, &V, f64)> + '_ {
        self.entries
            .iter()
            .zip(&self.scores)
            .map(|((s, e, v), &sc)| (&self.text[*s..*e], v, sc))
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The `i`-th entry.
    pub fn get(&self, i: usize) -> Option<(&str, &V)> {
        self.entries.get(i).map(|(s, e, v)| (&self.text[*s..*e], v))
    }

    /// The entries in order, borrowing their keys.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &V)> + '_ {
        self.entries.iter().map(|(s, e, v)| (&self.text[*s..*e], v))
    }

    /// The entries as owned pairs.
    pub fn into_vec(self) -> Vec<(String, V)> {
        let text = self.text;
        self.entries
            .into_iter()
            .map(|(s, e, v)| (text[s..e].to_owned(), v))
            .collect()
    }
}

impl<V: std::fmt::Debug> std::fmt::Debug for Suggestions<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<V: PartialEq, K: AsRef<str>, const N: usize> PartialEq<[(K, V); N]> for Suggestions<V> {
    fn eq(&self, other: &[(K, V); N]) -> bool {
        self == &other[..]
    }
}

impl<V: PartialEq, K: AsRef<str>> PartialEq<[(K, V)]> for Suggestions<V> {
    fn eq(&self, other: &[(K, V)]) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .zip(other)
                .all(|((k, v), (ok, ov))| k == ok.as_ref() && v == ov)
    }
}

impl<V: PartialEq, K: AsRef<str>> PartialEq<Vec<(K, V)>> for Suggestions<V> {
    fn eq(&self, other: &Vec<(K, V)>) -> bool {
        self == &other[..]
    }
}
