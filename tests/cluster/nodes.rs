//! Helpers of the cluster tests: a database per test, nodes as processes,
//! requests that report positions, and writes retried through a change of
//! writer.

use std::collections::BTreeMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use reqwest::Method;
use serde_json::Value as Json;

use crate::common::Server;

/// A fresh database named `name` on the test server, as a URL.
pub fn database(name: &str) -> Option<String> {
    let Ok(url) = std::env::var("TYPEAHEAD_TEST_POSTGRES") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but TYPEAHEAD_TEST_POSTGRES is not: start PostgreSQL (scripts/pg-local.sh)"
        );
        eprintln!("not run: TYPEAHEAD_TEST_POSTGRES is not set (see scripts/pg-local.sh)");
        return None;
    };
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
    for sql in [
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        format!("CREATE DATABASE {name}"),
    ] {
        admin.batch_execute(&sql).expect("create the test database");
    }
    let (base, _) = url.rsplit_once('/').expect("a URL with a database");
    Some(format!("{base}/{name}"))
}

pub fn node(url: &str, extra: &[&str]) -> Server {
    let mut args = vec!["--postgres", url];
    args.extend_from_slice(extra);
    Server::start_with(&args)
}

pub fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// An answer: status, JSON body, and the `Typeahead-Position` header.
pub struct Answer {
    pub status: u16,
    pub json: Json,
    pub position: Option<u64>,
}

pub fn call(
    c: &Client,
    method: Method,
    url: &str,
    body: Option<&Json>,
    idem: Option<&str>,
) -> Option<Answer> {
    let mut rb = c.request(method, url);
    if let Some(b) = body {
        rb = rb.json(b);
    }
    if let Some(k) = idem {
        rb = rb.header("Idempotency-Key", k);
    }
    let res = rb.send().ok()?;
    let status = res.status().as_u16();
    let position = res
        .headers()
        .get("typeahead-position")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let json = res.json().unwrap_or(Json::Null);
    Some(Answer {
        status,
        json,
        position,
    })
}

/// Sends one write with its idempotency key to the nodes in turn until
/// one acknowledges it (2xx) or refuses it (4xx), retrying the same key
/// through 503s and dropped connections (a writer changing) for up to 30 s.
pub fn write(
    c: &Client,
    bases: &RwLock<Vec<String>>,
    first: usize,
    method: Method,
    path: &str,
    body: &Json,
    idem: &str,
) -> Option<Answer> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut i = first;
    while Instant::now() < deadline {
        let base = {
            let b = bases.read().unwrap();
            b[i % b.len()].clone()
        };
        i += 1;
        match call(
            c,
            method.clone(),
            &format!("{base}{path}"),
            Some(body),
            Some(idem),
        ) {
            Some(a) if a.status < 500 => return Some(a),
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    None
}

/// The cluster as `base` sees it.
pub fn cluster(c: &Client, base: &str) -> Json {
    call(c, Method::GET, &format!("{base}/v1/cluster"), None, None)
        .expect("GET /v1/cluster")
        .json
}

/// The index in `nodes` of the writer, as the first node that says it is.
pub fn writer_index(c: &Client, nodes: &[Server]) -> usize {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        for (i, n) in nodes.iter().enumerate() {
            if cluster(c, &n.base)["role"] == "writer" {
                return i;
            }
        }
        assert!(Instant::now() < deadline, "no node became the writer");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Everything a node holds of the trie "t" under `prefix` (key -> values),
/// once it has applied `position`.
pub fn trie_on(c: &Client, base: &str, prefix: &str, position: u64) -> BTreeMap<String, Vec<Json>> {
    let url = format!("{base}/v1/tries/t/suggest?q={prefix}&limit=1000&min_position={position}");
    let a = call(c, Method::GET, &url, None, None).expect("suggest");
    assert_eq!(a.status, 200, "{}", a.json);
    let mut out: BTreeMap<String, Vec<Json>> = BTreeMap::new();
    for e in a.json["entries"].as_array().expect("entries") {
        out.entry(e["key"].as_str().unwrap().to_owned())
            .or_default()
            .push(e["value"].clone());
    }
    out
}

/// Terminates the database backends of the node advertised at `base`.
pub fn cut(url: &str, base: &str) -> i64 {
    let mut admin = postgres::Client::connect(url, postgres::NoTls).expect("connect");
    let row = admin
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
            &[&format!("typeahead {base}")],
        )
        .expect("terminate");
    row.get(0)
}
