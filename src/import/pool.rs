//! The import pipeline: splitter → parse workers → committer (see the module
//! docs of [`crate::import`]).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::sync::atomic::Ordering;
use std::sync::{mpsc as std_mpsc, Arc, Mutex};

use futures_util::{Stream, StreamExt};

use super::{parse_chunk, Chunk, CsvColumns, Format, Job, JobState, Parsed, Spec};
use crate::db::Db;

/// Bytes per chunk handed to a worker.
const CHUNK_BYTES: usize = 256 * 1024;
/// Longest line (or CSV record) accepted. A valid record is far smaller (a
/// key is at most 1 KiB, a value 4 KiB); a longer one means a file without
/// line breaks, which would otherwise be buffered whole.
const MAX_LINE: usize = 1024 * 1024;
/// Most entries per writer command. A command copies the buckets it
/// touches, and the copies it replaces are freed when it is published; the
/// allocator keeps more of what a command frees the more one command frees
/// at once. Importing 1M users (3M pairs) on the 2-core development
/// machine, two alternated rounds: 50,000 per command peaked at 407-427
/// MiB resident by the end of the import, 10,000 at 253-262, 5,000 at
/// 246-250 and 2,000 at 215-218, in 5.5-5.6, 5.8-5.9, 5.9-6.0 and 5.9 s.
const COMMIT_ENTRIES: usize = 2_000;
/// Pairs of consecutive chunks committed together in key order (a
/// [`Window`]).
const WINDOW_ENTRIES: usize = 250_000;
/// A window waits this long for the next chunk before it goes in as it
/// is, so that a slow upload's records still arrive as they come.
const FLUSH_AFTER: std::time::Duration = std::time::Duration::from_millis(200);

/// Runs one import to the end, updating `job` as it goes: waits (queued) for
/// `slot`, then runs.
pub async fn run<S, E>(
    job: Arc<Job>,
    spec: Spec,
    db: Db,
    body: S,
    slot: Arc<tokio::sync::Semaphore>,
    idle: std::time::Duration,
) where
    S: Stream<Item = Result<bytes::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let Ok(_permit) = slot.acquire_owned().await else {
        job.fail("the server is shutting down".into());
        return;
    };
    job.set_state(JobState::Running);
    let outcome = pipeline(&job, &spec, db, body, idle).await;
    match outcome {
        Ok(()) if job.view().state != JobState::Failed => {
            job.set_state(JobState::Done);
            let v = job.view();
            tracing::info!(
                job = job.id,
                records = v.records,
                entries_added = v.entries_added,
                bad_lines = v.error_count,
                bytes = v.bytes_read,
                "import done"
            );
        }
        Ok(()) => {}
        Err(why) => job.fail(why),
    }
}

/// The body's next chunk, or an error once it has been idle for `idle`: a
/// stalled upload must not hold an import slot forever.
async fn next_chunk<S, T>(body: &mut S, idle: std::time::Duration) -> Result<Option<T>, String>
where
    S: Stream<Item = T> + Unpin,
{
    tokio::time::timeout(idle, body.next()).await.map_err(|_| {
        format!(
            "the upload sent nothing for {} s; the job was stopped",
            idle.as_secs()
        )
    })
}

async fn pipeline<S, E>(
    job: &Arc<Job>,
    spec: &Spec,
    db: Db,
    mut body: S,
    idle: std::time::Duration,
) -> Result<(), String>
where
    S: Stream<Item = Result<bytes::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut buf: Vec<u8> = Vec::with_capacity(2 * CHUNK_BYTES);
    let mut next_line = 1u64;
    let read_err = |e: E| format!("reading the upload failed: {e}");

    // CSV: the header row names the columns; read it before anything else.
    let columns = if spec.format == Format::Csv {
        let header = loop {
            if let Some(end) = buf.iter().position(|&b| b == b'\n') {
                break buf.drain(..=end).collect::<Vec<u8>>();
            }
            if buf.len() > MAX_LINE {
                return Err("the header row is longer than 1 MiB: is this a CSV file?".into());
            }
            match next_chunk(&mut body, idle).await? {
                Some(chunk) => {
                    let chunk = chunk.map_err(read_err)?;
                    job.bytes_read
                        .fetch_add(chunk.len() as u64, Ordering::Relaxed);
                    buf.extend_from_slice(&chunk);
                }
                None => break std::mem::take(&mut buf),
            }
        };
        next_line += 1;
        // A header that names no such column is the file's first line's
        // fault: reported in `errors` as line 1, like any bad line.
        let columns = CsvColumns::from_header(&header, spec).inspect_err(|why| {
            job.add_errors(vec![super::LineError {
                line: 1,
                message: why.clone(),
            }]);
        })?;
        Some(Arc::new(columns))
    } else {
        None
    };

    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let (chunk_tx, chunk_rx) = tokio::sync::mpsc::channel::<Chunk>(workers * 2);
    let chunk_rx = Arc::new(Mutex::new(chunk_rx));
    let (parsed_tx, parsed_rx) = std_mpsc::sync_channel::<Parsed>(workers * 2);
    let mut handles = Vec::with_capacity(workers);
    for _ in 0..workers {
        let rx = Arc::clone(&chunk_rx);
        let tx = parsed_tx.clone();
        let columns = columns.clone();
        let format = spec.format;
        handles.push(std::thread::spawn(move || loop {
            let chunk = rx.lock().unwrap_or_else(|e| e.into_inner()).blocking_recv();
            let Some(chunk) = chunk else { break };
            let mut parsed = parse_chunk(&chunk, format, columns.as_deref());
            // Sorted here, on every core, the chunks are runs that the
            // committer merges (see `Window`).
            parsed.entries.sort_by(|a, b| a.key.cmp(&b.key));
            // Held in a window until the writer takes it: without the
            // room its growth left.
            parsed.entries.shrink_to_fit();
            if tx.send(parsed).is_err() {
                break; // the committer stopped
            }
        }));
    }
    drop(parsed_tx);
    let committer = {
        let job = Arc::clone(job);
        std::thread::spawn(move || commit_in_order(&job, &db, parsed_rx))
    };

    // Split the body into line-aligned chunks; `send` waits while the
    // workers are busy, which stops reading the body (backpressure).
    let mut seq = 0u64;
    let mut send_error = None;
    let mut finished = false;
    while !finished {
        let next = match next_chunk(&mut body, idle).await {
            Ok(next) => next,
            Err(why) => {
                send_error = Some(why);
                break;
            }
        };
        match next {
            Some(Ok(bytes)) => {
                job.bytes_read
                    .fetch_add(bytes.len() as u64, Ordering::Relaxed);
                buf.extend_from_slice(&bytes);
                if buf.len() < CHUNK_BYTES {
                    continue;
                }
            }
            Some(Err(e)) => {
                send_error = Some(read_err(e));
                break;
            }
            None => finished = true,
        }
        let cut = if finished {
            buf.len()
        } else {
            match split_point(&buf, spec.format) {
                Some(cut) => cut,
                None if buf.len() > MAX_LINE => {
                    send_error = Some(format!(
                        "line {next_line} is longer than 1 MiB; records must be one per line"
                    ));
                    break;
                }
                None => continue,
            }
        };
        if cut == 0 {
            continue;
        }
        let data: Vec<u8> = buf.drain(..cut).collect();
        let lines = data.iter().filter(|&&b| b == b'\n').count() as u64;
        let chunk = Chunk {
            seq,
            first_line: next_line,
            data,
        };
        seq += 1;
        next_line += lines;
        if chunk_tx.send(chunk).await.is_err() {
            break;
        }
    }
    drop(chunk_tx);
    let joined = tokio::task::spawn_blocking(move || {
        for h in handles {
            let _ = h.join();
        }
        let committed = committer.join();
        // The workers are gone, and with them the batches they parsed: what
        // the import took beyond the pairs it added goes back now.
        crate::db::release_memory();
        committed
    })
    .await;
    match joined {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(why))) => return Err(why),
        _ => return Err("an import worker panicked".into()),
    }
    send_error.map_or(Ok(()), Err)
}

/// End of the last complete line in `buf` (outside CSV quotes).
pub(crate) fn split_point(buf: &[u8], format: Format) -> Option<usize> {
    match format {
        Format::Ndjson => buf.iter().rposition(|&b| b == b'\n').map(|i| i + 1),
        Format::Csv => {
            let mut in_quotes = false;
            let mut last = None;
            for (i, &b) in buf.iter().enumerate() {
                match b {
                    b'"' => in_quotes = !in_quotes,
                    b'\n' if !in_quotes => last = Some(i + 1),
                    _ => {}
                }
            }
            last
        }
    }
}

/// Receives parsed chunks in any order and commits them in file order, a
/// window of consecutive chunks at a time (see [`Window`]).
fn commit_in_order(job: &Job, db: &Db, rx: std_mpsc::Receiver<Parsed>) -> Result<(), String> {
    let mut pending: BTreeMap<u64, Parsed> = BTreeMap::new();
    let mut next = 0u64;
    let mut window = Window::default();
    let mut failure = None;
    loop {
        let parsed = match rx.recv_timeout(FLUSH_AFTER) {
            Ok(parsed) => parsed,
            Err(std_mpsc::RecvTimeoutError::Timeout) => {
                // A slow upload: what has arrived goes in now.
                if failure.is_none() {
                    failure = window.commit(job, db).err();
                }
                continue;
            }
            Err(std_mpsc::RecvTimeoutError::Disconnected) => break,
        };
        pending.insert(parsed.seq, parsed);
        while let Some(p) = pending.remove(&next) {
            next += 1;
            if failure.is_some() {
                continue; // keep draining so the workers can stop
            }
            job.add_errors(p.errors);
            window.records += p.records;
            window.len += p.entries.len();
            window.runs.push(p.entries);
            if window.len >= WINDOW_ENTRIES {
                failure = window.commit(job, db).err();
            }
        }
    }
    if failure.is_none() {
        failure = window.commit(job, db).err();
    }
    failure.map_or(Ok(()), Err)
}

/// Consecutive chunks' pairs, committed together in key order.
///
/// The writer copies every bucket a command touches that the published
/// snapshot still shares (copy-on-write). A chunk's pairs lie all over the
/// key space, so a command of one chunk touched nearly every bucket and
/// copied nearly the whole trie: 1M users made about 140 such copies. A
/// window's pairs, sorted and cut into commands, give each command a narrow
/// range of the key space: about one copy of the trie per window, a dozen
/// in all. A 1M-user import went from 7.5-8.4 s to 5.8-6.7 s on the 2-core
/// development machine. The window holds up to 250,000 parsed pairs (about
/// 15 MB), merged straight into commands; with commands of a fifth of it
/// the import peaked at 380-390 MiB resident (against 287 MiB in file
/// order), with small ones ([`COMMIT_ENTRIES`]) at about 220 MiB.
#[derive(Default)]
struct Window {
    /// Good records of the window's chunks.
    records: u64,
    /// Their pairs, one run per chunk in file order, each sorted by key.
    runs: Vec<Vec<crate::db::ScoredEntry>>,
    /// Pairs in all the runs.
    len: usize,
}

/// A run's next pair in the merge: by key, then by run (file order).
struct Head {
    entry: crate::db::ScoredEntry,
    run: usize,
}

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}

impl Eq for Head {}

impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Head {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.entry.key.as_str(), self.run).cmp(&(other.entry.key.as_str(), other.run))
    }
}

impl Window {
    /// Merges the runs by key (equal keys in file order: a key's values
    /// keep the file's order, and pairs of different keys do not affect
    /// one another, so the trie ends the same) and commits them, at most
    /// [`COMMIT_ENTRIES`] per writer command. The job's `records` count
    /// the window once all of it is in.
    fn commit(&mut self, job: &Job, db: &Db) -> Result<(), String> {
        // A merge of the sorted runs, straight into commands: no copy of
        // the window and no sort's scratch beside it. Equal keys come out
        // in file order (the earlier run first), as a stable sort would
        // leave them.
        self.len = 0;
        let mut runs: Vec<_> = self.runs.drain(..).map(Vec::into_iter).collect();
        let mut heads: BinaryHeap<Reverse<Head>> = runs
            .iter_mut()
            .enumerate()
            .filter_map(|(run, it)| {
                Some(Reverse(Head {
                    entry: it.next()?,
                    run,
                }))
            })
            .collect();
        while !heads.is_empty() {
            let mut command = Vec::with_capacity(COMMIT_ENTRIES);
            while command.len() < COMMIT_ENTRIES {
                let Some(Reverse(Head { entry, run })) = heads.pop() else {
                    break;
                };
                command.push(entry);
                if let Some(entry) = runs[run].next() {
                    heads.push(Reverse(Head { entry, run }));
                }
            }
            match db.add_scored_blocking(job.trie.clone(), command) {
                Ok(done) => {
                    job.entries_added
                        .fetch_add(done.added as u64, Ordering::Relaxed);
                }
                Err(e) => return Err(format!("writing to the trie failed: {e}")),
            }
        }
        job.records
            .fetch_add(std::mem::take(&mut self.records), Ordering::Relaxed);
        Ok(())
    }
}
