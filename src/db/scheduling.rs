//! How the writer thread is scheduled while writes come fast: a hook the
//! program sets, which the writer thread runs when the rate of writes
//! crosses a threshold ([`Load`]).
//!
//! # Why it is built this way
//! Group commit needs the requests of a burst to be queued before the
//! writer takes them. Where the writer shares a core with the thread that
//! answers requests (one core for the server, or more busy threads than
//! cores), the scheduler's default lets a woken thread preempt the one that
//! woke it: the first request of a burst wakes the writer, which runs at
//! once and takes that one request alone, and each small group pays its own
//! `fdatasync` and two context switches (40% of the core went to the
//! scheduler under 50 connections of single adds). On Linux, `SCHED_BATCH`
//! is the normal policy without that wakeup preemption: the writer runs once
//! the request thread blocks or its slice ends, with the burst queued.
//!
//! Measured with the server on one core of the 2-core machine: durable
//! single adds from 50 connections, 33.4-36.3k/s with the default policy and
//! 49.5-54.2k/s with `SCHED_BATCH` (alternated on one server). But beside a
//! steady suggest load the request thread rarely blocks, so a batch-policy
//! writer waited out its slices: ~1,000 adds/s beside the suggest load had
//! a p99 of 16.8-26.1 ms against 4.3-7.3 ms. Hence the switch by rate: the
//! writer asks for the batch policy only while it commits more than
//! [`BUSY_PER_WINDOW`] requests per [`WINDOW`] (5,000/s), when groups are
//! what decides throughput, and for the default again below half that or
//! after a pause of [`PAUSE`] (so that the first write after a burst does
//! not wait out a slice either).
//!
//! A scheduling policy is the process's choice, not an embedded library's
//! (and setting it is a system call, outside this crate's safe code), so
//! the binary sets the hook ([`on_write_load`]).

use std::sync::OnceLock;
use std::time::{Duration, Instant};

static HOOK: OnceLock<fn(bool)> = OnceLock::new();

/// Sets what the writer thread runs, on itself, when writes start coming
/// fast (`true`: the binary asks for `SCHED_BATCH`) and when they slow
/// down again (`false`); false when it was set already.
pub fn on_write_load(hook: fn(bool)) -> bool {
    HOOK.set(hook).is_ok()
}

/// How long the writer counts requests before it decides.
pub(crate) const WINDOW: Duration = Duration::from_millis(10);
/// Requests per [`WINDOW`] from which writes count as fast (5,000/s).
pub(crate) const BUSY_PER_WINDOW: u64 = 50;
/// How long a writer that was told writes come fast waits for the next
/// request before it goes back to the default policy: a pause must not
/// leave the first write after it waiting out the request thread's slice.
pub(crate) const PAUSE: Duration = Duration::from_millis(50);

/// The writer's count of requests per window, and whether it last told the
/// hook that writes come fast.
#[derive(Debug)]
pub(crate) struct Load {
    since: Instant,
    requests: u64,
    busy: bool,
}

impl Load {
    pub(crate) fn new(now: Instant) -> Self {
        Load {
            since: now,
            requests: 0,
            busy: false,
        }
    }

    /// Whether the hook was last told that writes come fast.
    pub(crate) fn fast(&self) -> bool {
        self.busy
    }

    /// Counts a committed group of `requests`; at the end of a window,
    /// returns the new state when it changed (fast from
    /// [`BUSY_PER_WINDOW`], slow below half of it).
    pub(crate) fn committed(&mut self, requests: usize, now: Instant) -> Option<bool> {
        self.requests += requests as u64;
        let elapsed = now.saturating_duration_since(self.since);
        if elapsed < WINDOW {
            return None;
        }
        // Per window of the time that really passed (a quiet gap counts).
        let per_window = self.requests as u128 * WINDOW.as_nanos() / elapsed.as_nanos();
        let per_window = u64::try_from(per_window).unwrap_or(u64::MAX);
        (self.since, self.requests) = (now, 0);
        let busy = if self.busy {
            per_window >= BUSY_PER_WINDOW / 2
        } else {
            per_window >= BUSY_PER_WINDOW
        };
        (busy != self.busy).then(|| {
            self.busy = busy;
            busy
        })
    }

    /// Writes stopped: back to slow, when it was fast.
    pub(crate) fn quiet(&mut self, now: Instant) -> Option<bool> {
        (self.since, self.requests) = (now, 0);
        std::mem::take(&mut self.busy).then_some(false)
    }
}

/// Tells the hook, when the program set one.
pub(crate) fn tell(busy: bool) {
    if let Some(hook) = HOOK.get() {
        hook(busy);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_writes_switch_on_and_slow_ones_switch_off_with_hysteresis() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let mut load = Load::new(t0);
        // Within a window nothing is decided, however many come.
        assert_eq!(load.committed(500, ms(5)), None);
        // 500 + 10 in 10 ms: fast.
        assert_eq!(load.committed(10, ms(10)), Some(true));
        // 30 in the next 10 ms is below the threshold but above half: stays.
        assert_eq!(load.committed(30, ms(20)), None);
        // 20 in 10 ms is below half: slow again.
        assert_eq!(load.committed(20, ms(30)), Some(false));
        // 49 in 10 ms is not fast; 100 over 20 ms (a gap counted) is 50/window.
        assert_eq!(load.committed(49, ms(40)), None);
        assert_eq!(load.committed(100, ms(60)), Some(true));
        // A quiet writer turns it off once, then has nothing to say.
        assert_eq!(load.quiet(ms(600)), Some(false));
        assert_eq!(load.quiet(ms(700)), None);
        // 1,000 writes a second (the mixed load) never switch it on.
        let mut load = Load::new(t0);
        for i in 1..=100 {
            assert_eq!(load.committed(1, ms(i)), None);
        }
    }
}
