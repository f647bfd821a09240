//! Follower lag, measured from outside: every `INTERVAL_MS` one write to
//! the writer, then, as soon as it is acknowledged, a read on the follower
//! that waits for the write's position (`min_position`). The read answers
//! once the follower has applied the write, so its latency is the follower's
//! lag behind the acknowledgement plus one loopback round trip. Prints the
//! p50, p99 and max over `SAMPLES` writes.
//!
//! ```text
//! lag_probe WRITER_URL FOLLOWER_URL [SAMPLES] [INTERVAL_MS]
//! ```

use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: lag_probe WRITER_URL FOLLOWER_URL [SAMPLES] [INTERVAL_MS]");
        std::process::exit(2);
    }
    let (writer, follower) = (&args[1], &args[2]);
    let samples: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(500);
    let interval = Duration::from_millis(args.get(4).and_then(|s| s.parse().ok()).unwrap_or(10));
    let c = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let mut lags = Vec::with_capacity(samples);
    for i in 0..samples {
        let started = Instant::now();
        let body = format!(r#"{{"entries":[{{"key":"lagprobe{i}","value":{i}}}]}}"#);
        let res = c
            .post(format!("{writer}/v1/tries/lagprobe/entries"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .expect("write");
        assert!(res.status().is_success(), "write answered {}", res.status());
        let position = res
            .headers()
            .get("typeahead-position")
            .and_then(|v| v.to_str().ok())
            .expect("a position header")
            .to_owned();
        let acked = Instant::now();
        let read = c
            .get(format!(
                "{follower}/v1/tries/lagprobe/keys/lagprobe{i}?min_position={position}"
            ))
            .send()
            .expect("read");
        assert!(
            read.status().is_success(),
            "read answered {}",
            read.status()
        );
        lags.push(acked.elapsed());
        if let Some(rest) = interval.checked_sub(started.elapsed()) {
            std::thread::sleep(rest);
        }
    }
    lags.sort();
    let at = |q: f64| lags[((lags.len() as f64 * q) as usize).min(lags.len() - 1)];
    println!(
        "follower lag over {} writes: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        lags.len(),
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        lags[lags.len() - 1].as_secs_f64() * 1e3
    );
}
