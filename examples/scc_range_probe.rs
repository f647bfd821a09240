//! Shows why `scc::TreeIndex` cannot serve prefix scans in `benches/concurrency.rs`:
//! its `range` (scc 2.4) walks from the smallest key up to the lower bound.
//! `cargo run --release --example scc_range_probe`
use std::time::Instant;
fn main() {
    let t = scc::TreeIndex::new();
    for i in 0..200_000u64 {
        let _ = t.insert((format!("k{:06}", i * 7 % 200_000), i), ());
    }
    let g = scc::ebr::Guard::new();
    let s = Instant::now();
    let n = t.range((String::from("k150000"), 0).., &g).take(10).count();
    println!("tuple range: {n} in {:?}", s.elapsed());
    let t2: scc::TreeIndex<String, u64> = scc::TreeIndex::new();
    for i in 0..200_000u64 {
        let _ = t2.insert(format!("k{:06}", i * 7 % 200_000), i);
    }
    let s = Instant::now();
    let n = t2.range(String::from("k150000").., &g).take(10).count();
    println!("string range: {n} in {:?}", s.elapsed());
    let s = Instant::now();
    let n = t2
        .range::<String, _>(String::from("k150000")..String::from("k150010"), &g)
        .count();
    println!("string bounded range: {n} in {:?}", s.elapsed());
}
