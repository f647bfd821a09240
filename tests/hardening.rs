//! Hardening with the real binary: one process per data directory, damage
//! never mistaken for a torn tail, errors a person can act on.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Server;
use serde_json::json;

fn bin() -> Command {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("typeahead"));
    c.env_remove("TYPEAHEAD_TOKEN")
        .env_remove("TYPEAHEAD_DATA_DIR")
        .env_remove("TYPEAHEAD_ADDR");
    c
}

/// Runs `typeahead serve` on `dir` and waits for it to exit (it must).
fn serve_expecting_exit(dir: &std::path::Path) -> (std::process::ExitStatus, String, Duration) {
    let started = Instant::now();
    let mut child = bin()
        .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = started + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
            return (status, err, started.elapsed());
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("a second server on a held data directory kept running");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_second_server_on_one_data_directory_exits_and_the_first_is_unaffected() {
    let mut first = Server::start();
    for i in 0..30 {
        let r = first.post_json("/v1/stacks/s/push", &json!({ "value": i }));
        assert_eq!(r.0, 200);
    }
    let (status, err, took) = serve_expecting_exit(&first.data_dir);
    assert!(!status.success(), "second server exited 0: {err}");
    assert!(
        err.contains(&first.data_dir.display().to_string()),
        "the message does not name the directory: {err}"
    );
    assert!(
        err.contains(&format!("pid {}", first.pid())),
        "the message does not name the holder's pid: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    eprintln!("second server exited after {took:?}");
    // The first keeps working, and everything it acknowledged survives.
    for i in 30..60 {
        assert_eq!(
            first
                .post_json("/v1/stacks/s/push", &json!({ "value": i }))
                .0,
            200
        );
    }
    first.kill9();
    first.respawn();
    let (status, body, _) = first.get("/v1/stacks/s");
    assert_eq!(status, 200);
    assert_eq!(body["len"], 60, "{body}");
}

/// Flips one bit at each of several offsets of a log of 20 acknowledged
/// writes: start-up either refuses, leaving the file byte for byte as it
/// was, or comes up with all 20.
#[test]
fn a_flipped_bit_is_refused_with_the_file_unchanged_or_harmless() {
    let mut server = Server::start();
    for i in 0..20 {
        let body = json!({"entries": [{"key": format!("k{i:02}"), "value": i}]});
        assert_eq!(server.post_json("/v1/tries/d/entries", &body).0, 200);
    }
    server.stop();
    let log = server.data_dir.join("typeahead.log");
    let good = std::fs::read(&log).unwrap();
    // The first record's length field (its top bit), its checksum, its
    // payload, a middle record, the last record's length and payload.
    let mut offsets = vec![(16 + 3, 0x80u8), (16 + 5, 0x01), (16 + 10, 0x04)];
    offsets.push((good.len() / 2, 0x10));
    offsets.push((good.len() - 2, 0x01));
    offsets.push((good.len() - 1, 0x80));
    for (at, mask) in offsets {
        let mut bytes = good.clone();
        bytes[at] ^= mask;
        std::fs::write(&log, &bytes).unwrap();
        let (status, err, _) = serve_expecting_or_serving(&server.data_dir);
        match status {
            Outcome::Refused => {
                assert_eq!(
                    std::fs::read(&log).unwrap(),
                    bytes,
                    "start-up changed a damaged log (offset {at})"
                );
                assert!(
                    err.contains("typeahead.log") && err.contains("offset"),
                    "unclear error for offset {at}: {err}"
                );
            }
            Outcome::Served(count) => assert_eq!(count, 20, "offset {at}: {err}"),
        }
        let entries = std::fs::read_dir(&server.data_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect::<Vec<_>>();
        assert!(
            !entries.iter().any(|n| n.contains(".torn-")),
            "damage at {at} was cut as a torn tail: {entries:?}"
        );
    }
    std::fs::write(&log, &good).unwrap();
}

enum Outcome {
    Refused,
    /// It started; how many keys trie "d" held.
    Served(usize),
}

/// Starts a server on `dir`: either it exits (refused), or it listens, and
/// then the keys of trie "d" are counted and it is stopped.
fn serve_expecting_or_serving(dir: &std::path::Path) -> (Outcome, String, ()) {
    use std::io::BufRead;
    let mut child = bin()
        .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut log = String::new();
    for line in stderr.lines() {
        let line = line.unwrap();
        log.push_str(&line);
        log.push('\n');
        if let Some(rest) = line.split("listening on http://").nth(1) {
            let addr = rest.split_whitespace().next().unwrap();
            let addr = addr.trim_end_matches(|c: char| !c.is_ascii_digit());
            let body: serde_json::Value =
                reqwest::blocking::get(format!("http://{addr}/v1/tries/d/suggest?q=k&limit=100"))
                    .unwrap()
                    .json()
                    .unwrap();
            let n = body["entries"].as_array().map_or(0, Vec::len);
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            child.wait().unwrap();
            return (Outcome::Served(n), log, ());
        }
    }
    let status = child.wait().unwrap();
    assert!(!status.success(), "exited 0 without serving: {log}");
    assert!(!log.contains("panicked"), "{log}");
    (Outcome::Refused, log, ())
}

#[test]
fn a_cross_origin_write_is_refused_and_changes_nothing() {
    let server = Server::start_with(&["--cors-origin", "https://app.example"]);
    let push = |origin: Option<&str>| {
        let mut rb = server
            .req(reqwest::Method::POST, "/v1/stacks/s/push")
            .json(&json!({"value": 1}));
        if let Some(o) = origin {
            rb = rb.header("Origin", o);
        }
        server.send(rb)
    };
    push(Some("https://evil.example")).assert_error(403, "forbidden_origin");
    push(Some("null")).assert_error(403, "forbidden_origin");
    // A simple form POST (no preflight) from another origin: refused too.
    let r = server.send(
        server
            .req(reqwest::Method::POST, "/v1/caches/c/keys/k/incr")
            .header("Origin", "http://attacker.test")
            .header("Content-Type", "text/plain"),
    );
    r.assert_error(403, "forbidden_origin");
    assert_eq!(
        server.get("/v1/stacks/s").0,
        404,
        "a refused write changed the stack"
    );
    assert_eq!(
        server.get("/v1/caches/c").0,
        404,
        "a refused incr created the cache"
    );
    // Allowed: no Origin (curl, servers), the allowed origin, the server's own.
    assert_eq!(push(None).status, 200);
    assert_eq!(push(Some("https://app.example")).status, 200);
    let own = server.base.clone();
    assert_eq!(push(Some(&own)).status, 200);
    assert_eq!(server.get("/v1/stacks/s").1["len"], 3);
    // Reads from any origin are unaffected.
    let r = server.send(
        server
            .req(reqwest::Method::GET, "/v1/stacks/s")
            .header("Origin", "https://evil.example"),
    );
    assert_eq!(r.status, 200);
}

#[test]
fn a_foreign_host_name_is_refused_on_loopback_unless_allowed() {
    let server = Server::start_with(&["--allow-host", "typeahead.internal"]);
    assert_eq!(
        server
            .post_json(
                "/v1/tries/t/entries",
                &json!({"entries": [{"key": "a", "value": 1}]})
            )
            .0,
        200
    );
    let port = server.base.rsplit(':').next().unwrap().to_owned();
    let get = |host: String, path: &str| {
        server.send(server.req(reqwest::Method::GET, path).header("Host", host))
    };
    // DNS rebinding: the attacker's name resolves to 127.0.0.1.
    for path in ["/v1/tries/t/suggest?q=a", "/v1/tries/t/keys/a", "/v1/tries"] {
        get(format!("rebind.attacker.test:{port}"), path).assert_error(403, "forbidden_host");
    }
    for host in ["localhost", "127.0.0.1", "[::1]", "typeahead.internal"] {
        let r = get(format!("{host}:{port}"), "/v1/tries/t/suggest?q=a");
        assert_eq!(r.status, 200, "Host {host}: {}", r.text);
    }
}

/// Every sync takes 3 s and requests time out after 1 s: a write queued
/// behind the slow sync is answered 504 `outcome_unknown` (never a 408 that
/// claims it was stopped), and one whose client is gone before the writer
/// reaches it is not applied.
#[test]
fn a_timed_out_write_is_never_told_it_was_stopped() {
    let server = Server::start_with_env(
        &["--request-timeout", "1"],
        &[("TYPEAHEAD_TEST_SYNC_DELAY_MS", "3000")],
    );
    let push = |v: i64| server.post_json("/v1/stacks/s/push", &json!({ "value": v }));
    // A is taken by the writer at once and waits in its 3 s sync.
    common::assert_error(&push(1), 504, "outcome_unknown");
    // B is sent after A's answer, while the writer still syncs A: it waits
    // in the queue, times out, and the writer then skips it.
    common::assert_error(&push(2), 504, "outcome_unknown");
    // A graceful stop lets the writer finish everything queued (A's sync,
    // then B, skipped); a restart without the delay shows what was applied.
    let mut server = server;
    server.stop();
    server.envs.clear();
    server.respawn();
    let (status, body, _) = server.get("/v1/stacks/s");
    assert_eq!(status, 200, "A was not applied: {body}");
    assert_eq!(
        body["len"], 1,
        "B was applied after its client gave up: {body}"
    );
    assert_eq!(body["top"], 1, "{body}");
    let logs = server.logs();
    assert!(!logs.contains("panicked"), "{logs}");
}

/// A write retried with the same `Idempotency-Key` is applied once and
/// answered as the first time, across a crash; the key cannot be reused for
/// another request.
#[test]
fn a_retried_write_with_an_idempotency_key_is_applied_once() {
    let mut server = Server::start();
    let keyed = |server: &Server, path: &str, key: &str, body: serde_json::Value| {
        let rb = server
            .req(reqwest::Method::POST, path)
            .header("Idempotency-Key", key);
        server.send(if body.is_null() { rb } else { rb.json(&body) })
    };
    for v in ["a", "b", "c"] {
        assert_eq!(
            server
                .post_json("/v1/stacks/s/push", &json!({ "value": v }))
                .0,
            200
        );
    }
    let first = keyed(&server, "/v1/stacks/s/pop", "pop-1", json!(null));
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.json, json!({"value": "c", "len": 2}));
    let incr = keyed(
        &server,
        "/v1/caches/hits/keys/home/incr",
        "incr-1",
        json!(null),
    );
    assert_eq!(incr.json["value"], 1, "{}", incr.text);
    server.kill9();
    server.respawn();
    // Retries after the crash: the same answers, nothing applied twice.
    let again = keyed(&server, "/v1/stacks/s/pop", "pop-1", json!(null));
    assert_eq!((again.status, &again.json), (200, &first.json));
    let again = keyed(
        &server,
        "/v1/caches/hits/keys/home/incr",
        "incr-1",
        json!(null),
    );
    assert_eq!(again.json["value"], 1, "{}", again.text);
    assert_eq!(server.get("/v1/stacks/s").1["len"], 2);
    assert_eq!(server.get("/v1/caches/hits/keys/home").1["value"], 1);
    // The same key with another request is refused and changes nothing.
    keyed(&server, "/v1/stacks/s/push", "pop-1", json!({"value": "x"}))
        .assert_error(422, "idempotency_key_reused");
    assert_eq!(server.get("/v1/stacks/s").1["len"], 2);
    // A new key applies again.
    let next = keyed(&server, "/v1/stacks/s/pop", "pop-2", json!(null));
    assert_eq!(next.json, json!({"value": "b", "len": 1}));
    for bad in ["", "ключ", &"k".repeat(256)] {
        let r = server.send(
            server
                .req(reqwest::Method::POST, "/v1/stacks/s/pop")
                .header("Idempotency-Key", bad.as_bytes()),
        );
        r.assert_error(400, "invalid_idempotency_key");
    }
    assert_eq!(server.get("/v1/stacks/s").1["len"], 1);
}

/// Creating tries, stacks or caches past their caps is refused with 409
/// `resource_limit` and changes nothing; deleting one makes room.
#[test]
fn names_past_the_caps_are_refused() {
    let server =
        Server::start_with(&["--max-tries", "2", "--max-stacks", "1", "--max-caches", "1"]);
    let add = |t: &str| {
        server.post_json(
            &format!("/v1/tries/{t}/entries"),
            &json!({"entries": [{"key": "k", "value": 1}]}),
        )
    };
    assert_eq!(add("a").0, 200);
    assert_eq!(add("b").0, 200);
    common::assert_error(&add("c"), 409, "resource_limit");
    assert_eq!(server.get("/v1/tries/c").0, 404);
    assert_eq!(add("a").0, 200, "an existing trie still takes writes");
    assert_eq!(server.delete("/v1/tries/a").0, 204);
    assert_eq!(add("c").0, 200);
    let push = |s: &str| server.post_json(&format!("/v1/stacks/{s}/push"), &json!({"value": 1}));
    assert_eq!(push("s1").0, 200);
    common::assert_error(&push("s2"), 409, "resource_limit");
    let incr = |c: &str| server.post_json(&format!("/v1/caches/{c}/keys/k/incr"), &json!({}));
    assert_eq!(incr("c1").0, 200);
    common::assert_error(&incr("c2"), 409, "resource_limit");
    assert_eq!(server.get("/v1/caches/c2").0, 404);
}

/// A second server on a port in use exits non-zero and says so once.
#[test]
fn a_busy_port_is_reported_once() {
    let first = Server::start();
    let addr = first.base.trim_start_matches("http://").to_owned();
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["serve", "--addr", &addr, "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert_eq!(err.matches("could not listen on").count(), 1, "{err}");
    assert_eq!(
        err.to_ascii_lowercase()
            .matches("address already in use")
            .count(),
        1,
        "{err}"
    );
}
