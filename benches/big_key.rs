//! Does a write's cost grow with the number of values its key already holds?
//! Run: `cargo bench --bench big_key`.
//!
//! One key holds k values (k = 1k .. 1M). Each write is made while a
//! snapshot of the trie is alive (as in the server, where readers hold the
//! published version), so copy-on-write has to copy whatever the write
//! touches. Timed per operation, median of rounds:
//! - add one new value to the key, and remove one;
//! - the same on the contiguous design, one contiguous list plus a sorted
//!   index behind an `Arc` (a write to a shared key copies both: O(k)).
//!
//! It prints ns per operation for every k and the ratio of the largest k to
//! the smallest: ~1 means the cost does not grow with k.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;
use typeahead::Trie;

const OPS: usize = 2_000;
const ROUNDS: usize = 5;

fn smoke() -> bool {
    std::env::args().any(|a| a == "--test")
}

/// The contiguous design: values in insertion order and positions sorted by
/// value, both contiguous, shared by snapshots through one `Arc`.
#[derive(Clone, Default)]
struct Contiguous {
    list: Vec<u64>,
    order: Vec<u32>,
}

impl Contiguous {
    fn insert(&mut self, v: u64) -> bool {
        match self
            .order
            .binary_search_by(|&i| self.list[i as usize].cmp(&v))
        {
            Ok(_) => false,
            Err(at) => {
                self.order.insert(at, self.list.len() as u32);
                self.list.push(v);
                true
            }
        }
    }

    fn remove(&mut self, v: u64) -> bool {
        let Ok(at) = self
            .order
            .binary_search_by(|&i| self.list[i as usize].cmp(&v))
        else {
            return false;
        };
        let pos = self.order.remove(at);
        for p in &mut self.order {
            if *p > pos {
                *p -= 1;
            }
        }
        self.list.remove(pos as usize);
        true
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// (add ns, remove ns) per operation on our trie with a key of `k` values.
fn ours(k: u64) -> (f64, f64) {
    let mut t = Trie::new();
    for v in 0..k {
        t.insert("smith", v * 2).expect("non-empty key");
    }
    let (mut adds, mut removes) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS as u64 {
        let fresh: Vec<u64> = (0..OPS as u64)
            .map(|i| 2 * (round * OPS as u64 + i) + 1)
            .collect();
        let start = Instant::now();
        for &v in &fresh {
            let snapshot = t.clone();
            assert!(t.insert("smith", v).expect("non-empty key"));
            black_box(&snapshot);
        }
        adds.push(start.elapsed().as_nanos() as f64 / OPS as f64);
        let start = Instant::now();
        for &v in &fresh {
            let snapshot = t.clone();
            assert!(t.remove("smith", &v));
            black_box(&snapshot);
        }
        removes.push(start.elapsed().as_nanos() as f64 / OPS as f64);
    }
    (median(adds), median(removes))
}

fn contiguous(k: u64) -> (f64, f64) {
    let mut c = Arc::new(Contiguous::default());
    for v in 0..k {
        Arc::make_mut(&mut c).insert(v * 2);
    }
    let (mut adds, mut removes) = (Vec::new(), Vec::new());
    let ops = if k >= 100_000 { OPS / 10 } else { OPS };
    for round in 0..ROUNDS as u64 {
        let fresh: Vec<u64> = (0..ops as u64)
            .map(|i| 2 * (round * ops as u64 + i) + 1)
            .collect();
        let start = Instant::now();
        for &v in &fresh {
            let snapshot = c.clone();
            assert!(Arc::make_mut(&mut c).insert(v));
            black_box(&snapshot);
        }
        adds.push(start.elapsed().as_nanos() as f64 / ops as f64);
        let start = Instant::now();
        for &v in &fresh {
            let snapshot = c.clone();
            assert!(Arc::make_mut(&mut c).remove(v));
            black_box(&snapshot);
        }
        removes.push(start.elapsed().as_nanos() as f64 / ops as f64);
    }
    (median(adds), median(removes))
}

fn main() {
    let ks: &[u64] = if smoke() {
        &[1_000, 10_000]
    } else {
        &[1_000, 10_000, 100_000, 1_000_000]
    };
    println!("one key with k values; every write made while a snapshot is alive; ns per op (median of {ROUNDS} rounds)");
    println!(
        "{:>9} | {:>10} {:>10} | {:>14} {:>14}",
        "k", "add", "remove", "contig. add", "contig. remove"
    );
    let mut rows = Vec::new();
    for &k in ks {
        let (a, r) = ours(k);
        let (ca, cr) = contiguous(k);
        println!("{k:>9} | {a:>10.0} {r:>10.0} | {ca:>14.0} {cr:>14.0}");
        rows.push((a, r, ca, cr));
    }
    let (first, last) = (rows[0], rows[rows.len() - 1]);
    println!(
        "largest k over smallest k: ours add {:.1}x, remove {:.1}x; contiguous add {:.1}x, remove {:.1}x",
        last.0 / first.0,
        last.1 / first.1,
        last.2 / first.2,
        last.3 / first.3
    );
    println!(
        "at the largest k, contiguous over ours: add {:.1}x, remove {:.1}x",
        last.2 / last.0,
        last.3 / last.1
    );
}
