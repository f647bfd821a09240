//! Online compaction with the real binary: a hot counter's data directory
//! stays bounded while it runs, and nothing acknowledged is lost. In a file
//! of its own so that its load does not run beside the timing-sensitive
//! hardening tests.

mod common;

use common::Server;

/// A hot counter incremented 500,000 times: the log is compacted while the
/// server runs, so the data directory stays bounded, and every increment is
/// there after a crash.
#[test]
fn a_hot_counters_data_directory_stays_bounded() {
    use std::io::{BufRead, BufReader, Write};
    let mut server = Server::start();
    let addr = server.base.trim_start_matches("http://").to_owned();
    const CLIENTS: usize = 50;
    const EACH: usize = 10_000;
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
                    if i % 1000 == 0 {
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
    // Uncompacted, 500k increments take about 20 MB; compaction keeps the
    // log under a few hundred thousand operations' worth.
    assert!(biggest < 8 << 20, "the log grew to {biggest} bytes");
    assert!(
        dir_bytes < 8 << 20,
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
