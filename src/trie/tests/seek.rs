//! A bucket's seeks against a scan of its records: `lower_bound` from the
//! index, and `lower_bound_from` from any position a scan may jump from.

use proptest::prelude::*;

use crate::trie::bucket::Pos;
use crate::trie::node::Node;
use crate::trie::Trie;
use crate::Fold;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// From every position with only smaller records before it, the seek
    /// lands where the first record not below the probe starts.
    #[test]
    fn seeks_from_any_earlier_position_find_the_lower_bound(
        keys in prop::collection::btree_set("[a-d]{1,5}", 1..160),
        probe in "[a-e]{0,5}",
    ) {
        let items: Vec<(String, Vec<(u8, f64)>)> =
            keys.iter().map(|k| (k.clone(), vec![(1, 0.0)])).collect();
        let t: Trie<u8> = Trie::from_scored(1024, Fold::None, items).unwrap();
        let Node::Bucket(bucket) = &*t.root else {
            panic!("one bucket holds them all");
        };
        // Every record's start, then the end.
        let mut starts = vec![Pos::default()];
        starts.extend(bucket.records().map(|r| r.next()));
        let suffixes: Vec<&[u8]> = bucket.records().map(|r| bucket.suffix(&r)).collect();
        let want = suffixes.iter().filter(|s| **s < probe.as_bytes()).count();
        prop_assert_eq!(bucket.lower_bound(probe.as_bytes()), starts[want]);
        for from in &starts[..=want] {
            prop_assert_eq!(bucket.lower_bound_from(*from, probe.as_bytes()), starts[want]);
        }
    }
}
