//! The concurrency layer: shared handles that many threads use at once.
//!
//! # What it owns
//! - [`Index`]: a trie shared by readers and one writer at a time. Readers
//!   never wait: they read an immutable [`Snapshot`] that was published
//!   atomically. Writers are serialized by a mutex, change their own
//!   copy-on-write copy of the trie and publish a new snapshot.
//! - [`Stack`]: a named LIFO stack, a mutex around a vector.
//! - [`Cache`]: a string-to-integer map with atomic increment, on sharded
//!   reader/writer locks.
//!
//! # The race this layer makes impossible
//! Two requests adding "go" and "git" to an empty trie both find no child for
//! "g" under the root, both create one, and one whole branch is silently lost.
//! In Rust that program does not compile: inserting needs `&mut Trie`, and the
//! borrow checker refuses two threads holding `&mut` to the same trie:
//!
//! ```compile_fail
//! let mut trie = typeahead::Trie::new();
//! std::thread::scope(|s| {
//!     s.spawn(|| trie.insert("go", 1));  // first mutable borrow
//!     s.spawn(|| trie.insert("git", 2)); // error[E0499]: second mutable borrow
//! });
//! ```
//!
//! The textbook fix, one reader/writer lock around the trie, makes every
//! reader wait behind every writer and has all cores write the same lock word.
//! [`Index`] instead keeps two things: the writer's own trie behind a mutex
//! (only writers take it), and the last published snapshot in an
//! [`arc_swap::ArcSwap`], which readers load without writing any shared cache
//! line. Since `Trie::clone` is O(1) and copy-on-write, publishing is one
//! clone plus one pointer swap, and a write copies only the path it changes.

mod cache;
mod index;
#[cfg(typeahead_loom)]
mod loom_model;
mod stack;

pub use cache::{Cache, Overflow};
pub use index::{Index, IndexWriter, Snapshot, Stats};
pub use stack::Stack;
