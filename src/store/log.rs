//! [`LogStore`]: the embedded store, an append-only log of checksummed
//! records in one file under the data directory.
//!
//! The record format, and the rule that tells a torn tail (cut, after a copy
//! of it is kept in a side file) from damage (start-up stops, nothing
//! changes), live in `record`. A group is durable as a unit: its record is
//! written and `fdatasync`ed before any request in it is answered.
//!
//! # Failures
//! - A write that fails before the sync (a full disk: `ENOSPC`) is rolled
//!   back by cutting the file to its last good record; the next append tries
//!   again, so writes resume by themselves once space is free.
//! - A failed sync is fail-stop: after it the kernel may have dropped the
//!   dirty pages and cleared the error, so a retry could "succeed" over lost
//!   data (PostgreSQL's fsync lesson of 2018). The log refuses every later
//!   write until a restart re-reads the file from disk.
//!
//! Loading streams the file record by record through one buffer, so memory at
//! start-up follows the largest record, not the file.

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Read, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::disk::sync_parent;
pub use super::disk::{Disk, SlowSync, Staged};
use super::record::{self, FORMAT_VERSION, HEADER_LEN, MAGIC, RECORD_HEADER};
use super::{LoadStats, Op, OpRef, Producer, Store, StoreError};

/// The log's file name inside the data directory.
pub const LOG_FILE: &str = "typeahead.log";

impl LogStore<SlowSync<File>> {
    /// As [`LogStore::open`], with every sync delayed by `delay`.
    ///
    /// # Errors
    /// As [`LogStore::open`].
    pub fn open_slow(dir: &Path, delay: std::time::Duration) -> Result<Self, StoreError> {
        let store = LogStore::open(dir)?;
        Ok(LogStore {
            disk: SlowSync {
                inner: store.disk,
                delay,
            },
            path: store.path,
            file: store.file,
            good_len: store.good_len,
            broken: store.broken,
            version: store.version,
            buf: store.buf,
            staging: None,
        })
    }
}

/// The embedded default store: a write-ahead log (see the module docs).
pub struct LogStore<D: Disk = File> {
    disk: D,
    path: String,
    file: PathBuf,
    /// Length of the log up to the last complete, durable record.
    good_len: u64,
    /// Set when a sync failed or a failed append could not be rolled back:
    /// what is on disk is unknown, so every later append fails until a
    /// restart re-reads it.
    broken: bool,
    /// The format version of the file's records.
    version: u32,
    buf: Vec<u8>,
    /// A background rewrite under way.
    staging: Option<Staging>,
}

/// A background rewrite: the thread writing the next log, and the records
/// appended to the current one since it started (format 2), to be added to
/// the next log before it replaces the current one.
struct Staging {
    path: PathBuf,
    done: std::sync::mpsc::Receiver<io::Result<(Box<dyn Staged>, u64)>>,
    tail: Vec<u8>,
    started: std::time::Instant,
}

/// The suffix of the staged next log, beside the log.
const STAGED_SUFFIX: &str = "log.compact";

impl LogStore<File> {
    /// Opens (or creates) the log in `dir`, creating `dir` if needed.
    ///
    /// # Errors
    /// [`StoreError::Io`] when the directory or file cannot be opened.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let io = |path: &Path| {
            let path = path.display().to_string();
            move |source| StoreError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let path: PathBuf = dir.join(LOG_FILE);
        let existed = path.exists();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io(&path))?;
        if !existed {
            sync_parent(&path).map_err(io(dir))?;
        }
        // A rewrite a crash interrupted: the log itself is whole.
        let _ = std::fs::remove_file(path.with_extension(STAGED_SUFFIX));
        let mut store = Self::with_disk(file, path.display().to_string());
        store.file = path;
        Ok(store)
    }
}

impl<D: Disk> LogStore<D> {
    /// A log on any [`Disk`]; `path` names it in errors. Call
    /// [`Store::load`] before the first append.
    pub fn with_disk(disk: D, path: String) -> Self {
        LogStore {
            file: PathBuf::from(&path),
            disk,
            path,
            good_len: 0,
            broken: false,
            version: FORMAT_VERSION,
            buf: Vec::new(),
            staging: None,
        }
    }

    fn io(&self, source: io::Error) -> StoreError {
        StoreError::Io {
            path: self.path.clone(),
            source,
        }
    }

    fn corrupt(&self, offset: u64, reason: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            offset,
            reason: reason.into(),
        }
    }

    /// Whether a background rewrite is under way.
    pub fn rewriting(&self) -> bool {
        self.staging.is_some()
    }

    /// The disk, for tests that inspect or damage it.
    pub fn disk_mut(&mut self) -> &mut D {
        &mut self.disk
    }
}

/// Most operations per record when rewriting.
const REWRITE_RECORD_OPS: usize = 65_536;

/// Writes a whole next log (header and records of format 2) from
/// `produce` into `staged`, then syncs it; returns it and its length.
fn write_staged(
    staged: Box<dyn Staged>,
    produce: &mut Producer<'_>,
) -> io::Result<(Box<dyn Staged>, u64)> {
    let mut out = io::BufWriter::with_capacity(1 << 20, staged);
    out.write_all(&record::file_header(FORMAT_VERSION))?;
    let mut len = HEADER_LEN;
    let mut group = Vec::with_capacity(REWRITE_RECORD_OPS);
    let mut buf = Vec::new();
    let mut failed = None;
    let mut flush = |group: &mut Vec<Op>, out: &mut io::BufWriter<Box<dyn Staged>>| {
        buf.clear();
        let r = push_record(&mut buf, group, FORMAT_VERSION).and_then(|()| out.write_all(&buf));
        len += buf.len() as u64;
        group.clear();
        r
    };
    produce(&mut |op| {
        if failed.is_some() {
            return; // keep nothing more once writing failed
        }
        group.push(op);
        if group.len() == REWRITE_RECORD_OPS {
            failed = flush(&mut group, &mut out).err();
        }
    });
    if let Some(e) = failed {
        return Err(e);
    }
    if !group.is_empty() {
        flush(&mut group, &mut out)?;
    }
    let mut staged = out.into_inner().map_err(io::IntoInnerError::into_error)?;
    staged.sync()?;
    Ok((staged, len))
}

/// Appends one record of `version` holding `ops` to `out`.
fn push_record(out: &mut Vec<u8>, ops: &[Op], version: u32) -> io::Result<()> {
    let start = out.len();
    out.extend_from_slice(&[0; RECORD_HEADER]);
    for op in ops {
        op.encode(out);
    }
    record::seal(out, start, version)
}

impl<D: Disk> LogStore<D> {
    /// After an append during a background rewrite: keeps the group for the
    /// next log, and switches to the next log once it is written.
    fn follow_rewrite(&mut self, ops: &[Op]) -> Result<(), StoreError> {
        let Some(staging) = self.staging.as_mut() else {
            return Ok(());
        };
        if self.version == FORMAT_VERSION {
            staging.tail.extend_from_slice(&self.buf);
        } else {
            push_record(&mut staging.tail, ops, FORMAT_VERSION).map_err(|e| StoreError::Io {
                path: self.path.clone(),
                source: e,
            })?;
        }
        self.switch_if_written()
    }

    /// Switches to the next log if the background rewrite has written it
    /// (with the groups appended since it started).
    fn switch_if_written(&mut self) -> Result<(), StoreError> {
        let Some(staging) = self.staging.as_mut() else {
            return Ok(());
        };
        let result = match staging.done.try_recv() {
            Err(std::sync::mpsc::TryRecvError::Empty) => return Ok(()),
            Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                Err(io::Error::other("the rewrite thread stopped"))
            }
            Ok(r) => r,
        };
        let staging = self.staging.take().expect("checked above");
        let finished = result.and_then(|(mut staged, len)| {
            staged.write_all(&staging.tail)?;
            staged.flush()?;
            staged.sync()?;
            Ok(len + staging.tail.len() as u64)
        });
        let len = match finished {
            Ok(len) => len,
            Err(e) => {
                let _ = std::fs::remove_file(&staging.path);
                tracing::warn!(error = %e, "background compaction failed; keeping the log as it is");
                return Ok(());
            }
        };
        let file = self.file.clone();
        match self.disk.adopt(&staging.path, &file) {
            Ok(()) => {
                tracing::info!(
                    bytes_before = self.good_len,
                    bytes_after = len,
                    elapsed_ms = staging.started.elapsed().as_millis() as u64,
                    "compacted the log in the background"
                );
                self.good_len = len;
                self.version = FORMAT_VERSION;
                Ok(())
            }
            Err((e, still_valid)) => {
                tracing::warn!(error = %e, "could not switch to the compacted log");
                self.broken = !still_valid;
                Ok(())
            }
        }
    }

    fn refuse_if_broken(&self) -> Result<(), StoreError> {
        if self.broken {
            return Err(StoreError::Failed {
                path: self.path.clone(),
            });
        }
        Ok(())
    }

    /// Handles a problem at `pos` (of a file `file_len` long): cuts a torn
    /// tail after keeping a copy, or reports damage and changes nothing.
    fn settle_tail(&mut self, pos: u64, file_len: u64, why: &str) -> Result<u64, StoreError> {
        self.disk
            .seek(SeekFrom::Start(pos))
            .map_err(|e| self.io(e))?;
        let mut rest = Vec::new();
        (&mut self.disk)
            .take(file_len - pos)
            .read_to_end(&mut rest)
            .map_err(|e| self.io(e))?;
        if let Some(damage) = record::damage_in_tail(&rest, self.version) {
            return Err(self.corrupt(pos, damage));
        }
        let aside = PathBuf::from(format!("{}.torn-{pos}", self.file.display()));
        if !rest.is_empty() && !rest.iter().all(|&b| b == 0) {
            self.disk
                .keep_aside(&aside, &rest)
                .map_err(|e| self.io(e))?;
        }
        tracing::warn!(
            file = %self.path,
            offset = pos,
            bytes = rest.len(),
            kept_in = %aside.display(),
            "cutting a torn last record ({why}): a write interrupted by a crash, never acknowledged"
        );
        self.disk.truncate(pos).map_err(|e| self.io(e))?;
        self.disk.sync().map_err(|e| self.io(e))?;
        Ok(rest.len() as u64)
    }
}

impl<D: Disk> Store for LogStore<D> {
    fn rewrite(&mut self, produce: &mut Producer<'_>) -> Result<(), StoreError> {
        // The same path as a background rewrite, run to its end at once:
        // the next log is streamed to the staged file, synced, and renamed
        // over the log.
        self.refuse_if_broken()?;
        let staged_path = self.file.with_extension(STAGED_SUFFIX);
        let staged = self
            .disk
            .create_staged(&staged_path)
            .map_err(|e| self.io(e))?;
        let len = match write_staged(staged, produce) {
            Ok((_, len)) => len,
            Err(e) => {
                let _ = std::fs::remove_file(&staged_path);
                return Err(self.io(e));
            }
        };
        let file = self.file.clone();
        match self.disk.adopt(&staged_path, &file) {
            Ok(()) => {
                self.good_len = len;
                self.version = FORMAT_VERSION;
                Ok(())
            }
            Err((e, still_valid)) => {
                self.broken = !still_valid;
                Err(self.io(e))
            }
        }
    }

    fn append(&mut self, ops: &[Op]) -> Result<(), StoreError> {
        self.refuse_if_broken()?;
        if ops.is_empty() {
            return Ok(());
        }
        self.buf.clear();
        push_record(&mut self.buf, ops, self.version).map_err(|e| self.io(e))?;
        let written = (|| {
            self.disk.seek(SeekFrom::Start(self.good_len))?;
            self.disk.write_all(&self.buf)?;
            self.disk.flush()
        })();
        if let Err(e) = written {
            // Nothing was synced: cut the partial record so that the next
            // append does not land behind garbage, and keep taking writes
            // (a full disk frees up). If even the cut fails, stop writing.
            let rolled_back = self
                .disk
                .truncate(self.good_len)
                .and_then(|()| self.disk.sync())
                .is_ok();
            self.broken = !rolled_back;
            if e.kind() == io::ErrorKind::StorageFull || e.raw_os_error() == Some(28) {
                return Err(StoreError::Full {
                    path: self.path.clone(),
                });
            }
            return Err(self.io(e));
        }
        if let Err(e) = self.disk.sync() {
            // Fail-stop: see the module docs. The record is in the file, so
            // a restart may replay it: its outcome is unknown, not "not
            // applied".
            self.broken = true;
            tracing::error!(file = %self.path, error = %e, "fsync failed; refusing writes until a restart");
            return Err(StoreError::SyncFailed {
                path: self.path.clone(),
                source: e,
            });
        }
        self.good_len += self.buf.len() as u64;
        if self.staging.is_some() {
            self.follow_rewrite(ops)?;
        }
        Ok(())
    }

    fn start_rewrite(&mut self, produce: super::Rewrite) -> Result<bool, StoreError> {
        self.refuse_if_broken()?;
        if self.staging.is_some() {
            return Ok(false);
        }
        let path = self.file.with_extension(STAGED_SUFFIX);
        let staged = self.disk.create_staged(&path).map_err(|e| self.io(e))?;
        let (tx, done) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("typeahead-compact".into())
            .spawn(move || {
                let mut produce = Some(produce);
                let mut once = |sink: &mut dyn FnMut(Op)| {
                    if let Some(p) = produce.take() {
                        p(sink);
                    }
                };
                let _ = tx.send(write_staged(staged, &mut once));
            })
            .map_err(|e| self.io(e))?;
        self.staging = Some(Staging {
            path,
            done,
            tail: Vec::new(),
            started: std::time::Instant::now(),
        });
        Ok(true)
    }

    fn rewriting(&self) -> bool {
        LogStore::rewriting(self)
    }

    fn finish_rewrite(&mut self) -> Result<(), StoreError> {
        self.refuse_if_broken()?;
        self.switch_if_written()
    }

    fn load(&mut self, sink: &mut dyn FnMut(OpRef<'_>)) -> Result<LoadStats, StoreError> {
        let file_len = self.disk.seek(SeekFrom::End(0)).map_err(|e| self.io(e))?;
        self.disk.seek(SeekFrom::Start(0)).map_err(|e| self.io(e))?;
        let mut stats = LoadStats::default();
        let mut header = [0u8; HEADER_LEN as usize];
        let have = (file_len as usize).min(header.len());
        self.disk
            .read_exact(&mut header[..have])
            .map_err(|e| self.io(e))?;
        let fresh = record::file_header(FORMAT_VERSION);
        if file_len < HEADER_LEN && header[..have] == fresh[..have] {
            // Empty, or a header cut by a crash right after creation.
            self.disk.truncate(0).map_err(|e| self.io(e))?;
            self.disk.seek(SeekFrom::Start(0)).map_err(|e| self.io(e))?;
            self.disk.write_all(&fresh).map_err(|e| self.io(e))?;
            self.disk.sync().map_err(|e| self.io(e))?;
            self.good_len = HEADER_LEN;
            self.version = FORMAT_VERSION;
            return Ok(stats);
        }
        if file_len < HEADER_LEN || &header[..8] != MAGIC {
            return Err(self.corrupt(0, "not a typeahead log (bad or missing header)"));
        }
        let version = u32::from_le_bytes(header[8..12].try_into().expect("4 bytes"));
        if !(1..=FORMAT_VERSION).contains(&version) {
            return Err(self.corrupt(
                8,
                format!("written by log format version {version}; this build reads versions 1 to {FORMAT_VERSION}"),
            ));
        }
        self.version = version;
        let mut pos = HEADER_LEN;
        let mut payload = Vec::new();
        let mut problem = None;
        {
            let mut reader = BufReader::with_capacity(1 << 20, &mut self.disk);
            while pos < file_len {
                let left = file_len - pos;
                if left < RECORD_HEADER as u64 {
                    problem = Some("incomplete record header");
                    break;
                }
                let mut head = [0u8; RECORD_HEADER];
                reader.read_exact(&mut head).map_err(|e| StoreError::Io {
                    path: self.path.clone(),
                    source: e,
                })?;
                let len = u32::from_le_bytes(head[..4].try_into().expect("4 bytes")) as u64;
                let crc = u32::from_le_bytes(head[4..].try_into().expect("4 bytes"));
                if left - (RECORD_HEADER as u64) < len {
                    problem = Some("incomplete record");
                    break;
                }
                payload.resize(len as usize, 0);
                reader
                    .read_exact(&mut payload)
                    .map_err(|e| StoreError::Io {
                        path: self.path.clone(),
                        source: e,
                    })?;
                if record::checksum(version, &payload) != crc {
                    problem = Some("checksum mismatch");
                    break;
                }
                let ops = Op::decode_all(&payload, &mut *sink).map_err(|(at, why)| {
                    StoreError::Corrupt {
                        path: self.path.clone(),
                        offset: pos + RECORD_HEADER as u64 + at as u64,
                        reason: why,
                    }
                })?;
                stats.ops += ops;
                pos += RECORD_HEADER as u64 + len;
            }
        }
        if let Some(why) = problem {
            stats.truncated_tail = self.settle_tail(pos, file_len, why)?;
        }
        stats.bytes = pos;
        self.good_len = pos;
        Ok(stats)
    }
}

#[cfg(test)]
mod tests;
