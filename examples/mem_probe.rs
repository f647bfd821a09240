use typeahead::Trie;
fn main() {
    let users = typeahead::users::generate(1_000_000, 42);
    for burst in [64usize, 128] {
        let mut t = Trie::with_burst(burst);
        for u in &users {
            for k in u.keys() {
                t.insert(&k, u.id).unwrap();
            }
        }
        let r = t.memory();
        println!(
            "burst {burst}: {:.2} B/entry, {} inner, {} buckets, {} keys, {} entries, node {} B",
            r.total_bytes as f64 / t.len() as f64,
            r.inner_nodes,
            r.buckets,
            t.key_count(),
            t.len(),
            0
        );
    }
}
