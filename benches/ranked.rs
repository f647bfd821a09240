//! Ranked suggestions (top-k by score) on 1M synthetic users (3M pairs):
//! `cargo bench --bench ranked`.
//!
//! Every user gets a Zipf-distributed popularity (a seeded permutation of
//! ranks, `followers = 10^7 / rank`) that all three of its pairs carry.
//! Prints, in one run:
//! - engine bytes per pair with those scores (live heap bytes counted by
//!   the allocator wrapper, as in `benches/trie.rs`), and with no scores
//!   given (all 0);
//! - top-10 latency by score (every query timed on its own; p50 and p99)
//!   over three prefix classes (each trie repacked first, as the server
//!   holds it): the usual mix (1-8 characters as a person
//!   types), one-character prefixes, and deep prefixes (4-8 characters) in
//!   a trie whose scores are all equal, where every pair ties and the
//!   answer is decided by key;
//! - the same queries answered by collect-and-sort (every pair under the
//!   prefix, sorted, cut), the design without bounds, in the same run
//!   with the two taking turns, and the ratio;
//! - the bytes the inner nodes' remembered answers take after those
//!   passes (`Trie::memory`, after minus before);
//! - the first two classes again, each query the first ranked search
//!   after a write under its prefix, which makes the nodes on the way
//!   forget their remembered best pairs (the search's cost without them);
//! - key-order suggest over the usual mix for reference.

mod common;

use common::*;
use std::hint::black_box;
use std::time::Instant;
use typeahead::{Order, SuggestOptions, Trie};

#[global_allocator]
static ALLOC: Counting = Counting;

const LIMIT: usize = 10;

/// `followers = 10^7 / rank` for a seeded permutation of ranks 1..=n.
fn zipf_followers(n: usize) -> Vec<f64> {
    let mut ranks: Vec<usize> = (1..=n).collect();
    let mut rng = Rng(7);
    for i in (1..n).rev() {
        ranks.swap(i, rng.below(i + 1));
    }
    ranks.iter().map(|&r| (1e7 / r as f64).floor()).collect()
}

fn build(entries: &[(String, u64)], score: impl Fn(u64) -> f64) -> (Trie<u64>, usize) {
    let before = live_bytes();
    let mut by_key: std::collections::BTreeMap<&str, Vec<(u64, f64)>> = Default::default();
    for (k, v) in entries {
        by_key.entry(k).or_default().push((*v, score(*v)));
    }
    let items: Vec<(String, Vec<(u64, f64)>)> =
        by_key.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    // The items are consumed by the build: what is left is the trie.
    let t = Trie::from_sorted_scored(typeahead::trie::DEFAULT_BURST, items).expect("sorted");
    (t, live_bytes() - before)
}

/// p50 and p99 in ns of each query timed on its own, `turns` passes each.
fn time(queries: &[String], mut f: impl FnMut(&str) -> usize) -> Vec<f64> {
    uncounted(|| {
        for q in queries.iter().take(200) {
            black_box(f(q));
        }
        queries
            .iter()
            .map(|q| {
                let t = Instant::now();
                black_box(f(q));
                t.elapsed().as_nanos() as f64
            })
            .collect()
    })
}

/// Like [`time`], but each query is the first ranked search after a write
/// under its prefix (a score incremented by 0, which changes nothing but
/// passes through every node on the way, so they forget their remembered
/// answers): what a search costs without them.
fn time_after_write(t: &mut Trie<u64>, queries: &[String]) -> Vec<f64> {
    let by_score = SuggestOptions::new().order(Order::Score);
    uncounted(|| {
        queries
            .iter()
            .map(|q| {
                let (k, v) = t.suggest(q, 1).into_vec().pop().expect("queries match");
                t.upsert(&k, v, typeahead::ScoreOp::Incr(0.0))
                    .expect("finite");
                let start = Instant::now();
                black_box(t.suggest_with(q, LIMIT, by_score).len());
                start.elapsed().as_nanos() as f64
            })
            .collect()
    })
}

fn collect_and_sort(t: &Trie<u64>, q: &str) -> usize {
    let mut all: Vec<(f64, String, usize, u64)> = Vec::new();
    let mut it = t.iter_prefix(q);
    while let Some((k, vs)) = it.next_key() {
        for (i, (v, s)) in vs.scored().enumerate() {
            all.push((s, k.to_owned(), i, *v));
        }
    }
    all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    all.truncate(LIMIT);
    all.len()
}

struct Row {
    name: &'static str,
    ours: Vec<f64>,
    naive: Vec<f64>,
}

fn main() {
    let users = if smoke() { 20_000 } else { 1_000_000 };
    let w = workload(users, if smoke() { 2_000 } else { 100_000 });
    let followers = zipf_followers(users);
    // User ids are 1-based and dense.
    let score = |id: u64| followers[(id as usize - 1) % followers.len()];
    let (ranked, ranked_bytes) = build(&w.entries, score);
    let (flat, flat_bytes) = build(&w.entries, |_| 0.0);
    // Timed on tight copies, as the server holds a trie once it has
    // loaded or imported it (it repacks): as built, the second trie lies
    // among what the first build freed, and its walks miss the cache more
    // (docs/benchmarks.md, the fold bench).
    let (mut ranked, flat) = {
        let r = ranked.repacked();
        drop(ranked);
        let f = flat.repacked();
        drop(flat);
        (r, f)
    };
    let pairs = ranked.len();
    println!(
        "{users} users, {pairs} pairs, {} keys; top-{LIMIT} by score",
        ranked.key_count()
    );
    println!(
        "engine bytes per pair: {:.1} with Zipf scores, {:.1} with all scores 0",
        ranked_bytes as f64 / pairs as f64,
        flat_bytes as f64 / pairs as f64
    );

    let mut rng = Rng(99);
    let one_char: Vec<String> = (0..if smoke() { 200 } else { 2_000 })
        .map(|_| {
            let (k, _) = &w.entries[rng.below(w.entries.len())];
            k.chars().take(1).collect()
        })
        .collect();
    let deep: Vec<String> = w
        .queries
        .iter()
        .filter(|q| q.chars().count() >= 4)
        .take(if smoke() { 500 } else { 20_000 })
        .cloned()
        .collect();
    let by_score = SuggestOptions::new().order(Order::Score);
    let top = |t: &Trie<u64>, q: &str| t.suggest_with(q, LIMIT, by_score).len();

    let mut rows = vec![
        Row {
            name: "usual mix",
            ours: vec![],
            naive: vec![],
        },
        Row {
            name: "one character",
            ours: vec![],
            naive: vec![],
        },
        Row {
            name: "deep, all scores equal",
            ours: vec![],
            naive: vec![],
        },
    ];
    // Alternate the designs, three turns each, so that a slow phase of a
    // shared machine lands on both. Collect-and-sort gets a sample of the
    // heavy classes (a one-character prefix holds ~100k pairs).
    let naive_one: Vec<String> = one_char
        .iter()
        .take(if smoke() { 20 } else { 200 })
        .cloned()
        .collect();
    let naive_mix: Vec<String> = w
        .queries
        .iter()
        .take(if smoke() { 200 } else { 5_000 })
        .cloned()
        .collect();
    let bare = ranked.memory();
    for _ in 0..3 {
        rows[0].ours.extend(time(&w.queries, |q| top(&ranked, q)));
        rows[0]
            .naive
            .extend(time(&naive_mix, |q| collect_and_sort(&ranked, q)));
        rows[1].ours.extend(time(&one_char, |q| top(&ranked, q)));
        rows[1]
            .naive
            .extend(time(&naive_one, |q| collect_and_sort(&ranked, q)));
        rows[2].ours.extend(time(&deep, |q| top(&flat, q)));
        rows[2]
            .naive
            .extend(time(&deep, |q| collect_and_sort(&flat, q)));
    }
    let remembered = ranked.memory().total_bytes - bare.total_bytes;
    println!(
        "answers remembered by the {} inner nodes after the passes: {} KiB ({:.2} bytes per pair)",
        bare.inner_nodes,
        remembered / 1024,
        remembered as f64 / pairs as f64
    );
    let mut key_order = time(&w.queries, |q| ranked.suggest(q, LIMIT).len());
    let cold = [
        Row {
            name: "mix, after a write",
            ours: time_after_write(&mut ranked, &naive_mix),
            naive: rows[0].naive.clone(),
        },
        Row {
            name: "one char, after a write",
            ours: time_after_write(&mut ranked, &one_char),
            naive: rows[1].naive.clone(),
        },
    ];
    rows.extend(cold);
    println!(
        "timer overhead is included in every figure; key-order suggest, usual mix: p50 {:.0} ns",
        percentile(&mut key_order, 0.5)
    );
    println!(
        "{:<24} {:>10} {:>10} {:>16} {:>16} {:>10}",
        "prefixes", "ours p50", "ours p99", "collect+sort p50", "collect+sort p99", "p50 ratio"
    );
    for r in &mut rows {
        let (p50, p99) = (percentile(&mut r.ours, 0.5), percentile(&mut r.ours, 0.99));
        let (n50, n99) = (
            percentile(&mut r.naive, 0.5),
            percentile(&mut r.naive, 0.99),
        );
        println!(
            "{:<24} {:>7.0} ns {:>7.0} ns {:>13.0} ns {:>13.0} ns {:>9.1}x",
            r.name,
            p50,
            p99,
            n50,
            n99,
            n50 / p50
        );
    }
}
