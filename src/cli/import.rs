//! `typeahead import FILE`: streams a file to a server's import route with a
//! progress bar, then waits for the job and prints a summary.

use std::fs::File;
use std::io::Read;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};

use super::suggest::enc;
use super::{api_error, ClientArgs};

/// Options of `import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The CSV (with a header row) or NDJSON file.
    file: PathBuf,
    /// Target trie (created if missing).
    #[arg(long)]
    trie: String,
    /// csv or ndjson (default: from the file extension).
    #[arg(long)]
    format: Option<String>,
    /// CSV: comma-separated columns whose cells become keys.
    #[arg(long)]
    key_columns: Option<String>,
    /// CSV: the column holding the value.
    #[arg(long)]
    value_column: Option<String>,
    /// CSV: the column holding each record's score (NDJSON lines carry
    /// "score" themselves).
    #[arg(long)]
    score_column: Option<String>,
    /// Create the trie with this fold first: none, case or full (refused
    /// when the trie exists with another). Without it, a missing trie is
    /// created with none.
    #[arg(long, value_parser = ["none", "case", "full"])]
    fold: Option<String>,
    #[command(flatten)]
    client: ClientArgs,
}

pub fn run(a: ImportArgs) -> anyhow::Result<()> {
    let format = match a.format.as_deref() {
        Some(f) => f.to_owned(),
        None => match a.file.extension().and_then(|e| e.to_str()) {
            Some("csv") => "csv".into(),
            Some("ndjson" | "jsonl") => "ndjson".into(),
            _ => bail!(
                "cannot tell the format of {}: pass --format csv|ndjson",
                a.file.display()
            ),
        },
    };
    if format == "csv" && (a.key_columns.is_none() || a.value_column.is_none()) {
        bail!("CSV imports need --key-columns and --value-column");
    }
    if format != "csv" && a.score_column.is_some() {
        bail!("--score-column is for CSV files; each NDJSON line carries its own \"score\"");
    }
    let file = File::open(&a.file).with_context(|| format!("cannot open {}", a.file.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let base = a.client.server.trim_end_matches('/');
    if let Some(fold) = &a.fold {
        create(base, &a.trie, fold, a.client.token.as_deref())?;
    }
    let mut params = vec![("format", format.clone())];
    if let Some(k) = &a.key_columns {
        params.push(("key_columns", k.clone()));
    }
    if let Some(v) = &a.value_column {
        params.push(("value_column", v.clone()));
    }
    if let Some(c) = &a.score_column {
        params.push(("score_column", c.clone()));
    }
    let url = reqwest::Url::parse_with_params(
        &format!("{base}/v1/tries/{}/import", enc(&a.trie)),
        &params,
    )
    .with_context(|| format!("bad server URL {base:?}"))?;

    let bar = ProgressBar::new(size);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg} ETA {eta}",
        )
        .expect("valid template"),
    );
    let started = Instant::now();
    let client = reqwest::blocking::Client::builder()
        .timeout(None)
        .build()
        .context("building the HTTP client")?;
    let mut req = client
        .post(url)
        .header(
            "content-type",
            if format == "csv" {
                "text/csv"
            } else {
                "application/x-ndjson"
            },
        )
        .body(reqwest::blocking::Body::sized(
            Progress {
                inner: file,
                bar: bar.clone(),
            },
            size,
        ));
    if let Some(t) = &a.client.token {
        req = req.bearer_auth(t);
    }
    let res = match req.send() {
        Ok(res) => res,
        Err(e) => {
            // A server that refuses the upload (a wrong token, say) answers at
            // once and closes the connection mid-upload; ask it why with an
            // empty request that cannot start a job (no format given).
            bar.abandon();
            let mut probe = client.post(format!("{base}/v1/tries/{}/import", enc(&a.trie)));
            if let Some(t) = &a.client.token {
                probe = probe.bearer_auth(t);
            }
            if let Ok(res) = probe.send() {
                if res.status() == reqwest::StatusCode::UNAUTHORIZED {
                    return Err(api_error(res));
                }
            }
            // A job that failed at once (a column not in the header, say):
            // the server stops reading and says why in the job.
            if let Some(why) = latest_failure(&client, base, &a.trie) {
                bail!("the server refused the import: {why}");
            }
            return Err(anyhow::Error::new(e).context(format!("could not reach {base}")));
        }
    };
    if !res.status().is_success() {
        bar.abandon();
        return Err(api_error(res));
    }
    let job: serde_json::Value = res.json().context("the server's answer is not JSON")?;
    let id = job["job"]
        .as_u64()
        .context("the server did not return a job id")?;
    let view = loop {
        // The upload's connection may be closed by the server once the job
        // stops reading it (a refused header, say): a poll that lands on it
        // fails, and the next one opens a fresh connection.
        let mut tries = 0;
        let res = loop {
            match client.get(format!("{base}/v1/jobs/{id}")).send() {
                Ok(res) => break res,
                Err(_) if tries < 3 => tries += 1,
                Err(e) => {
                    return Err(anyhow::Error::new(e).context(format!("could not reach {base}")))
                }
            }
        };
        if !res.status().is_success() {
            return Err(api_error(res));
        }
        let v: serde_json::Value = res.json().context("the server's answer is not JSON")?;
        let records = v["records"].as_u64().unwrap_or(0);
        let secs = started.elapsed().as_secs_f64().max(0.001);
        bar.set_position(v["bytes_read"].as_u64().unwrap_or(0).min(size));
        bar.set_message(format!(
            "{records} records, {:.0} records/s",
            records as f64 / secs
        ));
        match v["state"].as_str() {
            Some("done" | "failed") => break v,
            _ => std::thread::sleep(Duration::from_millis(200)),
        }
    };
    bar.finish();
    let secs = started.elapsed().as_secs_f64();
    let records = view["records"].as_u64().unwrap_or(0);
    println!(
        "job {id}: {} in {secs:.1}s: {records} records ({:.0}/s), {} entries added, {} bad lines",
        view["state"].as_str().unwrap_or("?"),
        records as f64 / secs.max(0.001),
        view["entries_added"],
        view["error_count"],
    );
    for e in view["errors"].as_array().into_iter().flatten().take(20) {
        println!(
            "  line {}: {}",
            e["line"],
            e["message"].as_str().unwrap_or_default()
        );
    }
    if view["state"] == "failed" {
        bail!(
            "import failed: {}",
            view["failure"].as_str().unwrap_or("unknown reason")
        );
    }
    if records == 0 && view["error_count"].as_u64().unwrap_or(0) > 0 {
        bail!("nothing was imported: every line was bad (see above)");
    }
    Ok(())
}

/// Why the newest job for `trie` failed, if it did.
/// `PUT /v1/tries/{trie}` with the fold: the trie exists with it after.
fn create(base: &str, trie: &str, fold: &str, token: Option<&str>) -> anyhow::Result<()> {
    let client = reqwest::blocking::Client::new();
    let mut req = client
        .put(format!("{base}/v1/tries/{}", enc(trie)))
        .json(&serde_json::json!({ "fold": fold }));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req
        .send()
        .with_context(|| format!("could not reach {base}"))?;
    if !res.status().is_success() {
        return Err(api_error(res));
    }
    Ok(())
}

fn latest_failure(client: &reqwest::blocking::Client, base: &str, trie: &str) -> Option<String> {
    let jobs: serde_json::Value = client
        .get(format!("{base}/v1/jobs"))
        .send()
        .ok()?
        .json()
        .ok()?;
    let job = jobs["jobs"]
        .as_array()?
        .iter()
        .filter(|j| j["trie"] == trie)
        .max_by_key(|j| j["id"].as_u64())?;
    (job["state"] == "failed").then(|| {
        job["failure"]
            .as_str()
            .unwrap_or("unknown reason")
            .to_owned()
    })
}

/// Counts bytes as the upload reads them.
struct Progress {
    inner: File,
    bar: ProgressBar,
}

impl Read for Progress {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}
