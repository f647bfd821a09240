//! The durable store, measured against the obvious alternative: redb (an
//! embedded copy-on-write B-tree). Same operations, same
//! groups, every group durable before the next starts.
//! Run: `cargo bench --bench store` (`-- --test` for a quick smoke run).
//!
//! - append: groups of 1 and of 100 trie inserts; ours appends one CRC'd
//!   record and fdatasyncs; redb commits one write transaction (durability
//!   Immediate) inserting the group's encoded bytes under a sequence number.
//! - load: read every group back and decode it (what start-up does).
//! - disk: file bytes per operation.

use std::time::Instant;

use redb::{Database, ReadableTable, TableDefinition};
use typeahead::store::{LogStore, Op, Store};
use typeahead::Value;

const TABLE: TableDefinition<u64, &[u8]> = TableDefinition::new("groups");

fn ops(group: usize, size: usize) -> Vec<Op> {
    (0..size)
        .map(|i| {
            let n = group * size + i;
            Op::TrieInsert {
                trie: "users".into(),
                key: format!("name{}", n % 50_000),
                value: Value::parse(&n.to_string()).expect("a number"),
            }
        })
        .collect()
}

fn dir_bytes(path: &std::path::Path) -> u64 {
    std::fs::read_dir(path)
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn main() {
    let smoke = std::env::args().any(|a| a == "--test");
    println!(
        "{:<8} {:>6} {:>12} {:>14} {:>12} {:>10}",
        "store", "group", "groups/s", "ops/s", "load ops/s", "B/op"
    );
    for (size, groups) in [
        (1usize, if smoke { 20 } else { 2_000 }),
        (100, if smoke { 5 } else { 500 }),
    ] {
        let total = (size * groups) as f64;
        // Ours.
        let dir = tempfile::tempdir().expect("temp dir");
        let mut log = LogStore::open(dir.path()).expect("open log");
        log.load(&mut |_| {}).expect("fresh log");
        let t = Instant::now();
        for g in 0..groups {
            log.append(&ops(g, size)).expect("append");
        }
        let secs = t.elapsed().as_secs_f64();
        drop(log);
        let t = Instant::now();
        let mut n = 0u64;
        LogStore::open(dir.path())
            .expect("open")
            .load(&mut |_| n += 1)
            .expect("load");
        let load = n as f64 / t.elapsed().as_secs_f64();
        println!(
            "{:<8} {size:>6} {:>12.0} {:>14.0} {:>12.0} {:>10.1}",
            "log",
            groups as f64 / secs,
            total / secs,
            load,
            dir_bytes(dir.path()) as f64 / total
        );
        // redb.
        let dir = tempfile::tempdir().expect("temp dir");
        let db = Database::create(dir.path().join("store.redb")).expect("create redb");
        let t = Instant::now();
        let mut buf = Vec::new();
        for g in 0..groups {
            buf.clear();
            for op in ops(g, size) {
                op.encode(&mut buf);
            }
            let tx = db.begin_write().expect("begin");
            {
                let mut table = tx.open_table(TABLE).expect("table");
                table.insert(g as u64, buf.as_slice()).expect("insert");
            }
            tx.commit().expect("commit");
        }
        let secs = t.elapsed().as_secs_f64();
        drop(db);
        let t = Instant::now();
        let db = Database::open(dir.path().join("store.redb")).expect("open redb");
        let rtx = db.begin_read().expect("read");
        let table = rtx.open_table(TABLE).expect("table");
        let mut n = 0u64;
        for entry in table.iter().expect("iter") {
            let (_, v) = entry.expect("entry");
            n += Op::decode_all(v.value(), |_| {}).expect("decode");
        }
        let load = n as f64 / t.elapsed().as_secs_f64();
        println!(
            "{:<8} {size:>6} {:>12.0} {:>14.0} {:>12.0} {:>10.1}",
            "redb",
            groups as f64 / secs,
            total / secs,
            load,
            dir_bytes(dir.path()) as f64 / total
        );
    }
}
