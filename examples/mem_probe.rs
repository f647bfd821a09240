//! Prints the shape of the 1M-user trie for a few burst sizes: bytes per
//! entry (from `Trie::memory`), inner nodes, buckets, keys and entries.
//! Run: `cargo run --release --example mem_probe`.
use typeahead::Trie;

fn main() {
    let users = typeahead::users::generate(1_000_000, 42);
    for burst in [64usize, 128, 256] {
        let mut t = Trie::with_burst(burst);
        for u in &users {
            for k in u.keys() {
                t.insert(&k, u.id).expect("non-empty key");
            }
        }
        let r = t.memory();
        println!(
            "burst {burst}: {:.2} B/entry, {} inner nodes, {} buckets, {} keys, {} entries",
            r.total_bytes as f64 / t.len() as f64,
            r.inner_nodes,
            r.buckets,
            t.key_count(),
            t.len()
        );
    }
}
