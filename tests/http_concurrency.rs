//! Concurrency over HTTP against one real `typeahead serve` process: many
//! clients writing prefix-sharing keys while others suggest, concurrent
//! increments of one cache key and of one trie pair's score, and concurrent
//! push/pop on one stack.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;

use common::{enc, Server};
use reqwest::Method;
use serde_json::{json, Value as Json};

const WRITERS: usize = 16;
const PER_WRITER: usize = 200;
const STEMS: [&str; 6] = ["g", "go", "git", "gob", "gopher", "gi"];

/// The i-th key every writer adds: prefix-sharing, the same for all writers.
fn key(i: usize) -> String {
    format!("{}{}", STEMS[i % STEMS.len()], i / STEMS.len())
}

/// The value writer `t` adds to `key(i)`: every 10th pair is added by every
/// writer (the same pair 16 times), the others are per writer.
fn value(t: usize, i: usize) -> Json {
    if i.is_multiple_of(10) {
        json!({"shared": i})
    } else {
        json!({"t": t, "i": i})
    }
}

#[test]
fn writers_and_suggesters_lose_and_duplicate_nothing() {
    let s = Server::start();
    let done = AtomicBool::new(false);
    let added = AtomicU64::new(0);
    let existing = AtomicU64::new(0);
    let reads = AtomicU64::new(0);

    thread::scope(|scope| {
        let readers: Vec<_> = (0..4)
            .map(|r| {
                let (s, done, reads) = (&s, &done, &reads);
                scope.spawn(move || {
                    let prefixes = ["", "g", "go", "gi", "gob", "gop", "gopher1", "git", "x"];
                    let mut n = 0usize;
                    let mut last_entries = 0u64;
                    let mut last_version = 0u64;
                    while !done.load(Ordering::Acquire) || n < 20 {
                        let q = prefixes[(n + r) % prefixes.len()];
                        let limit = [1, 10, 100, 1000][n % 4];
                        let (st, body, _) =
                            s.get(&format!("/v1/tries/t/suggest?q={}&limit={limit}", enc(q)));
                        if st == 404 {
                            // Before the first write created the trie.
                            assert_eq!(body["error"]["code"], "not_found");
                            assert_eq!(last_entries, 0, "trie vanished");
                        } else {
                            assert_eq!(st, 200, "{body}");
                            let entries = body["entries"].as_array().expect("entries");
                            assert!(entries.len() <= limit);
                            let mut seen = HashSet::new();
                            for e in entries {
                                let k = e["key"].as_str().expect("key");
                                assert!(k.starts_with(q), "{k:?} does not start with {q:?}");
                                assert!(
                                    seen.insert((k.to_owned(), e["value"].to_string())),
                                    "pair twice in one answer: {e}"
                                );
                            }
                            assert!(
                                entries
                                    .windows(2)
                                    .all(|w| w[0]["key"].as_str() <= w[1]["key"].as_str()),
                                "not sorted by key: {body}"
                            );
                            // Counts and versions never go backwards.
                            let (st, stats, _) = s.get("/v1/tries/t");
                            assert_eq!(st, 200);
                            let entries = stats["entries"].as_u64().unwrap();
                            let version = stats["version"].as_u64().unwrap();
                            assert!(entries >= last_entries, "entries went backwards");
                            assert!(version >= last_version, "version went backwards");
                            last_entries = entries;
                            last_version = version;
                        }
                        n += 1;
                    }
                    reads.fetch_add(n as u64, Ordering::Relaxed);
                })
            })
            .collect();

        let writers: Vec<_> = (0..WRITERS)
            .map(|t| {
                let (s, added, existing) = (&s, &added, &existing);
                scope.spawn(move || {
                    for i in 0..PER_WRITER {
                        let k = key(i);
                        let v = value(t, i);
                        let (st, body, _) = s.post_json(
                            "/v1/tries/t/entries",
                            &json!({"entries": [{"key": k, "value": v}]}),
                        );
                        assert_eq!(st, 200, "{body}");
                        added.fetch_add(body["added"].as_u64().unwrap(), Ordering::Relaxed);
                        existing.fetch_add(body["existing"].as_u64().unwrap(), Ordering::Relaxed);
                        // A write is visible to every request that starts
                        // after its answer arrived.
                        if i % 4 == t % 4 {
                            let (st, body, _) = s.get(&format!("/v1/tries/t/keys/{}", enc(&k)));
                            assert_eq!(st, 200, "own write not visible: {body}");
                            assert!(
                                body["values"].as_array().unwrap().contains(&v),
                                "own write {v} not visible in {body}"
                            );
                        }
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().expect("writer");
        }
        done.store(true, Ordering::Release);
        for r in readers {
            r.join().expect("reader");
        }
    });

    // The model: key -> set of values.
    let mut model: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for t in 0..WRITERS {
        for i in 0..PER_WRITER {
            model
                .entry(key(i))
                .or_default()
                .insert(value(t, i).to_string());
        }
    }
    let pairs: usize = model.values().map(BTreeSet::len).sum();
    assert_eq!(pairs, WRITERS * PER_WRITER * 9 / 10 + PER_WRITER / 10);
    assert_eq!(added.load(Ordering::Relaxed), pairs as u64, "sum of added");
    assert_eq!(
        added.load(Ordering::Relaxed) + existing.load(Ordering::Relaxed),
        (WRITERS * PER_WRITER) as u64
    );

    let (st, stats, _) = s.get("/v1/tries/t");
    assert_eq!(st, 200);
    assert_eq!(stats["entries"], json!(pairs), "{stats}");
    assert_eq!(stats["keys"], json!(model.len()), "{stats}");

    // Every pair present exactly once.
    for (k, want) in &model {
        let (st, body, _) = s.get(&format!("/v1/tries/t/keys/{}", enc(k)));
        assert_eq!(st, 200, "{k}: {body}");
        let values: Vec<String> = body["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(Json::to_string)
            .collect();
        let got: BTreeSet<String> = values.iter().cloned().collect();
        assert_eq!(
            got.len(),
            values.len(),
            "duplicate values under {k}: {body}"
        );
        assert_eq!(&got, want, "values of {k}");
    }
    // Suggest agrees with the model, key order included.
    for q in ["gopher", "gob", "gi", "git1"] {
        let (st, body, _) = s.get(&format!("/v1/tries/t/suggest?q={q}&limit=1000"));
        assert_eq!(st, 200);
        let entries = body["entries"].as_array().unwrap();
        let mut got: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut keys_in_order: Vec<&str> = Vec::new();
        for e in entries {
            let k = e["key"].as_str().unwrap();
            if keys_in_order.last() != Some(&k) {
                keys_in_order.push(k);
            }
            assert!(got
                .entry(k.to_owned())
                .or_default()
                .insert(e["value"].to_string()));
        }
        let want: BTreeMap<String, BTreeSet<String>> = model
            .iter()
            .filter(|(k, _)| k.starts_with(q))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let want_keys: Vec<&str> = want.keys().map(String::as_str).collect();
        assert_eq!(keys_in_order, want_keys, "q={q}: keys in order, each once");
        assert_eq!(got, want, "q={q}");
    }
    assert!(reads.load(Ordering::Relaxed) >= 80);
}

/// Many clients incrementing one pair's score (and another pair beside it
/// in the same batches) lose no increment: the score is the exact sum, and
/// so is the score after a restart replays the log.
#[test]
fn concurrent_score_increments_of_one_pair_are_exact() {
    const THREADS: usize = 16;
    const PER_THREAD: usize = 100;
    let mut s = Server::start();
    thread::scope(|scope| {
        for t in 0..THREADS {
            let s = &s;
            scope.spawn(move || {
                for i in 0..PER_THREAD {
                    // Halves and whole numbers: every partial sum is exact.
                    let by = if (t + i) % 2 == 0 { 1.0 } else { 0.5 };
                    let body = json!({"entries": [
                        {"key": "hot", "value": 1, "incr": by},
                        {"key": "hot", "value": {"t": t}, "incr": 1}
                    ]});
                    let (st, answer, _) = s.post_json("/v1/tries/ranked/entries", &body);
                    assert_eq!(st, 200, "{answer}");
                }
            });
        }
    });
    // Half the increments are 1, half 0.5; an integral score is written as
    // an integer.
    let total = (THREADS * PER_THREAD * 3 / 4) as u64;
    let check = |s: &Server| {
        let (st, body, _) = s.get("/v1/tries/ranked/suggest?q=hot&order=score&limit=1");
        assert_eq!(st, 200, "{body}");
        assert_eq!(
            body,
            json!({"entries": [{"key": "hot", "value": 1, "score": total, "highlight": [0, 3]}]})
        );
        let (_, key, _) = s.get("/v1/tries/ranked/keys/hot");
        let scores = key["scores"].as_array().unwrap();
        assert_eq!(scores.len(), THREADS + 1);
        assert!(scores[1..].iter().all(|x| *x == json!(PER_THREAD)), "{key}");
    };
    check(&s);
    assert!(s.restart().success());
    check(&s);
}

#[test]
fn concurrent_incr_counts_exactly() {
    const THREADS: usize = 16;
    const PER_THREAD: usize = 300;
    let s = Server::start();
    let mut seen: Vec<i64> = thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let s = &s;
                scope.spawn(move || {
                    let mut values = Vec::with_capacity(PER_THREAD);
                    for i in 0..PER_THREAD {
                        // Alternate the three ways of asking for +1.
                        let rb = s.req(Method::POST, "/v1/caches/ctr/keys/hits/incr");
                        let rb = match (t + i) % 3 {
                            0 => rb,
                            1 => rb.json(&json!({"by": 1})),
                            _ => rb.json(&json!({})),
                        };
                        let r = s.send(rb);
                        assert_eq!(r.status, 200, "{}", r.text);
                        assert_eq!(r.json["key"], "hits");
                        values.push(r.json["value"].as_i64().expect("integer value"));
                    }
                    values
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("incr thread"))
            .collect()
    });
    let total = (THREADS * PER_THREAD) as i64;
    let (st, body, _) = s.get("/v1/caches/ctr/keys/hits");
    assert_eq!((st, body), (200, json!({"key": "hits", "value": total})));
    // Every increment answered a distinct value: 1..=4800, each once.
    seen.sort_unstable();
    assert_eq!(seen, (1..=total).collect::<Vec<_>>());
    let (st, body, _) = s.get("/v1/caches/ctr");
    assert_eq!((st, body), (200, json!({"name": "ctr", "keys": 1})));
}

#[test]
fn concurrent_push_pop_loses_and_duplicates_nothing() {
    const THREADS: usize = 8;
    const PER_THREAD: usize = 150;
    let s = Server::start();
    let popped: Vec<Json> = thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let s = &s;
                scope.spawn(move || {
                    let mut popped = Vec::new();
                    for i in 0..PER_THREAD {
                        let (st, body, _) =
                            s.post_json("/v1/stacks/st/push", &json!({"value": {"t": t, "i": i}}));
                        assert_eq!(st, 200, "{body}");
                        assert!(body["len"].as_u64().unwrap() >= 1, "{body}");
                        // Pop about as often as we push, in bursts.
                        let pops = if i % 3 == 2 { 3 } else { 0 } + usize::from(t % 2 == 0);
                        for _ in 0..pops {
                            let r = s.send(s.req(Method::POST, "/v1/stacks/st/pop"));
                            match r.status {
                                200 => {
                                    assert!(r.json["len"].is_u64(), "{}", r.text);
                                    popped.push(r.json["value"].clone());
                                }
                                404 => r.assert_error(404, "empty"),
                                other => panic!("pop: {other} {}", r.text),
                            }
                        }
                    }
                    popped
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("push/pop thread"))
            .collect()
    });
    // Drain what is left.
    let (st, body, _) = s.get("/v1/stacks/st");
    assert_eq!(st, 200);
    let left = body["len"].as_u64().unwrap() as usize;
    let mut all = popped;
    let during = all.len();
    loop {
        let r = s.send(s.req(Method::POST, "/v1/stacks/st/pop"));
        if r.status == 404 {
            r.assert_error(404, "empty");
            break;
        }
        assert_eq!(r.status, 200, "{}", r.text);
        all.push(r.json["value"].clone());
    }
    assert_eq!(all.len() - during, left, "drained what GET said was left");
    let mut ids: Vec<(u64, u64)> = all
        .iter()
        .map(|v| (v["t"].as_u64().unwrap(), v["i"].as_u64().unwrap()))
        .collect();
    ids.sort_unstable();
    let unique: BTreeSet<(u64, u64)> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "a value was popped twice");
    let want: BTreeSet<(u64, u64)> = (0..THREADS as u64)
        .flat_map(|t| (0..PER_THREAD as u64).map(move |i| (t, i)))
        .collect();
    assert_eq!(unique, want, "every pushed value popped exactly once");
    let (st, body, _) = s.get("/v1/stacks/st");
    assert_eq!(
        (st, body),
        (200, json!({"name": "st", "len": 0, "top": null}))
    );
}
