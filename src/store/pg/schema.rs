//! The cluster's tables in PostgreSQL, created and migrated by the server.
//!
//! Every migration runs in one transaction under a transaction-level
//! advisory lock, so nodes starting together migrate once, and a database
//! written by a newer server (a version this one does not know) is refused
//! instead of being misread.

use postgres::Client;

use super::StoreError;

/// The schema version this server writes.
pub const SCHEMA_VERSION: i32 = 1;

/// Advisory lock key held (session level) by the one writer: "typeahd" in
/// ASCII.
pub(super) const WRITER_LOCK: i64 = 0x0074_7970_6561_6864;
/// Advisory lock key taken (transaction level) while migrating.
const MIGRATE_LOCK: i64 = WRITER_LOCK + 1;

/// The channel the writer notifies after each commit (the payload is the
/// group's position).
pub(super) const CHANNEL: &str = "typeahead_groups";

/// Migrations, by the version they bring the schema to.
const MIGRATIONS: &[(i32, &str)] = &[(
    1,
    "
    -- Who may write: one row. `epoch` grows by one at every change of
    -- writer, and every commit checks it in its own transaction (fencing);
    -- `position` is the last committed group's.
    CREATE TABLE typeahead_leader (
        id int PRIMARY KEY CHECK (id = 1),
        epoch bigint NOT NULL,
        writer_url text,
        position bigint NOT NULL
    );
    INSERT INTO typeahead_leader VALUES (1, 0, NULL, 0);
    -- Committed groups, one row each, in the order the writer committed
    -- them: `ops` is the group's operations in the log's encoding.
    CREATE TABLE typeahead_groups (
        position bigint PRIMARY KEY,
        epoch bigint NOT NULL,
        ops bytea NOT NULL,
        committed_at timestamptz NOT NULL DEFAULT now()
    );
    -- The whole state as operations at one position, in parts; groups at or
    -- before it are pruned once every live node has applied them.
    CREATE TABLE typeahead_checkpoints (
        position bigint PRIMARY KEY,
        parts int NOT NULL,
        ops bigint NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE typeahead_checkpoint_parts (
        position bigint NOT NULL REFERENCES typeahead_checkpoints ON DELETE CASCADE,
        part int NOT NULL,
        data bytea NOT NULL,
        PRIMARY KEY (position, part)
    );
    -- Every node that has run: its advertised URL, its applied position and
    -- when it last said so.
    CREATE TABLE typeahead_nodes (
        url text PRIMARY KEY,
        position bigint NOT NULL,
        seen_at timestamptz NOT NULL
    );
    ",
)];

/// Creates or migrates the schema to [`SCHEMA_VERSION`].
///
/// # Errors
/// [`StoreError::Io`] when PostgreSQL refuses; [`StoreError::Corrupt`] when
/// the database was written by a newer server.
pub(super) fn migrate(client: &mut Client, url: &str) -> Result<(), StoreError> {
    let io = |e: postgres::Error| super::pg_io(url, e);
    let mut tx = client.transaction().map_err(io)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATE_LOCK])
        .map_err(io)?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS typeahead_schema (version int NOT NULL)")
        .map_err(io)?;
    let have: i32 = tx
        .query_opt("SELECT version FROM typeahead_schema", &[])
        .map_err(io)?
        .map(|r| r.get(0))
        .unwrap_or(0);
    if have > SCHEMA_VERSION {
        return Err(StoreError::Corrupt {
            path: url.to_owned(),
            offset: 0,
            reason: format!(
                "the database holds schema version {have}, written by a newer server \
                 (this one knows up to {SCHEMA_VERSION})"
            ),
        });
    }
    for (version, sql) in MIGRATIONS {
        if *version > have {
            tx.batch_execute(sql).map_err(io)?;
        }
    }
    if have == 0 {
        tx.execute(
            "INSERT INTO typeahead_schema VALUES ($1)",
            &[&SCHEMA_VERSION],
        )
        .map_err(io)?;
    } else if have < SCHEMA_VERSION {
        tx.execute(
            "UPDATE typeahead_schema SET version = $1",
            &[&SCHEMA_VERSION],
        )
        .map_err(io)?;
    }
    tx.commit().map_err(io)
}
