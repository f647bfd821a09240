//! A closed-loop load generator that speaks HTTP/1.1 or RESP (the Redis
//! protocol) the same way, so that typeahead and RediSearch are measured by
//! one client: the ranked round of `scripts/bench-http.sh`.
//!
//! Like `wrk -t1 -cN`: one thread (a current-thread tokio runtime), N
//! keep-alive connections, one request in flight per connection (no
//! pipelining), each request for a prefix drawn at random from a file. It
//! prints wrk's lines (`Requests/sec:`, the `50%` and `99%` latencies) so the
//! script reads both tools alike.
//!
//! ```text
//! loadgen http ADDR CONNS SECONDS QUERIES 'GET-PATH with {q}'
//! loadgen http ADDR CONNS SECONDS QUERIES 'POST PATH JSON-BODY with {q} and {n}'
//! loadgen resp ADDR CONNS SECONDS QUERIES 'COMMAND ARGS with {q} and {n}'
//! loadgen http 127.0.0.1:7790 50 10 q.txt '/v1/tries/ranked/suggest?q={q}&limit=10&order=score'
//! loadgen resp 127.0.0.1:7793 50 10 q.txt 'FT.SUGGET ranked {q} MAX 10 WITHSCORES WITHPAYLOADS'
//! ```
//!
//! A RESP command is split on spaces before `{q}` is put in, so a prefix
//! is always one argument. An HTTP prefix is percent-encoded in a path and
//! JSON-escaped in a body. `{n}` is a number unique to the request (writes
//! of distinct values: the durable-writes round). A non-200
//! answer or a RESP error counts as an error (reported, and the exit status
//! is 1 when every request failed).

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Clone, Copy, PartialEq)]
enum Proto {
    Http,
    Resp,
}

/// Per-connection results: latencies in microseconds and the error count.
#[derive(Default)]
struct Tally {
    micros: Vec<u32>,
    errors: u64,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 7 {
        eprintln!("usage: loadgen http|resp ADDR CONNS SECONDS QUERIES TEMPLATE");
        std::process::exit(2);
    }
    let proto = match args[1].as_str() {
        "http" => Proto::Http,
        "resp" => Proto::Resp,
        other => panic!("protocol {other:?}: http or resp"),
    };
    let addr = args[2].clone();
    let conns: usize = args[3].parse().expect("CONNS: a number");
    let secs: f64 = args[4].trim_end_matches('s').parse().expect("SECONDS");
    let queries: Vec<String> = std::fs::read_to_string(&args[5])
        .expect("read QUERIES")
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    assert!(!queries.is_empty(), "no queries in {}", args[5]);
    let template = args[6].clone();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (tallies, elapsed) = rt.block_on(async move {
        let queries = std::rc::Rc::new(queries);
        let template = std::rc::Rc::new(template);
        let local = tokio::task::LocalSet::new();
        let start = Instant::now();
        let deadline = start + Duration::from_secs_f64(secs);
        let mut tasks = Vec::new();
        for c in 0..conns {
            let (addr, queries, template) = (addr.clone(), queries.clone(), template.clone());
            tasks.push(local.spawn_local(async move {
                let seed = 42 + c as u64;
                connection(proto, &addr, &queries, &template, seed, deadline).await
            }));
        }
        let tallies = local
            .run_until(async {
                let mut out = Vec::new();
                for t in tasks {
                    out.push(t.await.expect("connection task"));
                }
                out
            })
            .await;
        (tallies, start.elapsed())
    });
    let errors: u64 = tallies.iter().map(|t| t.errors).sum();
    let mut micros: Vec<u32> = tallies.into_iter().flat_map(|t| t.micros).collect();
    micros.sort_unstable();
    let n = micros.len() as u64 + errors;
    let pct = |p: f64| -> String {
        if micros.is_empty() {
            return "-".into();
        }
        let us = micros[((micros.len() - 1) as f64 * p).round() as usize];
        if us >= 1000 {
            format!("{:.2}ms", us as f64 / 1000.0)
        } else {
            format!("{us}us")
        }
    };
    println!(
        "{n} requests in {:.2}s, {errors} errors, {conns} connections",
        elapsed.as_secs_f64()
    );
    println!("     50%   {}", pct(0.50));
    println!("     99%   {}", pct(0.99));
    println!("Requests/sec: {:.2}", n as f64 / elapsed.as_secs_f64());
    if errors > 0 && micros.is_empty() {
        std::process::exit(1);
    }
}

/// xorshift64*: the prefix each request asks for.
fn next(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

async fn connection(
    proto: Proto,
    addr: &str,
    queries: &[String],
    template: &str,
    seed: u64,
    deadline: Instant,
) -> Tally {
    let mut tally = Tally::default();
    let mut stream = connect(addr).await;
    let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut req = Vec::with_capacity(256);
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut n = seed * 1_000_000_000;
    while Instant::now() < deadline {
        let q = &queries[(next(&mut rng) % queries.len() as u64) as usize];
        n += 1;
        req.clear();
        match proto {
            Proto::Http => http_request(&mut req, template, addr, q, n),
            Proto::Resp => resp_request(&mut req, template, q, n),
        }
        let sent = Instant::now();
        buf.clear();
        let ok = match exchange(proto, &mut stream, &req, &mut buf).await {
            Some(ok) => ok,
            None => {
                // Closed or reset: an error, and a new connection (as wrk).
                stream = connect(addr).await;
                false
            }
        };
        if ok {
            tally.micros.push(sent.elapsed().as_micros() as u32);
        } else {
            tally.errors += 1;
        }
    }
    tally
}

async fn connect(addr: &str) -> TcpStream {
    let stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    stream
}

/// Sends one request and reads its whole answer: whether it succeeded, or
/// `None` when the connection closed or failed first.
async fn exchange(
    proto: Proto,
    stream: &mut TcpStream,
    req: &[u8],
    buf: &mut Vec<u8>,
) -> Option<bool> {
    stream.write_all(req).await.ok()?;
    loop {
        let done = match proto {
            Proto::Http => http_complete(buf),
            Proto::Resp => resp_complete(buf, 0).map(|end| (end, buf[0] != b'-')),
        };
        if let Some((end, ok)) = done {
            assert_eq!(end, buf.len(), "an answer nobody asked for");
            return Some(ok);
        }
        if stream.read_buf(buf).await.ok()? == 0 {
            return None;
        }
    }
}

fn http_request(out: &mut Vec<u8>, template: &str, host: &str, q: &str, n: u64) {
    if let Some(rest) = template.strip_prefix("POST ") {
        let (path, body) = rest.split_once(' ').unwrap_or((rest, ""));
        let quoted = serde_json::to_string(q).expect("a string");
        let body = body
            .replace("{q}", &quoted[1..quoted.len() - 1])
            .replace("{n}", &n.to_string());
        out.extend_from_slice(
            format!(
                "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        );
        return;
    }
    let mut enc = String::with_capacity(q.len() * 3);
    for b in q.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            enc.push(b as char);
        } else {
            enc.push_str(&format!("%{b:02X}"));
        }
    }
    let path = template.replace("{q}", &enc);
    out.extend_from_slice(format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes());
}

fn resp_request(out: &mut Vec<u8>, template: &str, q: &str, n: u64) {
    let parts: Vec<&str> = template.split(' ').filter(|p| !p.is_empty()).collect();
    out.extend_from_slice(format!("*{}\r\n", parts.len()).as_bytes());
    for p in parts {
        let arg = p.replace("{q}", q).replace("{n}", &n.to_string());
        out.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
    }
}

/// Where a whole HTTP response ends (headers and a Content-Length body),
/// and whether its status is 200.
fn http_complete(buf: &[u8]) -> Option<(usize, bool)> {
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&buf[..head_end]).expect("ASCII headers");
    let ok = head.split(' ').nth(1) == Some("200");
    let len = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().expect("Content-Length"))
        })
        .expect("a Content-Length header");
    (buf.len() >= head_end + len).then_some((head_end + len, ok))
}

/// Where the RESP reply starting at `at` ends, if it is all in `buf`.
fn resp_complete(buf: &[u8], at: usize) -> Option<usize> {
    let line_end = at + buf.get(at..)?.windows(2).position(|w| w == b"\r\n")?;
    let after = line_end + 2;
    let num = || -> i64 {
        std::str::from_utf8(&buf[at + 1..line_end])
            .expect("RESP length")
            .parse()
            .expect("RESP length")
    };
    match buf[at] {
        b'+' | b'-' | b':' => Some(after),
        b'$' => {
            let n = num();
            let end = if n < 0 { after } else { after + n as usize + 2 };
            (buf.len() >= end).then_some(end)
        }
        b'*' => {
            let mut pos = after;
            for _ in 0..num().max(0) {
                pos = resp_complete(buf, pos)?;
            }
            Some(pos)
        }
        other => panic!("not RESP: {:?}", other as char),
    }
}
