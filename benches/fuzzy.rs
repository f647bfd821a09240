//! Folding and typo tolerance on 1M synthetic users (3M pairs):
//! `cargo bench --bench fuzzy`.
//!
//! Prints, in one run:
//! - engine bytes per pair of the same pairs in a trie with `fold` `none`
//!   and one with `full` (live heap bytes counted by the allocator
//!   wrapper, as in `benches/trie.rs`);
//! - top-10 key-order suggest over the usual query mix (1-8 characters as
//!   a person types) in both, taking turns, p50 and p99, and the ratio
//!   (each trie repacked first, as the server holds it);
//! - `fuzzy=1` and `fuzzy=2` (key order and by score) over the same mix
//!   with one random typo in each query (substitute, insert, delete or
//!   swap), p50 and p99;
//! - the same typo queries answered by scanning every key with the same
//!   distance function (`fold::osa::best_prefix`) and keeping the best 10,
//!   on a sample, and the ratio of medians.

mod common;

use common::*;
use std::hint::black_box;
use std::time::Instant;
use typeahead::fold::osa::best_prefix;
use typeahead::{Fold, Fuzzy, Order, SuggestOptions, Trie};

#[global_allocator]
static ALLOC: Counting = Counting;

const LIMIT: usize = 10;

fn build(entries: &[(String, u64)], fold: Fold) -> (Trie<u64>, usize) {
    let before = live_bytes();
    let mut by_key: std::collections::HashMap<&str, Vec<(u64, f64)>> = Default::default();
    for (k, v) in entries {
        by_key.entry(k).or_default().push((*v, (*v % 1000) as f64));
    }
    let items: Vec<(String, Vec<(u64, f64)>)> =
        by_key.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    let t = Trie::from_scored(typeahead::trie::DEFAULT_BURST, fold, items).expect("distinct");
    (t, live_bytes() - before)
}

/// Each query timed on its own, in ns.
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

/// `q` with one random edit: substitute, insert, delete or swap.
fn typo(q: &str, rng: &mut Rng) -> String {
    let mut c: Vec<char> = q.chars().collect();
    let letter = (b'a' + rng.below(26) as u8) as char;
    let i = rng.below(c.len().max(1));
    match rng.below(4) {
        0 if !c.is_empty() => c[i] = letter,
        1 => c.insert(i.min(c.len()), letter),
        2 if c.len() > 1 => {
            c.remove(i);
        }
        _ if i + 1 < c.len() => c.swap(i, i + 1),
        _ => c.push(letter),
    }
    c.into_iter().collect()
}

/// Every key's distance by the same function, the best `LIMIT` kept.
fn scan(keys: &[String], q: &str, max: u8) -> usize {
    let fq: Vec<char> = Fold::Full.apply(q).chars().collect();
    let mut best: Vec<(u8, &str)> = Vec::new();
    for k in keys {
        if let Some((d, _)) = best_prefix(&fq, &Fold::Full.apply(k), max) {
            best.push((d, k));
        }
    }
    best.sort_unstable();
    best.truncate(LIMIT);
    best.len()
}

fn stats(name: &str, xs: &mut [f64]) -> (f64, f64) {
    let (p50, p99) = (percentile(xs, 0.5), percentile(xs, 0.99));
    println!("{name:<40} p50 {p50:>9.0} ns  p99 {p99:>9.0} ns");
    (p50, p99)
}

fn main() {
    let users = if smoke() { 20_000 } else { 1_000_000 };
    let w = workload(users, if smoke() { 2_000 } else { 50_000 });
    let (plain, plain_bytes) = build(&w.entries, Fold::None);
    let (full, full_bytes) = build(&w.entries, Fold::Full);
    // Timed on tight copies, as the server holds a trie once it has
    // loaded or imported it (it repacks): a trie built second lies among
    // what the first build freed, and its walks miss the cache more. Built
    // in one order and timed as built, the second was 15-20% slower
    // whichever fold it had (`full` second: 1.14-1.25x; `full` first:
    // 0.97-1.09x); repacked, the order no longer shows.
    let (plain, full) = {
        let p = plain.repacked();
        drop(plain);
        let f = full.repacked();
        drop(full);
        (p, f)
    };
    let pairs = plain.len();
    println!("{users} users, {pairs} pairs, {} keys", plain.key_count());
    let (a, b) = (
        plain_bytes as f64 / pairs as f64,
        full_bytes as f64 / pairs as f64,
    );
    println!(
        "engine bytes per pair: fold none {a:.1}, fold full {b:.1} (+{:.1})",
        b - a
    );

    let mut none_t = Vec::new();
    let mut full_t = Vec::new();
    for _ in 0..3 {
        none_t.extend(time(&w.queries, |q| plain.suggest(q, LIMIT).len()));
        full_t.extend(time(&w.queries, |q| full.suggest(q, LIMIT).len()));
    }
    let (n50, _) = stats("exact prefix, fold none", &mut none_t);
    let (f50, _) = stats("exact prefix, fold full", &mut full_t);
    println!("fold full / fold none, p50: {:.2}x", f50 / n50);

    let mut rng = Rng(1234);
    let typos: Vec<String> = w.queries.iter().map(|q| typo(q, &mut rng)).collect();
    let keys: Vec<String> = {
        let mut it = full.iter_prefix("");
        let mut out = Vec::new();
        while let Some((k, _)) = it.next_key() {
            out.push(k.to_owned());
        }
        out
    };
    let sample: Vec<String> = typos
        .iter()
        .take(if smoke() { 5 } else { 30 })
        .cloned()
        .collect();
    for max in [1u8, 2] {
        for order in [Order::Key, Order::Score] {
            let opts = SuggestOptions::new()
                .order(order)
                .fuzzy(Fuzzy::Distance(max));
            let mut t = Vec::new();
            for _ in 0..3 {
                t.extend(time(&typos, |q| full.suggest_with(q, LIMIT, opts).len()));
            }
            if order == Order::Key {
                // Where the tail comes from: the slowest queries of one pass.
                let one = time(&typos, |q| full.suggest_with(q, LIMIT, opts).len());
                let mut worst: Vec<(f64, &String)> = one.into_iter().zip(&typos).collect();
                worst.sort_by(|a, b| b.0.total_cmp(&a.0));
                let list: Vec<String> = worst
                    .iter()
                    .take(8)
                    .map(|(ns, q)| format!("{q:?} {:.0} us", ns / 1000.0))
                    .collect();
                println!("  slowest: {}", list.join(", "));
            }
            let (p50, _) = stats(&format!("fuzzy={max} order={order:?}, one typo"), &mut t);
            if order == Order::Key {
                let mut s = time(&sample, |q| scan(&keys, q, max));
                let (s50, _) = stats(&format!("fuzzy={max} scanning every key"), &mut s);
                println!("scan / ours, p50: {:.0}x", s50 / p50);
            }
        }
    }
}
