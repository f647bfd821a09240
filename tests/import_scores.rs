//! Importing scores through the real server and the real CLI: a CSV score
//! column and NDJSON "score" fields land as the pairs' scores, bad scores are
//! reported as bad lines with their numbers, the route and the CLI refuse a
//! score column they cannot use, and the CLI's suggest ranks by score. An
//! import larger than one commit window keeps every key's file order.

mod common;

use std::time::{Duration, Instant};

use assert_cmd::Command;
use common::Server;
use serde_json::{json, Value as Json};

/// Polls a job until it ends (an observable state, with a deadline).
fn finished(s: &Server, id: u64) -> Json {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, job, _) = s.get(&format!("/v1/jobs/{id}"));
        assert_eq!(status, 200);
        if job["state"] == "done" || job["state"] == "failed" {
            return job;
        }
        assert!(Instant::now() < deadline, "job never ended: {job}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts an import of `body`; gives the finished job.
fn import(s: &Server, query: &str, body: &str) -> Json {
    let res = s
        .client
        .post(s.url(&format!("/v1/tries/t/import?{query}")))
        .body(body.to_owned())
        .send()
        .unwrap();
    assert_eq!(res.status().as_u16(), 202);
    let started: Json = res.json().unwrap();
    finished(s, started["job"].as_u64().unwrap())
}

/// `(key, value, score)` of a suggest answer.
fn scored(s: &Server, query: &str) -> Vec<(String, Json, f64)> {
    let (st, body, _) = s.get(&format!("/v1/tries/t/suggest?{query}"));
    assert_eq!(st, 200, "{body}");
    body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["key"].as_str().unwrap().to_owned(),
                e["value"].clone(),
                e["score"].as_f64().unwrap(),
            )
        })
        .collect()
}

fn row(key: &str, value: Json, score: f64) -> (String, Json, f64) {
    (key.to_owned(), value, score)
}

#[test]
fn csv_and_ndjson_imports_set_scores_and_report_bad_ones() {
    let s = Server::start();
    let csv = "id,first,last,rank\n1,ada,lovelace,9.5\n2,alan,turing,\n3,grace,hopper,12\n\
               4,bad,score,high\n5,worse,score,1e400\n";
    let job = import(
        &s,
        "format=csv&key_columns=first,last&value_column=id&score_column=rank",
        csv,
    );
    assert_eq!(job["state"], "done", "{job}");
    assert_eq!(
        (job["records"].clone(), job["entries_added"].clone()),
        (json!(3), json!(6))
    );
    let errors: Vec<(u64, String)> = job["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["line"].as_u64().unwrap(),
                e["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        [
            (5, "score: \"high\" is not a finite number".to_owned()),
            (6, "score: \"1e400\" is not a finite number".to_owned())
        ]
    );
    assert_eq!(
        scored(&s, "order=score&limit=3"),
        [
            row("grace", json!(3), 12.0),
            row("hopper", json!(3), 12.0),
            row("ada", json!(1), 9.5)
        ]
    );
    // A second import sets the scores of pairs already there.
    let ndjson = concat!(
        "{\"keys\": [\"alan\", \"turing\"], \"value\": 2, \"score\": 20}\n",
        "{\"keys\": [\"ada\"], \"value\": 1}\n",
        "{\"keys\": [\"nope\"], \"value\": 9, \"score\": \"1\"}\n",
        // The nearest double exactly, which a fast parse misses by one unit
        // in the last place.
        "{\"keys\": [\"emmy\"], \"value\": 5, \"score\": -1.2657681789452901}\n",
    );
    let job = import(&s, "format=ndjson", ndjson);
    assert_eq!(job["state"], "done", "{job}");
    assert_eq!(
        (job["records"].clone(), job["entries_added"].clone()),
        (json!(3), json!(1))
    );
    assert_eq!(job["errors"][0]["line"], 3, "{job}");
    assert_eq!(
        scored(&s, "order=score&dedupe=value"),
        [
            row("alan", json!(2), 20.0),
            row("grace", json!(3), 12.0),
            row("ada", json!(1), 9.5),
            row("emmy", json!(5), -1.2657681789452901)
        ]
    );
    let (_, key, _) = s.get("/v1/tries/t/keys/ada");
    assert_eq!(key, json!({"key": "ada", "values": [1], "scores": [9.5]}));
    // A score column that is missing from the header fails the job; an
    // empty one is refused at once.
    let job = import(
        &s,
        "format=csv&key_columns=first&value_column=id&score_column=nope",
        csv,
    );
    assert_eq!(job["state"], "failed", "{job}");
    assert!(
        job["failure"].as_str().unwrap().contains("\"nope\""),
        "{job}"
    );
    let res = s
        .client
        .post(
            s.url("/v1/tries/t/import?format=csv&key_columns=first&value_column=id&score_column="),
        )
        .body(csv.to_owned())
        .send()
        .unwrap();
    assert_eq!(res.status().as_u16(), 400);
    let body: Json = res.json().unwrap();
    assert_eq!(body["error"]["code"], "invalid_query");
}

/// An import larger than one commit window (many chunks, more than 250,000
/// pairs) ends as the same pairs added line by line would: a key's values
/// in the file's order across chunks and windows, and a pair named twice
/// with the later score.
#[test]
fn a_large_import_keeps_the_file_order_of_every_key() {
    let s = Server::start();
    const RECORDS: u64 = 90_000;
    let mut body = String::from("id,name,group,tag,score\n");
    for i in 0..RECORDS {
        // Names spread over the key space; groups repeat every 1,000 lines,
        // so each group's values come from every chunk and both windows.
        let name = format!("n{:05}", (i * 7919) % RECORDS);
        body.push_str(&format!("{i},{name},g{:03},all,{i}\n", i % 1000));
    }
    // The first lines again, with new scores: pairs that exist, updated.
    for i in 0..100u64 {
        let name = format!("n{:05}", (i * 7919) % RECORDS);
        body.push_str(&format!(
            "{i},{name},g{:03},all,{}\n",
            i % 1000,
            1_000_000 + i
        ));
    }
    let job = import(
        &s,
        "format=csv&key_columns=name,group,tag&value_column=id&score_column=score",
        &body,
    );
    assert_eq!(job["state"], "done", "{job}");
    assert_eq!(job["records"], RECORDS + 100);
    assert_eq!(job["entries_added"], 3 * RECORDS);
    let (_, stats, _) = s.get("/v1/tries/t");
    assert_eq!(stats["entries"], 3 * RECORDS);
    // Every id under "all", in file order, each with its last score.
    let (status, all, _) = s.get("/v1/tries/t/keys/all");
    assert_eq!(status, 200);
    let values: Vec<u64> = numbers(&all["values"], Json::as_u64);
    assert_eq!(values, (0..RECORDS).collect::<Vec<_>>());
    let scores: Vec<f64> = numbers(&all["scores"], Json::as_f64);
    let want: Vec<f64> = (0..RECORDS)
        .map(|i| {
            if i < 100 {
                1_000_000.0 + i as f64
            } else {
                i as f64
            }
        })
        .collect();
    assert_eq!(scores, want);
    for g in [0u64, 1, 517, 999] {
        let (_, got, _) = s.get(&format!("/v1/tries/t/keys/g{g:03}"));
        let values: Vec<u64> = numbers(&got["values"], Json::as_u64);
        let want: Vec<u64> = (0..RECORDS).filter(|i| i % 1000 == g).collect();
        assert_eq!(values, want, "g{g:03}");
    }
}

/// A JSON array of numbers, each read by `read`.
fn numbers<T>(array: &Json, read: impl Fn(&Json) -> Option<T>) -> Vec<T> {
    array
        .as_array()
        .expect("an array")
        .iter()
        .map(|v| read(v).expect("a number"))
        .collect()
}

fn cli() -> Command {
    let mut c = Command::cargo_bin("typeahead").unwrap();
    c.env_remove("TYPEAHEAD_SERVER")
        .env_remove("TYPEAHEAD_TOKEN");
    c
}

#[test]
fn cli_imports_a_score_column() {
    let s = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("tags.csv");
    std::fs::write(&csv, "tag,id,hits\nrust,1,30\nruby,2,45\nrust,3,\n").unwrap();
    let out = cli()
        .arg("import")
        .arg(&csv)
        .args([
            "--trie",
            "t",
            "--key-columns",
            "tag",
            "--value-column",
            "id",
        ])
        .args(["--score-column", "hits", "--server", &s.base])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("3 records"), "{stdout}");
    assert_eq!(
        scored(&s, "q=ru&order=score"),
        [
            row("ruby", json!(2), 45.0),
            row("rust", json!(1), 30.0),
            row("rust", json!(3), 0.0)
        ]
    );
    // The CLI's suggest ranks by score too, one line per entry with its
    // score, and refuses an order it does not know before asking.
    let out = cli()
        .args([
            "suggest", "t", "ru", "--order", "score", "--dedupe", "value",
        ])
        .args(["--server", &s.base])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "ruby\t2\t45\nrust\t1\t30\nrust\t3\t0\n"
    );
    let out = cli()
        .args(["suggest", "t", "ru", "--order", "rank", "--server", &s.base])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("rank"));
    // NDJSON lines carry their own scores: the flag is refused.
    let ndjson = dir.path().join("tags.ndjson");
    std::fs::write(
        &ndjson,
        "{\"keys\": [\"go\"], \"value\": 1, \"score\": 1}\n",
    )
    .unwrap();
    let out = cli()
        .arg("import")
        .arg(&ndjson)
        .args(["--trie", "t", "--score-column", "hits", "--server", &s.base])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--score-column is for CSV"), "{stderr}");
}

/// `--fold` creates the trie with that fold before the upload, so the
/// import's keys match folded; a trie that exists with another fold is
/// refused before anything is sent.
#[test]
fn cli_import_creates_the_trie_with_a_fold() {
    let s = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("people.csv");
    std::fs::write(&csv, "name,id\nJosé,1\nÅngström,2\nMatthew,3\n").unwrap();
    let import = |trie: &str, fold: &str| {
        cli()
            .arg("import")
            .arg(&csv)
            .args([
                "--trie",
                trie,
                "--key-columns",
                "name",
                "--value-column",
                "id",
            ])
            .args(["--fold", fold, "--server", &s.base])
            .output()
            .unwrap()
    };
    let out = import("p", "full");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(s.get("/v1/tries/p").1["fold"], "full");
    let keys = |q: &str| -> Vec<String> {
        let (st, body, _) = s.get(&format!("/v1/tries/p/suggest?{q}"));
        assert_eq!(st, 200, "{body}");
        body["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["key"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(keys("q=JOSE"), ["José"]);
    assert_eq!(keys("q=angst"), ["Ångström"]);
    // The CLI's suggest prints the distance with --fuzzy.
    let out = cli()
        .args([
            "suggest", "p", "mathew", "--fuzzy", "1", "--server", &s.base,
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Matthew\t3\t0\t1\n");
    // Another fold on the same trie: refused, nothing imported twice.
    let out = import("p", "case");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("settings_conflict"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(s.get("/v1/tries/p").1["entries"], 3);
}
