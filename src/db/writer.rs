//! The single writer: takes every request waiting (up to a group's bounds),
//! applies them in order to a [`Batch`], makes the batch's operations durable
//! with one [`Store::append`], and only then publishes (or, if the store
//! failed, discards) the batch and answers.
//!
//! One thread owns every write so that many small writes become one sync
//! and one snapshot publish per group (see the `db` module docs).
//!
//! On a node of a shared store that is not its writer, the same thread
//! follows the store instead: it applies the groups the writer commits
//! (module `follow`) and answers any command sent to it with
//! [`DbError::NotWriter`], until the store makes this node the writer.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::batch::Batch;
use super::compact;
use super::follow;
use super::idempotency::{self, Seen};
use super::{DbError, Reply, Request, State};
use crate::store::{Op, Store, StoreError};

/// Most requests committed together.
const MAX_GROUP: usize = 1024;
/// A group stops taking requests once their inputs pass this many bytes, so
/// that one group's record and staged copies stay bounded however large the
/// requests waiting are.
const MAX_GROUP_BYTES: usize = 32 << 20;
/// A follower polls the store at least this often (a notification wakes it
/// sooner).
const FOLLOW_WAIT: Duration = Duration::from_millis(100);
/// An idle writer of a shared store ticks this often.
const IDLE_TICK: Duration = Duration::from_millis(250);
/// After a burst of writes (an import), once this long passes without a
/// request, the writer does what the burst left: a checkpoint when one is
/// due, and the freed memory given back.
const QUIET: Duration = Duration::from_millis(500);
/// An idle writer checks this often whether a background rewrite is written.
const REWRITE_POLL: Duration = Duration::from_millis(100);
/// A follower that cannot reach its store tries again after this long.
const RETRY_AFTER: Duration = Duration::from_millis(250);

/// What the writer thread waits for next.
enum Next {
    Request(Request),
    Idle,
    Closed,
}

/// The next request, or `Idle` once `wait` has passed without one (`None`:
/// wait as long as it takes).
fn next(
    rx: &mut mpsc::Receiver<Request>,
    timer: &tokio::runtime::Runtime,
    wait: Option<Duration>,
) -> Next {
    let got = match wait {
        None => rx.blocking_recv(),
        Some(wait) => match timer.block_on(async { tokio::time::timeout(wait, rx.recv()).await }) {
            Ok(got) => got,
            Err(_) => return Next::Idle,
        },
    };
    got.map_or(Next::Closed, Next::Request)
}

/// Lets a shared store's writer keep its record fresh; a lost connection
/// makes it a follower (the next loop follows).
fn tick(store: &mut dyn Store) {
    if let Err(e) = store.tick() {
        tracing::warn!(error = %e, "lost the store");
    }
}

/// Follows a shared store until this node becomes its writer (or every
/// handle is gone: returns false).
fn follow_until_writer(
    state: &State,
    store: &mut dyn Store,
    rx: &mut mpsc::Receiver<Request>,
    history: &mut u64,
) -> bool {
    while !store.is_writer() {
        loop {
            match rx.try_recv() {
                Ok(r) => {
                    let _ = r.reply.send(Err(DbError::NotWriter));
                }
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => return false,
            }
        }
        let followed = store.follow(FOLLOW_WAIT, &mut |ops| {
            *history += ops.len() as u64;
            follow::apply(state, ops);
        });
        match followed {
            Ok(()) => {}
            Err(StoreError::Diverged(why)) => {
                tracing::error!(%why, "stopping the process");
                std::process::exit(1);
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot reach the store; trying again");
                std::thread::sleep(RETRY_AFTER);
            }
        }
    }
    true
}

pub(super) fn run(
    state: Arc<State>,
    mut store: Box<dyn Store>,
    mut rx: mpsc::Receiver<Request>,
    mut history: u64,
    mut unsorted: u64,
) {
    let mut next_check = state.limits.compact_min_ops;
    let mut repacker = super::repack::Repacker::default();
    // A trie built at start-up is tight, but its nodes lie among the pages
    // replay's model freed: a repack once the server is quiet moves them
    // onto pages of their own, and those pages go back.
    repacker.wrote(history);
    // Whether a group committed since the writer last housekept (a long
    // tail loaded at start counts: it calls for a checkpoint too).
    let mut busy = unsorted > 0 || repacker.due(&state);
    let mut load = super::scheduling::Load::new(std::time::Instant::now());
    // A store this node does not write at start is a shared one.
    let shared = !store.is_writer();
    let timer = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a timer runtime for the writer thread");
    loop {
        if !follow_until_writer(&state, &mut *store, &mut rx, &mut history) {
            return;
        }
        // A shared store's writer must notice a lost connection even when
        // no write comes: it ticks. Any writer with a burst's leftovers
        // waits only until the writes pause.
        // (Whether a repack is really due counts the state: asked once a
        // pause comes, not after every group.)
        let leftovers = busy
            && (unsorted >= state.limits.compact_min_ops
                || repacker.may_be_due(state.limits.compact_min_ops));
        // A background rewrite switches over at the next append, or when
        // it is polled: an idle writer polls it.
        let rewriting = store.rewriting();
        let others = [
            shared.then_some(IDLE_TICK),
            leftovers.then_some(QUIET),
            rewriting.then_some(REWRITE_POLL),
            repacker.in_flight().then_some(REWRITE_POLL),
        ]
        .into_iter()
        .flatten()
        .min();
        // A writer told that writes come fast goes back to the default
        // policy after a short pause (module `scheduling`).
        let pause = load.fast().then_some(super::scheduling::PAUSE);
        let wait = others.into_iter().chain(pause).min();
        let first = match next(&mut rx, &timer, wait) {
            Next::Request(r) => r,
            Next::Closed => return,
            Next::Idle => {
                if let Some(fast) = load.quiet(std::time::Instant::now()) {
                    super::scheduling::tell(fast);
                }
                if pause.is_some_and(|p| others.is_none_or(|o| p < o)) {
                    // Woken only for that: the rest waits its own time.
                    continue;
                }
                if rewriting {
                    if let Err(e) = store.finish_rewrite() {
                        tracing::warn!(error = %e, "could not finish the rewrite");
                    }
                    if !store.rewriting() {
                        // What the rewrite's thread encoded goes back too.
                        super::release::release();
                    }
                }
                if repacker.finish(&state) {
                    // The tries it replaced go back.
                    super::release::release();
                }
                if leftovers {
                    // One at a time, lowest peak first: what the burst
                    // freed goes back, then the tries are repacked, and
                    // the checkpoint waits for the repack to be done.
                    if repacker.due(&state) {
                        super::release::release();
                        repacker.start(&state);
                    }
                    if !repacker.in_flight() {
                        compact::start_checkpoint_if_quiet(
                            &state,
                            &mut *store,
                            &mut history,
                            &mut unsorted,
                        );
                    }
                    // A repack in flight leaves the checkpoint to the next
                    // pause.
                    busy = repacker.in_flight();
                }
                if shared {
                    tick(&mut *store);
                }
                continue;
            }
        };
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
                busy = true;
                repacker.wrote(batch.ops.len() as u64);
                unsorted += batch.ops.len() as u64;
                batch.commit();
                store.committed();
                let group = requests.len();
                for (key, f, reply) in fresh {
                    remembered.remember(key, f, reply);
                }
                drop(remembered);
                for (req, reply) in requests.into_iter().zip(replies) {
                    // A client that went away no longer waits for its answer.
                    let _ = req.reply.send(reply);
                }
                if let Some(fast) = load.committed(group, std::time::Instant::now()) {
                    super::scheduling::tell(fast);
                }
                compact::maybe_start(
                    &state,
                    &mut *store,
                    &mut history,
                    &mut unsorted,
                    &mut next_check,
                );
                if shared {
                    tick(&mut *store);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, requests = requests.len(), "store refused a group; nothing applied");
                drop(remembered);
                batch.abort();
                let err = match e {
                    StoreError::Full { .. } => DbError::StorageFull(e.to_string()),
                    // A shared store recovers by following: nothing to refuse.
                    StoreError::NotWriter => DbError::NotWriter,
                    StoreError::Retry(_) => DbError::Unavailable(e.to_string()),
                    StoreError::Unknown(_) => DbError::CommitUnknown(e.to_string()),
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
