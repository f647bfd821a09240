//! The sorted index of a [`BigValues`]: its live positions, ordered by the
//! value each holds, as a persistent B+ tree of `u32`s.
//!
//! # Why it is built this way
//! A duplicate check (every insert) and a removal find a value among
//! thousands in O(log k) comparisons. Storing positions in the list rather
//! than values keeps the index at 4 bytes per value whatever `V` is, as a
//! sorted `Vec<u32>` would be; unlike one, a write to a shared key copies
//! one root-to-leaf path (`Arc::make_mut`), not all of it. Each branch keeps
//! its children's smallest positions, so a descent compares values without
//! visiting the children.

use std::sync::Arc;

use smallvec::SmallVec;

use super::BigValues;

/// Most positions in an index leaf, and most children of an index branch.
const INDEX_LEAF: usize = 128;
const INDEX_FAN: usize = 64;

/// A node of the sorted index: positions ordered by the value they hold.
#[derive(Clone, Debug)]
pub(super) enum IndexNode {
    Leaf(Vec<u32>),
    /// `mins[i]` is the position of the smallest value under `children[i]`.
    Branch {
        mins: Vec<u32>,
        children: Vec<Arc<IndexNode>>,
    },
}

/// Builds an index over positions already sorted by value, leaves full.
pub(super) fn build_index(order: Vec<u32>) -> IndexNode {
    let mut level: Vec<(u32, Arc<IndexNode>)> = order
        .chunks(INDEX_LEAF)
        .map(|c| (c[0], Arc::new(IndexNode::Leaf(c.to_vec()))))
        .collect();
    if level.is_empty() {
        return IndexNode::Leaf(Vec::new());
    }
    while level.len() > 1 {
        level = level
            .chunks(INDEX_FAN)
            .map(|c| {
                let node = IndexNode::Branch {
                    mins: c.iter().map(|(m, _)| *m).collect(),
                    children: c.iter().map(|(_, n)| n.clone()).collect(),
                };
                (c[0].0, Arc::new(node))
            })
            .collect();
    }
    let (_, root) = level.pop().expect("one root");
    Arc::unwrap_or_clone(root)
}

/// The position of the smallest value under `node` (which is not empty).
pub(super) fn first_pos(node: &IndexNode) -> u32 {
    match node {
        IndexNode::Leaf(ps) => ps[0],
        IndexNode::Branch { mins, .. } => mins[0],
    }
}

/// Where a value that is not in the index goes, found by [`locate`]: at
/// each branch from the root, the child it goes under and whether it
/// becomes that child's smallest; then its index within the leaf.
#[derive(Debug)]
pub(crate) struct Slot {
    path: SmallVec<[(usize, bool); 4]>,
    leaf_at: usize,
}

/// The position holding `v` under `node`, or, when no position does, the
/// [`Slot`] it would take: one descent serves both the duplicate check
/// and the insertion that follows it.
pub(super) fn locate<V: Ord>(node: &IndexNode, v: &V, big: &BigValues<V>) -> Result<u32, Slot> {
    let mut node = node;
    let mut path = SmallVec::new();
    loop {
        match node {
            IndexNode::Leaf(ps) => {
                return match ps.binary_search_by(|&p| big.at(p).cmp(v)) {
                    Ok(i) => Ok(ps[i]),
                    Err(leaf_at) => Err(Slot { path, leaf_at }),
                };
            }
            IndexNode::Branch { mins, children } => {
                // Below every value here: it goes first, into the first child.
                let n = mins.partition_point(|&m| big.at(m) <= v);
                let i = n.saturating_sub(1);
                path.push((i, n == 0));
                node = &children[i];
            }
        }
    }
}

/// Inserts `pos` at `slot` (found by [`locate`] on this index, unchanged
/// since); returns a new right sibling `(its smallest position, node)`
/// when `node` split.
pub(super) fn index_insert(
    node: &mut IndexNode,
    pos: u32,
    slot: &Slot,
    depth: usize,
) -> Option<(u32, Arc<IndexNode>)> {
    match node {
        IndexNode::Leaf(ps) => {
            let at = slot.leaf_at;
            if ps.len() == ps.capacity() {
                // Grow by doubling, but never past one more than a full leaf
                // (a Vec would double 128 to 256 and keep that after the split).
                let want = (ps.len() * 2).clamp(4, INDEX_LEAF + 1);
                ps.reserve_exact(want.saturating_sub(ps.len()).max(1));
            }
            ps.insert(at, pos);
            if ps.len() <= INDEX_LEAF {
                return None;
            }
            // Appending (ids that grow) keeps the left leaf full.
            let cut = if at == ps.len() - 1 { at } else { ps.len() / 2 };
            let right = ps.split_off(cut);
            Some((right[0], Arc::new(IndexNode::Leaf(right))))
        }
        IndexNode::Branch { mins, children } => {
            let (i, smallest) = slot.path[depth];
            let split = index_insert(Arc::make_mut(&mut children[i]), pos, slot, depth + 1);
            if smallest {
                mins[i] = pos;
            }
            let (min, right) = split?;
            mins.insert(i + 1, min);
            children.insert(i + 1, right);
            if children.len() <= INDEX_FAN {
                return None;
            }
            let cut = if i + 1 == children.len() - 1 {
                i + 1
            } else {
                children.len() / 2
            };
            let right_mins = mins.split_off(cut);
            let right_children = children.split_off(cut);
            Some((
                right_mins[0],
                Arc::new(IndexNode::Branch {
                    mins: right_mins,
                    children: right_children,
                }),
            ))
        }
    }
}

/// Removes the position holding `v` from under `node`; returns it if found.
/// Empty children are unlinked (nodes may be under-full: no rebalancing, the
/// rebuild on mostly-dead lists bounds the waste).
pub(super) fn index_remove<V: Ord>(node: &mut IndexNode, v: &V, big: &BigValues<V>) -> Option<u32> {
    match node {
        IndexNode::Leaf(ps) => {
            let at = ps.binary_search_by(|&p| big.at(p).cmp(v)).ok()?;
            Some(ps.remove(at))
        }
        IndexNode::Branch { mins, children } => {
            let i = mins.partition_point(|&m| big.at(m) <= v).checked_sub(1)?;
            let child = Arc::make_mut(&mut children[i]);
            let found = index_remove(child, v, big)?;
            let empty = match child {
                IndexNode::Leaf(ps) => ps.is_empty(),
                IndexNode::Branch { children, .. } => children.is_empty(),
            };
            if empty {
                mins.remove(i);
                children.remove(i);
            } else if mins[i] == found {
                mins[i] = first_pos(&children[i]);
            }
            Some(found)
        }
    }
}

pub(super) fn collect_index<V: Ord>(node: &IndexNode, out: &mut Vec<u32>, big: &BigValues<V>) {
    match node {
        IndexNode::Leaf(ps) => out.extend_from_slice(ps),
        IndexNode::Branch { mins, children } => {
            assert_eq!(mins.len(), children.len(), "branch out of step");
            assert!(
                mins.windows(2).all(|w| big.at(w[0]) < big.at(w[1])),
                "branch minimums out of order"
            );
            assert!(!children.is_empty(), "empty index branch");
            for (m, c) in mins.iter().zip(children) {
                assert_eq!(*m, first_pos(c), "stale branch minimum");
                let at = out.len();
                collect_index(c, out, big);
                assert!(out.len() > at, "empty index child");
            }
        }
    }
}
