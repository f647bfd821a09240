//! Giving freed memory back: a hook the program sets to ask its allocator to
//! return the pages a burst of work freed, called where such bursts end.
//!
//! # Why it is built this way
//! Loading a log and importing millions of pairs allocate far more than the
//! state they leave (a replay model, parsed batches, copies made on write).
//! An allocator that caches freed pages (mimalloc returns them after a
//! delay, and only when the thread that freed them calls into it again)
//! would otherwise keep the peak resident long after it has passed: with
//! 1M users loaded, about 150 MiB more than the state. Which allocator the
//! process runs is the binary's choice (the library runs under any), so the
//! binary sets the hook ([`on_release`]) and the library calls it at the end
//! of a load, of an import, and of the writer's work after a burst of writes
//! (before and after it repacks the tries, after a background rewrite).

use std::sync::OnceLock;

static HOOK: OnceLock<fn()> = OnceLock::new();

/// Sets how freed memory is returned to the system (the binary asks its
/// allocator to collect); false when it was set already.
pub fn on_release(hook: fn()) -> bool {
    HOOK.set(hook).is_ok()
}

/// Returns freed memory to the system when the program said how.
pub(crate) fn release() {
    if let Some(hook) = HOOK.get() {
        hook();
    }
}
