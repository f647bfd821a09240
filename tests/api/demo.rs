//! `serve --demo`: the bundled users, scored with their follower counts and
//! keyed by their names as written in a trie that folds case and accents,
//! answer a ranked, deduplicated suggestion with the most-followed people.

use std::collections::HashSet;

use crate::common::Server;

/// What `order=score&dedupe=value` must answer for `prefix` over the demo's
/// users, worked out from `typeahead::users` alone: every pair whose key
/// (first name, last name, username, as written) starts with the prefix
/// once both are lowercased (the names are ASCII, where full folding is
/// lowercasing), highest score first, ties by lowercased key, then key,
/// then the order the demo added them, each user once at its best place.
fn expected(
    users: &[typeahead::users::User],
    prefix: &str,
    limit: usize,
) -> Vec<(u64, String, f64)> {
    let prefix = prefix.to_lowercase();
    let mut pairs: Vec<(f64, String, usize, u64)> = Vec::new();
    for u in users {
        for key in [&u.first, &u.last, &u.username] {
            assert!(key.is_ascii());
            if key.to_lowercase().starts_with(&prefix) {
                pairs.push((u.score(), key.clone(), pairs.len(), u.id));
            }
        }
    }
    pairs.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then(a.1.to_lowercase().cmp(&b.1.to_lowercase()))
            .then(a.1.cmp(&b.1))
            .then(a.2.cmp(&b.2))
    });
    let mut seen = HashSet::new();
    pairs
        .into_iter()
        .filter(|p| seen.insert(p.3))
        .take(limit)
        .map(|(score, key, _, id)| (id, key, score))
        .collect()
}

#[test]
fn demo_ranks_people_by_followers_each_once() {
    let server = Server::start_with(&["--demo"]);
    let users = typeahead::users::generate(50_000, 42);
    assert_eq!(server.get("/v1/tries/users").1["fold"], "full");
    for prefix in ["mar", "j", "smith", "MAR", "Smi"] {
        let (status, body, _) = server.get(&format!(
            "/v1/tries/users/suggest?q={prefix}&limit=10&order=score&dedupe=value"
        ));
        assert_eq!(status, 200, "{body}");
        let got: Vec<(u64, String, f64)> = body["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .map(|e| {
                let name = e["value"]["name"].as_str().expect("a name");
                assert!(name.contains(' '), "{e}");
                (
                    e["value"]["id"].as_u64().expect("an id"),
                    e["key"].as_str().expect("a key").to_owned(),
                    e["score"].as_f64().expect("a score"),
                )
            })
            .collect();
        assert_eq!(got, expected(&users, prefix, 10), "prefix {prefix:?}");
    }
}
