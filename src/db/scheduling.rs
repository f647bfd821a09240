//! How the writer thread is scheduled: a hook the program sets, which the
//! writer thread runs first thing.
//!
//! # Why it is built this way
//! Group commit needs the requests of a burst to be queued before the
//! writer takes them. Where the writer shares a core with the thread that
//! answers requests (one core for the server, or more busy threads than
//! cores), the scheduler's default is to let a woken thread preempt the one
//! that woke it: the first request of a burst wakes the writer, which runs
//! at once and takes that one request alone, and the rest wait for the next
//! group, each group paying its own `fdatasync` and two context switches.
//! On Linux, `SCHED_BATCH` is the normal policy without that wakeup
//! preemption: the writer runs once the request thread blocks or its slice
//! ends, with the whole burst queued. Durable single adds from 50
//! connections, server on one core of the 2-core machine, alternated:
//! 33.4-36.3k/s with the default policy, 49.5-54.2k/s with `SCHED_BATCH`,
//! p99 2.75-3.35 ms against 1.97-2.45 ms. A scheduling policy is the
//! process's choice, not an embedded library's (and setting it is a system
//! call, outside this crate's safe code), so the binary sets the hook
//! ([`on_writer_start`]).

use std::sync::OnceLock;

static HOOK: OnceLock<fn()> = OnceLock::new();

/// Sets what the writer thread runs when it starts (the binary sets its
/// scheduling policy); false when it was set already.
pub fn on_writer_start(hook: fn()) -> bool {
    HOOK.set(hook).is_ok()
}

/// Runs the hook, on the writer thread, when the program set one.
pub(crate) fn writer_started() {
    if let Some(hook) = HOOK.get() {
        hook();
    }
}
