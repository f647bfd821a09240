//! The values of one key that holds many of them.
//!
//! A key's values normally live inline (in its bucket's packed value vector,
//! or in its inner node), where checking for a duplicate is a scan. A key
//! that gathers more than [`PROMOTE`] values (a common surname holds
//! thousands of user ids) moves them to a [`BigValues`]: the list in
//! insertion order plus the positions sorted by value, so a duplicate check
//! is a binary search (O(log k) comparisons) instead of a scan of every value
//! the key holds. The sorted positions cost 4 bytes per value. A key that
//! shrinks to [`DEMOTE`] values moves back inline (the gap avoids flapping).

/// Above this many values a key's values move to a [`BigValues`].
pub(crate) const PROMOTE: usize = 32;
/// At or below this many values a [`BigValues`] moves back inline.
pub(crate) const DEMOTE: usize = 8;
/// A big key keeps copies of its first this-many values inline (see
/// `node::Bucket`), more than a typical suggestion limit.
pub(crate) const HEAD: usize = 16;
const _: () = assert!(DEMOTE < HEAD && HEAD < PROMOTE);

/// Many values of one key: insertion order plus a sorted index.
#[derive(Clone, Debug)]
pub(crate) struct BigValues<V> {
    /// The values in the order they were first added.
    pub(crate) list: Vec<V>,
    /// Positions into `list`, sorted by value.
    order: Vec<u32>,
}

impl<V> BigValues<V> {
    /// Heap bytes held (list and index capacity).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.list.capacity() * std::mem::size_of::<V>() + self.order.capacity() * 4
    }
}

impl<V: Ord> BigValues<V> {
    /// From distinct values in insertion order.
    pub(crate) fn from_vec(list: Vec<V>) -> Self {
        let mut order: Vec<u32> = (0..list.len() as u32).collect();
        order.sort_by(|&a, &b| list[a as usize].cmp(&list[b as usize]));
        BigValues { list, order }
    }

    fn find(&self, v: &V) -> Result<usize, usize> {
        self.order
            .binary_search_by(|&i| self.list[i as usize].cmp(v))
    }

    /// True when `v` is one of the values.
    pub(crate) fn contains(&self, v: &V) -> bool {
        self.find(v).is_ok()
    }

    /// Appends `v` unless present; returns whether it was added.
    pub(crate) fn insert(&mut self, v: V) -> bool {
        match self.find(&v) {
            Ok(_) => false,
            Err(at) => {
                let pos = u32::try_from(self.list.len()).expect("fewer than 2^32 values per key");
                self.order.insert(at, pos);
                self.list.push(v);
                true
            }
        }
    }

    /// Removes `v`; returns it when it was there.
    pub(crate) fn remove(&mut self, v: &V) -> Option<V> {
        let at = self.find(v).ok()?;
        let pos = self.order.remove(at);
        for p in &mut self.order {
            if *p > pos {
                *p -= 1;
            }
        }
        Some(self.list.remove(pos as usize))
    }

    /// Asserts the index matches the list.
    pub(crate) fn check(&self) {
        assert_eq!(self.order.len(), self.list.len(), "index out of step");
        assert!(
            self.order
                .windows(2)
                .all(|w| self.list[w[0] as usize] < self.list[w[1] as usize]),
            "index unsorted or values repeated"
        );
    }
}
