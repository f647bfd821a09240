//! The memory report: what a trie holds, counted from its allocations'
//! sizes ([`Trie::memory`]), and what a value adds ([`HeapSize`]).
//!
//! The walk counts every vector's capacity and every node's `Arc` header,
//! not what a perfect allocator would need: the figure an operator can
//! compare with the process's resident memory.

use std::sync::Arc;

use super::big::BigValues;
use super::node::{arc_node_bytes, Node};
use super::values::Vals;
use super::Trie;

/// Bytes of heap memory a value owns besides its own `size_of`.
///
/// The trie's [`Trie::memory`] report adds this for every stored value.
pub trait HeapSize {
    /// Heap bytes owned by `self` (not counting `size_of::<Self>()`).
    fn heap_bytes(&self) -> usize {
        0
    }
}

impl HeapSize for u64 {}
impl HeapSize for u32 {}
impl HeapSize for i64 {}
impl HeapSize for i32 {}
impl HeapSize for u8 {}
impl HeapSize for usize {}
impl HeapSize for String {
    fn heap_bytes(&self) -> usize {
        self.capacity()
    }
}
impl HeapSize for Box<str> {
    fn heap_bytes(&self) -> usize {
        self.len()
    }
}
impl HeapSize for Arc<str> {
    fn heap_bytes(&self) -> usize {
        // Counted in full for every holder: an upper bound when values are shared.
        2 * std::mem::size_of::<usize>() + self.len()
    }
}

/// What the trie holds in memory, computed from its allocations' sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryReport {
    /// Total bytes: the `Trie` value, every node and `Arc` header, the
    /// capacity of every vector and the heap owned by the values.
    pub total_bytes: usize,
    /// Inner (branching) nodes.
    pub inner_nodes: usize,
    /// Leaf buckets.
    pub buckets: usize,
}

impl<V> Trie<V> {
    /// Counts the bytes this trie holds, walking every node. Nodes shared with
    /// clones are counted in full.
    pub fn memory(&self) -> MemoryReport
    where
        V: HeapSize,
    {
        let root = arc_node_bytes::<V>();
        let (inner_nodes, buckets) = self.root.node_counts();
        MemoryReport {
            total_bytes: std::mem::size_of::<Self>()
                + root
                + self.root.heap_bytes(&|v: &V| v.heap_bytes()),
            inner_nodes,
            buckets,
        }
    }
}

impl<V> Node<V> {
    /// Bytes held by this subtree: the heap capacity of every vector, the
    /// children's nodes with their `Arc` headers, and the values' own heap.
    pub(crate) fn heap_bytes(&self, value_heap: &impl Fn(&V) -> usize) -> usize {
        use std::mem::size_of;
        match self {
            Node::Bucket(b) => {
                b.data.capacity()
                    + b.values.capacity() * size_of::<V>()
                    + b.scores.heap_bytes()
                    + b.values.iter().map(value_heap).sum::<usize>()
                    + b.big.capacity() * size_of::<Arc<BigValues<V>>>()
                    + b.big
                        .iter()
                        .map(|x| big_bytes(x, value_heap))
                        .sum::<usize>()
            }
            Node::Inner(i) => {
                i.prefix.heap_bytes()
                    + match &i.values {
                        Vals::Inline(v, s) => v.capacity() * size_of::<V>() + s.heap_bytes(),
                        Vals::Big(b) => big_bytes(b, value_heap),
                    }
                    + match &i.values {
                        Vals::Inline(v, _) => v.iter().map(value_heap).sum::<usize>(),
                        Vals::Big(_) => 0, // counted with the big list
                    }
                    + i.children.capacity() * size_of::<Arc<Node<V>>>()
                    + i.child_max.capacity() * size_of::<f64>()
                    + i.top.heap_bytes(value_heap)
                    + i.children
                        .iter()
                        .map(|c| arc_node_bytes::<V>() + c.heap_bytes(value_heap))
                        .sum::<usize>()
            }
        }
    }

    /// Counts (inner nodes, buckets) in the subtree.
    pub(crate) fn node_counts(&self) -> (usize, usize) {
        match self {
            Node::Bucket(_) => (0, 1),
            Node::Inner(i) => i.children.iter().fold((1, 0), |(a, b), c| {
                let (x, y) = c.node_counts();
                (a + x, b + y)
            }),
        }
    }
}

/// Heap bytes of a shared big value list: its `Arc` allocation, list, index
/// and the values' own heap.
fn big_bytes<V>(b: &BigValues<V>, value_heap: &impl Fn(&V) -> usize) -> usize {
    2 * std::mem::size_of::<usize>()
        + std::mem::size_of::<BigValues<V>>()
        + b.heap_bytes()
        + b.slot_heap(value_heap)
}
