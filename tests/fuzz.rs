//! A seeded, bounded fuzz of paths, query strings, methods, content types
//! and bodies against the real server: every answer is 2xx or 4xx (never 5xx,
//! never a dropped connection), every 4xx is the API's JSON error with a code
//! that matches its status, and the server is healthy afterwards.

mod common;

use std::collections::BTreeMap;

use common::{enc, Server};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::{json, Value as Json};

const SEED: u64 = 0x7A9E_A4EA_D000_0004;
const REQUESTS: usize = 1500;

/// Routes of the v1 API with the method each is meant for; `{n}` is a name,
/// `{k}` a key. The write routes and suggest appear twice (more weight).
const ROUTES: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/metrics"),
    ("GET", "/v1/openapi.json"),
    ("GET", "/v1/tries"),
    ("GET", "/v1/tries/{n}"),
    ("PUT", "/v1/tries/{n}"),
    ("DELETE", "/v1/tries/{n}"),
    ("POST", "/v1/tries/{n}/entries"),
    ("POST", "/v1/tries/{n}/entries"),
    ("POST", "/v1/tries/{n}/remove"),
    ("GET", "/v1/tries/{n}/keys/{k}"),
    ("DELETE", "/v1/tries/{n}/keys/{k}"),
    ("GET", "/v1/tries/{n}/suggest"),
    ("GET", "/v1/tries/{n}/suggest"),
    ("POST", "/v1/stacks/{n}/push"),
    ("POST", "/v1/stacks/{n}/push"),
    ("POST", "/v1/stacks/{n}/pop"),
    ("GET", "/v1/stacks/{n}"),
    ("DELETE", "/v1/stacks/{n}"),
    ("PUT", "/v1/caches/{n}/keys/{k}"),
    ("PUT", "/v1/caches/{n}/keys/{k}"),
    ("GET", "/v1/caches/{n}/keys/{k}"),
    ("POST", "/v1/caches/{n}/keys/{k}/incr"),
    ("POST", "/v1/caches/{n}/keys/{k}/incr"),
    ("DELETE", "/v1/caches/{n}/keys/{k}"),
    ("GET", "/v1/caches/{n}"),
    ("DELETE", "/v1/caches/{n}"),
];

/// The error codes of the API and their statuses.
const CODES: &[(&str, u16)] = &[
    ("invalid_json", 400),
    ("invalid_name", 400),
    ("invalid_key", 400),
    ("invalid_value", 400),
    ("invalid_limit", 400),
    ("invalid_score", 400),
    ("invalid_query", 400),
    ("invalid_settings", 400),
    ("settings_conflict", 409),
    ("overflow", 400),
    ("not_found", 404),
    ("empty", 404),
    ("method_not_allowed", 405),
    ("payload_too_large", 413),
    ("unsupported_media_type", 415),
    ("unauthorized", 401),
];

struct Gen {
    rng: StdRng,
}

impl Gen {
    fn pick<'a, T: ?Sized>(&mut self, items: &'a [&'a T]) -> &'a T {
        items.choose(&mut self.rng).expect("non-empty")
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.gen_bool(p)
    }

    /// A random char: mostly ASCII, some Latin-1, Cyrillic, CJK, emoji,
    /// controls and the odd ones out.
    fn char(&mut self) -> char {
        match self.rng.gen_range(0..10) {
            0..=4 => self.rng.gen_range(b' '..=b'~') as char,
            5 => self.rng.gen_range('\u{80}'..='\u{2FF}'),
            6 => self.rng.gen_range('\u{400}'..='\u{4FF}'),
            7 => self.rng.gen_range('\u{4E00}'..='\u{9FFF}'),
            8 => self.rng.gen_range('\u{1F300}'..='\u{1FAFF}'),
            _ => *[
                '\0',
                '\t',
                '\n',
                '\u{7F}',
                '\u{FEFF}',
                '\u{FFFD}',
                '\u{10FFFF}',
                '/',
                '?',
                '%',
                '#',
                '+',
                '&',
                '=',
                '"',
                '\\',
            ]
            .choose(&mut self.rng)
            .unwrap(),
        }
    }

    fn string(&mut self, max: usize) -> String {
        let n = self.rng.gen_range(0..=max);
        (0..n).map(|_| self.char()).collect()
    }

    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = self.rng.gen_range(0..=max);
        (0..n).map(|_| self.rng.gen()).collect()
    }

    /// Bytes as a percent-encoded path segment or query value.
    fn enc_bytes(b: &[u8]) -> String {
        percent_encoding::percent_encode(b, percent_encoding::NON_ALPHANUMERIC).to_string()
    }

    fn name(&mut self) -> String {
        if self.chance(0.75) {
            return self
                .pick(&["f1", "f2", "F_3", "z-9", "users", &"n".repeat(64)])
                .to_string();
        }
        match self.rng.gen_range(0..8) {
            0 => "a.b".into(),
            1 => "a%20b".into(),
            2 => "n".repeat(65),
            3 => "%FF".into(),
            4 => enc("é"),
            5 => String::new(),
            6 => enc(&self.string(8)),
            _ => Self::enc_bytes(&self.bytes(6)),
        }
    }

    fn key_text(&mut self) -> String {
        if self.chance(0.6) {
            self.pick(&[
                "go", "gopher", "git", "g", "é", "a/b", "50% off", "日本", "🦀", "k k",
            ])
            .to_string()
        } else if self.chance(0.1) {
            "k".repeat(self.rng.gen_range(1000..1100))
        } else {
            self.string(12)
        }
    }

    fn key_segment(&mut self) -> String {
        if self.chance(0.85) {
            enc(&self.key_text())
        } else {
            Self::enc_bytes(&self.bytes(8))
        }
    }

    fn limit(&mut self) -> String {
        if self.chance(0.7) {
            self.pick(&[
                "1",
                "10",
                "1000",
                "0",
                "1001",
                "-1",
                "x",
                "",
                "1.5",
                "1e3",
                "%FF",
                "+5",
                " 5",
                "007",
                "18446744073709551616",
                "99999999999999999999999",
            ])
            .to_string()
        } else {
            self.rng.gen_range(0u32..2000).to_string()
        }
    }

    fn query(&mut self) -> String {
        let n = self.rng.gen_range(0..5);
        let mut parts = Vec::new();
        for _ in 0..n {
            let part = match self.rng.gen_range(0..12) {
                0..=2 => format!("q={}", enc(&self.key_text())),
                3 => format!("q={}", Self::enc_bytes(&self.bytes(10))),
                4 | 5 => format!("limit={}", enc(&self.limit())),
                6 => format!("{}={}", enc(&self.string(4)), enc(&self.string(6))),
                7 => self
                    .pick(&[
                        "q", "limit", "=", "&", "q=a+b", "q=%zz", "limit=%", "q=%", "x=%E9",
                    ])
                    .to_string(),
                8 => format!(
                    "order={}",
                    self.pick(&["key", "score", "Score", "", "%FF", "score&order=key"])
                ),
                9 => format!(
                    "dedupe={}",
                    self.pick(&["value", "none", "values", "", "%E9", "value&dedupe=none"])
                ),
                10 => format!(
                    "fuzzy={}",
                    self.pick(&["0", "1", "2", "auto", "3", "", "-1", "%E9", "1&fuzzy=2"])
                ),
                _ => format!("limit={}&limit={}", self.limit(), self.limit()),
            };
            parts.push(part);
        }
        if parts.is_empty() && self.chance(0.5) {
            return "?".into();
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!("?{}", parts.join("&"))
        }
    }

    fn number(&mut self) -> Json {
        match self.rng.gen_range(0..6) {
            0 => json!(self.rng.gen_range(-100i64..100)),
            1 => json!(self.rng.gen::<i64>()),
            2 => json!(*[i64::MAX, i64::MIN, 0, -1].choose(&mut self.rng).unwrap()),
            3 => json!(u64::MAX),
            4 => json!(self.rng.gen::<f64>() * 1e6),
            _ => json!(self.rng.gen_range(-1e300..1e300)),
        }
    }

    fn json(&mut self, depth: usize) -> Json {
        let kinds = if depth == 0 { 4 } else { 6 };
        match self.rng.gen_range(0..kinds) {
            0 => Json::Null,
            1 => json!(self.chance(0.5)),
            2 => self.number(),
            3 => json!(self.string(10)),
            4 => {
                let n = self.rng.gen_range(0..5);
                Json::Array((0..n).map(|_| self.json(depth - 1)).collect())
            }
            _ => {
                let n = self.rng.gen_range(0..5);
                let mut m = serde_json::Map::new();
                for _ in 0..n {
                    let k = if self.chance(0.5) {
                        self.pick(&["key", "value", "by", "entries", "a", "b"])
                            .to_string()
                    } else {
                        self.string(5)
                    };
                    let v = self.json(depth - 1);
                    m.insert(k, v);
                }
                Json::Object(m)
            }
        }
    }

    /// A value for the API: mostly valid, sometimes null or oversized.
    fn value(&mut self) -> Json {
        match self.rng.gen_range(0..10) {
            0 => Json::Null,
            1 => json!("v".repeat(self.rng.gen_range(4000..4200))),
            _ => self.json(3),
        }
    }

    fn entry(&mut self) -> Json {
        match self.rng.gen_range(0..13) {
            0 => json!({"key": self.json(1), "value": self.value()}),
            1 => json!({"key": self.key_text()}),
            2 => self.json(2),
            3 => json!({"key": self.key_text(), "value": self.value(), "score": self.number()}),
            4 => json!({"key": self.key_text(), "value": self.value(), "incr": self.number()}),
            5 => {
                let (score, incr) = (self.json(1), self.number());
                let mut e = json!({"key": self.key_text(), "value": self.value(), "score": score});
                if self.chance(0.5) {
                    e["incr"] = incr;
                }
                e
            }
            _ => json!({"key": self.key_text(), "value": self.value()}),
        }
    }

    fn deep(&mut self) -> String {
        let depth = self.rng.gen_range(1..=200);
        let (open, close) = match self.rng.gen_range(0..3) {
            0 => ("[", "]"),
            1 => ("{\"a\":", "}"),
            _ => ("[{\"value\":", "}]"),
        };
        let inner = format!("{}1{}", open.repeat(depth), close.repeat(depth));
        match self.rng.gen_range(0..4) {
            0 => inner,
            1 => format!("{{\"value\":{inner}}}"),
            2 => format!("{{\"entries\":[{{\"key\":\"deep\",\"value\":{inner}}}]}}"),
            _ => format!("{{\"by\":{inner}}}"),
        }
    }

    /// A body meant for `path` (or anything else).
    fn body(&mut self, path: &str) -> Vec<u8> {
        let valid = |g: &mut Gen| -> Json {
            if path.ends_with("/entries") || path.ends_with("/remove") {
                let n = g.rng.gen_range(0..20);
                json!({"entries": (0..n).map(|_| g.entry()).collect::<Vec<_>>()})
            } else if path.ends_with("/incr") {
                if g.chance(0.3) {
                    json!({})
                } else {
                    json!({"by": g.number()})
                }
            } else if path.starts_with("/v1/tries/") {
                json!({"fold": g.pick(&["none", "case", "full", "Full", "", "nfkc"])})
            } else if path.contains("/caches/") {
                json!({"value": g.number()})
            } else {
                json!({"value": g.value()})
            }
        };
        match self.rng.gen_range(0..12) {
            0..=3 => valid(self).to_string().into_bytes(),
            4 => self.json(4).to_string().into_bytes(),
            5 => {
                let text = valid(self).to_string();
                let cut = self.rng.gen_range(0..=text.len());
                let mut b = text.into_bytes();
                b.truncate(cut);
                b
            }
            6 => self.bytes(64),
            7 => {
                let n = self.pick(&[
                    "1e400",
                    "-1e400",
                    "123456789012345678901234567890",
                    "9223372036854775807",
                    "9223372036854775808",
                    "-9223372036854775809",
                    "1e-400",
                    "0.000000000000000000000000000001",
                    "-0",
                    "1E+2",
                ]);
                let field = self.pick(&["value", "by"]);
                match self.rng.gen_range(0..3) {
                    0 => format!("{{\"{field}\":{n}}}"),
                    1 => format!("{{\"entries\":[{{\"key\":\"n\",\"value\":{n}}}]}}"),
                    _ => n.to_string(),
                }
                .into_bytes()
            }
            8 => self.deep().into_bytes(),
            9 => {
                // Wrong types.
                let j = match self.rng.gen_range(0..8) {
                    0 => json!({"entries": "x"}),
                    1 => json!({"entries": [1, 2]}),
                    2 => json!({"entries": {}}),
                    3 => json!({"value": {"nested": [null]}, "by": "1"}),
                    4 => json!({"by": "1"}),
                    5 => json!({"by": [1]}),
                    6 => json!([{"key": "a", "value": 1}]),
                    _ => json!("entries"),
                };
                j.to_string().into_bytes()
            }
            10 => {
                // Unicode and escapes, some invalid.
                let s = self.pick(&[
                    r#"{"value":"\ud800"}"#,
                    r#"{"value":"\udc00\ud800"}"#,
                    r#"{"value":"\ud83d\ude00"}"#,
                    r#"{"value":"\u0000"}"#,
                    r#"{"entries":[{"key":"\u00e9\u0301","value":"\uFFFF"}]}"#,
                    r#"{"entries":[{"key":"\ud800","value":1}]}"#,
                    "{\"value\":\"\u{FEFF}\u{202E}\u{10FFFF}\"}",
                    "\u{FEFF}{\"value\":1}",
                    r#"{"value":"\x41"}"#,
                    r#"{"entries":[{"key":"k","value":1,"score":1e400}]}"#,
                    r#"{"entries":[{"key":"k","value":1,"incr":-1e999,"score":2}]}"#,
                    r#"{"entries":[{"key":"k","value":1,"score":01}]}"#,
                    r#"{"entries":[{"key":"k","value":1,"incr":1.7e308},{"key":"k","value":1,"incr":1.7e308}]}"#,
                ]);
                s.as_bytes().to_vec()
            }
            _ => Vec::new(),
        }
    }

    fn content_type(&mut self) -> Option<String> {
        if self.chance(0.65) {
            return Some("application/json".into());
        }
        match self.rng.gen_range(0..9) {
            0 => None,
            1 => Some("application/json; charset=utf-8".into()),
            2 => Some("text/plain".into()),
            3 => Some(String::new()),
            4 => Some("application/x-www-form-urlencoded".into()),
            5 => Some("application/vnd.api+json".into()),
            6 => Some("APPLICATION/JSON".into()),
            7 => Some("multipart/form-data; boundary=x".into()),
            _ => Some(
                (0..self.rng.gen_range(1..20))
                    .map(|_| self.rng.gen_range(b'!'..=b'~') as char)
                    .collect(),
            ),
        }
    }

    fn method(&mut self, natural: &str) -> Method {
        let m = if self.chance(0.85) {
            natural
        } else {
            self.pick(&["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"])
        };
        Method::from_bytes(m.as_bytes()).expect("method")
    }
}

#[test]
fn fuzzed_requests_never_fail_the_server() {
    let mut s = Server::start();
    // Fixed by default; TYPEAHEAD_FUZZ_SEED / TYPEAHEAD_FUZZ_REQUESTS
    // explore further by hand.
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    let seed = env("TYPEAHEAD_FUZZ_SEED").unwrap_or(SEED);
    let requests = env("TYPEAHEAD_FUZZ_REQUESTS").map_or(REQUESTS, |n| n as usize);
    let mut g = Gen {
        rng: StdRng::seed_from_u64(seed),
    };
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    let mut codes: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..requests {
        let (natural, tpl) = *ROUTES.choose(&mut g.rng).unwrap();
        let mut path = tpl.to_string();
        if path.contains("{n}") {
            path = path.replace("{n}", &g.name());
        }
        if path.contains("{k}") {
            path = path.replace("{k}", &g.key_segment());
        }
        if path.ends_with("/suggest") || g.chance(0.1) {
            path.push_str(&g.query());
        }
        let method = g.method(natural);
        let with_body = matches!(method, Method::POST | Method::PUT) || g.chance(0.15);
        let mut rb = s.req(method.clone(), &path);
        let mut desc = format!("seed {seed} #{i} {method} {path}");
        if with_body {
            let body = g.body(&path);
            if let Some(ct) = g.content_type() {
                desc.push_str(&format!(" [content-type {ct:?}]"));
                rb = rb.header("content-type", ct);
            }
            desc.push_str(&format!(
                " body {:?}",
                String::from_utf8_lossy(&body[..body.len().min(300)])
            ));
            rb = rb.body(body);
        }
        let res = match rb.send() {
            Ok(r) => r,
            Err(e) => panic!(
                "{desc}: no answer ({e:?}); server alive: {}\nlog tail:\n{}",
                s.alive(),
                s.log_tail(30)
            ),
        };
        let status = res.status().as_u16();
        let ct = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let bytes = match res.bytes() {
            Ok(b) => b,
            Err(e) => panic!("{desc}: body cut off ({e:?})"),
        };
        let text = String::from_utf8_lossy(&bytes);
        *statuses.entry(status).or_default() += 1;
        assert!(
            (200..300).contains(&status) || (400..500).contains(&status),
            "{desc}: got {status} {text}"
        );
        if method == Method::HEAD {
            continue;
        }
        if status >= 400 {
            assert!(
                ct.starts_with("application/json"),
                "{desc}: {status} with content-type {ct:?}: {text}"
            );
            let body: Json = serde_json::from_slice(&bytes)
                .unwrap_or_else(|e| panic!("{desc}: {status} body is not JSON ({e}): {text}"));
            let code = body
                .pointer("/error/code")
                .and_then(Json::as_str)
                .unwrap_or_else(|| panic!("{desc}: {status} without error.code: {text}"));
            assert!(
                body.pointer("/error/message")
                    .and_then(Json::as_str)
                    .is_some_and(|m| !m.is_empty()),
                "{desc}: no message: {text}"
            );
            *codes.entry(code.to_owned()).or_default() += 1;
            // Every code is one of the API's, with its status.
            match CODES.iter().find(|(c, _)| *c == code) {
                Some((_, st)) => assert_eq!(*st, status, "{desc}: {code} with {status}"),
                None => panic!("{desc}: error code {code:?} ({status}) is not the API's: {text}"),
            }
        } else if status != 204 && !path.starts_with("/metrics") {
            assert!(
                ct.starts_with("application/json"),
                "{desc}: {status} with content-type {ct:?}"
            );
            serde_json::from_slice::<Json>(&bytes)
                .unwrap_or_else(|e| panic!("{desc}: {status} body is not JSON ({e}): {text}"));
        }
    }
    eprintln!("statuses: {statuses:?}\nerror codes: {codes:?}");
    assert!(s.alive(), "server exited");
    // Enough of each kind to mean something.
    assert!(
        statuses.get(&200).copied().unwrap_or(0) > 200,
        "{statuses:?}"
    );
    assert!(
        codes.get("invalid_json").copied().unwrap_or(0) > 20,
        "{codes:?}"
    );

    // Still healthy and working.
    let (st, body, _) = s.get("/healthz");
    assert_eq!((st, body), (200, json!({"status": "ok"})));
    let (st, body, _) = s.post_json(
        "/v1/tries/after/entries",
        &json!({"entries": [{"key": "gopher", "value": {"ok": true}}, {"key": "go", "value": 1}]}),
    );
    assert_eq!(
        (st, body),
        (
            200,
            json!({"added": 2, "updated": 0, "unchanged": 0, "existing": 0})
        )
    );
    let (st, body, _) = s.get("/v1/tries/after/suggest?q=go");
    assert_eq!(
        (st, body),
        (
            200,
            json!({"entries": [
                {"key": "go", "value": 1, "score": 0, "highlight": [0, 2]},
                {"key": "gopher", "value": {"ok": true}, "score": 0, "highlight": [0, 2]}
            ]})
        )
    );
    let (st, _, _) = s.get("/v1/tries");
    assert_eq!(st, 200);
    let logs = s.logs();
    assert!(!logs.contains("panicked"), "the server panicked:\n{logs}");
    // And it restarts on what the fuzz wrote.
    assert!(s.restart().success(), "clean shutdown after the fuzz");
    let (st, body, _) = s.get("/v1/tries/after/suggest?q=go");
    assert_eq!(st, 200);
    assert_eq!(body["entries"].as_array().map(Vec::len), Some(2));
}
