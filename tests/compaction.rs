//! Online compaction with the real binary: a hot counter's data directory
//! stays bounded while it runs, and nothing acknowledged is lost. In a file
//! of its own so that its load does not run beside the timing-sensitive
//! hardening tests.

mod common;

use common::Server;

/// A hot counter incremented 50,000 times, the log rewritten once 5,000
/// operations have gone in since the last rewrite: the log is compacted
/// while the server runs, so the data directory stays bounded, and every
/// increment is there after a crash.
#[test]
fn a_hot_counters_data_directory_stays_bounded() {
    use std::io::{BufRead, BufReader, Write};
    let mut server = Server::start_with(&["--compact-min-ops", "5000"]);
    let addr = server.base.trim_start_matches("http://").to_owned();
    const CLIENTS: usize = 50;
    const EACH: usize = 1_000;
    let biggest = std::sync::atomic::AtomicU64::new(0);
    let log = server.data_dir.join("typeahead.log");
    std::thread::scope(|s| {
        for _ in 0..CLIENTS {
            let addr = &addr;
            let biggest = &biggest;
            let log = &log;
            s.spawn(move || {
                // Keep-alive HTTP/1.1 by hand: the client costs little next
                // to the server.
                let stream = std::net::TcpStream::connect(addr).unwrap();
                let mut w = stream.try_clone().unwrap();
                let mut r = BufReader::new(stream);
                let req = format!(
                    "POST /v1/caches/hot/keys/k/incr HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\n\r\n"
                );
                let mut line = String::new();
                for i in 0..EACH {
                    w.write_all(req.as_bytes()).unwrap();
                    line.clear();
                    r.read_line(&mut line).unwrap();
                    assert!(line.starts_with("HTTP/1.1 200"), "{line}");
                    let mut len = 0;
                    loop {
                        line.clear();
                        r.read_line(&mut line).unwrap();
                        if line == "\r\n" {
                            break;
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap();
                        }
                    }
                    let mut body = vec![0; len];
                    std::io::Read::read_exact(&mut r, &mut body).unwrap();
                    if i % 100 == 0 {
                        let size = std::fs::metadata(log).map_or(0, |m| m.len());
                        biggest.fetch_max(size, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let total = (CLIENTS * EACH) as i64;
    let biggest = biggest.into_inner();
    let dir_bytes: u64 = std::fs::read_dir(&server.data_dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    eprintln!("largest log seen {biggest} bytes; data directory at the end {dir_bytes} bytes");
    // Uncompacted, 50k increments take about 2 MB; compaction keeps the
    // log near 5,000 operations' worth (about 200 KB).
    assert!(biggest < 512 << 10, "the log grew to {biggest} bytes");
    assert!(
        dir_bytes < 512 << 10,
        "the data directory holds {dir_bytes} bytes"
    );
    assert!(server
        .logs()
        .contains("compacted the log in the background"));
    assert_eq!(server.get("/v1/caches/hot/keys/k").1["value"], total);
    server.kill9();
    server.respawn();
    assert_eq!(server.get("/v1/caches/hot/keys/k").1["value"], total);
}

/// Kills the server with SIGKILL at arbitrary moments while clients
/// increment counters and the log is compacted every few thousand
/// operations: after each restart every acknowledged increment is there,
/// and at most the one in flight beyond it.
#[test]
fn a_kill_during_compaction_loses_nothing_acknowledged() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    const CLIENTS: usize = 8;
    let mut server = Server::start_with(&["--compact-min-ops", "2000"]);
    let mut acked = [0i64; CLIENTS];
    for round in 0..4u64 {
        let stop = Arc::new(AtomicBool::new(false));
        let base = server.base.clone();
        let handles: Vec<_> = (0..CLIENTS)
            .map(|t| {
                let stop = Arc::clone(&stop);
                let base = base.clone();
                std::thread::spawn(move || {
                    let http = reqwest::blocking::Client::new();
                    let (mut ok, mut pending) = (0i64, false);
                    while !stop.load(Ordering::Relaxed) {
                        let r = http
                            .post(format!("{base}/v1/caches/c/keys/t{t}/incr"))
                            .send();
                        match r {
                            Ok(r) if r.status().is_success() => ok += 1,
                            _ => {
                                pending = true;
                                break;
                            }
                        }
                    }
                    (ok, pending)
                })
            })
            .collect();
        // Let the clients run until enough has been written for several
        // compactions, then kill in the middle of whatever is happening.
        let target = 6_000 + round * 1_500;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            let sum: i64 = (0..CLIENTS)
                .map(|t| {
                    server.get(&format!("/v1/caches/c/keys/t{t}")).1["value"]
                        .as_i64()
                        .unwrap_or(0)
                })
                .sum();
            if sum as u64 >= target + acked.iter().sum::<i64>() as u64 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the clients stalled at {sum} increments"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        server.kill9();
        stop.store(true, Ordering::Relaxed);
        let results: Vec<(i64, bool)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        server.respawn();
        for (t, (ok, _pending)) in results.iter().enumerate() {
            let (status, body, _) = server.get(&format!("/v1/caches/c/keys/t{t}"));
            assert_eq!(status, 200, "{body}");
            let got = body["value"].as_i64().unwrap();
            let want = acked[t] + ok;
            // The request in flight at the kill may or may not have landed.
            assert!(
                got == want || got == want + 1,
                "round {round}, client {t}: {got} after {want} acknowledged"
            );
            acked[t] = got;
        }
    }
    assert!(server.logs().contains("compact"), "no compaction happened");
}
