//! [`LogStore`]: the embedded store, an append-only log of checksummed
//! records in one file under the data directory.
//!
//! File layout: a 16-byte header (`TYPEAHD\0`, format version as u32 LE, four
//! reserved bytes), then records of `payload length u32 LE | CRC-32 of the
//! payload u32 LE | payload`, where a payload is one group commit's
//! operations ([`Op::encode`]). A group is durable as a unit: the record is
//! written and `fdatasync`ed before any request in it is answered.
//!
//! At start-up, an incomplete or checksum-failing *last* record is a write
//! torn by a crash (never acknowledged) and is cut off; damage anywhere else
//! stops start-up with an error naming the file and the offset.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::{LoadStats, Op, OpRef, Producer, Store, StoreError};

/// The log's file name inside the data directory.
pub const LOG_FILE: &str = "typeahead.log";
const MAGIC: &[u8; 8] = b"TYPEAHD\0";
const FORMAT_VERSION: u32 = 1;
const HEADER_LEN: u64 = 16;

/// The file operations the log needs, so tests can inject a failing disk.
pub trait Disk: Read + Write + Seek + Send + 'static {
    /// Flushes written data to stable storage (`fdatasync`).
    fn sync(&mut self) -> io::Result<()>;
    /// Cuts the file to `len` bytes.
    fn truncate(&mut self, len: u64) -> io::Result<()>;
    /// Replaces the whole file at `path` with `content` atomically: after a
    /// crash at any point, the file holds either the old or the new content.
    /// On error, says whether `self` still works on the old, intact file.
    fn replace(&mut self, path: &Path, content: &[u8]) -> Result<(), (io::Error, bool)>;
}

impl Disk for File {
    fn sync(&mut self) -> io::Result<()> {
        self.sync_data()
    }
    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.set_len(len)
    }
    fn replace(&mut self, path: &Path, content: &[u8]) -> Result<(), (io::Error, bool)> {
        // Write a temporary file, sync it, rename it over the log, sync the
        // directory (so the rename itself is durable), then switch to it.
        let tmp = path.with_extension("log.tmp");
        let staged = (|| {
            let mut f = File::create(&tmp)?;
            f.write_all(content)?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        })();
        if let Err(e) = staged {
            let _ = std::fs::remove_file(&tmp);
            return Err((e, true));
        }
        let reopen = (|| {
            if let Some(dir) = path.parent() {
                File::open(dir)?.sync_all()?;
            }
            OpenOptions::new().read(true).write(true).open(path)
        })();
        match reopen {
            Ok(f) => {
                *self = f;
                Ok(())
            }
            // The handle still points at the old, now unlinked file.
            Err(e) => Err((e, false)),
        }
    }
}

/// The embedded default store: a write-ahead log (see the module docs).
pub struct LogStore<D: Disk = File> {
    disk: D,
    path: String,
    file: PathBuf,
    /// Length of the log up to the last complete, durable record.
    good_len: u64,
    /// Set when a failed append could not be rolled back: the file's tail is
    /// unknown, so every later append fails until a restart re-reads it.
    broken: bool,
    buf: Vec<u8>,
}

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
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io(&path))?;
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
            buf: Vec::new(),
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

    /// The disk, for tests that inspect or damage it.
    pub fn disk_mut(&mut self) -> &mut D {
        &mut self.disk
    }

    fn write_record(&mut self) -> io::Result<()> {
        self.disk.seek(SeekFrom::Start(self.good_len))?;
        self.disk.write_all(&self.buf)?;
        self.disk.flush()?;
        self.disk.sync()
    }
}

impl<D: Disk> LogStore<D> {
    /// Replays the record at `pos`: `Ok(Ok((bytes, ops)))` when it is whole,
    /// `Ok(Err(why))` when it is a torn last record, `Err` for damage.
    #[allow(clippy::type_complexity)]
    fn record_at(
        &self,
        data: &[u8],
        pos: usize,
        sink: &mut dyn FnMut(OpRef<'_>),
    ) -> Result<Result<(usize, u64), &'static str>, StoreError> {
        let rest = &data[pos..];
        if rest.len() < 8 {
            return Ok(Err("incomplete record header"));
        }
        let len = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(rest[4..8].try_into().expect("4 bytes"));
        if rest.len() - 8 < len {
            return Ok(Err("incomplete record"));
        }
        let payload = &rest[8..8 + len];
        if crc32fast::hash(payload) != crc {
            if rest.len() == 8 + len {
                return Ok(Err("checksum mismatch in the last record"));
            }
            return Err(self.corrupt(pos as u64, "record checksum mismatch"));
        }
        let ops = Op::decode_all(payload, sink)
            .map_err(|(at, why)| self.corrupt((pos + 8 + at) as u64, why))?;
        Ok(Ok((8 + len, ops)))
    }
}

/// Most operations per record when rewriting.
const REWRITE_RECORD_OPS: usize = 65_536;

/// Appends one record (`len | crc | payload`) holding `ops` to `out`.
fn push_record(out: &mut Vec<u8>, ops: &[Op]) -> io::Result<()> {
    let start = out.len();
    out.extend_from_slice(&[0; 8]);
    for op in ops {
        op.encode(out);
    }
    let len =
        u32::try_from(out.len() - start - 8).map_err(|_| io::Error::other("record too large"))?;
    let crc = crc32fast::hash(&out[start + 8..]);
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

impl<D: Disk> Store for LogStore<D> {
    fn rewrite(&mut self, produce: &mut Producer<'_>) -> Result<(), StoreError> {
        if self.broken {
            return Err(self.io(io::Error::other(
                "the log is in a failed state; restart the server",
            )));
        }
        let mut content = Vec::with_capacity(1 << 20);
        content.extend_from_slice(MAGIC);
        content.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        content.extend_from_slice(&[0; 4]);
        let mut group = Vec::with_capacity(REWRITE_RECORD_OPS);
        let mut failed = None;
        produce(&mut |op| {
            group.push(op);
            if group.len() == REWRITE_RECORD_OPS {
                if let Err(e) = push_record(&mut content, &group) {
                    failed = Some(e);
                }
                group.clear();
            }
        });
        if !group.is_empty() {
            if let Err(e) = push_record(&mut content, &group) {
                failed = Some(e);
            }
        }
        if let Some(e) = failed {
            return Err(self.io(e));
        }
        let file = self.file.clone();
        match self.disk.replace(&file, &content) {
            Ok(()) => {
                self.good_len = content.len() as u64;
                Ok(())
            }
            Err((e, still_valid)) => {
                self.broken = !still_valid;
                Err(self.io(e))
            }
        }
    }

    fn append(&mut self, ops: &[Op]) -> Result<(), StoreError> {
        if self.broken {
            return Err(self.io(io::Error::other(
                "an earlier write failed and could not be rolled back; restart the server",
            )));
        }
        if ops.is_empty() {
            return Ok(());
        }
        self.buf.clear();
        self.buf.extend_from_slice(&[0; 8]);
        for op in ops {
            op.encode(&mut self.buf);
        }
        let payload_len = self.buf.len() - 8;
        let len =
            u32::try_from(payload_len).map_err(|_| self.io(io::Error::other("group too large")))?;
        let crc = crc32fast::hash(&self.buf[8..]);
        self.buf[..4].copy_from_slice(&len.to_le_bytes());
        self.buf[4..8].copy_from_slice(&crc.to_le_bytes());
        match self.write_record() {
            Ok(()) => {
                self.good_len += self.buf.len() as u64;
                Ok(())
            }
            Err(e) => {
                // Cut the partial record so that the next append does not
                // land behind garbage; if even that fails, stop writing.
                let rolled_back = self
                    .disk
                    .truncate(self.good_len)
                    .and_then(|()| self.disk.sync())
                    .is_ok();
                self.broken = !rolled_back;
                Err(self.io(e))
            }
        }
    }

    fn load(&mut self, sink: &mut dyn FnMut(OpRef<'_>)) -> Result<LoadStats, StoreError> {
        self.disk.seek(SeekFrom::Start(0)).map_err(|e| self.io(e))?;
        let mut data = Vec::new();
        self.disk.read_to_end(&mut data).map_err(|e| self.io(e))?;
        let mut stats = LoadStats::default();
        if data.is_empty() {
            let mut header = Vec::with_capacity(HEADER_LEN as usize);
            header.extend_from_slice(MAGIC);
            header.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
            header.extend_from_slice(&[0; 4]);
            self.disk.seek(SeekFrom::Start(0)).map_err(|e| self.io(e))?;
            self.disk.write_all(&header).map_err(|e| self.io(e))?;
            self.disk.sync().map_err(|e| self.io(e))?;
            self.good_len = HEADER_LEN;
            return Ok(stats);
        }
        if data.len() < HEADER_LEN as usize || &data[..8] != MAGIC {
            return Err(self.corrupt(0, "not a typeahead log (bad or missing header)"));
        }
        let version = u32::from_le_bytes(data[8..12].try_into().expect("4 bytes"));
        if version != FORMAT_VERSION {
            return Err(self.corrupt(
                8,
                format!("written by log format version {version}; this build reads version {FORMAT_VERSION}"),
            ));
        }
        let mut pos = HEADER_LEN as usize;
        while pos < data.len() {
            match self.record_at(&data, pos, sink)? {
                Ok((len, ops)) => {
                    stats.ops += ops;
                    pos += len;
                }
                Err(why) => {
                    tracing::warn!(
                        file = %self.path,
                        offset = pos,
                        bytes = data.len() - pos,
                        "cutting a torn last record ({why}): a write interrupted by a crash, never acknowledged"
                    );
                    stats.truncated_tail = (data.len() - pos) as u64;
                    self.disk.truncate(pos as u64).map_err(|e| self.io(e))?;
                    self.disk.sync().map_err(|e| self.io(e))?;
                    break;
                }
            }
        }
        stats.bytes = pos as u64;
        self.good_len = pos as u64;
        Ok(stats)
    }
}

#[cfg(test)]
mod tests;
