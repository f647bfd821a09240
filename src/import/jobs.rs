//! Import jobs: each import's progress, shared by the pipeline and the
//! API, and the list of recent jobs, kept in `jobs.json` in the data
//! directory so that a job's end survives a restart (a job a restart
//! interrupted says so).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use serde::{Deserialize, Serialize};

use super::Format;

/// Errors kept per job; later ones are counted but not stored.
pub const MAX_KEPT_ERRORS: usize = 100;
/// Jobs kept in the list.
const MAX_JOBS: usize = 100;
/// The file the job list is kept in, inside the data directory.
pub const JOBS_FILE: &str = "jobs.json";

/// A job's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Created, not started.
    Queued,
    /// Reading and importing.
    Running,
    /// Finished; bad lines are in `errors`.
    Done,
    /// Stopped by an error that is not about one line.
    Failed,
}

/// A bad line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineError {
    /// 1-based line number in the uploaded file.
    pub line: u64,
    /// What is wrong with it.
    pub message: String,
}

/// One import's progress, shared by the pipeline and the API.
#[derive(Debug)]
pub struct Job {
    /// Id.
    pub id: u64,
    /// Target trie.
    pub trie: String,
    /// Format.
    pub format: Format,
    pub(crate) records: AtomicU64,
    pub(crate) entries_added: AtomicU64,
    pub(crate) bytes_read: AtomicU64,
    error_count: AtomicU64,
    inner: Mutex<JobInner>,
    /// Where the job list is kept, to save it when this job ends.
    record: Option<Record>,
}

/// The job list's file, and the list (weakly: a job must not keep it alive).
#[derive(Debug, Clone)]
struct Record {
    path: PathBuf,
    list: Weak<Mutex<(u64, VecDeque<Arc<Job>>)>>,
    /// One save at a time, each taking its snapshot under it, so the last
    /// save written is the newest.
    saving: Arc<Mutex<()>>,
}

impl Record {
    /// Writes every kept job's view to the file (a temporary file renamed
    /// over it, so a crash leaves the old list or the new one).
    fn save(&self) {
        let Some(list) = self.list.upgrade() else {
            return;
        };
        let _one_at_a_time = self.saving.lock().unwrap_or_else(|e| e.into_inner());
        let jobs: Vec<Arc<Job>> = list
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .1
            .iter()
            .cloned()
            .collect();
        let views: Vec<JobView> = jobs.iter().map(|j| j.view()).collect();
        let tmp = self.path.with_extension("json.tmp");
        let written = serde_json::to_vec(&views)
            .map_err(std::io::Error::other)
            .and_then(|bytes| {
                let mut f = std::fs::File::create(&tmp)?;
                std::io::Write::write_all(&mut f, &bytes)?;
                f.sync_all()
            })
            .and_then(|()| std::fs::rename(&tmp, &self.path));
        if let Err(e) = written {
            tracing::warn!(file = %self.path.display(), error = %e, "could not save the job list");
        }
    }
}

#[derive(Debug)]
struct JobInner {
    state: JobState,
    errors: Vec<LineError>,
    failure: Option<String>,
}

/// What `GET /v1/jobs/{id}` answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobView {
    /// Id.
    pub id: u64,
    /// Target trie.
    pub trie: String,
    /// Format.
    pub format: Format,
    /// State.
    pub state: JobState,
    /// Good records imported.
    pub records: u64,
    /// New (key, value) entries.
    pub entries_added: u64,
    /// Body bytes read.
    pub bytes_read: u64,
    /// Bad lines in all (only the first 100 are listed).
    pub error_count: u64,
    /// The first 100 bad lines.
    pub errors: Vec<LineError>,
    /// Why a failed job stopped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

impl Job {
    pub(crate) fn set_state(&self, state: JobState) {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).state = state;
        if matches!(state, JobState::Done | JobState::Failed) {
            self.save();
        }
    }

    pub(crate) fn fail(&self, why: String) {
        tracing::warn!(job = self.id, %why, "import failed");
        {
            let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            inner.state = JobState::Failed;
            inner.failure = Some(why);
        }
        self.save();
    }

    fn save(&self) {
        if let Some(r) = &self.record {
            r.save();
        }
    }

    /// A job restored from the saved list: one that had not ended is marked
    /// failed, interrupted by the restart.
    fn restored(mut v: JobView) -> Job {
        if !matches!(v.state, JobState::Done | JobState::Failed) {
            v.state = JobState::Failed;
            v.failure = Some(
                "interrupted: the server stopped before this import ended; entries committed before that are kept".into(),
            );
        }
        Job {
            id: v.id,
            trie: v.trie,
            format: v.format,
            records: AtomicU64::new(v.records),
            entries_added: AtomicU64::new(v.entries_added),
            bytes_read: AtomicU64::new(v.bytes_read),
            error_count: AtomicU64::new(v.error_count),
            inner: Mutex::new(JobInner {
                state: v.state,
                errors: v.errors,
                failure: v.failure,
            }),
            record: None,
        }
    }

    pub(crate) fn add_errors(&self, errors: Vec<LineError>) {
        self.error_count
            .fetch_add(errors.len() as u64, Ordering::Relaxed);
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let room = MAX_KEPT_ERRORS.saturating_sub(inner.errors.len());
        inner.errors.extend(errors.into_iter().take(room));
    }

    /// A consistent view for the API.
    pub fn view(&self) -> JobView {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut errors = inner.errors.clone();
        errors.sort_by_key(|e| e.line);
        JobView {
            id: self.id,
            trie: self.trie.clone(),
            format: self.format,
            state: inner.state,
            records: self.records.load(Ordering::Relaxed),
            entries_added: self.entries_added.load(Ordering::Relaxed),
            bytes_read: self.bytes_read.load(Ordering::Relaxed),
            error_count: self.error_count.load(Ordering::Relaxed),
            errors,
            failure: inner.failure.clone(),
        }
    }
}

/// The recent jobs (the last 100), newest last.
///
/// Up to [`CONCURRENT_IMPORTS`] imports run at once (their commits still go
/// through the one writer), so one stalled upload cannot block the others;
/// later jobs wait in state `queued` (their uploads on TCP backpressure).
#[derive(Debug, Clone)]
pub struct Jobs {
    inner: Arc<Mutex<(u64, VecDeque<Arc<Job>>)>>,
    slot: Arc<tokio::sync::Semaphore>,
    idle: std::time::Duration,
    /// Where the list is kept, if anywhere.
    file: Option<PathBuf>,
    saving: Arc<Mutex<()>>,
}

/// Imports that run at once; later ones wait in state `queued`.
pub const CONCURRENT_IMPORTS: usize = 4;
/// How long an upload may send nothing before its job fails, by default.
pub const IDLE_BODY: std::time::Duration = std::time::Duration::from_secs(30);

impl Default for Jobs {
    fn default() -> Self {
        Jobs::new(IDLE_BODY)
    }
}

impl Jobs {
    /// Jobs whose uploads fail after `idle` without a byte.
    ///
    /// Ids start from the wall clock (milliseconds since 1970, times 1000)
    /// and count up, so they are unique across restarts: a client polling
    /// its job after a restart never reads another one's.
    pub fn new(idle: std::time::Duration) -> Self {
        let start = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
            .saturating_mul(1000);
        Jobs {
            inner: Arc::new(Mutex::new((start, VecDeque::new()))),
            slot: Arc::new(tokio::sync::Semaphore::new(CONCURRENT_IMPORTS)),
            idle,
            file: None,
            saving: Arc::default(),
        }
    }

    /// As [`Jobs::new`], with the list kept in [`JOBS_FILE`](crate::import::JOBS_FILE) in `dir`: the
    /// jobs saved there are loaded (those a restart interrupted marked
    /// failed, saying so), and the file is rewritten whenever a job starts
    /// or ends. An unreadable file is logged and replaced.
    pub fn kept_in(dir: &Path, idle: std::time::Duration) -> Self {
        let mut jobs = Jobs::new(idle);
        let path = dir.join(JOBS_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => match serde_json::from_slice::<Vec<JobView>>(&bytes) {
                Ok(views) => {
                    let mut g = jobs.inner.lock().unwrap_or_else(|e| e.into_inner());
                    for v in views.into_iter().rev().take(MAX_JOBS).rev() {
                        // Never below a kept id, even if the clock went back.
                        g.0 = g.0.max(v.id);
                        g.1.push_back(Arc::new(Job::restored(v)));
                    }
                }
                Err(e) => {
                    tracing::warn!(file = %path.display(), error = %e, "ignoring an unreadable job list")
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "could not read the job list")
            }
        }
        jobs.file = Some(path);
        if let Some(r) = jobs.record() {
            r.save();
        }
        jobs
    }

    fn record(&self) -> Option<Record> {
        self.file.as_ref().map(|path| Record {
            path: path.clone(),
            list: Arc::downgrade(&self.inner),
            saving: Arc::clone(&self.saving),
        })
    }

    /// How long an upload may be idle.
    pub fn idle(&self) -> std::time::Duration {
        self.idle
    }

    /// Registers a new queued job.
    pub fn create(&self, trie: String, format: Format) -> Arc<Job> {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.0 += 1;
        let job = Arc::new(Job {
            id: g.0,
            trie,
            format,
            records: AtomicU64::new(0),
            entries_added: AtomicU64::new(0),
            bytes_read: AtomicU64::new(0),
            error_count: AtomicU64::new(0),
            inner: Mutex::new(JobInner {
                state: JobState::Queued,
                errors: Vec::new(),
                failure: None,
            }),
            record: self.record(),
        });
        g.1.push_back(Arc::clone(&job));
        while g.1.len() > MAX_JOBS {
            g.1.pop_front();
        }
        drop(g);
        job.save();
        job
    }

    /// The import slots ([`CONCURRENT_IMPORTS`] run at a time).
    pub fn slot(&self) -> Arc<tokio::sync::Semaphore> {
        Arc::clone(&self.slot)
    }

    /// The job with `id`, if still kept.
    pub fn get(&self, id: u64) -> Option<Arc<Job>> {
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.1.iter().find(|j| j.id == id).cloned()
    }

    /// Every kept job, oldest first.
    pub fn list(&self) -> Vec<Arc<Job>> {
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.1.iter().cloned().collect()
    }
}
