//! Bulk import: CSV and NDJSON parsed by a pool of workers fed over channels,
//! committed in order through the single writer.
//!
//! # What it owns
//! [`Jobs`] (the recent import jobs and their progress), the record parsers
//! (`parse_chunk`), and the pipeline (`pool`):
//!
//! ```text
//! body stream ─► splitter ─► bounded channel ─► N parse workers ─► bounded channel
//!                (line-aligned chunks)           (one per core)        │
//!                                          committer (reorders by chunk, sends
//!                                          TrieAdd batches to the Db writer) ◄┘
//! ```
//!
//! Every channel is bounded, so a slow disk slows the committer, which fills
//! the parsed channel, which stalls the workers, which fills the chunk
//! channel, which stops reading the request body: memory stays flat and TCP
//! backpressure reaches the uploader. The committer restores file order, so
//! values of a key keep the order of the file's lines.
//!
//! Each worker sorts its chunk's pairs by key (a stable sort: a key's
//! values keep the file's order). The committer gathers consecutive chunks
//! into a window of up to 250,000 pairs, merges them in key order, and
//! sends them as writer commands of at most 2,000 pairs. Pairs of
//! different keys do not affect one another, so the trie ends as the file
//! in order would leave it, while each command meets a narrow range of
//! the trie: each bucket and big key once, in cache, and copied once per
//! window instead of once per chunk (see `pool::Window`). A 1M-user import
//! took about 13 s in file order, 8 s with each chunk sorted, and 6 s with
//! windows, on the 2-core development machine. A window waits at most
//! 200 ms for its next chunk, so a slow upload's records still go in as
//! they come. Larger chunks gained a little more time and cost more peak
//! memory (512 KiB: 340 MB peak against 280 MB).

mod jobs;
pub(crate) mod pool;

use serde::{Deserialize, Serialize};

use crate::db::{ScoreOp, ScoredEntry};
use crate::limits::MAX_KEY_BYTES;
use crate::value::Value;
pub use jobs::{
    Job, JobState, JobView, Jobs, LineError, CONCURRENT_IMPORTS, IDLE_BODY, JOBS_FILE,
    MAX_KEPT_ERRORS,
};

/// Input format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// CSV with a header row.
    Csv,
    /// One JSON object per line: `{"keys": [..], "value": V}`, with an
    /// optional `"score": S`.
    Ndjson,
}

/// How to read records.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Format.
    pub format: Format,
    /// CSV: columns whose cells become keys.
    pub key_columns: Vec<String>,
    /// CSV: the column holding the value.
    pub value_column: String,
    /// CSV: the column holding each record's score, if any (an empty cell
    /// gives no score: a new pair gets 0, a stored one keeps its score).
    pub score_column: Option<String>,
}

/// A line-aligned piece of the body.
#[derive(Debug)]
pub(crate) struct Chunk {
    /// Order in the file.
    pub seq: u64,
    /// 1-based line number of the chunk's first line.
    pub first_line: u64,
    /// The bytes (whole lines).
    pub data: Vec<u8>,
}

/// A parsed chunk.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    /// Order in the file.
    pub seq: u64,
    /// Good records.
    pub records: u64,
    /// Their (key, value) pairs, with the record's score when it has
    /// one, in file order.
    pub entries: Vec<ScoredEntry>,
    /// Bad lines.
    pub errors: Vec<LineError>,
}

/// Column positions for CSV, from the header row.
#[derive(Debug, Clone)]
pub(crate) struct CsvColumns {
    /// Number of columns.
    pub width: usize,
    /// Key column indexes.
    pub keys: Vec<usize>,
    /// Value column index.
    pub value: usize,
    /// Score column index, if any.
    pub score: Option<usize>,
}

impl CsvColumns {
    /// Finds the spec's columns in a header row.
    ///
    /// # Errors
    /// A message naming the missing column.
    pub fn from_header(header: &[u8], spec: &Spec) -> Result<Self, String> {
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(header);
        let mut rec = csv::ByteRecord::new();
        if !rdr.read_byte_record(&mut rec).map_err(|e| e.to_string())? {
            return Err("the CSV has no header row".into());
        }
        let names: Vec<String> = rec
            .iter()
            .map(|c| String::from_utf8_lossy(c).trim().to_owned())
            .collect();
        let find = |want: &str| {
            names
                .iter()
                .position(|n| n == want)
                .ok_or_else(|| format!("column {want:?} is not in the header row {names:?}"))
        };
        Ok(CsvColumns {
            width: names.len(),
            keys: spec
                .key_columns
                .iter()
                .map(|c| find(c))
                .collect::<Result<_, _>>()?,
            value: find(&spec.value_column)?,
            score: spec.score_column.as_deref().map(find).transpose()?,
        })
    }
}

fn check_key(k: &str) -> Result<(), String> {
    if k.is_empty() {
        return Err("empty key".into());
    }
    if k.len() > MAX_KEY_BYTES {
        return Err(format!(
            "key is {} bytes; the limit is {MAX_KEY_BYTES}",
            k.len()
        ));
    }
    Ok(())
}

/// A CSV cell as a JSON value: integers and decimals stay numbers, anything
/// else is a string.
fn cell_value(cell: &str) -> Result<Value, String> {
    if cell.is_empty() {
        return Err("empty value".into());
    }
    let json = if let Ok(n) = cell.parse::<i64>() {
        serde_json::Value::from(n)
    } else if let Some(n) = cell
        .parse::<f64>()
        .ok()
        .filter(|f| {
            f.is_finite()
                && cell
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
        })
        .and_then(serde_json::Number::from_f64)
    {
        serde_json::Value::Number(n)
    } else {
        serde_json::Value::String(cell.to_owned())
    };
    Value::from_json(&json).map_err(|e| e.to_string())
}

/// A CSV score cell: empty (no score), or a finite number written as a
/// JSON or CSV number would be (`42`, `-0.5`, `1e3`; not `inf` or `NaN`).
fn cell_score(cell: &str) -> Result<Option<f64>, String> {
    if cell.is_empty() {
        return Ok(None);
    }
    let looks_numeric = cell
        .bytes()
        .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b));
    match cell.parse::<f64>() {
        Ok(f) if looks_numeric && f.is_finite() => Ok(Some(f)),
        _ => Err(format!("{cell:?} is not a finite number")),
    }
}

/// An NDJSON line's `"score"`: absent (no score) or a finite number.
fn json_score(v: Option<&serde_json::Value>) -> Result<Option<f64>, String> {
    match v {
        None => Ok(None),
        Some(serde_json::Value::Number(n)) => n
            .as_f64()
            .filter(|f| f.is_finite())
            .map(Some)
            .ok_or_else(|| format!("\"score\" {n} is not a finite number")),
        Some(other) => Err(format!("\"score\" must be a number, got {other}")),
    }
}

/// The entries of one record: each key with the record's value and score.
fn record_entries<'k>(
    keys: impl Iterator<Item = &'k str>,
    value: &Value,
    score: Option<f64>,
    out: &mut Vec<ScoredEntry>,
) {
    out.extend(keys.map(|key| ScoredEntry {
        key: key.to_owned(),
        value: value.clone(),
        score: score.map(ScoreOp::Set),
    }));
}

/// Parses a chunk of whole lines.
pub(crate) fn parse_chunk(chunk: &Chunk, format: Format, columns: Option<&CsvColumns>) -> Parsed {
    let mut out = Parsed {
        seq: chunk.seq,
        ..Default::default()
    };
    match (format, columns) {
        (Format::Csv, Some(cols)) => parse_csv(chunk, cols, &mut out),
        (Format::Ndjson, _) => parse_ndjson(chunk, &mut out),
        (Format::Csv, None) => unreachable!("CSV chunks come with their columns"),
    }
    out
}

fn parse_csv(chunk: &Chunk, cols: &CsvColumns, out: &mut Parsed) {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(&chunk.data[..]);
    let mut rec = csv::ByteRecord::new();
    // Line numbers are counted here, from the record's byte offset: the csv
    // reader counts a CRLF's `\n` only when the next record starts, so its
    // own line numbers lag by one after a `\r\n`.
    let data = &chunk.data[..];
    let (mut counted_to, mut newlines) = (0usize, 0u64);
    let mut line_at = |offset: usize| {
        let mut at = offset.min(data.len());
        if data.get(at) == Some(&b'\n') {
            at += 1; // the rest of the previous record's CRLF
        }
        if at > counted_to {
            newlines += data[counted_to..at].iter().filter(|&&b| b == b'\n').count() as u64;
            counted_to = at;
        }
        chunk.first_line + newlines
    };
    loop {
        let mut line = line_at(rdr.position().byte() as usize);
        match rdr.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {
                if let Some(p) = rec.position() {
                    line = line_at(p.byte() as usize);
                }
            }
            Err(e) => {
                out.errors.push(LineError {
                    line,
                    message: e.to_string(),
                });
                continue;
            }
        }
        if rec.len() == 1 && rec.get(0).is_some_and(<[u8]>::is_empty) {
            continue; // a blank line
        }
        let result = (|| {
            if rec.len() != cols.width {
                return Err(format!(
                    "expected {} columns, found {}",
                    cols.width,
                    rec.len()
                ));
            }
            let text = |i: usize| {
                std::str::from_utf8(&rec[i])
                    .map_err(|_| format!("column {} is not valid UTF-8", i + 1))
            };
            let value = cell_value(text(cols.value)?).map_err(|e| format!("value: {e}"))?;
            let score = match cols.score {
                Some(i) => cell_score(text(i)?).map_err(|e| format!("score: {e}"))?,
                None => None,
            };
            let mut keys = smallvec::SmallVec::<[&str; 4]>::new();
            for &k in &cols.keys {
                let key = text(k)?;
                check_key(key).map_err(|e| format!("column {}: {e}", k + 1))?;
                keys.push(key);
            }
            Ok((keys, value, score))
        })();
        match result {
            Ok((keys, value, score)) => {
                out.records += 1;
                record_entries(keys.into_iter(), &value, score, &mut out.entries);
            }
            Err(message) => out.errors.push(LineError { line, message }),
        }
    }
}

fn parse_ndjson(chunk: &Chunk, out: &mut Parsed) {
    for (i, raw) in chunk.data.split(|&b| b == b'\n').enumerate() {
        let line = chunk.first_line + i as u64;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let result = (|| {
            let text =
                std::str::from_utf8(raw).map_err(|_| "line is not valid UTF-8".to_string())?;
            let v: serde_json::Value =
                serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
            let obj = v.as_object().ok_or("line must be a JSON object")?;
            let keys = obj
                .get("keys")
                .and_then(|k| k.as_array())
                .ok_or("\"keys\" must be an array of strings")?;
            let value = obj.get("value").ok_or("\"value\" is missing")?;
            let value = Value::from_json(value).map_err(|e| format!("value: {e}"))?;
            let score = json_score(obj.get("score"))?;
            let mut checked = smallvec::SmallVec::<[&str; 4]>::new();
            for k in keys {
                let k = k.as_str().ok_or("\"keys\" must be an array of strings")?;
                check_key(k)?;
                checked.push(k);
            }
            let mut entries = Vec::with_capacity(checked.len());
            record_entries(checked.into_iter(), &value, score, &mut entries);
            Ok::<_, String>(entries)
        })();
        match result {
            Ok(entries) => {
                out.records += 1;
                out.entries.extend(entries);
            }
            Err(message) => out.errors.push(LineError { line, message }),
        }
    }
}

#[cfg(test)]
mod tests;
