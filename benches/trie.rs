//! The trie engine against the textbook trie and a `BTreeMap`, on 1M synthetic
//! users (3M entries). Run: `cargo bench --bench trie`.
//!
//! Prints, in one run: a burst-size sweep, then build time, bytes per entry
//! (live heap bytes counted by an allocator wrapper, the same for everyone),
//! suggest latency (every query timed on its own, the designs taking turns:
//! see `time_interleaved`; p50 and p99), insert and
//! remove throughput, and the ratios to ours. Criterion then measures suggest
//! for the three designs.

mod common;

use common::*;
use criterion::Criterion;
use std::collections::{BTreeMap, HashSet};
use std::hint::black_box;
use std::time::Instant;
use typeahead::Trie;

#[global_allocator]
static ALLOC: Counting = Counting;

const LIMIT: usize = 10;

struct Figures {
    name: &'static str,
    build_s: f64,
    bytes: usize,
    p50_ns: f64,
    p99_ns: f64,
    /// The same queries written into a reused buffer (no allocation per entry).
    into_p50_ns: f64,
    insert_per_s: f64,
    remove_per_s: f64,
}

fn time_queries(queries: &[String], mut f: impl FnMut(&str) -> usize) -> (f64, f64) {
    // Warm up, then time every query on its own (Instant overhead included),
    // allocations not counted (see `uncounted`).
    let mut ns: Vec<f64> = Vec::with_capacity(queries.len());
    uncounted(|| {
        for q in queries.iter().take(1000) {
            black_box(f(q));
        }
        ns.extend(queries.iter().map(|q| {
            let t = Instant::now();
            black_box(f(q));
            t.elapsed().as_nanos() as f64
        }));
    });
    (percentile(&mut ns, 0.5), percentile(&mut ns, 0.99))
}

/// The median cost of timing nothing, the floor under every per-query time.
fn timer_overhead_ns() -> f64 {
    let mut ns: Vec<f64> = (0..100_000)
        .map(|_| {
            let t = Instant::now();
            black_box(());
            t.elapsed().as_nanos() as f64
        })
        .collect();
    percentile(&mut ns, 0.5)
}

/// Builds three times; returns the median build time and the last build with
/// its live-heap delta.
fn build<T>(mut make: impl FnMut() -> T) -> (f64, T, usize) {
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..3 {
        drop(last.take());
        let before = live_bytes();
        let t = Instant::now();
        let built = make();
        times.push(t.elapsed().as_secs_f64());
        last = Some((built, live_bytes() - before));
    }
    let (built, bytes) = last.expect("built three times");
    (median(&mut times), built, bytes)
}

fn per_second(n: usize, f: impl FnOnce()) -> f64 {
    let t = Instant::now();
    f();
    n as f64 / t.elapsed().as_secs_f64()
}

/// Builds ours, three times (median time kept).
fn build_ours(w: &Workload, burst: usize) -> (f64, Trie<u64>, usize) {
    build(|| {
        let mut t = Trie::with_burst(burst);
        for (k, v) in &w.entries {
            t.insert(k, *v).expect("non-empty key");
        }
        t
    })
}

/// Inserts then removes the fresh pairs: (inserts/s, removes/s).
fn writes_ours(w: &Workload, trie: &mut Trie<u64>) -> (f64, f64) {
    let insert_per_s = per_second(w.fresh.len(), || {
        for (k, v) in &w.fresh {
            trie.insert(k, *v).expect("non-empty key");
        }
    });
    let remove_per_s = per_second(w.fresh.len(), || {
        for (k, v) in &w.fresh {
            trie.remove(k, v);
        }
    });
    (insert_per_s, remove_per_s)
}

fn build_textbook(w: &Workload) -> (f64, TextbookTrie, usize) {
    build(|| {
        let mut t = TextbookTrie::default();
        for (k, v) in &w.entries {
            t.insert(k, *v);
        }
        t
    })
}

fn writes_textbook(w: &Workload, trie: &mut TextbookTrie) -> (f64, f64) {
    let insert_per_s = per_second(w.fresh.len(), || {
        for (k, v) in &w.fresh {
            trie.insert(k, *v);
        }
    });
    let remove_per_s = per_second(w.fresh.len(), || {
        for (k, v) in &w.fresh {
            trie.remove(k, *v);
        }
    });
    (insert_per_s, remove_per_s)
}

fn btree_add(m: &mut BTreeMap<String, Vec<u64>>, k: &str, v: u64) {
    let vs = m.entry(k.to_owned()).or_default();
    if !vs.contains(&v) {
        vs.push(v);
    }
}

fn build_btree(w: &Workload) -> (f64, BTreeMap<String, Vec<u64>>, usize) {
    build(|| {
        let mut m = BTreeMap::new();
        for (k, v) in &w.entries {
            btree_add(&mut m, k, *v);
        }
        m
    })
}

fn writes_btree(w: &Workload, map: &mut BTreeMap<String, Vec<u64>>) -> (f64, f64) {
    let insert_per_s = per_second(w.fresh.len(), || {
        for (k, v) in &w.fresh {
            btree_add(map, k, *v);
        }
    });
    let remove_per_s = per_second(w.fresh.len(), || {
        for (k, v) in &w.fresh {
            if let Some(vs) = map.get_mut(k.as_str()) {
                vs.retain(|x| x != v);
                if vs.is_empty() {
                    map.remove(k.as_str());
                }
            }
        }
    });
    (insert_per_s, remove_per_s)
}

/// Turns each design takes in [`time_interleaved`].
const ROUNDS: usize = 3;

/// Times every query on every design, the designs taking turns: each turn a
/// warm-up pass over all queries, then a timed pass, `ROUNDS` times, so that
/// every design sees the same phases of a shared, noisy machine. (Timing one
/// design after the other puts a whole design into a slow or a quiet phase,
/// and its p50 then moves between runs by more than the gaps between designs.) A whole
/// warm-up pass, not a few queries, because shorter turns measure each
/// design with the caches the one before had filled, which hides what a
/// smaller structure gains from fitting them. Returns each design's (p50,
/// p99) in ns.
fn time_interleaved(
    queries: &[String],
    designs: &mut [&mut dyn FnMut(&str) -> usize],
) -> Vec<(f64, f64)> {
    let mut ns: Vec<Vec<f64>> = designs.iter().map(|_| Vec::new()).collect();
    for round in 0..ROUNDS {
        // Each round starts with a different design, so that none always
        // follows the same neighbour.
        for k in 0..designs.len() {
            let i = (round + k) % designs.len();
            let (d, times) = (&mut designs[i], &mut ns[i]);
            times.reserve(queries.len());
            uncounted(|| {
                for q in queries {
                    black_box(d(q));
                }
                times.extend(queries.iter().map(|q| {
                    let t = Instant::now();
                    black_box(d(q));
                    t.elapsed().as_nanos() as f64
                }));
            });
        }
    }
    ns.iter_mut()
        .map(|v| (percentile(v, 0.5), percentile(v, 0.99)))
        .collect()
}

fn main() {
    let users = if smoke() { 20_000 } else { 1_000_000 };
    let w = workload(users, if smoke() { 2_000 } else { 100_000 });
    let distinct: HashSet<&str> = w.entries.iter().map(|(k, _)| k.as_str()).collect();
    let key_bytes: usize = distinct.iter().map(|k| k.len()).sum();
    let n = w.entries.len();
    println!(
        "workload: {users} users, {n} (key, id) pairs over {} distinct keys, {key_bytes} distinct key bytes; \
         raw size {:.1} B/entry (key bytes + 8-byte id); {} queries, limit {LIMIT}",
        distinct.len(),
        (key_bytes + 8 * n) as f64 / n as f64,
        w.queries.len()
    );

    println!("\nburst sweep (typeahead::Trie)");
    println!(
        "{:>6} {:>9} {:>10} {:>9} {:>9} {:>10}",
        "burst", "build s", "B/entry", "p50 ns", "p99 ns", "inserts/s"
    );
    // SWEEP=0 skips the sweep (for quicker A/B runs of the table below).
    let sweep: &[usize] = if smoke() {
        &[4, 128]
    } else if std::env::var("SWEEP").is_ok_and(|s| s == "0") {
        &[]
    } else {
        &[16, 32, 64, 128, 256, 512]
    };
    for &b in sweep {
        let (build_s, mut trie, bytes) = build_ours(&w, b);
        let (p50_ns, p99_ns) = time_queries(&w.queries, |q| trie.suggest(q, LIMIT).len());
        let (insert_per_s, _) = writes_ours(&w, &mut trie);
        println!(
            "{b:>6} {build_s:>9.2} {:>10.1} {p50_ns:>9.0} {p99_ns:>9.0} {insert_per_s:>10.0}",
            bytes as f64 / n as f64,
        );
    }

    let (ours_s, mut trie, ours_bytes) = build_ours(&w, typeahead::trie::DEFAULT_BURST);
    let report = trie.memory();
    let (tb_s, mut tb_trie, tb_bytes) = build_textbook(&w);
    let (bt_s, mut bt_map, bt_bytes) = build_btree(&w);
    // Suggest latency, all six ways taken in turns (see time_interleaved).
    let (mut out1, mut out2, mut out3) = (Out::default(), Out::default(), Out::default());
    let lat = time_interleaved(
        &w.queries,
        &mut [
            &mut |q: &str| trie.suggest(q, LIMIT).len(),
            &mut |q: &str| tb_trie.suggest(q, LIMIT).len(),
            &mut |q: &str| btree_suggest(&bt_map, q, LIMIT).len(),
            &mut |q: &str| trie_suggest_into(&trie, q, LIMIT, &mut out1),
            &mut |q: &str| tb_trie.suggest_into(q, LIMIT, &mut out2),
            &mut |q: &str| btree_suggest_into(&bt_map, q, LIMIT, &mut out3),
        ],
    );
    let (ours_ins, ours_rem) = writes_ours(&w, &mut trie);
    let (tb_ins, tb_rem) = writes_textbook(&w, &mut tb_trie);
    let (bt_ins, bt_rem) = writes_btree(&w, &mut bt_map);
    let figures = |i: usize, name, build_s, bytes, insert_per_s, remove_per_s| Figures {
        name,
        build_s,
        bytes,
        p50_ns: lat[i].0,
        p99_ns: lat[i].1,
        into_p50_ns: lat[i + 3].0,
        insert_per_s,
        remove_per_s,
    };
    let mine = figures(0, "typeahead::Trie", ours_s, ours_bytes, ours_ins, ours_rem);
    let tb = figures(
        1,
        "textbook HashMap<char> trie",
        tb_s,
        tb_bytes,
        tb_ins,
        tb_rem,
    );
    let bt = figures(
        2,
        "BTreeMap<String, Vec<u64>>",
        bt_s,
        bt_bytes,
        bt_ins,
        bt_rem,
    );
    println!(
        "\ncontenders (burst {}; Trie::memory() reports {:.1} B/entry, {} inner nodes, {} buckets)",
        typeahead::trie::DEFAULT_BURST,
        report.total_bytes as f64 / trie.len() as f64,
        report.inner_nodes,
        report.buckets
    );
    println!(
        "{:<28} {:>8} {:>9} {:>8} {:>8} {:>9} {:>11} {:>11} | {:>8} {:>8} {:>8}",
        "design",
        "build s",
        "B/entry",
        "p50 ns",
        "p99 ns",
        "buf p50",
        "inserts/s",
        "removes/s",
        "mem x",
        "p50 x",
        "buf x"
    );
    for f in [&mine, &tb, &bt] {
        println!(
            "{:<28} {:>8.2} {:>9.1} {:>8.0} {:>8.0} {:>9.0} {:>11.0} {:>11.0} | {:>8.1} {:>8.1} {:>8.1}",
            f.name,
            f.build_s,
            f.bytes as f64 / n as f64,
            f.p50_ns,
            f.p99_ns,
            f.into_p50_ns,
            f.insert_per_s,
            f.remove_per_s,
            f.bytes as f64 / mine.bytes as f64,
            f.p50_ns / mine.p50_ns,
            f.into_p50_ns / mine.into_p50_ns,
        );
    }
    println!(
        "(p50: each design's suggest as its API answers: ours a `Suggestions` (all keys in one shared string),"
    );
    println!(" the others a Vec with a String per entry; buf p50: every design writes the same answers into");
    println!(" one reused buffer, no allocation per entry, as the server does; x: the design's figure over ours)");
    println!(
        "(latencies: every query timed on its own; the six ways took turns, {ROUNDS} each, a warm-up pass then a timed one)"
    );
    println!(
        "(every p50 includes the timer, and a call through `dyn FnMut`: an empty Instant::now/elapsed pair has a median of {:.0} ns here)",
        timer_overhead_ns()
    );

    let mut c = Criterion::default().configure_from_args().sample_size(20);
    let mut g = c.benchmark_group("suggest_limit10");
    let mut i = 0;
    g.bench_function("typeahead_trie", |b| {
        b.iter(|| {
            i = (i + 1) % w.queries.len();
            trie.suggest(&w.queries[i], LIMIT)
        })
    });
    g.bench_function("textbook_trie", |b| {
        b.iter(|| {
            i = (i + 1) % w.queries.len();
            tb_trie.suggest(&w.queries[i], LIMIT)
        })
    });
    g.bench_function("btreemap_range", |b| {
        b.iter(|| {
            i = (i + 1) % w.queries.len();
            btree_suggest(&bt_map, &w.queries[i], LIMIT)
        })
    });
    g.finish();
    c.final_summary();
}
