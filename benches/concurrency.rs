//! Suggest throughput under 1..16 reader threads, with and without one writer
//! inserting and removing at full speed: `typeahead::Index` against the
//! textbook `RwLock<Trie>`, a `Mutex<Trie>` and `crossbeam_skiplist::SkipMap`
//! (range scans over (key, id) pairs).
//! Run: `cargo bench --bench concurrency` (`-- --test` for a quick smoke run).
//! Knobs for short runs and diagnosis (docs/benchmarks.md): `READERS=1,2,4`,
//! `RETENTION_ONLY=1` (skip the table), `WRITE_BATCH=n`, `SLOTS=n`
//! (`SLOTS=0`: no retention), `SLOT_MS=n`, and
//! `RETENTION_ONLY=1 PROFILE=writer|alone` (one reader for 10 s, to attach
//! `perf record -p` to).
//!
//! Every contender answers the same prefixes with limit 10 and counts the
//! entries (no allocation per entry for anyone). Reads/s is summed over the
//! reader threads in a fixed window; the p99 of one suggest is sampled on
//! every 8th read.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use common::*;
use crossbeam_skiplist::SkipMap;
use typeahead::{Index, Trie};

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

const LIMIT: usize = 10;

/// Writes arrive in batches of this many operations, one publish (or one
/// write-lock hold) per batch: what the server's group commit does.
/// `WRITE_BATCH=n` overrides it, to tell a cost per publish from a cost per
/// write.
const WRITE_BATCH: usize = 64;

fn write_batch() -> usize {
    env_usize("WRITE_BATCH").unwrap_or(WRITE_BATCH).max(1)
}

fn env_usize(name: &str) -> Option<usize> {
    std::env::var(name).ok().and_then(|p| p.trim().parse().ok())
}

trait Contender: Send + Sync {
    fn name(&self) -> &'static str;
    fn suggest(&self, q: &str) -> usize;
    /// Applies a batch: `(key, value, insert?)`.
    fn write(&self, ops: &[(String, u64)], insert: bool);
}

fn count_trie(t: &Trie<u64>, q: &str) -> usize {
    let mut it = t.iter_prefix(q);
    let mut n = 0;
    while n < LIMIT && it.next_entry().is_some() {
        n += 1;
    }
    n
}

struct Ours(Index<u64>);
impl Contender for Ours {
    fn name(&self) -> &'static str {
        "typeahead::Index"
    }
    fn suggest(&self, q: &str) -> usize {
        self.0.read(|s| count_trie(s.trie(), q))
    }
    fn write(&self, ops: &[(String, u64)], insert: bool) {
        let mut w = self.0.write();
        for (k, v) in ops {
            if insert {
                w.insert(k, *v).expect("non-empty key");
            } else {
                w.remove(k, v);
            }
        }
        w.publish();
    }
}

struct Rw(RwLock<Trie<u64>>);
impl Contender for Rw {
    fn name(&self) -> &'static str {
        "RwLock<Trie>"
    }
    fn suggest(&self, q: &str) -> usize {
        count_trie(&self.0.read().unwrap(), q)
    }
    fn write(&self, ops: &[(String, u64)], insert: bool) {
        let mut t = self.0.write().unwrap();
        for (k, v) in ops {
            if insert {
                t.insert(k, *v).expect("non-empty key");
            } else {
                t.remove(k, v);
            }
        }
    }
}

struct Mx(Mutex<Trie<u64>>);
impl Contender for Mx {
    fn name(&self) -> &'static str {
        "Mutex<Trie>"
    }
    fn suggest(&self, q: &str) -> usize {
        count_trie(&self.0.lock().unwrap(), q)
    }
    fn write(&self, ops: &[(String, u64)], insert: bool) {
        let mut t = self.0.lock().unwrap();
        for (k, v) in ops {
            if insert {
                t.insert(k, *v).expect("non-empty key");
            } else {
                t.remove(k, v);
            }
        }
    }
}

struct Skip(SkipMap<(String, u64), ()>);
impl Contender for Skip {
    fn name(&self) -> &'static str {
        "crossbeam SkipMap"
    }
    fn suggest(&self, q: &str) -> usize {
        self.0
            .range((q.to_owned(), 0)..)
            .take_while(|e| e.key().0.starts_with(q))
            .take(LIMIT)
            .count()
    }
    fn write(&self, ops: &[(String, u64)], insert: bool) {
        for (k, v) in ops {
            if insert {
                self.0.insert((k.clone(), *v), ());
            } else {
                self.0.remove(&(k.clone(), *v));
            }
        }
    }
}

struct Run {
    reads_per_s: f64,
    p99_ns: f64,
    writes_per_s: f64,
}

/// What runs beside the readers.
#[derive(Clone, Copy, PartialEq)]
enum Neighbour {
    Nothing,
    /// One thread inserting and removing at full speed.
    Writer,
    /// One thread spinning on arithmetic, touching no shared memory: the
    /// control for what a busy neighbour core costs on this machine.
    Spinner,
    /// The same writer, writing to its own copy of the index, which the
    /// readers never read: the control for what the writer's work costs the
    /// readers through the memory system alone (caches, bandwidth,
    /// allocator), as opposed to what sharing the index with it costs.
    PrivateWriter,
}

/// One unit of the spinner's work: arithmetic only, touching no shared
/// memory.
fn spin(mut x: u64) -> u64 {
    for _ in 0..1000 {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
    x
}

/// The writer's work: the first 4096 fresh pairs in batches of
/// [`write_batch`], all inserted, then all removed, and again.
struct Writes<'a> {
    batches: Vec<&'a [(String, u64)]>,
    /// Steps taken in the current cycle (inserts, then removes).
    k: usize,
}

impl<'a> Writes<'a> {
    fn new(w: &'a Workload) -> Self {
        let fresh = &w.fresh[..4096.min(w.fresh.len())];
        Writes {
            batches: fresh.chunks(write_batch()).collect(),
            k: 0,
        }
    }

    /// Batches in one insert-then-remove cycle.
    fn cycle(&self) -> usize {
        2 * self.batches.len()
    }

    /// Writes the next batch to `target`; returns how many pairs it wrote.
    fn step(&mut self, target: &dyn Contender) -> usize {
        let batch = self.batches[self.k % self.batches.len()];
        target.write(batch, self.k < self.batches.len());
        self.k = (self.k + 1) % self.cycle();
        batch.len()
    }
}

/// Reads/s of `readers` threads on `c`, alone or beside a writer to `c`.
fn measure(
    c: &Arc<dyn Contender>,
    w: &Arc<Workload>,
    readers: usize,
    neighbour: Neighbour,
    window: Duration,
) -> Run {
    let writer = neighbour == Neighbour::Writer;
    let stop = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = (0..readers)
        .map(|r| {
            let (c, w, stop) = (Arc::clone(c), Arc::clone(w), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut i = r * 7919;
                let mut n = 0u64;
                let mut samples = Vec::with_capacity(1 << 16);
                while !stop.load(Ordering::Relaxed) {
                    i = (i + 1) % w.queries.len();
                    if n.is_multiple_of(8) {
                        let t = Instant::now();
                        std::hint::black_box(c.suggest(&w.queries[i]));
                        samples.push(t.elapsed().as_nanos() as f64);
                    } else {
                        std::hint::black_box(c.suggest(&w.queries[i]));
                    }
                    n += 1;
                }
                (n, samples)
            })
        })
        .collect();
    let writer_handle = writer.then(|| {
        let (c, w, stop) = (Arc::clone(c), Arc::clone(w), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut n = 0u64;
            let mut writes = Writes::new(&w);
            while !stop.load(Ordering::Relaxed) {
                for _ in 0..writes.cycle() {
                    n += writes.step(&*c) as u64;
                }
            }
            n
        })
    });
    let start = Instant::now();
    // The measurement window: a benchmark's clock, not synchronization.
    std::thread::sleep(window);
    stop.store(true, Ordering::Relaxed);
    let mut total = 0;
    let mut samples = Vec::new();
    for h in handles {
        let (n, s) = h.join().expect("reader");
        total += n;
        samples.extend(s);
    }
    let secs = start.elapsed().as_secs_f64();
    let writes = writer_handle.map_or(0, |h| h.join().expect("writer"));
    Run {
        reads_per_s: total as f64 / secs,
        p99_ns: if samples.is_empty() {
            0.0
        } else {
            percentile(&mut samples, 0.99)
        },
        writes_per_s: writes as f64 / secs,
    }
}

/// One reader's query counter, on a line of its own.
#[repr(align(128))]
struct Counter(AtomicU64);

/// Retention by toggling: the readers run throughout while `neighbour` runs
/// in every other slot of `slot` and is parked in the rest, in the order
/// off-on, on-off, off-on, ... so that a drift in the machine's speed
/// affects both sides alike. Returns, per (off, on) pair, the on-slot
/// throughput over the off-slot throughput: of all readers together, and of
/// each reader on its own (`[pair][reader]`).
fn toggled(
    c: &Arc<dyn Contender>,
    private: &Arc<dyn Contender>,
    w: &Arc<Workload>,
    readers: usize,
    neighbour: Neighbour,
    slot: Duration,
    pairs: usize,
) -> (Vec<f64>, Vec<Vec<f64>>, Vec<f64>) {
    let stop = Arc::new(AtomicBool::new(false));
    // Pairs the neighbour has written: a faster or slower writer publishes
    // more or less often, which moves retention by itself.
    let written = Arc::new(AtomicU64::new(0));
    let active = Arc::new(AtomicBool::new(false));
    let idle = Arc::new(AtomicBool::new(true));
    let counters: Arc<Vec<Counter>> =
        Arc::new((0..readers).map(|_| Counter(AtomicU64::new(0))).collect());
    let handles: Vec<_> = (0..readers)
        .map(|r| {
            let (c, w, stop, counters) = (
                Arc::clone(c),
                Arc::clone(w),
                Arc::clone(&stop),
                Arc::clone(&counters),
            );
            std::thread::spawn(move || {
                let mut i = r * 7919;
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    i = (i + 1) % w.queries.len();
                    std::hint::black_box(c.suggest(&w.queries[i]));
                    n += 1;
                    counters[r].0.store(n, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let target = Arc::clone(if neighbour == Neighbour::PrivateWriter {
        private
    } else {
        c
    });
    let side = {
        let (w, stop, active, idle, written) = (
            Arc::clone(w),
            Arc::clone(&stop),
            Arc::clone(&active),
            Arc::clone(&idle),
            Arc::clone(&written),
        );
        std::thread::spawn(move || {
            let mut writes = Writes::new(&w);
            let mut x = 1u64;
            while !stop.load(Ordering::Relaxed) {
                if !active.load(Ordering::Acquire) {
                    idle.store(true, Ordering::Release);
                    std::thread::park();
                    continue;
                }
                idle.store(false, Ordering::Release);
                match neighbour {
                    Neighbour::Spinner => x = spin(x),
                    Neighbour::Nothing => {}
                    Neighbour::Writer | Neighbour::PrivateWriter => {
                        let n = writes.step(&*target);
                        written.fetch_add(n as u64, Ordering::Relaxed);
                    }
                }
            }
            x
        })
    };
    let read_all = || -> Vec<u64> {
        counters
            .iter()
            .map(|c| c.0.load(Ordering::Relaxed))
            .collect()
    };
    let mut total = Vec::with_capacity(pairs);
    let mut each = Vec::with_capacity(pairs);
    let mut writes_per_s = Vec::with_capacity(pairs);
    for pair in 0..pairs {
        // rates[on as usize][reader]
        let mut rates = [vec![0.0; readers], vec![0.0; readers]];
        let order = if pair % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        for on in order {
            if on {
                active.store(true, Ordering::Release);
                side.thread().unpark();
            } else {
                active.store(false, Ordering::Release);
                // The neighbour finishes its unit of work and parks.
                while !idle.load(Ordering::Acquire) {
                    std::thread::yield_now();
                }
            }
            let (t0, c0, w0) = (Instant::now(), read_all(), written.load(Ordering::Relaxed));
            // The slot: a benchmark's clock, not synchronization.
            std::thread::sleep(slot);
            let (t1, c1, w1) = (Instant::now(), read_all(), written.load(Ordering::Relaxed));
            let secs = (t1 - t0).as_secs_f64();
            if on {
                writes_per_s.push((w1 - w0) as f64 / secs);
            }
            for r in 0..readers {
                rates[usize::from(on)][r] = (c1[r] - c0[r]) as f64 / secs;
            }
        }
        let sum = |v: &Vec<f64>| v.iter().sum::<f64>();
        total.push(sum(&rates[1]) / sum(&rates[0]));
        each.push((0..readers).map(|r| rates[1][r] / rates[0][r]).collect());
    }
    stop.store(true, Ordering::Relaxed);
    active.store(true, Ordering::Release);
    side.thread().unpark();
    for h in handles {
        h.join().expect("reader");
    }
    side.join().expect("neighbour");
    (total, each, writes_per_s)
}

fn main() {
    let users = if smoke() { 20_000 } else { 1_000_000 };
    let window = Duration::from_millis(if smoke() { 100 } else { 1000 });
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads: Vec<usize> = if smoke() {
        vec![1, 2]
    } else {
        // The floors speak of readers <= cores - 1 (the writer gets a core of
        // its own): that count is measured too where it isn't a power of two.
        let mut t = vec![1, 2, 4, 8, 16];
        if cores > 2 && !t.contains(&(cores - 1)) {
            t.push(cores - 1);
            t.sort_unstable();
        }
        t
    };
    // READERS=1,2,4 measures only those counts (for short runs); zero,
    // unparsable or empty lists, and smoke runs, keep the default counts.
    let chosen: Vec<usize> = std::env::var("READERS")
        .unwrap_or_default()
        .split(',')
        .filter_map(|t| t.trim().parse().ok())
        .filter(|&t| t > 0)
        .collect();
    let threads = if chosen.is_empty() || smoke() {
        threads
    } else {
        chosen
    };
    let w = Arc::new(workload(users, if smoke() { 2_000 } else { 100_000 }));
    println!(
        "{users} users, {} entries, {cores} cores; window {window:?} per cell; limit {LIMIT}; writes in batches of {}",
        w.entries.len(),
        write_batch()
    );
    let trie = || {
        let mut t = Trie::new();
        for (k, v) in &w.entries {
            t.insert(k, *v).unwrap();
        }
        t
    };
    type Builder<'a> = Box<dyn Fn() -> Arc<dyn Contender> + 'a>;
    let builders: Vec<Builder> = vec![
        Box::new(|| Arc::new(Ours(Index::from_trie(trie())))),
        Box::new(|| Arc::new(Rw(RwLock::new(trie())))),
        Box::new(|| Arc::new(Mx(Mutex::new(trie())))),
        Box::new(|| {
            let m = SkipMap::new();
            for (k, v) in &w.entries {
                m.insert((k.clone(), *v), ());
            }
            Arc::new(Skip(m))
        }),
    ];
    // RETENTION_ONLY=1 skips the table (for short runs).
    let table = std::env::var_os("RETENTION_ONLY").is_none();
    // results[contender][writer][thread index]
    let mut names = Vec::new();
    let mut results: Vec<[Vec<Run>; 2]> = Vec::new();
    for build in builders.iter().filter(|_| table) {
        let c = build();
        names.push(c.name());
        let mut per = [Vec::new(), Vec::new()];
        for (wi, neighbour) in [Neighbour::Nothing, Neighbour::Writer]
            .into_iter()
            .enumerate()
        {
            for &t in &threads {
                per[wi].push(measure(&c, &w, t, neighbour, window));
            }
        }
        results.push(per);
        drop(c);
    }
    if table {
        for (wi, label) in [
            "no writer".to_string(),
            format!(
                "one writer inserting+removing at full speed, batches of {}",
                write_batch()
            ),
        ]
        .iter()
        .enumerate()
        {
            println!("\nreads/s, {label} (ratio: ours / theirs)");
            print!("{:<20}", "readers");
            for t in &threads {
                print!("{t:>16}");
            }
            println!();
            for (ci, name) in names.iter().enumerate() {
                print!("{name:<20}");
                for (ti, _) in threads.iter().enumerate() {
                    let r = results[ci][wi][ti].reads_per_s;
                    let ours = results[0][wi][ti].reads_per_s;
                    if ci == 0 {
                        print!("{:>16}", format!("{:.2}M", r / 1e6));
                    } else {
                        print!("{:>16}", format!("{:.2}M ({:.1}x)", r / 1e6, ours / r));
                    }
                }
                println!();
            }
            if wi == 1 {
                let row = |label: &str, f: &dyn Fn(&Run) -> String, ci: usize| {
                    print!("{label:<20}");
                    for r in &results[ci][1] {
                        print!("{:>16}", f(r));
                    }
                    println!();
                };
                row(
                    "ours p99 suggest",
                    &|r| format!("{:.1}us", r.p99_ns / 1000.0),
                    0,
                );
                row(
                    "ours writes/s",
                    &|r| format!("{:.0}k", r.writes_per_s / 1000.0),
                    0,
                );
                row(
                    "RwLock writes/s",
                    &|r| format!("{:.0}k", r.writes_per_s / 1000.0),
                    1,
                );
            }
        }
    }
    // SLOTS=0 skips the retention rounds.
    let slots = env_usize("SLOTS").unwrap_or(if smoke() { 4 } else { 40 });
    if slots == 0 {
        return;
    }
    println!(
        "\nper-reader retention with a writer (ours, readers <= cores - 1 = {}):",
        cores.saturating_sub(1)
    );
    // The table's two cells for one reader count are seconds apart, and this
    // machine's speed drifts; retention is measured again with the readers
    // running throughout and the neighbour switched on and off every 100 ms,
    // 40 (off, on) pairs, the median pair ratio reported (`toggled`;
    // `SLOTS=n`, `SLOT_MS=n`).
    // A CPU-only spinner in the writer's place is the control: what the
    // readers lose to any busy neighbour core on this machine (shared
    // physical cores, frequency), as opposed to what the writer's work costs.
    let ours = builders[0]();
    let private = builders[0]();
    // PROFILE=writer (or PROFILE=alone) runs one reader for 10 s beside the
    // writer (or alone) after printing a line to attach a profiler on:
    // `perf record -e cpu-clock -p PID` once it shows.
    if let Ok(m) = std::env::var("PROFILE") {
        let n = if m == "writer" {
            Neighbour::Writer
        } else {
            Neighbour::Nothing
        };
        println!("profile: measuring now");
        std::io::Write::flush(&mut std::io::stdout()).expect("stdout");
        let r = measure(&ours, &w, 1, n, Duration::from_secs(10));
        println!(
            "reads/s {:.0}k, writes/s {:.0}k",
            r.reads_per_s / 1e3,
            r.writes_per_s / 1e3
        );
        return;
    }
    let slot = Duration::from_millis(
        env_usize("SLOT_MS").unwrap_or(if smoke() { 20 } else { 100 }) as u64,
    );
    println!("toggled: the neighbour runs in every other slot of {slot:?}; medians of {slots} (off, on) pairs");
    for &t in threads.iter().filter(|&&t| t < cores) {
        for (label, n) in [
            ("the writer", Neighbour::Writer),
            ("a CPU-only spinner (control)", Neighbour::Spinner),
            (
                "the same writer on a private copy (control)",
                Neighbour::PrivateWriter,
            ),
        ] {
            let (mut total, each, mut writes) = toggled(&ours, &private, &w, t, n, slot, slots);
            let writes = match n {
                Neighbour::Writer | Neighbour::PrivateWriter => {
                    format!("; writer {:.0}k writes/s", median(&mut writes) / 1e3)
                }
                _ => String::new(),
            };
            let mut per_reader: Vec<f64> = (0..t)
                .map(|r| median(&mut each.iter().map(|p| p[r]).collect::<Vec<_>>()))
                .collect();
            per_reader.sort_by(f64::total_cmp);
            let (lo, hi) = (percentile(&mut total, 0.1), percentile(&mut total, 0.9));
            println!(
                "  {t} readers beside {label}: {:.1}% (p10-p90 {:.0}%-{:.0}%); readers' own medians {:.0}%-{:.0}%{writes}",
                median(&mut total) * 100.0,
                lo * 100.0,
                hi * 100.0,
                per_reader[0] * 100.0,
                per_reader[t - 1] * 100.0
            );
        }
    }
}
