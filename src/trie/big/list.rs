//! The positional list of a big key: its values in the order they were
//! added, 64 to a leaf, with the live count and the best score under each
//! branch's children (the module docs of [`big`](super) say why), and the
//! walks that edit and read it by position.

use std::sync::Arc;

use super::TOP;
use crate::trie::scores::Scores;

/// Values per list leaf and children per list branch (a power of two).
pub(super) const FAN: usize = 64;
pub(super) const SHIFT: u32 = FAN.trailing_zeros();

/// A node of the positional list.
#[derive(Clone, Debug)]
pub(crate) enum ListNode<V> {
    /// Up to `FAN` values with their scores; bit `i` of `dead` is set when
    /// value `i` was removed.
    Leaf {
        vals: Vec<V>,
        scores: Scores,
        dead: u64,
    },
    /// Up to `FAN` children, each full but the last, with the number of live
    /// values under each, so that finding the n-th live value, or the next
    /// one after a run of removed ones, skips whole subtrees, and the highest
    /// live score under each (`-inf` for none), so that a ranked search
    /// visits only the subtrees that can still beat what it has.
    Branch {
        children: Vec<Arc<ListNode<V>>>,
        live: Vec<u32>,
        max: Vec<f64>,
    },
}

impl<V> ListNode<V> {
    pub(super) fn empty(height: u32) -> Self {
        if height == 0 {
            ListNode::Leaf {
                vals: Vec::new(),
                scores: Scores::default(),
                dead: 0,
            }
        } else {
            ListNode::Branch {
                children: Vec::new(),
                live: Vec::new(),
                max: Vec::new(),
            }
        }
    }

    /// The highest live score under this node, `-inf` when none is live.
    pub(crate) fn max(&self) -> f64 {
        match self {
            ListNode::Leaf { scores, dead, .. } => scores
                .slice()
                .iter()
                .enumerate()
                .filter(|(i, _)| (dead >> i) & 1 == 0)
                .fold(f64::NEG_INFINITY, |m, (_, s)| m.max(s)),
            ListNode::Branch { max, .. } => max.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }
}

pub(super) fn push_rec<V: Clone>(node: &mut ListNode<V>, pos: usize, height: u32, v: V, s: f64) {
    match node {
        ListNode::Leaf { vals, scores, .. } => {
            // A leaf holds at most `FAN`: room for all of them at once, not
            // a doubling past it.
            if vals.len() == vals.capacity() {
                vals.reserve_exact(FAN - vals.len());
                scores.reserve_exact(FAN - vals.len());
            }
            vals.push(v);
            scores.push(s);
        }
        ListNode::Branch {
            children,
            live,
            max,
        } => {
            let i = (pos >> (SHIFT * height)) & (FAN - 1);
            if i == children.len() {
                children.push(Arc::new(ListNode::empty(height - 1)));
                live.push(0);
                max.push(f64::NEG_INFINITY);
            }
            live[i] += 1;
            max[i] = max[i].max(s);
            push_rec(Arc::make_mut(&mut children[i]), pos, height - 1, v, s);
        }
    }
}

/// Gives back the room an appended list keeps past its last value (its
/// last leaf's, reserved for a full leaf, and the branches' on the way),
/// once the list is complete for now: a bulk build or a rebuild. Without
/// it the last leaf of every big key held room for 64 values, about half
/// of it unused: 0.6 bytes per pair at 1M users.
pub(super) fn shrink_last<V>(node: &mut Arc<ListNode<V>>) {
    let Some(node) = Arc::get_mut(node) else {
        return;
    };
    match node {
        ListNode::Leaf { vals, scores, .. } => {
            vals.shrink_to_fit();
            scores.shrink_to_fit();
        }
        ListNode::Branch {
            children,
            live,
            max,
        } => {
            children.shrink_to_fit();
            live.shrink_to_fit();
            max.shrink_to_fit();
            if let Some(last) = children.last_mut() {
                shrink_last(last);
            }
        }
    }
}

/// Sets the score at `pos`; the maxima on the way are recomputed.
pub(super) fn set_rec<V: Clone>(node: &mut ListNode<V>, pos: usize, height: u32, s: f64) {
    match node {
        ListNode::Leaf { scores, .. } => scores.set(pos & (FAN - 1), s),
        ListNode::Branch { children, max, .. } => {
            let i = (pos >> (SHIFT * height)) & (FAN - 1);
            let child = Arc::make_mut(&mut children[i]);
            set_rec(child, pos, height - 1, s);
            max[i] = child.max();
        }
    }
}

/// Marks position `pos` dead; returns (a clone of) its value.
pub(super) fn kill_rec<V: Clone>(node: &mut ListNode<V>, pos: usize, height: u32) -> V {
    match node {
        ListNode::Leaf { vals, dead, .. } => {
            let i = pos & (FAN - 1);
            *dead |= 1 << i;
            vals[i].clone()
        }
        ListNode::Branch {
            children,
            live,
            max,
        } => {
            let i = (pos >> (SHIFT * height)) & (FAN - 1);
            live[i] -= 1;
            let child = Arc::make_mut(&mut children[i]);
            let v = kill_rec(child, pos, height - 1);
            max[i] = child.max();
            v
        }
    }
}

/// Adds the best live values under `node` (first position `base`) to
/// `best`, kept sorted and at most [`TOP`] long; skips every subtree whose
/// maximum cannot rank before the last of a full `best`.
pub(super) fn collect_top<V>(
    node: &ListNode<V>,
    height: u32,
    base: usize,
    best: &mut Vec<(f64, u32)>,
) {
    let beats = |best: &Vec<(f64, u32)>, s: f64, p: u32| {
        best.len() < TOP
            || best
                .last()
                .is_some_and(|&(t, q)| s > t || (s == t && p < q))
    };
    match node {
        ListNode::Leaf { scores, dead, .. } => {
            for (i, s) in scores.slice().iter().enumerate() {
                let p = (base + i) as u32;
                if (dead >> i) & 1 == 0 && beats(best, s, p) {
                    let at = best.partition_point(|&(t, q)| t > s || (t == s && q < p));
                    best.insert(at, (s, p));
                    best.truncate(TOP);
                }
            }
        }
        ListNode::Branch { children, max, .. } => {
            let span = FAN.pow(height);
            let mut order: Vec<usize> = (0..children.len()).collect();
            order.sort_by(|&a, &b| max[b].total_cmp(&max[a]).then(a.cmp(&b)));
            for i in order {
                let first = (base + i * span) as u32;
                if max[i] == f64::NEG_INFINITY || !beats(best, max[i], first) {
                    continue;
                }
                collect_top(&children[i], height - 1, base + i * span, best);
            }
        }
    }
}

/// Positions under one child of a list branch at `height`.
pub(crate) fn span(height: u32) -> usize {
    FAN.pow(height)
}

/// The position of the `n`-th live slot under `node` (which has more than
/// `n`), whose first position is `base`.
pub(super) fn nth_live<V>(node: &ListNode<V>, mut n: usize, height: u32, base: usize) -> usize {
    match node {
        ListNode::Leaf { vals, dead, .. } => {
            let i = (0..vals.len())
                .filter(|i| (dead >> i) & 1 == 0)
                .nth(n)
                .expect("the leaf holds more than n live values");
            base + i
        }
        ListNode::Branch { children, live, .. } => {
            let span = FAN.pow(height);
            for (i, (c, &l)) in children.iter().zip(live).enumerate() {
                let l = l as usize;
                if n < l {
                    return nth_live(c, n, height - 1, base + i * span);
                }
                n -= l;
            }
            unreachable!("the branch holds more than n live values")
        }
    }
}

/// The first live position at or after `from` under `node`, whose first
/// position is `base`; subtrees without live values are skipped whole.
pub(super) fn first_live_from<V>(
    node: &ListNode<V>,
    from: usize,
    height: u32,
    base: usize,
) -> Option<usize> {
    match node {
        ListNode::Leaf { vals, dead, .. } => (from.saturating_sub(base)..vals.len())
            .find(|i| (dead >> i) & 1 == 0)
            .map(|i| base + i),
        ListNode::Branch { children, live, .. } => {
            let span = FAN.pow(height);
            let first = from.saturating_sub(base) / span;
            (first..children.len())
                .filter(|&i| live[i] > 0)
                .find_map(|i| first_live_from(&children[i], from, height - 1, base + i * span))
        }
    }
}
