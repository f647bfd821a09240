//! [`Stack`]: a LIFO stack safe for concurrent use.
//!
//! A mutex around a vector: push and pop are a few nanoseconds inside the
//! lock, so contention stays low, and a lock-free (Treiber) stack would need
//! `unsafe` memory reclamation for no measured gain.

use std::sync::{Mutex, MutexGuard};

/// A LIFO stack shared between threads (`&self` methods).
///
/// # Examples
/// ```
/// let s = typeahead::Stack::new();
/// s.push(1);
/// s.push(2);
/// assert_eq!(s.peek(), Some(2));
/// assert_eq!(s.pop(), Some(2));
/// assert_eq!(s.len(), 1);
/// ```
#[derive(Debug, Default)]
pub struct Stack<T> {
    items: Mutex<Vec<T>>,
}

impl<T> Stack<T> {
    /// An empty stack.
    pub fn new() -> Self {
        Stack {
            items: Mutex::new(Vec::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<T>> {
        // A panic while holding the lock cannot leave a Vec half-changed
        // (push/pop are atomic with respect to panics), so poison is ignored.
        self.items.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Pushes `item`; returns the new length.
    pub fn push(&self, item: T) -> usize {
        let mut items = self.lock();
        items.push(item);
        items.len()
    }

    /// Pops the top item with the length left, or `None` when empty.
    pub fn pop_with_len(&self) -> Option<(T, usize)> {
        let mut items = self.lock();
        let item = items.pop()?;
        Some((item, items.len()))
    }

    /// Pops the top item, `None` when empty.
    pub fn pop(&self) -> Option<T> {
        self.lock().pop()
    }

    /// A copy of the top item, `None` when empty.
    pub fn peek(&self) -> Option<T>
    where
        T: Clone,
    {
        self.lock().last().cloned()
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Pops `n` items and pushes `items` under one lock: readers see the
    /// stack before or after, never in between.
    pub fn replace_top(&self, n: usize, items: Vec<T>) {
        let mut v = self.lock();
        let keep = v.len().saturating_sub(n);
        v.truncate(keep);
        v.extend(items);
    }

    /// Runs `f` on the items (bottom first) under the lock: a consistent view
    /// for persistence and tests.
    pub fn with_items<R>(&self, f: impl FnOnce(&[T]) -> R) -> R {
        f(&self.lock())
    }
}
