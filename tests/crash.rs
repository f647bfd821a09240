//! Crash tests with the real binary: every acknowledged write survives
//! `kill -9` and a restart; a log cut at any point recovers every record
//! before the cut; damage in the middle stops start-up with a clear error.

mod common;

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;

use common::{enc, Server};
use rand::{Rng, SeedableRng};
use serde_json::json;

const CLIENTS: usize = 8;

/// What one client thread saw acknowledged (per-thread keys, so the last
/// acknowledged cache value is known).
#[derive(Default, Debug)]
struct Acked {
    pairs: Vec<(String, u64)>,
    pushes: Vec<u64>,
    last_set: Option<u64>,
    /// The value attempted after the last acknowledged set (may or may not
    /// have become durable before the kill).
    pending_set: Option<u64>,
    counter: i64,
    pending_incr: bool,
}

fn client(
    base: String,
    round: usize,
    t: usize,
    stop: Arc<AtomicBool>,
    acks: mpsc::Sender<()>,
) -> Acked {
    let http = reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap();
    let mut acked = Acked::default();
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let ok = match i % 4 {
            0 => {
                let key = format!("r{round}t{t}k{i}");
                let r = http
                    .post(format!("{base}/v1/tries/crash/entries"))
                    .json(&json!({"entries": [{"key": key, "value": i}]}))
                    .send();
                let ok = r.is_ok_and(|r| r.status().is_success());
                if ok {
                    acked.pairs.push((key, i));
                }
                ok
            }
            1 => {
                let r = http
                    .post(format!("{base}/v1/stacks/s{t}/push"))
                    .json(&json!({ "value": i }))
                    .send();
                let ok = r.is_ok_and(|r| r.status().is_success());
                if ok {
                    acked.pushes.push(i);
                }
                ok
            }
            2 => {
                acked.pending_set = Some(i);
                let r = http
                    .put(format!("{base}/v1/caches/c{t}/keys/last"))
                    .json(&json!({ "value": i }))
                    .send();
                let ok = r.is_ok_and(|r| r.status().is_success());
                if ok {
                    acked.last_set = Some(i);
                    acked.pending_set = None;
                }
                ok
            }
            _ => {
                acked.pending_incr = true;
                let r = http
                    .post(format!("{base}/v1/caches/c{t}/keys/count/incr"))
                    .json(&json!({ "by": 1 }))
                    .send();
                match r {
                    Ok(r) if r.status().is_success() => {
                        let v: serde_json::Value = r.json().unwrap();
                        acked.counter = v["value"].as_i64().unwrap();
                        acked.pending_incr = false;
                        true
                    }
                    _ => false,
                }
            }
        };
        if !ok {
            break; // the server is gone
        }
        if acks.send(()).is_err() {
            break;
        }
    }
    acked
}

fn verify(server: &Server, t: usize, acked: &Acked) {
    for (key, v) in &acked.pairs {
        let (status, body, _) = server.get(&format!("/v1/tries/crash/keys/{}", enc(key)));
        assert_eq!(status, 200, "acknowledged pair {key} lost");
        assert_eq!(body["values"], json!([v]));
    }
    // Pop the whole stack: the acknowledged pushes, in order, then at most
    // one push that was in flight at the kill.
    let mut popped = Vec::new();
    loop {
        let (status, body, _) = server.post_json(&format!("/v1/stacks/s{t}/pop"), &json!({}));
        if status == 404 {
            break;
        }
        assert_eq!(status, 200);
        popped.push(body["value"].as_u64().unwrap());
    }
    popped.reverse();
    assert!(
        popped.len() <= acked.pushes.len() + 1,
        "stack s{t} has unknown items"
    );
    assert_eq!(
        &popped[..acked.pushes.len()],
        &acked.pushes[..],
        "stack s{t} lost pushes"
    );
    let (status, body, _) = server.get(&format!("/v1/caches/c{t}/keys/last"));
    if let Some(last) = acked.last_set {
        assert_eq!(status, 200);
        let got = body["value"].as_u64().unwrap();
        assert!(
            got == last || Some(got) == acked.pending_set,
            "c{t}/last is {got}, acknowledged {last}"
        );
    }
    if acked.counter > 0 {
        let (_, body, _) = server.get(&format!("/v1/caches/c{t}/keys/count"));
        let got = body["value"].as_i64().unwrap();
        let ok = got == acked.counter || (acked.pending_incr && got == acked.counter + 1);
        assert!(ok, "c{t}/count is {got}, acknowledged {}", acked.counter);
        // Start the next round from zero so the expectation stays exact.
        assert_eq!(server.delete(&format!("/v1/caches/c{t}/keys/count")).0, 204);
    }
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(20261126);
    let mut server = Server::start();
    for round in 0..3 {
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        let handles: Vec<_> = (0..CLIENTS)
            .map(|t| {
                let (base, stop, tx) = (server.base.clone(), Arc::clone(&stop), tx.clone());
                thread::spawn(move || client(base, round, t, stop, tx))
            })
            .collect();
        drop(tx);
        // Kill at a random moment: after a seeded number of acknowledged writes.
        let kill_after = rng.gen_range(200..1500);
        for _ in 0..kill_after {
            rx.recv().expect("clients stopped early");
        }
        server.kill9();
        stop.store(true, Ordering::Relaxed);
        let acked: Vec<Acked> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let total: usize = acked.iter().map(|a| a.pairs.len() + a.pushes.len()).sum();
        assert!(total > 0);
        server.respawn();
        for (t, a) in acked.iter().enumerate() {
            verify(&server, t, a);
        }
    }
}

fn log_path(server: &Server) -> std::path::PathBuf {
    server.data_dir.join("typeahead.log")
}

#[test]
fn a_log_cut_anywhere_recovers_every_record_before_the_cut() {
    let mut server = Server::start();
    let keys: Vec<String> = (0..40).map(|i| format!("key{i:02}")).collect();
    for (i, k) in keys.iter().enumerate() {
        let (status, _, _) = server.post_json(
            "/v1/tries/cut/entries",
            &json!({"entries": [{"key": k, "value": i}]}),
        );
        assert_eq!(status, 200);
    }
    server.stop();
    let full = std::fs::read(log_path(&server)).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut cuts: Vec<usize> = (0..6).map(|_| rng.gen_range(16..full.len())).collect();
    cuts.push(full.len() - 1);
    let mut last_count = 0;
    cuts.sort_unstable();
    for cut in cuts {
        std::fs::write(log_path(&server), &full[..cut]).unwrap();
        server.respawn();
        // The keys present are exactly a prefix of the order they were written in.
        let present: Vec<bool> = keys
            .iter()
            .map(|k| server.get(&format!("/v1/tries/cut/keys/{k}")).0 == 200)
            .collect();
        let n = present.iter().take_while(|p| **p).count();
        assert!(
            present[n..].iter().all(|p| !p),
            "cut at {cut}: not a prefix: {present:?}"
        );
        assert!(n >= last_count, "a longer log recovered less");
        assert!(
            n < keys.len(),
            "cut at {cut} lost nothing? the last record must be torn"
        );
        last_count = n;
        server.kill9();
    }
}

#[test]
fn damage_in_the_middle_stops_startup_with_file_and_offset() {
    let mut server = Server::start();
    for i in 0..20 {
        let body = json!({"entries": [{"key": format!("k{i}"), "value": i}]});
        assert_eq!(server.post_json("/v1/tries/d/entries", &body).0, 200);
    }
    server.stop();
    let mut bytes = std::fs::read(log_path(&server)).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x55;
    std::fs::write(log_path(&server), &bytes).unwrap();
    let out = Command::new(assert_cmd::cargo::cargo_bin("typeahead"))
        .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(&server.data_dir)
        .output()
        .unwrap();
    assert!(!out.status.success(), "started on a damaged log");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("typeahead.log") && err.contains("offset"),
        "unclear error: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}
