//! [`Trie::fresh_lines`]: the lines a reader of a new version misses on
//! first are exactly the nodes written since the last clone.

use super::model::key;
use crate::trie::Trie;
use proptest::prelude::*;

/// Addresses and depths of every node reachable from `t`'s root.
fn node_addresses<V>(t: &Trie<V>) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut stack = vec![(&t.root, 0)];
    while let Some((n, depth)) = stack.pop() {
        out.push((std::sync::Arc::as_ptr(n) as usize, depth));
        if let crate::trie::node::Node::Inner(i) = &**n {
            stack.extend(i.children.iter().map(|c| (c, depth + 1)));
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// `fresh_lines` names the line of every node created or copied since
    /// the last clone, and of no node the clone still shares; the lines are
    /// line-aligned, shallowest first, and a cap keeps a prefix of them.
    #[test]
    fn fresh_lines_name_exactly_the_new_nodes(
        before in prop::collection::vec((key(), 0..4u8), 0..80),
        after in prop::collection::vec((key(), 0..4u8, any::<bool>()), 0..40),
        burst in 1..6usize,
        cap in 0..40usize,
    ) {
        let mut t = Trie::with_burst(burst);
        for (k, v) in &before {
            t.insert(k, *v).unwrap();
        }
        let old = t.clone();
        prop_assert!(t.fresh_lines(usize::MAX).is_empty(), "nothing is new right after a clone");
        for (k, v, insert) in &after {
            if *insert {
                t.insert(k, *v).unwrap();
            } else {
                t.remove(k, v);
            }
        }
        let all = t.fresh_lines(usize::MAX);
        prop_assert!(all.iter().all(|a| a % crate::trie::node::LINE == 0));
        let fresh: std::collections::HashSet<usize> = all.iter().copied().collect();
        let old_nodes: std::collections::HashSet<usize> =
            node_addresses(&old).into_iter().map(|(n, _)| n).collect();
        let depths: std::collections::HashMap<usize, usize> = node_addresses(&t).into_iter().collect();
        for &n in depths.keys() {
            // Nodes are line-aligned, so a node's first line is its alone.
            prop_assert_eq!(fresh.contains(&n), !old_nodes.contains(&n), "node {:#x}", n);
        }
        // Shallowest first: the new nodes' lines come in order of depth.
        let order: Vec<usize> = all.iter().filter_map(|a| depths.get(a).copied()).collect();
        prop_assert!(order.is_sorted(), "depths in list order: {:?}", order);
        let capped = t.fresh_lines(cap);
        prop_assert_eq!(&capped[..], &all[..cap.min(all.len())]);
        drop(old);
    }
}
