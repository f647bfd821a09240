//! Starts the real `typeahead` binary as a child process on 127.0.0.1:0 with
//! a temporary data directory, and talks to it over HTTP.
//!
//! Readiness is the server's own log line "listening on http://ADDR" on
//! stderr (no sleeps); stderr keeps being drained by a background thread so
//! the child never blocks on a full pipe, and the lines are kept so a failing
//! test can show them.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::blocking::{Client, RequestBuilder};
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::Value as Json;

/// How long the server may take to say where it listens.
const START_DEADLINE: Duration = Duration::from_secs(60);
/// How long a graceful stop may take.
const STOP_DEADLINE: Duration = Duration::from_secs(60);

/// Everything a test needs from one answer.
#[derive(Debug)]
pub struct Resp {
    /// HTTP status.
    pub status: u16,
    /// The body parsed as JSON, or `Null` when empty or not JSON.
    pub json: Json,
    /// The body as text (lossy).
    pub text: String,
    /// Response headers.
    pub headers: HeaderMap,
}

impl Resp {
    /// The `Content-Type` header, or "".
    pub fn content_type(&self) -> &str {
        self.headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// A header as text, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Panics unless this is the API's error shape with that status and code:
    /// `{"error": {"code": code, "message": "..."}}` as `application/json`.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_error_parts(
            self.status,
            &self.json,
            &self.headers,
            status,
            code,
            &self.text,
        );
    }
}

/// As [`Resp::assert_error`], on a `(status, json, headers)` tuple.
#[track_caller]
pub fn assert_error(r: &(u16, Json, HeaderMap), status: u16, code: &str) {
    assert_error_parts(r.0, &r.1, &r.2, status, code, &r.1.to_string());
}

#[track_caller]
fn assert_error_parts(
    got_status: u16,
    json: &Json,
    headers: &HeaderMap,
    status: u16,
    code: &str,
    text: &str,
) {
    assert_eq!(
        got_status, status,
        "expected {status} {code}, got {got_status}: {text}"
    );
    let ct = headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(
        ct.starts_with("application/json"),
        "error {status} {code} has Content-Type {ct:?}, body {text}"
    );
    assert_eq!(
        json.pointer("/error/code").and_then(Json::as_str),
        Some(code),
        "wrong error code (expected {status} {code}): {text}"
    );
    let message = json.pointer("/error/message").and_then(Json::as_str);
    assert!(
        message.is_some_and(|m| !m.is_empty()),
        "error without a message: {text}"
    );
    assert_eq!(
        json.as_object().map(|o| o.len()),
        Some(1),
        "error body has more than \"error\": {text}"
    );
}

/// Percent-encodes a path segment or query value: everything but ASCII
/// letters and digits.
pub fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// A running `typeahead serve`.
pub struct Server {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub base: String,
    /// A client with a generous timeout.
    pub client: Client,
    /// The data directory (a temp dir owned by this server).
    pub data_dir: PathBuf,
    _dir: tempfile::TempDir,
    args: Vec<String>,
    /// Extra environment variables for the next (re)start.
    pub envs: Vec<(String, String)>,
    child: Option<Child>,
    logs: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// `typeahead serve` with no extra arguments.
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// `typeahead serve --addr 127.0.0.1:0 --data-dir <tmp> <extra...>`.
    pub fn start_with(extra: &[&str]) -> Server {
        Server::start_with_env(extra, &[])
    }

    /// As [`Server::start_with`], on the data directory `dir` (which the
    /// caller owns).
    pub fn start_in(dir: &std::path::Path, extra: &[&str]) -> Server {
        let mut server = Server::start_with_env_unspawned(extra, &[]);
        server.data_dir = dir.to_path_buf();
        server.spawn();
        server
    }

    /// As [`Server::start_with`], with extra environment variables.
    pub fn start_with_env(extra: &[&str], envs: &[(&str, &str)]) -> Server {
        let mut server = Server::start_with_env_unspawned(extra, envs);
        server.spawn();
        server
    }

    fn start_with_env_unspawned(extra: &[&str], envs: &[(&str, &str)]) -> Server {
        let dir = tempfile::TempDir::new().expect("temp data dir");
        let client = Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .expect("http client");
        let server = Server {
            base: String::new(),
            client,
            data_dir: dir.path().to_path_buf(),
            _dir: dir,
            args: extra.iter().map(|s| s.to_string()).collect(),
            envs: envs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            child: None,
            logs: Arc::new(Mutex::new(Vec::new())),
        };
        server
    }

    fn spawn(&mut self) {
        let bin = assert_cmd::cargo::cargo_bin("typeahead");
        let mut child = Command::new(&bin)
            .arg("serve")
            .arg("--addr")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(&self.args)
            .env("RUST_LOG", "info")
            // Environment variables the CLI also reads must not leak in.
            .env_remove("TYPEAHEAD_TOKEN")
            .env_remove("TYPEAHEAD_CORS_ORIGIN")
            .env_remove("TYPEAHEAD_DEMO")
            .env_remove("TYPEAHEAD_ADDR")
            .env_remove("TYPEAHEAD_DATA_DIR")
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {}: {e}", bin.display()));
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = mpsc::channel::<String>();
        let logs = Arc::clone(&self.logs);
        // Reads every line until the child closes stderr; the first lines go
        // to the channel too (until the receiver is gone).
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(t) = &tx {
                    if t.send(line.clone()).is_err() {
                        tx = None;
                    }
                }
                logs.lock().unwrap().push(line);
            }
        });
        self.child = Some(child);
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.split("listening on http://").nth(1) {
                        let addr = rest.split_whitespace().next().unwrap_or_default();
                        let addr = addr.trim_end_matches(|c: char| !c.is_ascii_digit());
                        assert!(!addr.is_empty(), "no address in {line:?}");
                        self.base = format!("http://{addr}");
                        return;
                    }
                }
                Err(e) => {
                    let status = self
                        .child
                        .as_mut()
                        .and_then(|c| c.try_wait().ok().flatten());
                    panic!(
                        "server did not say where it listens ({e:?}, exit status {status:?}); log:\n{}",
                        self.logs()
                    );
                }
            }
        }
    }

    /// Everything the server wrote to stderr so far.
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Whether the process is still running (it has not exited).
    pub fn alive(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Sends SIGTERM and waits for the process to exit (graceful shutdown).
    pub fn stop(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("server is running");
        let pid = child.id().to_string();
        let ok = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill")
            .success();
        assert!(ok, "kill -TERM {pid} failed");
        let deadline = Instant::now() + STOP_DEADLINE;
        loop {
            if let Some(status) = child.try_wait().expect("wait for the server") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "server did not stop within {STOP_DEADLINE:?} of SIGTERM; log:\n{}",
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server gracefully (SIGTERM, then waits) and starts it again
    /// on the same data directory with the same arguments. `base` changes.
    /// Returns how the old process exited.
    pub fn restart(&mut self) -> ExitStatus {
        let status = self.stop();
        self.spawn();
        status
    }

    /// Kills the server with SIGKILL (no shutdown at all) and starts it
    /// again on the same data directory with the same arguments.
    pub fn crash_restart(&mut self) {
        let mut child = self.child.take().expect("server is running");
        child.kill().expect("SIGKILL the server");
        child.wait().expect("wait for the killed server");
        self.spawn();
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A request builder for `method` on `path`.
    pub fn req(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// Sends a request; panics on a transport error (a dropped connection).
    #[track_caller]
    pub fn send(&self, rb: RequestBuilder) -> Resp {
        let res = match rb.send() {
            Ok(r) => r,
            Err(e) => panic!(
                "request failed: {e:?}\nserver log tail:\n{}",
                self.log_tail(40)
            ),
        };
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let bytes = res.bytes().expect("read the body");
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let json = serde_json::from_slice(&bytes).unwrap_or(Json::Null);
        Resp {
            status,
            json,
            text,
            headers,
        }
    }

    /// The last `n` lines of the log.
    pub fn log_tail(&self, n: usize) -> String {
        let logs = self.logs.lock().unwrap();
        let start = logs.len().saturating_sub(n);
        logs[start..].join("\n")
    }

    /// `GET path`.
    #[track_caller]
    pub fn get(&self, path: &str) -> (u16, Json, HeaderMap) {
        self.send(self.req(Method::GET, path)).into_tuple()
    }

    /// `GET path`, the whole answer (text included).
    #[track_caller]
    pub fn get_raw(&self, path: &str) -> Resp {
        self.send(self.req(Method::GET, path))
    }

    /// `POST path` with `body` as JSON.
    #[track_caller]
    pub fn post_json(&self, path: &str, body: &Json) -> (u16, Json, HeaderMap) {
        self.send(self.req(Method::POST, path).json(body))
            .into_tuple()
    }

    /// `PUT path` with `body` as JSON.
    #[track_caller]
    pub fn put_json(&self, path: &str, body: &Json) -> (u16, Json, HeaderMap) {
        self.send(self.req(Method::PUT, path).json(body))
            .into_tuple()
    }

    /// `DELETE path`.
    #[track_caller]
    pub fn delete(&self, path: &str) -> (u16, Json, HeaderMap) {
        self.send(self.req(Method::DELETE, path)).into_tuple()
    }

    /// `method path` with a raw body and an optional Content-Type.
    #[track_caller]
    pub fn raw(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: impl Into<Vec<u8>>,
    ) -> Resp {
        let mut rb = self.req(method, path).body(body.into());
        if let Some(ct) = content_type {
            rb = rb.header(reqwest::header::CONTENT_TYPE, ct);
        }
        self.send(rb)
    }

    /// `POST path` with JSON text sent verbatim (key order and whitespace
    /// kept) as `application/json`.
    #[track_caller]
    pub fn post_text(&self, path: &str, json_text: &str) -> Resp {
        self.raw(
            Method::POST,
            path,
            Some("application/json"),
            json_text.as_bytes().to_vec(),
        )
    }
}

impl Resp {
    /// `(status, json, headers)`.
    pub fn into_tuple(self) -> (u16, Json, HeaderMap) {
        (self.status, self.json, self.headers)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "--- server log tail ({}) ---\n{}",
                self.base,
                self.log_tail(60)
            );
        }
    }
}

/// Crash-test controls.
#[allow(dead_code)]
impl Server {
    /// Kills the server with SIGKILL (no chance to flush or clean up) and
    /// waits for it to be gone.
    pub fn kill9(&mut self) {
        let mut child = self.child.take().expect("server is running");
        child.kill().expect("SIGKILL the server");
        child.wait().expect("reap the server");
    }

    /// Starts the server again on the same data directory (after `kill9` or
    /// `stop`). `base` changes.
    pub fn respawn(&mut self) {
        assert!(self.child.is_none(), "server is still running");
        self.spawn();
    }
}
