//! Builds the 1M-user trie and runs suggest in a loop, for profilers:
//! `cargo build --release --example profile_suggest && perf record -g target/release/examples/profile_suggest`.
use std::time::Instant;
use typeahead::Trie;

fn main() {
    let n: usize = std::env::var("USERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let users = typeahead::users::generate(n, 42);
    let burst: usize = std::env::var("BURST")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(typeahead::trie::DEFAULT_BURST);
    let mut t = Trie::with_burst(burst);
    for u in &users {
        for k in u.keys() {
            t.insert(&k, u.id).unwrap();
        }
    }
    let mut qs = Vec::new();
    let mut x = 42u64;
    for _ in 0..100_000 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let u = &users[(x >> 33) as usize % users.len()];
        let keys = u.keys();
        let f = &keys[(x >> 20) as usize % 3];
        let n = f.len().min(1 + (x >> 10) as usize % 8);
        qs.push(f[..n].to_string());
    }
    if std::env::var("HOT").is_ok() {
        qs.truncate(64);
    }
    let reps = 2_000_000 / qs.len();
    let start = Instant::now();
    let mut total = 0;
    for _ in 0..reps {
        for q in &qs {
            total += t.suggest(q, 10).len();
        }
    }
    let per = start.elapsed().as_nanos() as f64 / (reps as f64 * qs.len() as f64);
    println!("{total} entries, {per:.0} ns per suggest");
    let start = Instant::now();
    for _ in 0..reps {
        for q in &qs {
            let mut it = t.iter_prefix(q);
            let mut n = 0;
            while n < 10 && it.next_entry().is_some() {
                n += 1;
            }
            total += n;
        }
    }
    let per = start.elapsed().as_nanos() as f64 / (reps as f64 * qs.len() as f64);
    println!("{total} entries, {per:.0} ns per lending iteration (no String allocations)");
}
