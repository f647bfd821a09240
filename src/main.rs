//! The `typeahead` binary: parses arguments, sets up logging, runs one
//! subcommand, and prints the error chain on failure.

mod cli;

use clap::Parser;

/// mimalloc instead of glibc's malloc: a request allocates a few dozen small,
/// short-lived blocks (headers, query, body, futures), and glibc's free path
/// (consolidation, unlinking) showed as ~10% of the server's CPU under the
/// suggest load. See the commit that added it for the measurement.
///
/// Its v2 line (Cargo feature `v2`), not v3: in a long-lived heap, v3 took
/// its slow path for every allocation of a suggestion's answer (two blocks,
/// freed right after), 145 instructions per allocation against v2's 43
/// (callgrind, `examples/profile_suggest` at 300k users: 2,126 to 1,930
/// instructions per query); `cargo bench --bench trie` gave our p50 377 to
/// 391 ns against 405 to 430 ns on v3 (three alternated pairs). Memory did
/// not grow: importing 1M users into a fresh server (two alternated pairs)
/// peaked at 264-274 MiB on v2 against 261-270 MiB on v3, and held 233 MiB
/// after it against 246-250 MiB, 262-265 MiB after a restart against
/// 278-302 MiB.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Asks mimalloc to return the pages it holds freed, at once (its own
/// purge waits for a delay and for the thread that freed them to allocate
/// again): the hook the library calls after a load or an import. One of the
/// binary's three `unsafe` calls: a call into the allocator it chose.
#[allow(unsafe_code)]
fn release_freed_memory() {
    // SAFETY: `mi_collect` takes no pointers and has no preconditions; it
    // may run on any thread at any time, and only collects the calling
    // thread's heap and the process-wide arenas, under mimalloc's own locks.
    unsafe { libmimalloc_sys::mi_collect(true) }
}

/// Puts the calling thread (the writer: the library runs this hook on it)
/// under Linux's `SCHED_BATCH`, the normal policy without wakeup
/// preemption, while writes come fast (`fast`), so that a burst is queued
/// before the writer takes it as one group, and back under the default
/// policy when they slow down (the module docs of `typeahead::db::scheduling`
/// have the measurements). Elsewhere, and if the call fails, the writer
/// keeps the default policy: only throughput changes. The binary's second
/// `unsafe` call.
#[allow(unsafe_code)]
fn writer_scheduling(fast: bool) {
    #[cfg(target_os = "linux")]
    {
        let policy = if fast {
            libc::SCHED_BATCH
        } else {
            libc::SCHED_OTHER
        };
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: `sched_setscheduler` only reads `param`, a valid,
        // initialized struct that lives past the call; pid 0 names the
        // calling thread, and either normal policy with priority 0 needs no
        // privilege. It touches no memory of ours besides `param`.
        let rc = unsafe { libc::sched_setscheduler(0, policy, &param) };
        if rc != 0 {
            tracing::warn!(
                error = %std::io::Error::last_os_error(),
                "could not set the writer thread's scheduling policy"
            );
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = fast;
}

/// Turns transparent huge pages off for this process (Linux), before the
/// server allocates anything large. mimalloc asks the kernel for 2 MiB
/// pages on its segments, and a huge page stays wholly resident while one
/// live block remains on it: with 1M users loaded (3M pairs), RSS after a
/// restart fell from 133-134 MiB to 117-119 MiB without them, the restart
/// from 1.3-1.4 s to 0.9 s (the kernel no longer clears 2 MiB per fault),
/// and HTTP suggest throughput stayed the same (three alternated rounds of
/// `wrk -c50`: 67.1-71.0k req/s with them, 69.5-71.4k without). In process,
/// where a suggest is half a microsecond and not tens, the TLB misses show:
/// the benchmarks' 1M-user suggest is 20-30% slower without huge pages,
/// which is why the library and its benchmarks keep the system's setting
/// and only the server turns them off. The binary's third `unsafe` call.
#[allow(unsafe_code)]
fn no_huge_pages() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: `prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0)` takes integers
        // only, touches no memory of ours, and sets a flag of the calling
        // process that the kernel reads when it backs a page fault; it
        // needs no privilege.
        let rc = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
        if rc != 0 {
            tracing::warn!(
                error = %std::io::Error::last_os_error(),
                "could not turn transparent huge pages off"
            );
        }
    }
}

/// Lines the log queue holds before it drops them. The default (128,000)
/// allocates its slots up front: an idle server held 28.8 MiB resident
/// with it and 26.7 MiB with this, which still absorbs a burst of 16,384
/// requests' lines.
const LOG_QUEUE_LINES: usize = 16_384;

fn main() -> std::process::ExitCode {
    typeahead::db::on_release(release_freed_memory);
    typeahead::db::on_write_load(writer_scheduling);
    let args = cli::Cli::parse();
    let default_level = if matches!(args.command, cli::Command::Serve(_)) {
        "info"
    } else {
        "warn"
    };
    // Lines go to a bounded queue that one thread writes to stderr: a
    // request thread never waits on a slow terminal or a full pipe (when the
    // queue is full, lines are dropped rather than blocking). The guard
    // flushes what is queued when `main` returns.
    let (writer, _flush_on_exit) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(LOG_QUEUE_LINES)
        .thread_name("typeahead-log")
        .finish(std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level)),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(writer)
        .init();
    if matches!(args.command, cli::Command::Serve(_)) {
        no_huge_pages();
    }
    match cli::run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("typeahead: error: {}", error_chain(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

/// The error and its causes, joined by ": ", each said once: many errors
/// already include their cause in their own message, and repeating it ("could
/// not listen on ...: Address in use: Address in use") reads as two errors.
fn error_chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}
