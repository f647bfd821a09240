//! Limits with the real binary: slow, idle, oversized and unparsable
//! requests, and many large bodies at once. No client may exhaust the
//! server, and every refusal is a JSON error the client gets to read.

mod common;

use std::time::{Duration, Instant};

use common::Server;

/// Three hundred clients trickle a request's headers a line at a time;
/// normal requests keep being answered, and the trickling connections are
/// closed once the header-read timeout passes.
#[test]
fn clients_that_trickle_headers_are_closed_and_others_are_served() {
    use std::io::{Read, Write};
    let server = Server::start_with(&["--header-timeout", "2"]);
    let addr = server.base.trim_start_matches("http://").to_owned();
    let mut socks: Vec<std::net::TcpStream> = (0..300)
        .map(|_| {
            let mut s = std::net::TcpStream::connect(&addr).unwrap();
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                .unwrap();
            s
        })
        .collect();
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    let mut rounds = 0;
    while started.elapsed() < Duration::from_secs(4) {
        for s in &mut socks {
            // Errors mean the server closed it: what should happen.
            let _ = s.write_all(b"X-Slow: 1\r\n");
        }
        let t = Instant::now();
        assert_eq!(server.get("/healthz").0, 200);
        slowest = slowest.max(t.elapsed());
        rounds += 1;
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!("{rounds} normal requests, slowest {slowest:?}");
    assert!(
        slowest < Duration::from_secs(1),
        "a normal request took {slowest:?} beside the trickling clients"
    );
    // Closed: end of file or a reset. Still open: the read times out.
    let is_closed = |r: std::io::Result<usize>| match r {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    };
    let mut closed = 0;
    for s in &mut socks {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = [0u8; 256];
        let first = s.read(&mut buf);
        // hyper may answer 408 before closing; the next read is then EOF.
        let closed_now = match first {
            Ok(n) if n > 0 => is_closed(s.read(&mut buf)),
            other => is_closed(other),
        };
        closed += usize::from(closed_now);
    }
    assert_eq!(closed, socks.len(), "trickling connections left open");
}

/// 64 clients each send a 16 MiB batch at once: every one is answered with
/// a 4xx or 503, the server stays up, and its peak memory stays far below
/// what parsing all of them at once would take.
#[test]
fn sixty_four_parallel_16_mib_bodies_do_not_exhaust_the_server() {
    let server = Server::start();
    let mut body = String::from("{\"entries\":[");
    let mut i = 0u64;
    while body.len() < (16 << 20) - 64 {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&format!("{{\"key\":\"k{i}\",\"value\":{i}}}"));
        i += 1;
    }
    body.push_str("]}");
    let body = bytes::Bytes::from(body);
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..64)
            .map(|_| {
                let body = body.clone();
                let server = &server;
                s.spawn(move || {
                    let r = server
                        .client
                        .post(server.url("/v1/tries/big/entries"))
                        .header("Content-Type", "application/json")
                        .body(body)
                        .send();
                    r.map_or(0, |r| r.status().as_u16())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for st in &statuses {
        assert!(
            (400..500).contains(st) || *st == 503,
            "a 16 MiB batch got {st}: {statuses:?}"
        );
    }
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid())).unwrap();
    let hwm_kib: u64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap();
    eprintln!("statuses {statuses:?}, peak RSS {} MiB", hwm_kib >> 10);
    assert!(hwm_kib < 1 << 20, "peak RSS {} MiB", hwm_kib >> 10);
    assert_eq!(server.get("/healthz").0, 200);
    assert_eq!(
        server.get("/v1/tries/big").0,
        404,
        "a refused batch changed something"
    );
}

/// Sends raw bytes and reads the whole answer (the server closes after it).
fn raw_exchange(addr: &str, request: &[u8]) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    // The server may answer and close before it has read everything.
    let _ = s.write_all(request);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// The answers hyper makes before the API sees a request (a request line
/// over 64 KiB, headers over its buffer, a line that is not HTTP) carry the
/// API's JSON error body like every other 4xx.
#[test]
fn answers_to_unparsable_requests_are_json_errors() {
    let server = Server::start();
    let addr = server.base.trim_start_matches("http://").to_owned();
    let long_query = format!(
        "GET /v1/tries/t/suggest?q={} HTTP/1.1\r\nHost: {addr}\r\n\r\n",
        "a".repeat(100_000)
    );
    let big_header = format!(
        "GET /healthz HTTP/1.1\r\nHost: {addr}\r\nX-Big: {}\r\n\r\n",
        "b".repeat(1_000_000)
    );
    for (request, status, code) in [
        (long_query.into_bytes(), "414", "uri_too_long"),
        (big_header.into_bytes(), "431", "headers_too_large"),
        (b"GARBAGE\r\n\r\n".to_vec(), "400", "bad_request"),
    ] {
        let answer = raw_exchange(&addr, &request);
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status} ")),
            "{code}: {answer:.200}"
        );
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: application/json"),
            "{head}"
        );
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["error"]["code"], code, "{body}");
        assert!(json["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }
    assert_eq!(server.get("/healthz").0, 200);
}

/// A keep-alive connection that goes quiet after a request is closed once
/// the idle timeout passes (here 1 s; the header timeout is 10 s).
#[test]
fn an_idle_keep_alive_connection_is_closed() {
    use std::io::{Read, Write};
    let server = Server::start_with(&["--idle-timeout", "1"]);
    let addr = server.base.trim_start_matches("http://").to_owned();
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    s.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .unwrap();
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    // Quiet now: the server closes it, well before this read's own limit.
    s.set_read_timeout(Some(Duration::from_secs(8))).unwrap();
    let started = Instant::now();
    match s.read(&mut buf) {
        Ok(0) => {}
        Ok(n) => panic!("unexpected bytes: {:?}", String::from_utf8_lossy(&buf[..n])),
        Err(e) => assert!(
            !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
            "still open after {:?}",
            started.elapsed()
        ),
    }
}

/// A body over the 16 MiB limit is answered 413 with the JSON error, and
/// the client, still uploading, reads that answer rather than a reset.
#[test]
fn an_oversized_body_gets_its_413() {
    let server = Server::start();
    let body = vec![b' '; 20 << 20];
    for _ in 0..3 {
        let r = server
            .client
            .post(server.url("/v1/tries/t/entries"))
            .header("Content-Type", "application/json")
            .body(body.clone())
            .send()
            .expect("an answer, not a reset");
        assert_eq!(r.status().as_u16(), 413);
        let json: serde_json::Value = r.json().unwrap();
        assert_eq!(json["error"]["code"], "payload_too_large");
    }
    assert_eq!(server.get("/v1/tries/t").0, 404);
}
