//! Builds the 1M-user trie and runs suggest in a loop, for profilers:
//! `cargo build --release --example profile_suggest && perf record -g target/release/examples/profile_suggest`
//! (`RANKED=1`: top 10 by score; `BY_LEN=1`: p50 by prefix length).
use std::time::Instant;
use typeahead::Trie;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
            if ranked() {
                let score = typeahead::users::followers(42, u.id) as f64;
                t.upsert(&k, u.id, typeahead::ScoreOp::Set(score)).unwrap();
            } else {
                t.insert(&k, u.id).unwrap();
            }
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
    // Per-query timings, as `cargo bench --bench trie` takes them; the
    // median of many is steadier than a mean on a shared machine.
    // RUNS=n times n queries instead of 2M (for callgrind, say).
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000_000)
        .max(1);
    // ITER=1 reads the walk an entry at a time (`next_entry`), as the
    // concurrency bench's readers do, instead of collecting a `Suggestions`.
    // (Each way is timed by its own copy of the loop: sharing one changes
    // how `query` itself compiles, adding instructions under callgrind.)
    let (mut ns, mut total) = if std::env::var("ITER").is_ok() {
        time_all(&qs, runs, |q| query_iter(&t, q))
    } else {
        time_all(&qs, runs, |q| query(&t, q))
    };
    if std::env::var("BY_LEN").is_ok() {
        // p50 by prefix length, from one more pass.
        let mut by_len: Vec<Vec<u64>> = vec![Vec::new(); 9];
        for _ in 0..5 {
            for q in &qs {
                let start = Instant::now();
                total += query(&t, q);
                by_len[q.len().min(8)].push(start.elapsed().as_nanos() as u64);
            }
        }
        for (len, v) in by_len.iter_mut().enumerate() {
            if v.is_empty() {
                continue;
            }
            v.sort_unstable();
            println!(
                "prefix bytes {len}: {} queries, p50 {} ns",
                v.len(),
                v[v.len() / 2]
            );
        }
    }
    ns.sort_unstable();
    println!(
        "{total} entries; suggest p50 {} ns, p90 {} ns, p99 {} ns",
        ns[ns.len() / 2],
        ns[ns.len() * 9 / 10],
        ns[ns.len() * 99 / 100]
    );
}

/// Times `runs` queries, cycling through `qs`: (per-query ns, entries).
fn time_all(qs: &[String], runs: usize, f: impl Fn(&str) -> usize) -> (Vec<u64>, usize) {
    let mut ns = Vec::with_capacity(runs);
    let mut total = 0;
    while ns.len() < runs {
        for q in qs {
            let start = Instant::now();
            total += f(q);
            ns.push(start.elapsed().as_nanos() as u64);
        }
    }
    (ns, total)
}

/// One query, not inlined, so that `valgrind --tool=callgrind
/// --toggle-collect='*profile_suggest*query*'` counts exactly its instructions.
#[inline(never)]
fn query(t: &Trie<u64>, q: &str) -> usize {
    if ranked() {
        let by_score = typeahead::SuggestOptions::new().order(typeahead::Order::Score);
        t.suggest_with(q, 10, by_score).len()
    } else {
        t.suggest(q, 10).len()
    }
}

/// RANKED=1: every user's pairs carry its follower count, and queries
/// ask for the top 10 by score.
fn ranked() -> bool {
    static RANKED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *RANKED.get_or_init(|| std::env::var_os("RANKED").is_some())
}

/// One query read an entry at a time with `next_entry`, as the
/// concurrency bench's readers do, likewise not inlined.
#[inline(never)]
fn query_iter(t: &Trie<u64>, q: &str) -> usize {
    let mut it = t.iter_prefix(q);
    let mut n = 0;
    while n < 10 && it.next_entry().is_some() {
        n += 1;
    }
    n
}
