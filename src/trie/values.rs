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

/// Above this many values a key's values move to a [`BigValues`].
pub(crate) const PROMOTE: usize = 32;
/// At or below this many values a [`BigValues`] moves back inline.
pub(crate) const DEMOTE: usize = 8;
/// A big key keeps copies of its first this-many values inline (see
/// `bucket::Bucket`), more than a typical suggestion limit.
pub(crate) const HEAD: usize = 16;
const _: () = assert!(DEMOTE < HEAD && HEAD < PROMOTE);

/// The values of a key kept in an inner node.
#[derive(Clone, Debug)]
pub(crate) enum Vals<V> {
    Inline(Vec<V>),
    Big(Arc<BigValues<V>>),
}

impl<V> Default for Vals<V> {
    fn default() -> Self {
        Vals::Inline(Vec::new())
    }
}

impl<V> Vals<V> {
    pub(crate) fn values(&self) -> Values<'_, V> {
        match self {
            Vals::Inline(v) => Values::slice(v),
            Vals::Big(b) => Values::big(b.iter()),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        match self {
            Vals::Inline(v) => v.is_empty(),
            Vals::Big(b) => b.len() == 0,
        }
    }

    pub(super) fn take(&mut self) -> Vec<V>
    where
        V: Clone,
    {
        match std::mem::take(self) {
            Vals::Inline(v) => v,
            Vals::Big(b) => b.to_vec(),
        }
    }
}

impl<V: Clone + Ord> Vals<V> {
    /// Distinct values in insertion order, inline or big by their number.
    pub(crate) fn from_vec(v: Vec<V>) -> Self {
        if v.len() > PROMOTE {
            Vals::Big(Arc::new(BigValues::from_vec(v)))
        } else {
            Vals::Inline(v)
        }
    }

    pub(super) fn insert(&mut self, value: V) -> bool {
        match self {
            // `BigValues::insert` checks for the value itself; cloning the
            // `Arc`ed struct first is O(1).
            Vals::Big(b) => Arc::make_mut(b).insert(value),
            Vals::Inline(v) => {
                if v.contains(&value) {
                    return false;
                }
                v.push(value);
                if v.len() > PROMOTE {
                    *self = Vals::Big(Arc::new(BigValues::from_vec(std::mem::take(v))));
                }
                true
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
                    *self = Vals::Inline(self.take());
                }
                removed
            }
            Vals::Inline(v) => {
                let pos = v.iter().position(|x| x == value)?;
                let removed = v.remove(pos);
                shrink_if_sparse(v);
                Some(removed)
            }
        }
    }
}

/// The values of one key, in the order they were added: what
/// [`Trie::get`](super::Trie::get) returns. An iterator of `&V` that knows
/// its length; compare it with a slice, array or `Vec`, or collect it with
/// [`Values::to_vec`].
#[derive(Debug)]
pub struct Values<'a, V>(ValuesInner<'a, V>);

#[derive(Debug)]
enum ValuesInner<'a, V> {
    Slice(std::slice::Iter<'a, V>),
    Big(BigIter<'a, V>),
    /// A big key seen from its bucket: the inline copy of its first `skip`
    /// values, then the list from `skip` on. The list (a cache miss of its
    /// own) is touched only when the head runs out.
    Head {
        head: std::slice::Iter<'a, V>,
        big: &'a BigValues<V>,
        skip: usize,
    },
}

impl<'a, V> Values<'a, V> {
    pub(crate) fn slice(s: &'a [V]) -> Self {
        Values(ValuesInner::Slice(s.iter()))
    }

    pub(crate) fn big(it: BigIter<'a, V>) -> Self {
        Values(ValuesInner::Big(it))
    }

    /// `head` (a copy of `big`'s first values), then the rest of `big`.
    pub(crate) fn head_then(head: &'a [V], big: &'a BigValues<V>) -> Self {
        Values(ValuesInner::Head {
            head: head.iter(),
            big,
            skip: head.len(),
        })
    }

    /// The values that can be read without touching a big key's list:
    /// all of them for a short key, the inline head for a big one (nothing
    /// once iteration has moved into the list). The flag says whether more
    /// may follow the slice.
    pub(crate) fn leading_slice(&self) -> (&'a [V], bool) {
        match &self.0 {
            ValuesInner::Slice(s) => (s.as_slice(), false),
            ValuesInner::Head { head, .. } => (head.as_slice(), true),
            ValuesInner::Big(_) => (&[], true),
        }
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
            ValuesInner::Head { head, big, skip } if head.len() == *skip => big.contains(v),
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

impl<'a, V> Iterator for Values<'a, V> {
    type Item = &'a V;

    #[inline]
    fn next(&mut self) -> Option<&'a V> {
        match &mut self.0 {
            ValuesInner::Slice(s) => s.next(),
            ValuesInner::Big(b) => b.next(),
            ValuesInner::Head { head, big, skip } => match head.next() {
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
            ValuesInner::Slice(s) => s.size_hint(),
            ValuesInner::Big(b) => b.size_hint(),
            ValuesInner::Head { head, big, skip } => {
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
            ValuesInner::Slice(s) => ValuesInner::Slice(s.clone()),
            ValuesInner::Big(b) => ValuesInner::Big(b.clone()),
            ValuesInner::Head { head, big, skip } => ValuesInner::Head {
                head: head.clone(),
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
