//! [`Disk`]: the file operations the log needs, so that tests can inject a
//! failing or slow disk, with the real one ([`File`]) and [`SlowSync`], a
//! disk whose syncs take longer.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

/// The file operations the log needs, so tests can inject a failing disk.
pub trait Disk: Read + Write + Seek + Send + 'static {
    /// Flushes written data to stable storage (`fdatasync`).
    fn sync(&mut self) -> io::Result<()>;
    /// Cuts the file to `len` bytes.
    fn truncate(&mut self, len: u64) -> io::Result<()>;
    /// Writes `content` durably to a new file at `path` beside the log (a
    /// copy of a torn tail, kept before it is cut).
    fn keep_aside(&mut self, path: &Path, content: &[u8]) -> io::Result<()>;
    /// Creates (or empties) a file at `path` that another thread writes: the
    /// next log, during a background rewrite.
    fn create_staged(&mut self, path: &Path) -> io::Result<Box<dyn Staged>>;
    /// Renames the staged file at `staged` over `path`, syncs the directory
    /// and switches to the new file: after a crash at any point, `path`
    /// holds either the old content or the new. On error, says whether
    /// `self` still works on the old, intact file.
    fn adopt(&mut self, staged: &Path, path: &Path) -> Result<(), (io::Error, bool)>;
}

/// A file being written by a background rewrite.
pub trait Staged: Write + Send {
    /// Flushes it to stable storage.
    fn sync(&mut self) -> io::Result<()>;
}

impl Staged for File {
    fn sync(&mut self) -> io::Result<()> {
        self.sync_all()
    }
}

/// Syncs the directory holding `path`, so that a file created or renamed in
/// it survives a crash.
pub(crate) fn sync_parent(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => File::open(dir)?.sync_all(),
        _ => File::open(".")?.sync_all(),
    }
}

impl Disk for File {
    fn sync(&mut self) -> io::Result<()> {
        self.sync_data()
    }
    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.set_len(len)
    }
    fn keep_aside(&mut self, path: &Path, content: &[u8]) -> io::Result<()> {
        // A crash after an earlier copy but before the cut leaves the same
        // copy there already; a different file of that name (an older tail
        // at the same offset) is kept, and this copy takes the next free
        // name.
        for n in 0..1000 {
            let candidate = if n == 0 {
                path.to_path_buf()
            } else {
                let mut name = path.as_os_str().to_owned();
                name.push(format!(".{n}"));
                name.into()
            };
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&candidate)
            {
                Ok(mut f) => {
                    f.write_all(content)?;
                    f.sync_all()?;
                    return sync_parent(&candidate);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    if std::fs::read(&candidate).is_ok_and(|old| old == content) {
                        return Ok(());
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::other("too many torn-tail copies beside the log"))
    }
    fn create_staged(&mut self, path: &Path) -> io::Result<Box<dyn Staged>> {
        Ok(Box::new(File::create(path)?))
    }
    fn adopt(&mut self, staged: &Path, path: &Path) -> Result<(), (io::Error, bool)> {
        if let Err(e) = std::fs::rename(staged, path) {
            let _ = std::fs::remove_file(staged);
            return Err((e, true));
        }
        let reopen = (|| {
            sync_parent(path)?;
            OpenOptions::new().read(true).write(true).open(path)
        })();
        match reopen {
            Ok(f) => {
                *self = f;
                Ok(())
            }
            Err(e) => Err((e, false)),
        }
    }
}

/// A [`Disk`] whose syncs take at least `delay` longer: a slow or
/// overloaded disk, for tests of what clients are told while a write waits
/// (the binary uses it when `TYPEAHEAD_TEST_SYNC_DELAY_MS` is set).
pub struct SlowSync<D: Disk> {
    /// The disk underneath.
    pub inner: D,
    /// Added to every sync.
    pub delay: std::time::Duration,
}

impl<D: Disk> Read for SlowSync<D> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

impl<D: Disk> Write for SlowSync<D> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<D: Disk> Seek for SlowSync<D> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.inner.seek(pos)
    }
}

impl<D: Disk> Disk for SlowSync<D> {
    fn sync(&mut self) -> io::Result<()> {
        std::thread::sleep(self.delay);
        self.inner.sync()
    }
    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.inner.truncate(len)
    }
    fn keep_aside(&mut self, path: &Path, content: &[u8]) -> io::Result<()> {
        self.inner.keep_aside(path, content)
    }
    fn create_staged(&mut self, path: &Path) -> io::Result<Box<dyn Staged>> {
        self.inner.create_staged(path)
    }
    fn adopt(&mut self, staged: &Path, path: &Path) -> Result<(), (io::Error, bool)> {
        self.inner.adopt(staged, path)
    }
}
