//! `typeahead::Cache` (sharded `RwLock<HashMap>`) against one
//! `RwLock<HashMap>`: gets, sets and increments from 1..16 threads, 90%
//! reads. Run: `cargo bench --bench cache`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use typeahead::Cache;

trait Map: Send + Sync {
    fn get(&self, k: &str) -> Option<i64>;
    fn incr(&self, k: &str);
}

impl Map for Cache<String, i64> {
    fn get(&self, k: &str) -> Option<i64> {
        Cache::get(self, k)
    }
    fn incr(&self, k: &str) {
        let _ = Cache::incr(self, k.to_owned(), 1);
    }
}

struct One(RwLock<HashMap<String, i64>>);
impl Map for One {
    fn get(&self, k: &str) -> Option<i64> {
        self.0.read().unwrap().get(k).copied()
    }
    fn incr(&self, k: &str) {
        *self.0.write().unwrap().entry(k.to_owned()).or_insert(0) += 1;
    }
}

fn run(m: &Arc<dyn Map>, keys: &Arc<Vec<String>>, threads: usize, window: Duration) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let hs: Vec<_> = (0..threads)
        .map(|t| {
            let (m, keys, stop) = (Arc::clone(m), Arc::clone(keys), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut n = 0u64;
                let mut i = t * 104_729;
                while !stop.load(Ordering::Relaxed) {
                    i = (i + 7) % keys.len();
                    if n.is_multiple_of(10) {
                        m.incr(&keys[i]);
                    } else {
                        std::hint::black_box(m.get(&keys[i]));
                    }
                    n += 1;
                }
                n
            })
        })
        .collect();
    let start = Instant::now();
    std::thread::sleep(window); // the measurement window
    stop.store(true, Ordering::Relaxed);
    let total: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
    total as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let smoke = std::env::args().any(|a| a == "--test");
    let window = Duration::from_millis(if smoke { 50 } else { 1000 });
    let keys: Arc<Vec<String>> = Arc::new((0..100_000).map(|i| format!("key{i}")).collect());
    let ours: Arc<dyn Map> = Arc::new(Cache::<String, i64>::new());
    let one: Arc<dyn Map> = Arc::new(One(RwLock::new(HashMap::new())));
    for k in keys.iter() {
        ours.incr(k);
        one.incr(k);
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("ops/s, 90% get / 10% incr over 100k keys, {cores} cores");
    println!(
        "{:>8} {:>14} {:>18} {:>8}",
        "threads", "Cache", "RwLock<HashMap>", "ratio"
    );
    for t in [1, 2, 4, 8, 16] {
        let a = run(&ours, &keys, t, window);
        let b = run(&one, &keys, t, window);
        println!(
            "{t:>8} {:>13.2}M {:>17.2}M {:>7.2}x",
            a / 1e6,
            b / 1e6,
            a / b
        );
    }
}
