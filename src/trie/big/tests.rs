//! The big key against a `Vec` model, clones included.

use super::*;
use proptest::prelude::*;

/// Random adds and removes on one big key against a `Vec` model, with
/// clones taken along the way that must not change.
#[derive(Clone, Debug)]
enum Op {
    Add(u16),
    Remove(u16),
    Snapshot,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u16..3000).prop_map(Op::Add),
        3 => (0u16..3000).prop_map(Op::Remove),
        1 => Just(Op::Snapshot),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn agrees_with_a_vec(start in proptest::collection::vec(0u16..3000, 0..300),
                         ops in proptest::collection::vec(op(), 0..1500)) {
        let mut model: Vec<u16> = Vec::new();
        for v in start {
            if !model.contains(&v) {
                model.push(v);
            }
        }
        let mut big = BigValues::from_vecs(model.clone(), vec![0.0; model.len()]);
        big.check();
        let mut snaps: Vec<(BigValues<u16>, Vec<u16>)> = Vec::new();
        for op in ops {
            match op {
                Op::Add(v) => {
                    let fresh = !model.contains(&v);
                    prop_assert_eq!(big.insert(v, 0.0), fresh);
                    if fresh {
                        model.push(v);
                    }
                }
                Op::Remove(v) => {
                    let at = model.iter().position(|x| *x == v);
                    prop_assert_eq!(big.remove(&v), at.map(|i| model.remove(i)));
                }
                Op::Snapshot => snaps.push((big.clone(), model.clone())),
            }
            prop_assert_eq!(big.len(), model.len());
        }
        big.check();
        prop_assert_eq!(big.to_vec(), model.clone());
        for skip in [0, 1, 16, model.len()] {
            let rest: Vec<u16> = big.iter_from(skip).copied().collect();
            prop_assert_eq!(&rest[..], &model[skip.min(model.len())..]);
            prop_assert_eq!(big.iter_from(skip).len(), rest.len());
        }
        for v in 0..3000u16 {
            prop_assert_eq!(big.contains(&v), model.contains(&v));
        }
        for (snap, want) in snaps {
            snap.check();
            prop_assert_eq!(snap.to_vec(), want, "a later write changed a clone");
        }
    }
}

/// Many values in increasing order (user ids) fill index leaves instead of
/// leaving them half empty, and the list grows past two levels.
#[test]
fn appending_in_order_keeps_leaves_full() {
    let mut big = BigValues::from_vecs((0..33u32).collect(), vec![0.0; 33]);
    for v in 33..300_000u32 {
        assert!(big.insert(v, 0.0));
    }
    big.check();
    assert_eq!(big.len(), 300_000);
    assert!(big.height >= 2);
    let per_value = big.heap_bytes() as f64 / big.len() as f64;
    // 4 bytes in the list, 4 for the score, 4 in the index, and the
    // nodes' own overhead.
    assert!(
        per_value < 4.0 + 4.0 + 4.0 + 3.0,
        "{per_value} bytes per u32 value"
    );
    for v in (0..300_000u32).step_by(2) {
        assert_eq!(big.remove(&v), Some(v));
    }
    big.check();
    assert_eq!(big.iter().copied().take(3).collect::<Vec<_>>(), [1, 3, 5]);
}
