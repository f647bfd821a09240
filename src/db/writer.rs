//! The single writer: takes every request waiting (up to a group's bounds),
//! applies them in order to a [`Batch`], makes the batch's operations durable
//! with one [`Store::append`], and only then publishes (or, if the store
//! failed, discards) the batch and answers.
//!
//! One thread owns every write so that many small writes become one sync
//! and one snapshot publish per group (see the `db` module docs).

use std::sync::Arc;

use tokio::sync::mpsc;

use super::batch::Batch;
use super::compact;
use super::idempotency::{self, Seen};
use super::{DbError, Reply, Request, State};
use crate::store::{Op, Store, StoreError};

/// Most requests committed together.
const MAX_GROUP: usize = 1024;
/// A group stops taking requests once their inputs pass this many bytes, so
/// that one group's record and staged copies stay bounded however large the
/// requests waiting are.
const MAX_GROUP_BYTES: usize = 32 << 20;

pub(super) fn run(
    state: Arc<State>,
    mut store: Box<dyn Store>,
    mut rx: mpsc::Receiver<Request>,
    mut history: u64,
) {
    let mut next_check = state.limits.compact_min_ops;
    while let Some(first) = rx.blocking_recv() {
        let mut requests = vec![first];
        let mut bytes = requests[0].command.weight();
        while requests.len() < MAX_GROUP && bytes < MAX_GROUP_BYTES {
            match rx.try_recv() {
                Ok(r) => {
                    bytes += r.command.weight();
                    requests.push(r);
                }
                Err(_) => break,
            }
        }
        // A client that gave up (its request timed out, its connection
        // closed) before its command was applied is not applied at all: its
        // answer, whatever it was, reached nobody, so the write would be one
        // that nobody was told about.
        requests.retain(|r| !r.reply.is_closed());
        if requests.is_empty() {
            continue;
        }
        let mut batch = Batch::new(&state);
        let mut remembered = state.remembered.lock().unwrap_or_else(|e| e.into_inner());
        // Keyed answers of this group, remembered once it is durable.
        let mut fresh: Vec<(String, i64, Reply)> = Vec::new();
        let mut replies = Vec::with_capacity(requests.len());
        for r in &requests {
            let Some(k) = &r.idem else {
                replies.push(batch.apply(&r.command));
                continue;
            };
            let seen = match fresh.iter().find(|(key, _, _)| *key == k.key) {
                Some((_, f, reply)) if *f == k.fingerprint => Seen::Again(reply.clone()),
                Some(_) => Seen::Conflict,
                None => remembered.check(k),
            };
            let out = match seen {
                Seen::Again(reply) => Ok(reply),
                Seen::Conflict => Err(DbError::IdempotencyKeyReused),
                Seen::New => {
                    let out = batch.apply(&r.command);
                    if let Ok(reply) = &out {
                        batch.ops.push(Op::Idempotent {
                            key: k.key.clone(),
                            fingerprint: k.fingerprint,
                            reply: idempotency::encode(reply),
                        });
                        fresh.push((k.key.clone(), k.fingerprint, reply.clone()));
                    }
                    out
                }
            };
            replies.push(out);
        }
        let outcome = if batch.ops.is_empty() {
            Ok(())
        } else {
            store.append(&batch.ops)
        };
        match outcome {
            Ok(()) => {
                history += batch.ops.len() as u64;
                batch.commit();
                for (key, f, reply) in fresh {
                    remembered.remember(key, f, reply);
                }
                drop(remembered);
                for (req, reply) in requests.into_iter().zip(replies) {
                    // A client that went away no longer waits for its answer.
                    let _ = req.reply.send(reply);
                }
                compact::maybe_start(&state, &mut *store, &mut history, &mut next_check);
            }
            Err(e) => {
                tracing::error!(error = %e, requests = requests.len(), "store refused a group; nothing applied");
                drop(remembered);
                batch.abort();
                let err = match e {
                    StoreError::Full { .. } => DbError::StorageFull(e.to_string()),
                    StoreError::SyncFailed { .. } => {
                        state
                            .failed
                            .store(true, std::sync::atomic::Ordering::Release);
                        DbError::OutcomeUnknown(e.to_string())
                    }
                    _ => {
                        state
                            .failed
                            .store(true, std::sync::atomic::Ordering::Release);
                        DbError::Unavailable(e.to_string())
                    }
                };
                for req in requests {
                    let _ = req.reply.send(Err(err.clone()));
                }
            }
        }
    }
}
