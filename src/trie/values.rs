//! How a key's values are held: [`Vals`], owned by an inner node or handed
//! to a bucket, and [`Values`], the view of a key's values that
//! [`Trie::get`](super::Trie::get) returns.
//!
//! # Why it is built this way
//! A key's values normally live inline (in its bucket's packed value vector,
//! or in its inner node), where checking for a duplicate is a scan. A key
//! that gathers more than [`PROMOTE`] values (a common surname holds
//! thousands of user ids) moves them to a [`BigValues`]; a key that shrinks
//! to [`DEMOTE`] values moves back inline (the gap avoids flapping). A
//! [`Values`] hides which of the two it reads, so callers see one iterator
//! that knows its length.

use std::sync::Arc;

use super::big::{BigIter, BigValues};
use super::node::shrink_if_sparse;
use super::scores::{ScoreSlice, Scores};
use super::{ScoreOp, TrieError, Upserted};

/// Above this many values a key's values move to a [`BigValues`].
pub(crate) const PROMOTE: usize = 32;
/// At or below this many values a [`BigValues`] moves back inline.
pub(crate) const DEMOTE: usize = 8;
/// A big key keeps copies of its first this-many values inline (see
/// `bucket::Bucket`), more than a typical suggestion limit.
pub(crate) const HEAD: usize = 16;
const _: () = assert!(DEMOTE < HEAD && HEAD < PROMOTE);

/// The values of a key kept in an inner node, with their scores.
#[derive(Clone, Debug)]
pub(crate) enum Vals<V> {
    Inline(Vec<V>, Scores),
    Big(Arc<BigValues<V>>),
}

impl<V> Default for Vals<V> {
    fn default() -> Self {
        Vals::Inline(Vec::new(), Scores::default())
    }
}

impl<V> Vals<V> {
    pub(crate) fn values(&self) -> Values<'_, V> {
        match self {
            Vals::Inline(v, s) => Values::slice(v, s.slice()),
            Vals::Big(b) => Values::big(b.iter()),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        match self {
            Vals::Inline(v, _) => v.is_empty(),
            Vals::Big(b) => b.len() == 0,
        }
    }

    /// The highest score, `-inf` when there are no values.
    pub(crate) fn max(&self) -> f64 {
        match self {
            Vals::Inline(_, s) => s.max(),
            Vals::Big(b) => b.max(),
        }
    }

    pub(super) fn take(&mut self) -> (Vec<V>, Vec<f64>)
    where
        V: Clone,
    {
        match std::mem::take(self) {
            Vals::Inline(v, s) => {
                let scores = s.slice().iter().collect();
                (v, scores)
            }
            Vals::Big(b) => b.to_vecs(),
        }
    }
}

impl<V: Clone + Ord> Vals<V> {
    /// Distinct values in insertion order with their scores, inline or big
    /// by their number.
    pub(crate) fn from_vecs(v: Vec<V>, scores: Vec<f64>) -> Self {
        if v.len() > PROMOTE {
            Vals::Big(Arc::new(BigValues::from_vecs(v, scores)))
        } else {
            Vals::Inline(v, Scores::from_vec(&scores))
        }
    }

    /// Adds `value` or changes its score by `op` (`None`: a plain insert,
    /// which leaves an existing pair as it is).
    pub(super) fn upsert(&mut self, value: V, op: Option<ScoreOp>) -> Result<Upserted, TrieError> {
        match self {
            // `BigValues::upsert` looks the value up itself; cloning the
            // `Arc`ed struct first is O(1), and only a change needs it.
            Vals::Big(b) => {
                let at = match b.find(&value) {
                    Ok(at) => at,
                    Err(slot) => {
                        let s = new_score(op)?;
                        Arc::make_mut(b).insert_at(&slot, value, s);
                        return Ok(Upserted::Added);
                    }
                };
                let old = b.score_at(at);
                let Some(s) = changed_score(old, op)? else {
                    return Ok(Upserted::Unchanged);
                };
                Arc::make_mut(b).set_score_at(at, s);
                Ok(Upserted::Updated)
            }
            Vals::Inline(v, scores) => {
                if let Some(i) = v.iter().position(|x| *x == value) {
                    let Some(s) = changed_score(scores.get(i), op)? else {
                        return Ok(Upserted::Unchanged);
                    };
                    scores.set(i, s);
                    return Ok(Upserted::Updated);
                }
                let s = new_score(op)?;
                v.push(value);
                scores.push(s);
                if v.len() > PROMOTE {
                    let vals = std::mem::take(v);
                    let ss: Vec<f64> = scores.slice().iter().collect();
                    *self = Vals::Big(Arc::new(BigValues::from_vecs(vals, ss)));
                }
                Ok(Upserted::Added)
            }
        }
    }

    pub(super) fn remove(&mut self, value: &V) -> Option<V> {
        match self {
            Vals::Big(b) => {
                if !b.contains(value) {
                    return None;
                }
                let removed = Arc::make_mut(b).remove(value);
                if b.len() <= DEMOTE {
                    let (v, s) = self.take();
                    *self = Vals::Inline(v, Scores::from_vec(&s));
                }
                removed
            }
            Vals::Inline(v, scores) => {
                let pos = v.iter().position(|x| x == value)?;
                let removed = v.remove(pos);
                scores.remove(pos);
                shrink_if_sparse(v);
                scores.shrink_if_sparse();
                Some(removed)
            }
        }
    }
}

/// The score a new pair starts with.
pub(super) fn new_score(op: Option<ScoreOp>) -> Result<f64, TrieError> {
    let s = match op {
        None => 0.0,
        Some(ScoreOp::Set(s) | ScoreOp::Incr(s)) => s,
    };
    if s.is_finite() {
        Ok(s)
    } else {
        Err(TrieError::InvalidScore)
    }
}

/// The score an existing pair moves to, or `None` when it stays.
pub(super) fn changed_score(old: f64, op: Option<ScoreOp>) -> Result<Option<f64>, TrieError> {
    let s = match op {
        None => return Ok(None),
        Some(ScoreOp::Set(s)) => s,
        Some(ScoreOp::Incr(d)) => {
            if !d.is_finite() {
                return Err(TrieError::InvalidScore);
            }
            old + d
        }
    };
    if !s.is_finite() {
        return Err(TrieError::InvalidScore);
    }
    Ok((s != old).then_some(s))
}

/// The values of one key, in the order they were added: what
/// [`Trie::get`](super::Trie::get) returns. An iterator of `&V` that knows
/// its length; compare it with a slice, array or `Vec`, or collect it with
/// [`Values::to_vec`].
#[derive(Debug)]
pub struct Values<'a, V>(ValuesInner<'a, V>);

#[derive(Debug)]
enum ValuesInner<'a, V> {
    /// The values left, and the scores of the whole run they came from
    /// (the next value's score is at `scores.len() - iter.len()`).
    Slice(std::slice::Iter<'a, V>, ScoreSlice<'a>),
    Big(BigIter<'a, V>),
    /// A big key seen from its bucket: the inline copy of its first `skip`
    /// values, then the list from `skip` on. The list (a cache miss of its
    /// own) is touched only when the head runs out.
    Head {
        head: std::slice::Iter<'a, V>,
        scores: ScoreSlice<'a>,
        big: &'a BigValues<V>,
        skip: usize,
    },
}

impl<'a, V> Values<'a, V> {
    pub(crate) fn slice(s: &'a [V], scores: ScoreSlice<'a>) -> Self {
        debug_assert_eq!(s.len(), scores.len());
        Values(ValuesInner::Slice(s.iter(), scores))
    }

    pub(crate) fn empty() -> Self {
        Values(ValuesInner::Slice([].iter(), ScoreSlice::EMPTY))
    }

    pub(crate) fn big(it: BigIter<'a, V>) -> Self {
        Values(ValuesInner::Big(it))
    }

    /// `head` (a copy of `big`'s first values), then the rest of `big`.
    pub(crate) fn head_then(head: &'a [V], scores: ScoreSlice<'a>, big: &'a BigValues<V>) -> Self {
        Values(ValuesInner::Head {
            head: head.iter(),
            scores,
            big,
            skip: head.len(),
        })
    }

    /// The values that can be read without touching a big key's list,
    /// with their scores: all of them for a short key, the inline head for
    /// a big one (nothing once iteration has moved into the list). The
    /// flag says whether more may follow the slice.
    pub(crate) fn leading_slice(&self) -> (&'a [V], ScoreSlice<'a>, bool) {
        match &self.0 {
            ValuesInner::Slice(s, sc) => (s.as_slice(), sc.skip(sc.len() - s.len()), false),
            ValuesInner::Head { head, scores, .. } => (
                head.as_slice(),
                scores.skip(scores.len() - head.len()),
                true,
            ),
            ValuesInner::Big(_) => (&[], ScoreSlice::EMPTY, true),
        }
    }

    /// The next value with its score.
    #[inline]
    pub fn next_scored(&mut self) -> Option<(&'a V, f64)> {
        match &mut self.0 {
            ValuesInner::Slice(s, sc) => {
                let i = sc.len() - s.len();
                s.next().map(|v| (v, sc.get(i)))
            }
            ValuesInner::Big(b) => b.next_scored(),
            ValuesInner::Head {
                head,
                scores,
                big,
                skip,
            } => {
                let i = scores.len() - head.len();
                match head.next() {
                    Some(v) => Some((v, scores.get(i))),
                    None => {
                        self.0 = ValuesInner::Big(big.iter_from(*skip));
                        self.next_scored()
                    }
                }
            }
        }
    }

    /// The (remaining) values with their scores, in the same order.
    ///
    /// # Examples
    /// ```
    /// use typeahead::{ScoreOp, Trie};
    ///
    /// let mut t = Trie::new();
    /// t.upsert("mar", 1, ScoreOp::Set(2.5)).unwrap();
    /// t.insert("mar", 2).unwrap();
    /// let got: Vec<(u32, f64)> = t.get("mar").scored().map(|(v, s)| (*v, s)).collect();
    /// assert_eq!(got, [(1, 2.5), (2, 0.0)]);
    /// ```
    pub fn scored(self) -> Scored<'a, V> {
        Scored(self)
    }

    /// True when there are no (more) values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when `v` is among the (remaining) values: O(log k) comparisons
    /// for a whole big key, a scan otherwise.
    pub fn contains(&self, v: &V) -> bool
    where
        V: Ord,
    {
        match &self.0 {
            ValuesInner::Big(b) if b.pos == 0 => b.big.contains(v),
            ValuesInner::Head {
                head, big, skip, ..
            } if head.len() == *skip => big.contains(v),
            _ => self.clone().any(|x| x == v),
        }
    }

    /// The (remaining) values, cloned.
    pub fn to_vec(&self) -> Vec<V>
    where
        V: Clone,
    {
        self.clone().cloned().collect()
    }
}

/// The values of a key with their scores: what [`Values::scored`] returns.
#[derive(Debug, Clone)]
pub struct Scored<'a, V>(Values<'a, V>);

impl<'a, V> Iterator for Scored<'a, V> {
    type Item = (&'a V, f64);

    #[inline]
    fn next(&mut self) -> Option<(&'a V, f64)> {
        self.0.next_scored()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl<V> ExactSizeIterator for Scored<'_, V> {}

impl<'a, V> Iterator for Values<'a, V> {
    type Item = &'a V;

    #[inline]
    fn next(&mut self) -> Option<&'a V> {
        match &mut self.0 {
            ValuesInner::Slice(s, _) => s.next(),
            ValuesInner::Big(b) => b.next(),
            ValuesInner::Head {
                head, big, skip, ..
            } => match head.next() {
                Some(v) => Some(v),
                None => {
                    self.0 = ValuesInner::Big(big.iter_from(*skip));
                    self.next()
                }
            },
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.0 {
            ValuesInner::Slice(s, _) => s.size_hint(),
            ValuesInner::Big(b) => b.size_hint(),
            ValuesInner::Head {
                head, big, skip, ..
            } => {
                let n = head.len() + big.len() - skip;
                (n, Some(n))
            }
        }
    }
}

impl<V> ExactSizeIterator for Values<'_, V> {}

impl<V> Clone for Values<'_, V> {
    fn clone(&self) -> Self {
        Values(match &self.0 {
            ValuesInner::Slice(s, sc) => ValuesInner::Slice(s.clone(), *sc),
            ValuesInner::Big(b) => ValuesInner::Big(b.clone()),
            ValuesInner::Head {
                head,
                scores,
                big,
                skip,
            } => ValuesInner::Head {
                head: head.clone(),
                scores: *scores,
                big,
                skip: *skip,
            },
        })
    }
}

impl<V: PartialEq> PartialEq<[V]> for Values<'_, V> {
    fn eq(&self, other: &[V]) -> bool {
        self.len() == other.len() && self.clone().zip(other).all(|(a, b)| a == b)
    }
}

impl<V: PartialEq> PartialEq<&[V]> for Values<'_, V> {
    fn eq(&self, other: &&[V]) -> bool {
        self == *other
    }
}

impl<V: PartialEq, const N: usize> PartialEq<[V; N]> for Values<'_, V> {
    fn eq(&self, other: &[V; N]) -> bool {
        self == &other[..]
    }
}

impl<V: PartialEq> PartialEq<Vec<V>> for Values<'_, V> {
    fn eq(&self, other: &Vec<V>) -> bool {
        self == &other[..]
    }
}
