//! Nodes of a cluster on a real PostgreSQL, as real processes on loopback:
//! writes spread over every node while writers are killed, a follower cut
//! from the database, read-your-writes, checkpoints and joining.
//!
//! The tests need `TYPEAHEAD_TEST_POSTGRES`, the URL of a PostgreSQL
//! server where they may create databases (one per test).
//! `scripts/pg-local.sh start` runs a private one and prints the variable;
//! `.ci/run` does that before `cargo test`. Without the variable each test
//! says it did not run and passes, except under `CI`, where it fails.

#[path = "../common/mod.rs"]
mod common;
mod nodes;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use common::Server;
use nodes::{call, client, cluster, cut, database, node, trie_on, write, writer_index};
use reqwest::Method;
use serde_json::{json, Value as Json};

#[test]
fn every_acknowledged_write_survives_two_writer_kills() {
    let Some(url) = database("ta_kills") else {
        return;
    };
    let mut nodes: Vec<Server> = (0..3)
        .map(|_| node(&url, &["--compact-min-ops", "300"]))
        .collect();
    let c = client();
    let bases = Arc::new(RwLock::new(
        nodes.iter().map(|n| n.base.clone()).collect::<Vec<_>>(),
    ));
    const THREADS: usize = 6;
    const PER_THREAD: usize = 120;
    let done = Arc::new(AtomicUsize::new(0));
    let acked = Arc::new(Mutex::new(Vec::<(String, u64)>::new()));
    let incr_acked = Arc::new(AtomicUsize::new(0));
    let top = Arc::new(Mutex::new(0u64));
    let pushed = Arc::new(Mutex::new(Vec::<String>::new()));
    let writers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (bases, done, acked, incr_acked, top, pushed) = (
                bases.clone(),
                done.clone(),
                acked.clone(),
                incr_acked.clone(),
                top.clone(),
                pushed.clone(),
            );
            std::thread::spawn(move || {
                let c = client();
                for i in 0..PER_THREAD {
                    let key = format!("w{t}x{i}");
                    let body = json!({"entries": [{"key": key, "value": i}]});
                    let a = write(
                        &c,
                        &bases,
                        t + i,
                        Method::POST,
                        "/v1/tries/t/entries",
                        &body,
                        &format!("add-{key}"),
                    );
                    if let Some(a) = a {
                        assert_eq!(a.status, 200, "{}", a.json);
                        let p = a.position.expect("a write answer carries its position");
                        acked.lock().unwrap().push((key.clone(), p));
                        let mut top = top.lock().unwrap();
                        *top = (*top).max(p);
                    }
                    if i % 2 == 1 {
                        let a = write(
                            &c,
                            &bases,
                            t + i + 2,
                            Method::POST,
                            "/v1/stacks/log/push",
                            &json!({ "value": key }),
                            &format!("push-{key}"),
                        );
                        if let Some(a) = a.filter(|a| a.status == 200) {
                            pushed.lock().unwrap().push(key.clone());
                            let mut top = top.lock().unwrap();
                            *top = (*top).max(a.position.expect("position"));
                        }
                    }
                    if i % 4 == 0 {
                        let a = write(
                            &c,
                            &bases,
                            t + i + 1,
                            Method::POST,
                            "/v1/caches/c/keys/n/incr",
                            &json!({"by": 1}),
                            &format!("incr-{key}"),
                        );
                        if a.is_some_and(|a| a.status == 200) {
                            incr_acked.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    // Kill the writer twice while the writes go on, each time restarting
    // the killed node (it joins again from the database).
    for round in 1..=2 {
        while done.load(Ordering::Relaxed) < round * THREADS * PER_THREAD / 3 {
            std::thread::sleep(Duration::from_millis(10));
        }
        let w = writer_index(&c, &nodes);
        nodes[w].kill9();
        nodes[w].respawn();
        bases.write().unwrap()[w] = nodes[w].base.clone();
    }
    for w in writers {
        w.join().expect("writer thread");
    }
    let acked = acked.lock().unwrap().clone();
    let top = *top.lock().unwrap();
    assert!(
        acked.len() > THREADS * PER_THREAD * 9 / 10,
        "only {} writes acknowledged",
        acked.len()
    );
    let sent: BTreeSet<String> = (0..THREADS)
        .flat_map(|t| (0..PER_THREAD).map(move |i| format!("w{t}x{i}")))
        .collect();
    let mut seen = Vec::new();
    for n in &nodes {
        let got = trie_on(&c, &n.base, "w", top);
        for (key, _) in &acked {
            assert_eq!(got.get(key).map(Vec::len), Some(1), "{key} on {}", n.base);
        }
        for (key, values) in &got {
            assert!(sent.contains(key), "{key} was never written");
            assert_eq!(values.len(), 1, "{key} holds {values:?}");
        }
        let n_value = call(
            &c,
            Method::GET,
            &format!("{}/v1/caches/c/keys/n?min_position={top}", n.base),
            None,
            None,
        )
        .expect("counter")
        .json["value"]
            .as_i64()
            .expect("a counter value");
        let sent_incr = THREADS * PER_THREAD.div_ceil(4);
        assert!(
            n_value as usize >= incr_acked.load(Ordering::Relaxed) && n_value as usize <= sent_incr,
            "counter {n_value}: {} acknowledged of {sent_incr} sent",
            incr_acked.load(Ordering::Relaxed)
        );
        seen.push((got, n_value));
    }
    assert!(
        seen.windows(2).all(|w| w[0] == w[1]),
        "the nodes answer differently"
    );
    // Every push applied at most once: pop the stack empty and look.
    let stacks: Vec<Json> = nodes
        .iter()
        .map(|n| {
            let url = format!("{}/v1/stacks/log?min_position={top}", n.base);
            call(&c, Method::GET, &url, None, None).expect("stack").json
        })
        .collect();
    assert!(stacks.windows(2).all(|w| w[0] == w[1]), "{stacks:?}");
    let mut popped = Vec::new();
    loop {
        let a = call(
            &c,
            Method::POST,
            &nodes[0].url("/v1/stacks/log/pop"),
            None,
            None,
        )
        .unwrap();
        match a.status {
            200 => popped.push(a.json["value"].as_str().unwrap().to_owned()),
            404 => break,
            s => panic!("pop answered {s}: {}", a.json),
        }
    }
    let distinct: BTreeSet<&String> = popped.iter().collect();
    assert_eq!(distinct.len(), popped.len(), "a push was applied twice");
    for key in pushed.lock().unwrap().iter() {
        assert!(distinct.contains(key), "acknowledged push {key} is gone");
    }
    assert!(
        popped.iter().all(|k| sent.contains(k)),
        "a push nobody sent"
    );
}

#[test]
fn reads_with_min_position_see_the_write_on_every_node() {
    let Some(url) = database("ta_ryw") else {
        return;
    };
    let nodes: Vec<Server> = (0..3).map(|_| node(&url, &[])).collect();
    let c = client();
    writer_index(&c, &nodes);
    for i in 0..150usize {
        let (to, from) = (i % 3, (i * 7 + 1) % 3);
        let key = format!("k{i}");
        let a = call(
            &c,
            Method::POST,
            &nodes[to].url("/v1/tries/t/entries"),
            Some(&json!({"entries": [{"key": key, "value": i}]})),
            None,
        )
        .expect("write");
        assert_eq!(a.status, 200, "{}", a.json);
        let p = a.position.expect("position header");
        // Every other read passes the position as the header instead.
        let rb = if i % 2 == 0 {
            c.get(nodes[from].url(&format!("/v1/tries/t/keys/{key}?min_position={p}")))
        } else {
            c.get(nodes[from].url(&format!("/v1/tries/t/keys/{key}")))
                .header("Typeahead-Position", p.to_string())
        };
        let r = rb.send().expect("read");
        assert_eq!(
            r.status(),
            200,
            "read-your-writes failed for {key} at {p} on node {from}"
        );
    }
    let cl = cluster(&c, &nodes[1].base);
    let nodes_json = cl["nodes"].as_array().expect("nodes");
    assert_eq!(nodes_json.len(), 3);
    assert!(cl["writer"].is_string() && cl["position"].is_u64(), "{cl}");
    for n in nodes_json {
        assert!(
            n["url"].is_string() && n["position"].is_u64() && n["lag"].is_u64(),
            "{n}"
        );
    }
    // The metrics say the same as the cluster view.
    let w = writer_index(&c, &nodes);
    let metrics = c
        .get(nodes[w].url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(metrics.contains("typeahead_cluster_writer 1"), "{metrics}");
    let applied = cluster(&c, &nodes[w].base)["position"].as_u64().unwrap();
    assert!(
        metrics.contains(&format!("typeahead_cluster_position {applied}")),
        "{metrics}"
    );
    let bad = call(
        &c,
        Method::GET,
        &nodes[0].url("/v1/tries/t/keys/k1?min_position=soon"),
        None,
        None,
    )
    .unwrap();
    assert_eq!(
        (bad.status, bad.json["error"]["code"].as_str()),
        (400, Some("invalid_query"))
    );
    let far = cl["position"].as_u64().unwrap() + 1_000_000;
    let late = call(
        &c,
        Method::GET,
        &nodes[2].url(&format!("/v1/tries/t/keys/k1?min_position={far}")),
        None,
        None,
    )
    .unwrap();
    assert_eq!(
        (late.status, late.json["error"]["code"].as_str()),
        (503, Some("position_not_reached"))
    );
}

#[test]
fn nodes_cut_from_the_database_reconnect_and_catch_up() {
    let Some(url) = database("ta_cut") else {
        return;
    };
    let nodes: Vec<Server> = (0..2).map(|_| node(&url, &[])).collect();
    let c = client();
    let w = writer_index(&c, &nodes);
    let f = 1 - w;
    assert!(
        cut(&url, &nodes[f].base) >= 1,
        "the follower had no connection to cut"
    );
    let mut last = 0;
    for i in 0..20 {
        let a = call(
            &c,
            Method::POST,
            &nodes[w].url("/v1/tries/t/entries"),
            Some(&json!({"entries": [{"key": format!("after{i}"), "value": i}]})),
            None,
        )
        .unwrap();
        assert_eq!(a.status, 200, "{}", a.json);
        last = a.position.unwrap();
    }
    assert_eq!(trie_on(&c, &nodes[f].base, "after", last).len(), 20);
    // Cutting the writer frees the lock for either node to take (the cut
    // one reconnects too); writes go on under a new epoch.
    let epoch = cluster(&c, &nodes[w].base)["epoch"].as_i64().unwrap();
    assert!(cut(&url, &nodes[w].base) >= 1);
    let bases = RwLock::new(vec![nodes[f].base.clone()]);
    let a = write(
        &c,
        &bases,
        0,
        Method::POST,
        "/v1/tries/t/entries",
        &json!({"entries": [{"key": "moved", "value": 1}]}),
        "moved-1",
    )
    .expect("a write after the cut");
    assert_eq!(a.status, 200, "{}", a.json);
    let p = a.position.unwrap();
    assert!(p > last, "positions grow across writers: {p} after {last}");
    let mut db = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let now: i64 = db
        .query_one("SELECT epoch FROM typeahead_leader", &[])
        .unwrap()
        .get(0);
    assert!(now > epoch, "the writer changed: epoch {now} after {epoch}");
    for n in &nodes {
        assert_eq!(trie_on(&c, &n.base, "moved", p).len(), 1, "on {}", n.base);
        assert_eq!(trie_on(&c, &n.base, "after", p).len(), 20, "on {}", n.base);
    }
}

#[test]
fn a_node_joins_from_a_checkpoint_once_groups_are_pruned() {
    let Some(url) = database("ta_join") else {
        return;
    };
    let first = node(&url, &["--compact-min-ops", "100"]);
    let c = client();
    let mut last = 0;
    for i in 0..400 {
        let a = call(
            &c,
            Method::POST,
            &first.url("/v1/caches/c/keys/n/incr"),
            Some(&json!({"by": 1})),
            None,
        )
        .unwrap();
        assert_eq!(a.status, 200);
        last = a.position.unwrap();
        if i % 50 == 0 {
            let a = call(
                &c,
                Method::POST,
                &first.url("/v1/stacks/s/push"),
                Some(&json!({"value": i})),
                None,
            )
            .unwrap();
            assert_eq!(a.status, 200);
        }
    }
    // The checkpoint is written in the background: wait for it through the
    // database itself.
    let mut db = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let (checkpoint, oldest) = loop {
        let cp: Option<i64> = db
            .query_one("SELECT max(position) FROM typeahead_checkpoints", &[])
            .unwrap()
            .get(0);
        let oldest: Option<i64> = db
            .query_one("SELECT min(position) FROM typeahead_groups", &[])
            .unwrap()
            .get(0);
        if let (Some(cp), Some(oldest)) = (cp, oldest) {
            if oldest > 1 {
                break (cp, oldest);
            }
        }
        assert!(Instant::now() < deadline, "no checkpoint pruned the groups");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        oldest <= checkpoint + 1,
        "groups after the checkpoint are kept"
    );
    let second = node(&url, &[]);
    let n = call(
        &c,
        Method::GET,
        &second.url(&format!("/v1/caches/c/keys/n?min_position={last}")),
        None,
        None,
    )
    .unwrap();
    assert_eq!(n.json["value"], 400, "{}", n.json);
    let s = call(&c, Method::GET, &second.url("/v1/stacks/s"), None, None).unwrap();
    assert_eq!(
        (s.json["len"].as_u64(), s.json["top"].as_u64()),
        (Some(8), Some(350)),
        "{}",
        s.json
    );
}

#[test]
fn pops_spread_over_the_nodes_return_each_value_once() {
    let Some(url) = database("ta_pops") else {
        return;
    };
    let nodes: Vec<Server> = (0..3).map(|_| node(&url, &[])).collect();
    let c = client();
    writer_index(&c, &nodes);
    for i in 0..90 {
        let a = call(
            &c,
            Method::POST,
            &nodes[i % 3].url("/v1/stacks/s/push"),
            Some(&json!({"value": i})),
            None,
        )
        .unwrap();
        assert_eq!(a.status, 200, "{}", a.json);
    }
    let empty = Arc::new(AtomicBool::new(false));
    let popped: Vec<_> = (0..6)
        .map(|t| {
            let base = nodes[t % 3].base.clone();
            let empty = empty.clone();
            std::thread::spawn(move || {
                let c = client();
                let mut got = Vec::new();
                while !empty.load(Ordering::Relaxed) {
                    let a = call(
                        &c,
                        Method::POST,
                        &format!("{base}/v1/stacks/s/pop"),
                        Some(&json!({})),
                        None,
                    )
                    .unwrap();
                    match a.status {
                        200 => got.push(a.json["value"].as_u64().unwrap()),
                        404 => empty.store(true, Ordering::Relaxed),
                        s => panic!("pop answered {s}: {}", a.json),
                    }
                }
                got
            })
        })
        .collect();
    let mut all: Vec<u64> = popped.into_iter().flat_map(|h| h.join().unwrap()).collect();
    all.sort_unstable();
    assert_eq!(all, (0..90).collect::<Vec<u64>>());
}

#[test]
fn an_import_sent_to_a_follower_runs_on_the_writer_and_reaches_every_node() {
    let Some(url) = database("ta_import") else {
        return;
    };
    let nodes: Vec<Server> = (0..2).map(|_| node(&url, &[])).collect();
    let c = client();
    let f = 1 - writer_index(&c, &nodes);
    let mut csv = String::from("id,name,followers\n");
    for i in 0..500 {
        csv.push_str(&format!("{i},name{i:03},{}\n", i % 7));
    }
    let res = c
        .post(nodes[f].url(
            "/v1/tries/people/import?format=csv&key_columns=name&value_column=id&score_column=followers",
        ))
        .body(csv)
        .send()
        .expect("import");
    assert_eq!(res.status(), 202);
    let id = res.json::<Json>().unwrap()["job"]
        .as_u64()
        .expect("a job id");
    // The job lives on the writer; the follower forwards its status too.
    let deadline = Instant::now() + Duration::from_secs(30);
    let position = loop {
        let a = call(
            &c,
            Method::GET,
            &nodes[f].url(&format!("/v1/jobs/{id}")),
            None,
            None,
        )
        .unwrap();
        assert_eq!(a.status, 200, "{}", a.json);
        if a.json["state"] == "done" {
            assert_eq!(a.json["entries_added"], 500);
            break a.position.expect("the writer's position");
        }
        assert_ne!(a.json["state"], "failed", "{}", a.json);
        assert!(Instant::now() < deadline, "the import did not finish");
        std::thread::sleep(Duration::from_millis(20));
    };
    for n in &nodes {
        let a = call(
            &c,
            Method::GET,
            &n.url(&format!(
                "/v1/tries/people/suggest?q=name&order=score&limit=3&min_position={position}"
            )),
            None,
            None,
        )
        .unwrap();
        assert_eq!(a.status, 200);
        let keys: Vec<&str> = a.json["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["key"].as_str().unwrap())
            .collect();
        assert_eq!(keys, ["name006", "name013", "name020"], "on {}", n.base);
    }
}
