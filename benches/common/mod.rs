//! Shared pieces of the benchmarks: the workload (1M synthetic users, prefixes
//! sampled as a person types), an allocation-counting allocator, and the
//! textbook trie the engine is compared against.
#![allow(dead_code)]

use mimalloc::MiMalloc;
use std::alloc::{GlobalAlloc, Layout};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use typeahead::users;

/// Counts the bytes currently allocated, so that every contender's memory is
/// measured the same way (live heap bytes after building, minus before).
/// It forwards to mimalloc, the allocator the `typeahead` binary ships with,
/// so every contender allocates as it would in the server.
pub struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
/// Set while [`uncounted`] runs.
static PAUSED: AtomicBool = AtomicBool::new(false);

// SAFETY: every method forwards to `MiMalloc` with the caller's arguments
// unchanged, so `MiMalloc`'s guarantees carry over; the counter is a side effect
// that never touches the memory itself.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !PAUSED.load(Ordering::Relaxed) {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        // SAFETY: same contract as our caller's.
        unsafe { MiMalloc.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if !PAUSED.load(Ordering::Relaxed) {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        // SAFETY: same contract as our caller's.
        unsafe { MiMalloc.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !PAUSED.load(Ordering::Relaxed) {
            LIVE.fetch_add(new_size, Ordering::Relaxed);
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        // SAFETY: same contract as our caller's.
        unsafe { MiMalloc.realloc(ptr, layout, new_size) }
    }
}

/// Runs `f` without counting its allocations: for timed passes, which
/// free everything they allocate. The counter is one `lock`ed instruction
/// per allocation and per free, on a line every thread shares: timed, it
/// added to each design's latency in proportion to how often the design
/// allocates (the textbook trie allocates a `String` per entry), a cost no
/// user of the designs pays. Whatever `f` keeps must be allocated before
/// (reserve capacity), or the count drifts when it is freed.
pub fn uncounted<R>(f: impl FnOnce() -> R) -> R {
    PAUSED.store(true, Ordering::Relaxed);
    let r = f();
    PAUSED.store(false, Ordering::Relaxed);
    r
}

/// Live heap bytes right now.
pub fn live_bytes() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// The benchmark's workload.
pub struct Workload {
    /// (key, user id) pairs: lowercase first, lowercase last, username.
    pub entries: Vec<(String, u64)>,
    /// Prefixes as a person types them.
    pub queries: Vec<String>,
    /// Fresh pairs (not in `entries`) for insert/remove throughput.
    pub fresh: Vec<(String, u64)>,
}

/// Small splitmix64 for sampling queries deterministically.
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// `count` users, their index entries, `queries` sampled prefixes.
pub fn workload(count: usize, queries: usize) -> Workload {
    let users = users::generate(count, 42);
    let mut entries = Vec::with_capacity(count * 3);
    for u in &users {
        for k in u.keys() {
            entries.push((k, u.id));
        }
    }
    let mut rng = Rng(42);
    let queries = (0..queries)
        .map(|_| {
            let u = &users[rng.below(users.len())];
            let keys = u.keys();
            let field = &keys[rng.below(3)];
            let n = field.chars().count().min(1 + rng.below(8));
            field.chars().take(n).collect()
        })
        .collect();
    let extra = users::generate(count / 10 + 1, 4242);
    let fresh = extra
        .iter()
        .flat_map(|u| {
            let id = u.id + 10_000_000;
            u.keys().into_iter().map(move |k| (k, id))
        })
        .collect();
    Workload {
        entries,
        queries,
        fresh,
    }
}

/// The textbook design: a node per character with a `HashMap` of children
/// and a `Vec` of values; children are sorted at query time.
#[derive(Default)]
pub struct TextbookTrie {
    root: TextbookNode,
}

#[derive(Default)]
struct TextbookNode {
    children: HashMap<char, TextbookNode>,
    values: Vec<u64>,
}

impl TextbookTrie {
    pub fn insert(&mut self, key: &str, value: u64) -> bool {
        let mut node = &mut self.root;
        for c in key.chars() {
            node = node.children.entry(c).or_default();
        }
        if node.values.contains(&value) {
            return false;
        }
        node.values.push(value);
        true
    }

    pub fn remove(&mut self, key: &str, value: u64) -> bool {
        fn go(node: &mut TextbookNode, key: &[char], value: u64) -> bool {
            let Some((c, rest)) = key.split_first() else {
                let before = node.values.len();
                node.values.retain(|v| *v != value);
                return node.values.len() != before;
            };
            let Some(child) = node.children.get_mut(c) else {
                return false;
            };
            let removed = go(child, rest, value);
            if child.values.is_empty() && child.children.is_empty() {
                node.children.remove(c);
            }
            removed
        }
        let key: Vec<char> = key.chars().collect();
        go(&mut self.root, &key, value)
    }

    /// Walks the subtree under `prefix` depth-first, values first, then the
    /// children sorted by char at every visited node, handing each entry to
    /// `visit` until it returns false.
    fn walk(&self, prefix: &str, visit: &mut dyn FnMut(&str, u64) -> bool) {
        let mut node = &self.root;
        for c in prefix.chars() {
            match node.children.get(&c) {
                Some(n) => node = n,
                None => return,
            }
        }
        fn go(
            n: &TextbookNode,
            key: &mut String,
            visit: &mut dyn FnMut(&str, u64) -> bool,
        ) -> bool {
            for v in &n.values {
                if !visit(key, *v) {
                    return false;
                }
            }
            let mut kids: Vec<_> = n.children.iter().collect();
            kids.sort_by_key(|(c, _)| **c);
            for (c, child) in kids {
                key.push(*c);
                let more = go(child, key, visit);
                key.pop();
                if !more {
                    return false;
                }
            }
            true
        }
        go(node, &mut prefix.to_string(), visit);
    }

    /// The first `limit` entries under `prefix`, a `String` per entry.
    pub fn suggest(&self, prefix: &str, limit: usize) -> Vec<(String, u64)> {
        let mut out = Vec::new();
        if limit > 0 {
            self.walk(prefix, &mut |k, v| {
                out.push((k.to_owned(), v));
                out.len() < limit
            });
        }
        out
    }
}

/// Where the allocation-free form of suggest writes: keys concatenated in
/// one reused `String`, with their ends and values beside them.
#[derive(Default)]
pub struct Out {
    pub keys: String,
    pub ends: Vec<usize>,
    pub values: Vec<u64>,
}

impl Out {
    pub fn clear(&mut self) {
        self.keys.clear();
        self.ends.clear();
        self.values.clear();
    }
    pub fn push(&mut self, key: &str, value: u64) {
        self.keys.push_str(key);
        self.ends.push(self.keys.len());
        self.values.push(value);
    }
    pub fn len(&self) -> usize {
        self.values.len()
    }
}

impl TextbookTrie {
    /// The same walk as `suggest`, writing into a reused buffer.
    pub fn suggest_into(&self, prefix: &str, limit: usize, out: &mut Out) -> usize {
        out.clear();
        if limit > 0 {
            self.walk(prefix, &mut |k, v| {
                out.push(k, v);
                out.len() < limit
            });
        }
        out.len()
    }
}

/// The range scan of `btree_suggest`, writing into a reused buffer.
pub fn btree_suggest_into(
    m: &std::collections::BTreeMap<String, Vec<u64>>,
    prefix: &str,
    limit: usize,
    out: &mut Out,
) -> usize {
    out.clear();
    for (k, vs) in m
        .range::<str, _>((
            std::ops::Bound::Included(prefix),
            std::ops::Bound::Unbounded,
        ))
        .take_while(|(k, _)| k.starts_with(prefix))
    {
        for v in vs {
            if out.len() == limit {
                return limit;
            }
            out.push(k, *v);
        }
    }
    out.len()
}

/// Our lending iterator, a key at a time, writing into a reused buffer.
pub fn trie_suggest_into(
    t: &typeahead::Trie<u64>,
    prefix: &str,
    limit: usize,
    out: &mut Out,
) -> usize {
    out.clear();
    let mut it = t.iter_prefix(prefix);
    while out.len() < limit {
        let Some((k, vs)) = it.next_key() else { break };
        for v in vs.take(limit - out.len()) {
            out.push(k, *v);
        }
    }
    out.len()
}

/// `BTreeMap<String, Vec<u64>>` with a range scan.
pub fn btree_suggest(
    m: &std::collections::BTreeMap<String, Vec<u64>>,
    prefix: &str,
    limit: usize,
) -> Vec<(String, u64)> {
    m.range::<str, _>((
        std::ops::Bound::Included(prefix),
        std::ops::Bound::Unbounded,
    ))
    .take_while(|(k, _)| k.starts_with(prefix))
    .flat_map(|(k, vs)| vs.iter().map(move |v| (k.clone(), *v)))
    .take(limit)
    .collect()
}

/// Median of a sample (sorts it).
pub fn median(xs: &mut [f64]) -> f64 {
    percentile(xs, 0.5)
}

/// The `p` quantile of a sample (sorts it).
pub fn percentile(xs: &mut [f64], p: f64) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[((xs.len() - 1) as f64 * p).round() as usize]
}

/// True when run as `cargo bench -- --test` (CI smoke run): use small sizes.
pub fn smoke() -> bool {
    std::env::args().any(|a| a == "--test")
}
