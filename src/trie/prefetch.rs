//! A cache prefetch hint: the crate's only `unsafe`, fenced here.
//!
//! A cold suggest is a chain of dependent cache misses (node, children,
//! bucket, index, record, values). One link need not wait for the one before:
//! a bucket's sparse index gives both where the first record to decode
//! starts and where its values start, so the values can be on their way
//! while the records are decoded and compared. Stable Rust has no safe
//! prefetch (`core::intrinsics::prefetch_read_data` is unstable), and
//! touching the value with an ordinary load would need `V: Copy` and would
//! hold up retirement until it arrived.
//!
//! It pays: in `examples/profile_suggest` (1M users, the benchmark's query
//! mix), alternating a build with and without it, the prefetching build has
//! the lower p50 (figures in docs/design.md).
//!
//! [`prefetch_line`] takes an address instead of a reference: a new index
//! version names the lines its writer created, and a reader that meets the
//! version prefetches them all at once, so that its misses on the writer's
//! fresh copies overlap instead of following one another (see `warm` in
//! `sync/index.rs`). It raises a reader's share of its read-only throughput
//! beside a writer (`RETENTION_ONLY=1 cargo bench --bench concurrency`;
//! figures in docs/design.md).
//!
//! Tested under Miri: `.ci/run` runs this module's tests, the trie tests
//! that seek in indexed buckets and an index test that warms new versions
//! (`cargo +nightly miri test --lib -- trie::prefetch
//! trie::tests::tutorial_example ...`); the whole trie suite, property tests
//! included, is too slow under Miri for CI.
#![allow(unsafe_code)]

/// Whether this build has a prefetch instruction to issue (elsewhere both
/// functions below compile to nothing).
pub(crate) const PREFETCHES: bool = cfg!(all(target_arch = "x86_64", target_feature = "sse"));

/// Asks the CPU to start loading the cache line that holds `*r` into its
/// caches, and returns at once. A hint only: it changes no value and no
/// result, only when the line arrives.
#[inline(always)]
pub(crate) fn prefetch<T>(r: &T) {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse"))]
    // SAFETY: `_mm_prefetch` is an `unsafe fn` only because it is declared
    // `#[target_feature(enable = "sse")]`, and calling such a function is
    // unsound only on a CPU without the feature; the `cfg` above compiles
    // this call only when SSE is enabled for the whole build (it is part of
    // the x86_64 baseline). The instruction itself cannot fault and neither
    // reads into the program nor writes memory, whatever the address; here
    // it is a live reference's.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
            (r as *const T).cast::<i8>(),
        );
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse")))]
    let _ = r;
}

/// Asks the CPU to start loading the cache line at address `line` (see
/// [`prefetch`]). The address need not point at anything live: the hint
/// reads nothing into the program and cannot fault.
#[inline(always)]
pub(crate) fn prefetch_line(line: usize) {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse"))]
    // SAFETY: as in `prefetch`: the call is unsafe only for its
    // `target_feature`, which the `cfg` guarantees. The pointer carries no
    // provenance and is never dereferenced; a prefetch of any address,
    // mapped or not, is defined and changes nothing but the caches.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
            std::ptr::without_provenance::<i8>(line),
        );
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse")))]
    let _ = line;
}

#[cfg(test)]
mod tests {
    use super::prefetch;

    #[test]
    fn prefetch_changes_nothing() {
        let v: Vec<u64> = (0..1000).collect();
        for x in &v {
            prefetch(x);
        }
        prefetch(&v[999]);
        let s = String::from("ä");
        prefetch(&s);
        assert_eq!(v.iter().sum::<u64>(), 999 * 1000 / 2);
        assert_eq!(s, "ä");
    }

    /// Any address may be named, live, freed or never mapped.
    #[test]
    fn prefetch_line_changes_nothing_whatever_the_address() {
        let v: Vec<u64> = (0..64).collect();
        let live = v.as_ptr() as usize;
        for line in [0, 64, live & !63, usize::MAX & !63] {
            super::prefetch_line(line);
        }
        drop(v);
        super::prefetch_line(live);
    }

    /// The call site: seeks in indexed buckets (more than `INDEX_MIN` keys),
    /// including keys past the last value and between anchors. Small enough
    /// for Miri.
    #[test]
    fn seeks_that_prefetch_agree_with_a_scan() {
        let mut t = crate::Trie::new();
        let keys: Vec<String> = (0..60).map(|i| format!("k{:02}", i * 3)).collect();
        for (i, k) in keys.iter().enumerate() {
            t.insert(k, i).unwrap();
        }
        for probe in ["k", "k0", "k03", "k04", "k5", "k99", "k177", "z", "a"] {
            let mut want: Vec<(String, usize)> = keys
                .iter()
                .enumerate()
                .filter(|(_, k)| k.starts_with(probe))
                .map(|(i, k)| (k.clone(), i))
                .collect();
            want.sort();
            want.truncate(5);
            assert_eq!(t.suggest(probe, 5).into_vec(), want, "prefix {probe}");
            assert_eq!(
                t.get(probe).copied().collect::<Vec<_>>(),
                keys.iter()
                    .position(|k| k == probe)
                    .into_iter()
                    .collect::<Vec<_>>()
            );
        }
    }
}
