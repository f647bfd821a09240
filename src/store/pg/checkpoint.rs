//! Checkpoints: the whole state as operations at one position, written by
//! the writer in the background, and read back (with the groups after it)
//! by a node that joins.

use postgres::{Client, Config, IsolationLevel, NoTls};

use super::{decode, pg_io, LoadStats, Op, OpRef, Rewrite, StoreError, PAGE, PART_BYTES};

/// Reads, in one repeatable-read snapshot, the newest checkpoint and every
/// group after it into `sink`; returns the position reached and the counts.
///
/// # Errors
/// [`StoreError::Io`] when PostgreSQL refuses; [`StoreError::Corrupt`] for
/// undecodable operations or a gap between the checkpoint and the groups.
pub(super) fn read(
    client: &mut Client,
    place: &str,
    sink: &mut dyn FnMut(OpRef<'_>),
) -> Result<(u64, LoadStats), StoreError> {
    let io = |e| pg_io(place, e);
    let mut stats = LoadStats::default();
    let mut tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .map_err(io)?;
    let mut at: u64 = 0;
    let checkpoint = tx
        .query_opt(
            "SELECT position, parts FROM typeahead_checkpoints ORDER BY position DESC LIMIT 1",
            &[],
        )
        .map_err(io)?;
    if let Some(row) = checkpoint {
        let position: i64 = row.get(0);
        let parts: i32 = row.get(1);
        for part in 0..parts {
            let row = tx
                .query_one(
                    "SELECT data FROM typeahead_checkpoint_parts \
                         WHERE position = $1 AND part = $2",
                    &[&position, &part],
                )
                .map_err(io)?;
            let data: &[u8] = row.get(0);
            stats.bytes += data.len() as u64;
            stats.ops += decode(data, place, &mut *sink)?;
        }
        at = position as u64;
    }
    loop {
        let rows = tx
            .query(
                "SELECT position, ops FROM typeahead_groups WHERE position > $1 \
                     ORDER BY position LIMIT $2",
                &[&(at as i64), &PAGE],
            )
            .map_err(io)?;
        for row in &rows {
            let position = row.get::<_, i64>(0) as u64;
            if position != at + 1 {
                return Err(StoreError::Corrupt {
                    path: place.to_owned(),
                    offset: at,
                    reason: format!("group {} follows position {at}", position),
                });
            }
            let data: &[u8] = row.get(1);
            stats.bytes += data.len() as u64;
            stats.ops += decode(data, place, &mut *sink)?;
            at = position;
        }
        if (rows.len() as i64) < PAGE {
            break;
        }
    }
    tx.commit().map_err(io)?;
    Ok((at, stats))
}

/// Writes the state `produce` passes as the checkpoint at `position`, then
/// drops older checkpoints and the groups it covers that every node seen
/// in the last minute has applied. Returns the operations written.
pub(super) fn write(
    config: &Config,
    position: i64,
    produce: Rewrite,
) -> Result<u64, postgres::Error> {
    let mut client = config.connect(NoTls)?;
    let mut tx = client.transaction()?;
    let fresh = tx.execute(
        "INSERT INTO typeahead_checkpoints (position, parts, ops) VALUES ($1, 0, 0) \
         ON CONFLICT (position) DO NOTHING",
        &[&position],
    )?;
    if fresh == 0 {
        return Ok(0);
    }
    let mut buf = Vec::with_capacity(PART_BYTES + (64 << 10));
    let (mut part, mut ops, mut failed) = (0i32, 0i64, None);
    let insert =
        "INSERT INTO typeahead_checkpoint_parts (position, part, data) VALUES ($1, $2, $3)";
    produce(&mut |op: Op| {
        if failed.is_some() {
            return;
        }
        op.encode(&mut buf);
        ops += 1;
        if buf.len() >= PART_BYTES {
            match tx.execute(insert, &[&position, &part, &buf]) {
                Ok(_) => part += 1,
                Err(e) => failed = Some(e),
            }
            buf.clear();
        }
    });
    if let Some(e) = failed {
        return Err(e);
    }
    if !buf.is_empty() {
        tx.execute(insert, &[&position, &part, &buf])?;
        part += 1;
    }
    tx.execute(
        "UPDATE typeahead_checkpoints SET parts = $2, ops = $3 WHERE position = $1",
        &[&position, &part, &ops],
    )?;
    tx.execute(
        "DELETE FROM typeahead_checkpoints WHERE position < $1",
        &[&position],
    )?;
    tx.execute(
        "DELETE FROM typeahead_groups WHERE position <= LEAST($1, COALESCE((\
             SELECT min(position) FROM typeahead_nodes \
             WHERE seen_at > now() - interval '60 seconds'), $1))",
        &[&position],
    )?;
    tx.commit()?;
    Ok(ops as u64)
}
