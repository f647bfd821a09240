//! [`PgStore`]: PostgreSQL as the store of record of a cluster of nodes,
//! each holding the whole index in memory.
//!
//! # What it owns
//! The schema (module `schema`), the choice of the one writer, the writer's
//! commits, every other node's following of them, checkpoints, and the
//! [`ClusterStatus`] a node's HTTP layer reads. It knows nothing of HTTP or
//! of how operations are applied: groups go out and come in as [`Op`]s in
//! the log's own encoding.
//!
//! # How it works
//! - **One writer.** Every node holds a connection; the node whose
//!   connection holds a session-level advisory lock is the writer. Nodes
//!   that are not try the lock every 200 ms, so when the writer dies (its
//!   process, its connection) the lock is free at once and another node
//!   takes it within a fraction of a second.
//! - **Fencing.** Taking over bumps `epoch` in `typeahead_leader`. Every
//!   commit updates that row `WHERE epoch = mine` in the same transaction as
//!   its group, so a deposed writer's commit changes nothing (it updates no
//!   row and rolls back), and commits are serialized on that row: positions
//!   are gapless and appear in order.
//! - **Groups.** The writer keeps its group commit: one transaction per
//!   group (the group's operations in one `bytea` row at the next position,
//!   the leader row, and a `NOTIFY`), and [`Store::append`] returns only
//!   after `COMMIT` does. A commit whose outcome is unknown (the connection
//!   broke during `COMMIT`) is reported as such and the node stops being
//!   the writer; following then applies the group if it committed.
//! - **Following.** Followers `LISTEN` and, woken by the notification or
//!   every 100 ms at the latest, read the groups after their position in
//!   order and apply them exactly as the writer did. The writer's own
//!   position becomes visible only once its group is published
//!   ([`Store::committed`]), so a position always names what readers see.
//! - **Checkpoints.** When the history has grown much larger than the state
//!   (the log's compaction rule), the writer writes the frozen state at its
//!   position in the background, in parts, in one transaction that also
//!   drops older checkpoints and the groups every live node has applied. A
//!   joining node reads the newest checkpoint and the groups after it in one
//!   repeatable-read snapshot.

mod checkpoint;
mod schema;
mod status;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, Config, NoTls};

pub use schema::SCHEMA_VERSION;
pub use status::{ClusterStatus, ClusterView, NodeView, Route};

use super::{LoadStats, Op, OpRef, Rewrite, Store, StoreError};

/// How often a follower tries to become the writer.
const TRY_LOCK_EVERY: Duration = Duration::from_millis(200);
/// How often a node records its position and reads the cluster's.
const BEAT_EVERY: Duration = Duration::from_millis(250);
/// Groups read per query while following or loading.
const PAGE: i64 = 512;
/// Bytes per checkpoint part.
const PART_BYTES: usize = 8 << 20;

/// A group's commit, fenced: the writer's row moves to the group's
/// position only while the epoch is the writer's own (`$2`), the group is
/// inserted only when it did, and the notification goes out with the
/// commit. One row back means committed-to-be; none means deposed.
const COMMIT_GROUP: &str = "\
    WITH fence AS (UPDATE typeahead_leader SET position = $1 \
                   WHERE id = 1 AND epoch = $2 RETURNING position), \
         grp AS (INSERT INTO typeahead_groups (position, epoch, ops) \
                 SELECT position, $2, $3 FROM fence RETURNING position) \
    SELECT pg_notify('typeahead_groups', position::text) FROM grp";

/// The store error for a PostgreSQL error.
fn pg_io(place: &str, e: postgres::Error) -> StoreError {
    StoreError::Io {
        path: place.to_owned(),
        source: std::io::Error::other(e),
    }
}

/// A node's connection to the cluster's database.
pub struct PgStore {
    /// What messages call the database (host, port and name, no password).
    place: String,
    config: Config,
    client: Option<Client>,
    /// The commit statement, prepared once per connection.
    commit: Option<postgres::Statement>,
    status: Arc<ClusterStatus>,
    listening: bool,
    writer: bool,
    epoch: i64,
    /// The last group applied (or, on the writer, committed).
    position: u64,
    /// A committed group not yet published by the writer.
    pending: Option<u64>,
    last_try: Option<Instant>,
    last_beat: Option<Instant>,
    checkpointing: Arc<AtomicBool>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("place", &self.place)
            .field("writer", &self.writer)
            .field("position", &self.position)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects to `url`, creates or migrates the schema and registers this
    /// node as `advertise` (the URL other nodes forward writes to). The node
    /// starts as a follower; [`Store::load`] then reads the state.
    ///
    /// # Errors
    /// [`StoreError::Io`] when the URL is malformed or PostgreSQL refuses;
    /// [`StoreError::Corrupt`] for a schema written by a newer server.
    pub fn open(url: &str, advertise: &str) -> Result<PgStore, StoreError> {
        let mut config: Config = url.parse().map_err(|e| StoreError::Io {
            path: "the PostgreSQL URL".into(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, e),
        })?;
        config
            .connect_timeout(Duration::from_secs(5))
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(5))
            .application_name(&format!("typeahead {advertise}"));
        let place = describe(&config);
        let mut store = PgStore {
            place,
            config,
            client: None,
            commit: None,
            status: ClusterStatus::new(advertise.to_owned()),
            listening: false,
            writer: false,
            epoch: 0,
            position: 0,
            pending: None,
            last_try: None,
            last_beat: None,
            checkpointing: Arc::new(AtomicBool::new(false)),
        };
        let place = store.place.clone();
        schema::migrate(store.client()?, &place)?;
        Ok(store)
    }

    /// The status this store keeps up to date, for the HTTP layer.
    pub fn status(&self) -> Arc<ClusterStatus> {
        Arc::clone(&self.status)
    }

    fn io(&self, e: postgres::Error) -> StoreError {
        pg_io(&self.place, e)
    }

    /// The connection, opened again when it was lost (a new connection
    /// holds no lock: the node is a follower until it takes the lock again).
    fn client(&mut self) -> Result<&mut Client, StoreError> {
        if self.client.as_ref().is_none_or(Client::is_closed) {
            self.drop_connection();
            let client = self
                .config
                .connect(NoTls)
                .map_err(|e| pg_io(&self.place, e))?;
            self.client = Some(client);
        }
        Ok(self.client.as_mut().expect("connected above"))
    }

    /// Forgets the connection (and with it the writer's lock).
    fn drop_connection(&mut self) {
        if self.writer {
            tracing::warn!(
                position = self.position,
                "this node is no longer the writer"
            );
        }
        self.client = None;
        self.commit = None;
        self.listening = false;
        self.writer = false;
        self.status.set_writer(false);
    }

    /// Reads and applies every group after this node's position, oldest
    /// first.
    fn catch_up(&mut self, apply: &mut dyn FnMut(Vec<Op>)) -> Result<(), StoreError> {
        loop {
            let from = self.position as i64;
            let place = self.place.clone();
            let rows = self
                .client()?
                .query(
                    "SELECT position, ops FROM typeahead_groups WHERE position > $1 \
                     ORDER BY position LIMIT $2",
                    &[&from, &PAGE],
                )
                .map_err(|e| pg_io(&place, e))?;
            for row in &rows {
                let position = row.get::<_, i64>(0) as u64;
                if position != self.position + 1 {
                    return Err(self.behind(position));
                }
                let mut ops = Vec::new();
                decode(row.get(1), &self.place, &mut |op| ops.push(op.to_op()))?;
                apply(ops);
                self.position = position;
                self.status.set_position(position);
            }
            if (rows.len() as i64) < PAGE {
                return Ok(());
            }
        }
    }

    fn behind(&self, next: u64) -> StoreError {
        StoreError::Diverged(format!(
            "this node has applied up to position {} but the oldest group kept is {next}: \
             a checkpoint pruned the groups between; restart the node to load the checkpoint",
            self.position
        ))
    }

    /// Takes the writer's lock if it is free; then bumps the epoch, applies
    /// every group committed before, and becomes the writer.
    fn try_take_over(&mut self, apply: &mut dyn FnMut(Vec<Op>)) -> Result<(), StoreError> {
        self.last_try = Some(Instant::now());
        let advertise = self.status.advertise().to_owned();
        let place = self.place.clone();
        let client = self.client()?;
        let got: bool = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&schema::WRITER_LOCK])
            .map(|r| r.get(0))
            .map_err(|e| pg_io(&place, e))?;
        if !got {
            return Ok(());
        }
        let row = client
            .query_one(
                "UPDATE typeahead_leader SET epoch = epoch + 1, writer_url = $1 \
                 WHERE id = 1 RETURNING epoch, position",
                &[&advertise],
            )
            .map_err(|e| pg_io(&place, e))?;
        let (epoch, head) = (row.get::<_, i64>(0), row.get::<_, i64>(1) as u64);
        self.catch_up(apply)?;
        if self.position != head {
            return Err(StoreError::Diverged(format!(
                "the last committed position is {head} but this node reads up to {}",
                self.position
            )));
        }
        // The writer hears nothing: its own notifications would only pile up.
        let client = self.client()?;
        client
            .batch_execute("UNLISTEN *")
            .map_err(|e| pg_io(&place, e))?;
        while client
            .notifications()
            .iter()
            .next()
            .ok()
            .flatten()
            .is_some()
        {}
        self.listening = false;
        self.epoch = epoch;
        self.writer = true;
        self.status.set_writer(true);
        tracing::info!(epoch, position = head, "this node is the writer");
        self.beat()
    }

    /// Records this node's position and reads the cluster's.
    fn beat(&mut self) -> Result<(), StoreError> {
        self.last_beat = Some(Instant::now());
        let advertise = self.status.advertise().to_owned();
        let position = self.position as i64;
        let place = self.place.clone();
        let client = self.client()?;
        let run = |client: &mut Client| -> Result<ClusterView, postgres::Error> {
            client.execute(
                "INSERT INTO typeahead_nodes (url, position, seen_at) VALUES ($1, $2, now()) \
                 ON CONFLICT (url) DO UPDATE SET position = EXCLUDED.position, seen_at = now()",
                &[&advertise, &position],
            )?;
            let leader = client.query_one(
                "SELECT writer_url, epoch, position FROM typeahead_leader WHERE id = 1",
                &[],
            )?;
            let nodes = client.query(
                "SELECT url, position, extract(epoch FROM now() - seen_at)::float8 \
                 FROM typeahead_nodes ORDER BY url",
                &[],
            )?;
            Ok(ClusterView {
                writer: leader.get(0),
                epoch: leader.get(1),
                committed: leader.get::<_, i64>(2) as u64,
                nodes: nodes
                    .iter()
                    .map(|r| NodeView {
                        url: r.get(0),
                        position: r.get::<_, i64>(1) as u64,
                        seen_secs_ago: r.get(2),
                    })
                    .collect(),
            })
        };
        let view = run(client).map_err(|e| pg_io(&place, e))?;
        self.status.set_view(view);
        Ok(())
    }

    fn beat_if_due(&mut self) -> Result<(), StoreError> {
        if self.last_beat.is_none_or(|t| t.elapsed() >= BEAT_EVERY) {
            self.beat()?;
        }
        Ok(())
    }

    /// Any failure of the connection demotes the node and drops the
    /// connection, so that a lock it may hold is released at once.
    fn guard<T>(&mut self, r: Result<T, StoreError>) -> Result<T, StoreError> {
        if r.is_err() {
            self.drop_connection();
        }
        r
    }

    fn follow_once(
        &mut self,
        wait: Duration,
        apply: &mut dyn FnMut(Vec<Op>),
    ) -> Result<(), StoreError> {
        let place = self.place.clone();
        if !self.listening {
            let client = self.client()?;
            client
                .batch_execute(&format!("LISTEN {}", schema::CHANNEL))
                .map_err(|e| pg_io(&place, e))?;
            self.listening = true;
        } else {
            let client = self.client()?;
            let mut notes = client.notifications();
            // Woken by a commit, or polling when a notification is lost.
            let _ = notes.timeout_iter(wait).next();
            while notes.iter().next().ok().flatten().is_some() {}
        }
        self.catch_up(apply)?;
        if self.last_try.is_none_or(|t| t.elapsed() >= TRY_LOCK_EVERY) {
            self.try_take_over(apply)?;
        }
        self.beat_if_due()
    }
}

/// Host, port and database name of `config`, for messages.
fn describe(config: &Config) -> String {
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config.get_dbname().unwrap_or("postgres");
    format!("postgresql://{host}:{port}/{db}")
}

fn decode<'a>(
    bytes: &'a [u8],
    place: &str,
    sink: &mut dyn FnMut(OpRef<'a>),
) -> Result<u64, StoreError> {
    Op::decode_all(bytes, sink).map_err(|(at, reason)| StoreError::Corrupt {
        path: place.to_owned(),
        offset: at as u64,
        reason,
    })
}

impl Store for PgStore {
    fn append(&mut self, ops: &[Op]) -> Result<(), StoreError> {
        if !self.writer {
            return Err(StoreError::NotWriter);
        }
        let next = self.position + 1;
        let mut bytes = Vec::new();
        for op in ops {
            op.encode(&mut bytes);
        }
        enum Outcome {
            Committed,
            Fenced,
            Failed(postgres::Error, bool),
        }
        let (epoch, at) = (self.epoch, next as i64);
        // A lost connection took the lock with it: never commit on a new one.
        let Some(client) = self.client.as_mut().filter(|c| !c.is_closed()) else {
            self.drop_connection();
            return Err(StoreError::NotWriter);
        };
        let statement = match &self.commit {
            Some(st) => st.clone(),
            None => match client.prepare(COMMIT_GROUP) {
                Ok(st) => {
                    self.commit = Some(st.clone());
                    st
                }
                Err(e) => {
                    let err = self.io(e);
                    self.drop_connection();
                    return Err(StoreError::Retry(err.to_string()));
                }
            },
        };
        let client = self.client.as_mut().expect("checked above");
        // Three round trips: BEGIN, the prepared statement, COMMIT.
        let outcome = (|| {
            let mut tx = match client.transaction() {
                Ok(tx) => tx,
                Err(e) => return Outcome::Failed(e, false),
            };
            match tx.query(&statement, &[&at, &epoch, &bytes]) {
                Ok(rows) if rows.len() == 1 => {}
                Ok(_) => return Outcome::Fenced,
                Err(e) => return Outcome::Failed(e, false),
            }
            match tx.commit() {
                Ok(()) => Outcome::Committed,
                Err(e) => Outcome::Failed(e, true),
            }
        })();
        match outcome {
            Outcome::Committed => {
                self.position = next;
                self.pending = Some(next);
                Ok(())
            }
            Outcome::Fenced => {
                self.drop_connection();
                Err(StoreError::NotWriter)
            }
            Outcome::Failed(e, at_commit) => {
                let err = self.io(e);
                self.drop_connection();
                Err(if at_commit {
                    StoreError::Unknown(err.to_string())
                } else {
                    StoreError::Retry(err.to_string())
                })
            }
        }
    }

    fn load(&mut self, sink: &mut dyn FnMut(OpRef<'_>)) -> Result<LoadStats, StoreError> {
        let place = self.place.clone();
        let io = |e| pg_io(&place, e);
        let client = self.client()?;
        client
            .batch_execute(&format!("LISTEN {}", schema::CHANNEL))
            .map_err(io)?;
        let (at, stats) = checkpoint::read(client, &place, sink)?;
        self.listening = true;
        self.position = at;
        self.status.set_position(at);
        let beat = self.beat();
        self.guard(beat)?;
        Ok(stats)
    }

    fn start_rewrite(&mut self, produce: Rewrite) -> Result<bool, StoreError> {
        if !self.writer || self.checkpointing.swap(true, Ordering::AcqRel) {
            return Ok(false);
        }
        let (config, place, busy) = (
            self.config.clone(),
            self.place.clone(),
            Arc::clone(&self.checkpointing),
        );
        let position = self.position as i64;
        std::thread::Builder::new()
            .name("typeahead-checkpoint".into())
            .spawn(move || {
                let started = Instant::now();
                match checkpoint::write(&config, position, produce) {
                    Ok(ops) => tracing::info!(
                        position,
                        ops,
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "checkpoint written"
                    ),
                    Err(e) => tracing::warn!(%place, error = %e, "checkpoint failed"),
                }
                busy.store(false, Ordering::Release);
            })
            .map_err(|source| StoreError::Io {
                path: self.place.clone(),
                source,
            })?;
        Ok(true)
    }

    fn is_writer(&self) -> bool {
        self.writer
    }

    fn committed(&mut self) {
        if let Some(p) = self.pending.take() {
            self.status.set_position(p);
        }
    }

    fn follow(&mut self, wait: Duration, apply: &mut dyn FnMut(Vec<Op>)) -> Result<(), StoreError> {
        let r = self.follow_once(wait, apply);
        self.guard(r)
    }

    fn tick(&mut self) -> Result<(), StoreError> {
        let r = self.beat_if_due();
        self.guard(r)
    }
}
