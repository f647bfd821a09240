//! Bulk import through the real server and the real CLI: good records all
//! land, every bad line is reported with its number, jobs go queued ->
//! running -> done, and the CLI reports errors clearly.

mod common;

use std::io::Read;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use common::{enc, Server};
use serde_json::{json, Value as Json};

/// Polls a job until `pred` holds (the server works on its own clock; this
/// waits for an observable state, with a deadline).
fn wait_job(s: &Server, id: u64, pred: impl Fn(&Json) -> bool) -> Json {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, job, _) = s.get(&format!("/v1/jobs/{id}"));
        assert_eq!(status, 200);
        if pred(&job) {
            return job;
        }
        assert!(
            Instant::now() < deadline,
            "job never reached the state: {job}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn done(j: &Json) -> bool {
    j["state"] == "done" || j["state"] == "failed"
}

fn post_body(s: &Server, path: &str, body: Vec<u8>, content_type: &str) -> (u16, Json) {
    post_body_with(&s.client, s, path, body, content_type)
}

fn post_body_with(
    client: &reqwest::blocking::Client,
    s: &Server,
    path: &str,
    body: Vec<u8>,
    content_type: &str,
) -> (u16, Json) {
    let res = client
        .post(s.url(path))
        .header("content-type", content_type)
        .body(body)
        .send()
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().unwrap_or(Json::Null))
}

#[test]
fn csv_import_keeps_good_records_and_reports_bad_lines() {
    let s = Server::start();
    let users = typeahead::users::generate(3000, 5);
    let mut lines: Vec<Vec<u8>> = vec![b"id,first,last,username".to_vec()];
    for u in &users {
        lines.push(format!("{},{},{},{}", u.id, u.first, u.last, u.username).into_bytes());
    }
    // Bad lines, inserted at known 1-based line numbers (the header is line 1).
    let long = "x".repeat(1100);
    let bad: Vec<(usize, Vec<u8>, &str)> = vec![
        (10, b"9001,Ann,Lee".to_vec(), "columns"),
        (500, b"9002,Jo\xff\xfe,Smith,jsmith".to_vec(), "UTF-8"),
        (1000, b"9003,,Smith,nofirst".to_vec(), "empty key"),
        (
            2000,
            format!("9004,Al,{long},along").into_bytes(),
            "1100 bytes",
        ),
        (2500, b"9005,Bo,Bar,bbar,extra".to_vec(), "columns"),
        (2800, b",Cy,Cox,ccox".to_vec(), "empty value"),
    ];
    for (line, text, _) in &bad {
        lines.insert(line - 1, text.clone());
    }
    let mut body = lines.join(&b"\n"[..]);
    body.push(b'\n');
    let (status, started) = post_body(
        &s,
        "/v1/tries/people/import?format=csv&key_columns=first,last,username&value_column=id",
        body,
        "text/csv",
    );
    assert_eq!(status, 202, "{started}");
    let id = started["job"].as_u64().unwrap();
    let job = wait_job(&s, id, done);
    assert_eq!(job["state"], "done", "{job}");
    assert_eq!(job["records"], users.len());
    let errors = job["errors"].as_array().unwrap();
    assert_eq!(errors.len(), bad.len(), "{errors:?}");
    for ((line, _, what), e) in bad.iter().zip(errors) {
        assert_eq!(e["line"], *line as u64, "{e}");
        assert!(
            e["message"].as_str().unwrap().contains(what),
            "line {line}: {e}"
        );
    }
    // Every good record is there, with its id as a number.
    let mut pairs = std::collections::BTreeSet::new();
    for u in &users {
        for k in [u.first.clone(), u.last.clone(), u.username.clone()] {
            pairs.insert((k, u.id));
        }
    }
    let (_, stats, _) = s.get("/v1/tries/people");
    assert_eq!(stats["entries"], pairs.len());
    assert_eq!(job["entries_added"], pairs.len());
    for u in users.iter().step_by(97) {
        let (status, got, _) = s.get(&format!("/v1/tries/people/keys/{}", enc(&u.username)));
        assert_eq!(status, 200);
        assert!(
            got["values"].as_array().unwrap().contains(&json!(u.id)),
            "{got}"
        );
    }
}

#[test]
fn ndjson_import_keeps_good_records_and_reports_bad_lines() {
    let s = Server::start();
    let mut body = Vec::new();
    let mut good = 0;
    let mut bad_lines = Vec::new();
    for i in 1..=2000u64 {
        let line: Vec<u8> = match i {
            7 => b"{not json".to_vec(),
            70 => br#"{"keys": "solo", "value": 1}"#.to_vec(),
            700 => br#"{"keys": ["x"], "value": null}"#.to_vec(),
            800 => br#"{"keys": [""], "value": 1}"#.to_vec(),
            900 => format!(r#"{{"keys": ["{}"], "value": 1}}"#, "y".repeat(1025)).into_bytes(),
            1500 => b"{\"keys\": [\"\xff\"], \"value\": 1}".to_vec(),
            _ => {
                good += 1;
                json!({"keys": [format!("word{i}"), format!("w{}", i % 10)], "value": {"n": i}})
                    .to_string()
                    .into_bytes()
            }
        };
        if [7, 70, 700, 800, 900, 1500].contains(&i) {
            bad_lines.push(i);
        }
        body.extend_from_slice(&line);
        body.push(b'\n');
    }
    let (status, started) = post_body(
        &s,
        "/v1/tries/words/import?format=ndjson",
        body,
        "application/x-ndjson",
    );
    assert_eq!(status, 202);
    let job = wait_job(&s, started["job"].as_u64().unwrap(), done);
    assert_eq!(job["state"], "done");
    assert_eq!(job["records"], good);
    let lines: Vec<u64> = job["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, bad_lines);
    let (_, w, _) = s.get("/v1/tries/words/keys/word1999");
    assert_eq!(w["values"], json!([{"n": 1999}]));
    // "w3" gathers the values of every good line ending in 3, in file order.
    let (_, w3, _) = s.get("/v1/tries/words/keys/w3");
    let ns: Vec<u64> = w3["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["n"].as_u64().unwrap())
        .collect();
    let want: Vec<u64> = (1..=2000).filter(|i| i % 10 == 3).collect();
    assert_eq!(ns, want);
}

/// An import whose chunked upload the test holds open: the job id comes
/// back (202) while the body is still being sent.
struct Upload(std::net::TcpStream);

impl Upload {
    fn start(s: &Server, trie: &str) -> (u64, Upload) {
        use std::io::Write;
        let addr = s.base.trim_start_matches("http://");
        let mut tcp = std::net::TcpStream::connect(addr).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        write!(
            tcp,
            "POST /v1/tries/{trie}/import?format=ndjson HTTP/1.1\r\nHost: {addr}\r\n\
             Content-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        .unwrap();
        let mut up = Upload(tcp);
        up.send(b"{\"keys\": [\"first\"], \"value\": 0}\n");
        // Read the response head and its small JSON body.
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            up.0.read_exact(&mut byte)
                .expect("a response before the upload ended");
            head.push(byte[0]);
        }
        let head = String::from_utf8(head).unwrap();
        assert!(head.starts_with("HTTP/1.1 202"), "{head}");
        let len: usize = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length: ")
                    .map(|v| v.trim().parse().unwrap())
            })
            .expect("content-length");
        let mut body = vec![0; len];
        up.0.read_exact(&mut body).unwrap();
        let v: Json = serde_json::from_slice(&body).unwrap();
        (v["job"].as_u64().unwrap(), up)
    }

    fn send(&mut self, data: &[u8]) {
        use std::io::Write;
        write!(self.0, "{:x}\r\n", data.len()).unwrap();
        self.0.write_all(data).unwrap();
        self.0.write_all(b"\r\n").unwrap();
        self.0.flush().unwrap();
    }

    fn finish(mut self) {
        use std::io::Write;
        self.0.write_all(b"0\r\n\r\n").unwrap();
        self.0.flush().unwrap();
    }
}

#[test]
fn jobs_move_queued_running_done() {
    let s = Server::start();
    // Four imports run at once; a fifth waits while all four uploads are open.
    let mut running = Vec::new();
    for i in 0..4 {
        let (id, upload) = Upload::start(&s, &format!("j{i}"));
        wait_job(&s, id, |j| j["state"] == "running");
        running.push((id, upload));
    }
    let (e, upload_e) = Upload::start(&s, "je");
    let (_, je, _) = s.get(&format!("/v1/jobs/{e}"));
    assert_eq!(je["state"], "queued");
    let (a, mut upload_a) = running.remove(0);
    upload_a.send(b"{\"keys\": [\"second\"], \"value\": 1}\n");
    upload_a.finish();
    let ja = wait_job(&s, a, done);
    assert_eq!(
        (ja["state"].as_str(), ja["records"].as_u64()),
        (Some("done"), Some(2))
    );
    // a's slot goes to e.
    wait_job(&s, e, |j| j["state"] == "running");
    upload_e.finish();
    assert_eq!(wait_job(&s, e, done)["state"], "done");
    let mut ids: Vec<u64> = running.iter().map(|(id, _)| *id).collect();
    for (id, upload) in running {
        upload.finish();
        assert_eq!(wait_job(&s, id, done)["state"], "done");
    }
    ids.insert(0, a);
    ids.push(e);
    let (_, list, _) = s.get("/v1/jobs");
    let listed: Vec<u64> = list["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_u64().unwrap())
        .collect();
    assert_eq!(listed, ids);
}

/// An upload that stalls fails its job after the idle timeout, while an
/// import beside it finishes; jobs survive restarts as a record of how they
/// ended (one a crash interrupted says so), and ids are never reused.
#[test]
fn a_stalled_upload_fails_alone_and_jobs_survive_a_restart() {
    let mut s = Server::start_with(&["--import-idle-timeout", "1"]);
    let (stalled, _held_open) = Upload::start(&s, "stall");
    let (ok, upload) = Upload::start(&s, "fine");
    upload.finish();
    assert_eq!(wait_job(&s, ok, done)["state"], "done");
    let job = wait_job(&s, stalled, done);
    assert_eq!(job["state"], "failed", "{job}");
    assert!(
        job["failure"]
            .as_str()
            .unwrap_or("")
            .contains("sent nothing"),
        "{job}"
    );
    s.restart();
    // Jobs that ended keep how they ended.
    assert_eq!(s.get(&format!("/v1/jobs/{ok}")).1["state"], "done");
    assert_eq!(s.get(&format!("/v1/jobs/{stalled}")).1["state"], "failed");
    // A job still running when the server dies is kept as failed, saying so.
    let (running, _open) = Upload::start(&s, "running");
    wait_job(&s, running, |j| j["state"] == "running");
    s.kill9();
    s.respawn();
    let (_, job, _) = s.get(&format!("/v1/jobs/{running}"));
    assert_eq!(job["state"], "failed", "{job}");
    assert!(
        job["failure"]
            .as_str()
            .unwrap_or("")
            .contains("interrupted"),
        "{job}"
    );
    let (next, upload) = Upload::start(&s, "after");
    upload.finish();
    wait_job(&s, next, done);
    assert!(next > running, "job id {next} reused after a restart");
    let (_, list, _) = s.get("/v1/jobs");
    let ids: Vec<u64> = list["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [stalled, ok, running, next]);
}

#[test]
fn import_rejects_bad_parameters_at_once() {
    let s = Server::start();
    for (query, code) in [
        ("format=xml", "invalid_query"),
        ("", "invalid_query"),
        ("format=csv&value_column=id", "invalid_query"),
        ("format=csv&key_columns=a", "invalid_query"),
    ] {
        let (status, body) = post_body(
            &s,
            &format!("/v1/tries/t/import?{query}"),
            b"a\n".to_vec(),
            "text/csv",
        );
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error"]["code"], code);
    }
    let (status, body) = post_body(
        &s,
        "/v1/tries/bad.name/import?format=ndjson",
        Vec::new(),
        "text/plain",
    );
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_name"))
    );
    // A header without the named column fails the job, with the reason.
    let (status, started) = post_body(
        &s,
        "/v1/tries/t/import?format=csv&key_columns=nope&value_column=id",
        b"id,name\n1,a\n".to_vec(),
        "text/csv",
    );
    assert_eq!(status, 202);
    let job = wait_job(&s, started["job"].as_u64().unwrap(), done);
    assert_eq!(job["state"], "failed");
    assert!(job["failure"].as_str().unwrap().contains("nope"), "{job}");
}

fn cli() -> Command {
    let mut c = Command::cargo_bin("typeahead").unwrap();
    c.env_remove("TYPEAHEAD_SERVER")
        .env_remove("TYPEAHEAD_TOKEN");
    c
}

#[test]
fn cli_imports_and_suggests_against_a_running_server() {
    let s = Server::start_with(&["--token", "t0k"]);
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("users.csv");
    let users = typeahead::users::generate(2000, 9);
    typeahead::users::write_csv(&users, std::fs::File::create(&csv).unwrap()).unwrap();
    let out = cli()
        .args(["import"])
        .arg(&csv)
        .args([
            "--trie",
            "users",
            "--key-columns",
            "first,last,username",
            "--value-column",
            "id",
        ])
        .args(["--server", &s.base, "--token", "t0k"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("done") && stdout.contains("2000 records"),
        "{stdout}"
    );

    let target = users[0].last.to_lowercase();
    let prefix: String = target.chars().take(2).collect();
    let out = cli()
        .args([
            "suggest", "users", &prefix, "--limit", "5", "--server", &s.base,
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(!lines.is_empty() && lines.len() <= 5, "{stdout}");
    assert!(lines.iter().all(|l| l.starts_with(&prefix)), "{stdout}");

    // Errors: clear message, non-zero exit.
    let fail = |args: &[&str], want: &str| {
        let out = cli().args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
    };
    let csv_path = csv.to_str().unwrap();
    fail(&["suggest", "nope", "a", "--server", &s.base], "not found");
    fail(
        &["suggest", "users", "a", "--limit", "0", "--server", &s.base],
        "invalid_limit",
    );
    fail(
        &[
            "import",
            "/no/such/file.csv",
            "--trie",
            "t",
            "--key-columns",
            "a",
            "--value-column",
            "b",
            "--server",
            &s.base,
        ],
        "cannot open",
    );
    fail(
        &[
            "import", csv_path, "--trie", "t", "--server", &s.base, "--token", "t0k",
        ],
        "--key-columns",
    );
    fail(
        &[
            "import",
            csv_path,
            "--trie",
            "t",
            "--key-columns",
            "first",
            "--value-column",
            "id",
            "--server",
            &s.base,
        ],
        "unauthorized",
    );
    fail(
        &["suggest", "users", "a", "--server", "http://127.0.0.1:9"],
        "could not reach",
    );
}

#[test]
fn a_file_without_line_breaks_fails_instead_of_filling_memory() {
    let s = Server::start();
    let body = vec![b'x'; 3 * 1024 * 1024];
    // The server stops reading this upload and closes its connection: send
    // it on a client of its own so the test's other requests don't reuse it.
    let uploader = reqwest::blocking::Client::new();
    let (status, started) = post_body_with(
        &uploader,
        &s,
        "/v1/tries/t/import?format=ndjson",
        body,
        "application/x-ndjson",
    );
    assert_eq!(status, 202);
    let job = wait_job(&s, started["job"].as_u64().unwrap(), done);
    assert_eq!(job["state"], "failed", "{job}");
    assert!(
        job["failure"]
            .as_str()
            .unwrap()
            .contains("longer than 1 MiB"),
        "{job}"
    );
}

/// The CLI says why the server refused a job, and fails when nothing could
/// be imported.
#[test]
fn cli_reports_a_refused_job_and_fails_when_every_line_is_bad() {
    let s = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("users.csv");
    let users = typeahead::users::generate(20_000, 3);
    typeahead::users::write_csv(&users, std::fs::File::create(&csv).unwrap()).unwrap();
    let out = cli()
        .args(["import"])
        .arg(&csv)
        .args([
            "--trie",
            "u",
            "--key-columns",
            "first,nope",
            "--value-column",
            "id",
        ])
        .args(["--server", &s.base])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("\"nope\"") && stderr.contains("header"),
        "the server's reason is missing: {stderr}"
    );
    assert!(!stderr.contains("receiver is gone"), "{stderr}");
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "id,first\r\nx\r\ny\r\nz").unwrap();
    let out = cli()
        .args(["import"])
        .arg(&bad)
        .args([
            "--trie",
            "u",
            "--key-columns",
            "first",
            "--value-column",
            "id",
        ])
        .args(["--server", &s.base])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success(),
        "an import of only bad lines exited 0: {stdout}"
    );
    // CRLF line ends and a last line without one: lines 2, 3 and 4.
    for line in ["line 2:", "line 3:", "line 4:"] {
        assert!(stdout.contains(line), "{line} missing: {stdout}");
    }
}

/// `gen-users N` writes N users as CSV to standard output, the same for the
/// same seed; with a directory it writes users.csv and queries.txt there.
#[test]
fn gen_users_writes_csv() {
    let out = cli().args(["gen-users", "50"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "id,first,last,username,followers");
    assert_eq!(lines.len(), 51);
    assert!(
        lines[1..].iter().all(|l| l.split(',').count() == 5),
        "{text}"
    );
    let again = cli().args(["gen-users", "50"]).output().unwrap();
    assert_eq!(String::from_utf8(again.stdout).unwrap(), text);
    let dir = tempfile::tempdir().unwrap();
    let out = cli()
        .args(["gen-users", "20", "--queries", "7"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let csv = std::fs::read_to_string(dir.path().join("users.csv")).unwrap();
    assert_eq!(csv.lines().count(), 21);
    let queries = std::fs::read_to_string(dir.path().join("queries.txt")).unwrap();
    assert_eq!(queries.lines().count(), 7);
}
