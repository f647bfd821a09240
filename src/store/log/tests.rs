//! The log against an injected failing disk: no failed append may leave a
//! partial group that a restart would replay.

use super::*;
use crate::value::Value;
use std::io::Cursor;
use std::io::Seek;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// An in-memory disk whose writes, syncs and truncations can be made to fail.
#[derive(Clone, Default)]
struct FaultyDisk {
    state: Arc<Mutex<DiskState>>,
}

#[derive(Default)]
struct DiskState {
    file: Cursor<Vec<u8>>,
    /// Bytes that may still be written before writes fail (None: no limit).
    write_budget: Option<usize>,
    fail_sync: bool,
    /// Writes past the budget fail as a full disk (`ENOSPC`).
    full_kind: bool,
    fail_truncate: bool,
    fail_replace: bool,
    /// Side files written by `keep_aside`.
    aside: Vec<(std::path::PathBuf, Vec<u8>)>,
    /// The file a background rewrite writes.
    staged: Arc<Mutex<Vec<u8>>>,
}

/// A staged file in memory.
struct MemStaged(Arc<Mutex<Vec<u8>>>);

impl Write for MemStaged {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Staged for MemStaged {
    fn sync(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for FaultyDisk {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.state.lock().unwrap().file.read(buf)
    }
}

impl Write for FaultyDisk {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut s = self.state.lock().unwrap();
        match s.write_budget {
            Some(0) if s.full_kind => Err(io::Error::from_raw_os_error(28)),
            Some(0) => Err(io::Error::other("disk full")),
            Some(n) => {
                let k = n.min(buf.len());
                s.write_budget = Some(n - k);
                s.file.write(&buf[..k])
            }
            None => s.file.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for FaultyDisk {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.state.lock().unwrap().file.seek(pos)
    }
}

impl Disk for FaultyDisk {
    fn sync(&mut self) -> io::Result<()> {
        if self.state.lock().unwrap().fail_sync {
            return Err(io::Error::other("sync failed"));
        }
        Ok(())
    }
    fn truncate(&mut self, len: u64) -> io::Result<()> {
        let mut s = self.state.lock().unwrap();
        if s.fail_truncate {
            return Err(io::Error::other("truncate failed"));
        }
        s.file.get_mut().truncate(len as usize);
        Ok(())
    }
    fn keep_aside(&mut self, path: &Path, content: &[u8]) -> io::Result<()> {
        let mut s = self.state.lock().unwrap();
        s.aside.push((path.to_path_buf(), content.to_vec()));
        Ok(())
    }
    fn create_staged(&mut self, _: &Path) -> io::Result<Box<dyn Staged>> {
        let s = self.state.lock().unwrap();
        s.staged.lock().unwrap().clear();
        Ok(Box::new(MemStaged(Arc::clone(&s.staged))))
    }
    fn adopt(&mut self, _: &Path, _: &Path) -> Result<(), (io::Error, bool)> {
        let mut s = self.state.lock().unwrap();
        if s.fail_replace {
            // As a failed rename: the old file is intact.
            return Err((io::Error::other("rename failed"), true));
        }
        let content = s.staged.lock().unwrap().clone();
        s.file = Cursor::new(content);
        Ok(())
    }
}

fn op(i: usize) -> Op {
    Op::TrieInsert {
        trie: "t".into(),
        key: format!("key{i}"),
        value: Value::parse(&i.to_string()).unwrap(),
    }
}

fn group(g: usize) -> Vec<Op> {
    (0..3).map(|i| op(g * 10 + i)).collect()
}

fn reload(disk: &FaultyDisk) -> Result<Vec<Op>, StoreError> {
    let mut store = LogStore::with_disk(disk.clone(), "test.log".into());
    let mut ops = Vec::new();
    store.load(&mut |op| ops.push(op.to_op()))?;
    Ok(ops)
}

fn fresh() -> (FaultyDisk, LogStore<FaultyDisk>) {
    let disk = FaultyDisk::default();
    let mut store = LogStore::with_disk(disk.clone(), "test.log".into());
    store.load(&mut |_| {}).unwrap();
    (disk, store)
}

#[test]
fn appended_groups_come_back_in_order() {
    let (disk, mut store) = fresh();
    for g in 0..5 {
        store.append(&group(g)).unwrap();
    }
    let want: Vec<Op> = (0..5).flat_map(group).collect();
    assert_eq!(reload(&disk).unwrap(), want);
}

#[test]
fn a_write_failing_midway_leaves_no_partial_group() {
    for budget in [0, 1, 7, 8, 20] {
        let (disk, mut store) = fresh();
        store.append(&group(0)).unwrap();
        disk.state.lock().unwrap().write_budget = Some(budget);
        assert!(store.append(&group(1)).is_err(), "budget {budget}");
        assert_eq!(reload(&disk).unwrap(), group(0), "budget {budget}");
        // The disk recovers: later groups land after the good ones.
        disk.state.lock().unwrap().write_budget = None;
        store.append(&group(2)).unwrap();
        let want: Vec<Op> = [group(0), group(2)].concat();
        assert_eq!(reload(&disk).unwrap(), want, "budget {budget}");
    }
}

#[test]
fn a_failed_sync_stops_every_later_write() {
    let (disk, mut store) = fresh();
    store.append(&group(0)).unwrap();
    disk.state.lock().unwrap().fail_sync = true;
    // The record is in the file: its outcome is unknown, not "not applied".
    assert!(matches!(
        store.append(&group(1)),
        Err(StoreError::SyncFailed { .. })
    ));
    disk.state.lock().unwrap().fail_sync = false;
    assert!(
        matches!(store.append(&group(2)), Err(StoreError::Failed { .. })),
        "a write was taken after a failed sync"
    );
    // Recovery decides at start-up: the unsynced group is whatever the disk
    // kept, and nothing after it was written.
    let got = reload(&disk).unwrap();
    assert!(
        got == group(0) || got == [group(0), group(1)].concat(),
        "{got:?}"
    );
}

#[test]
fn a_full_disk_refuses_the_write_and_recovers_by_itself() {
    let (disk, mut store) = fresh();
    store.append(&group(0)).unwrap();
    disk.state.lock().unwrap().write_budget = Some(3);
    disk.state.lock().unwrap().full_kind = true;
    assert!(matches!(
        store.append(&group(1)),
        Err(StoreError::Full { .. })
    ));
    disk.state.lock().unwrap().write_budget = None;
    store.append(&group(2)).unwrap();
    assert_eq!(reload(&disk).unwrap(), [group(0), group(2)].concat());
}

/// One bit flipped anywhere after the header, in a log of several groups:
/// start-up refuses and the bytes are unchanged, or every group is back.
#[test]
fn a_flipped_bit_is_refused_or_harmless_never_cut() {
    let (disk, mut store) = fresh();
    for g in 0..4 {
        store.append(&group(g)).unwrap();
    }
    let full = disk.state.lock().unwrap().file.get_ref().clone();
    let want: Vec<Op> = (0..4).flat_map(group).collect();
    for bit in 0..full.len() * 8 {
        let mut bytes = full.clone();
        bytes[bit / 8] ^= 1 << (bit % 8);
        let d = FaultyDisk::default();
        d.state.lock().unwrap().file = Cursor::new(bytes.clone());
        match reload(&d) {
            Err(StoreError::Corrupt { .. }) => {
                assert_eq!(d.state.lock().unwrap().file.get_ref(), &bytes, "bit {bit}");
            }
            Ok(ops) => assert_eq!(ops, want, "bit {bit}"),
            Err(e) => panic!("bit {bit}: {e}"),
        }
        assert!(d.state.lock().unwrap().aside.is_empty(), "bit {bit}");
    }
}

#[test]
fn a_torn_tail_is_kept_aside_before_it_is_cut() {
    let (disk, mut store) = fresh();
    store.append(&group(0)).unwrap();
    let good = disk.state.lock().unwrap().file.get_ref().len();
    store.append(&group(1)).unwrap();
    let mut bytes = disk.state.lock().unwrap().file.get_ref().clone();
    bytes.truncate(bytes.len() - 3);
    let d = FaultyDisk::default();
    d.state.lock().unwrap().file = Cursor::new(bytes.clone());
    assert_eq!(reload(&d).unwrap(), group(0));
    let s = d.state.lock().unwrap();
    assert_eq!(s.file.get_ref().len(), good);
    assert_eq!(s.aside.len(), 1);
    assert_eq!(s.aside[0].1, bytes[good..]);
    assert!(s.aside[0]
        .0
        .to_string_lossy()
        .ends_with(&format!(".torn-{good}")));
}

#[test]
fn a_version_1_log_is_read_and_appended_to_in_its_format() {
    let d = FaultyDisk::default();
    let mut bytes = record::file_header(1).to_vec();
    push_record(&mut bytes, &group(0), 1).unwrap();
    d.state.lock().unwrap().file = Cursor::new(bytes);
    let mut store = LogStore::with_disk(d.clone(), "test.log".into());
    let mut ops = Vec::new();
    store.load(&mut |op| ops.push(op.to_op())).unwrap();
    assert_eq!(ops, group(0));
    store.append(&group(1)).unwrap();
    assert_eq!(reload(&d).unwrap(), [group(0), group(1)].concat());
    // A rewrite upgrades the file.
    store
        .rewrite(&mut |sink| group(2).into_iter().for_each(&mut *sink))
        .unwrap();
    assert_eq!(d.state.lock().unwrap().file.get_ref()[8], 2);
    store.append(&group(3)).unwrap();
    assert_eq!(reload(&d).unwrap(), [group(2), group(3)].concat());
}

#[test]
fn an_unrecoverable_failure_refuses_later_writes() {
    let (disk, mut store) = fresh();
    store.append(&group(0)).unwrap();
    {
        let mut s = disk.state.lock().unwrap();
        s.write_budget = Some(5);
        s.fail_truncate = true;
    }
    assert!(store.append(&group(1)).is_err());
    {
        let mut s = disk.state.lock().unwrap();
        s.write_budget = None;
        s.fail_truncate = false;
    }
    assert!(
        store.append(&group(2)).is_err(),
        "wrote behind a partial record"
    );
    // A restart cuts the torn tail and keeps what was acknowledged.
    assert_eq!(reload(&disk).unwrap(), group(0));
}

#[test]
fn a_cut_at_any_offset_recovers_every_group_before_it() {
    let (disk, mut store) = fresh();
    let mut ends = Vec::new();
    for g in 0..4 {
        store.append(&group(g)).unwrap();
        ends.push(disk.state.lock().unwrap().file.get_ref().len());
    }
    let full = disk.state.lock().unwrap().file.get_ref().clone();
    for cut in HEADER_LEN as usize..=full.len() {
        let d = FaultyDisk::default();
        d.state.lock().unwrap().file = Cursor::new(full[..cut].to_vec());
        let got = reload(&d).unwrap();
        let complete = ends.iter().filter(|&&e| e <= cut).count();
        let want: Vec<Op> = (0..complete).flat_map(group).collect();
        assert_eq!(got, want, "cut at {cut}");
    }
}

#[test]
fn damage_before_the_last_record_is_reported_with_its_offset() {
    let (disk, mut store) = fresh();
    for g in 0..3 {
        store.append(&group(g)).unwrap();
    }
    let mut bytes = disk.state.lock().unwrap().file.get_ref().clone();
    let at = HEADER_LEN as usize + 12;
    bytes[at] ^= 0xff;
    let d = FaultyDisk::default();
    d.state.lock().unwrap().file = Cursor::new(bytes);
    match reload(&d) {
        Err(StoreError::Corrupt { offset, path, .. }) => {
            assert_eq!(offset, HEADER_LEN);
            assert_eq!(path, "test.log");
        }
        other => panic!("expected corruption, got {other:?}"),
    }
}

#[test]
fn a_foreign_or_newer_file_is_refused() {
    let d = FaultyDisk::default();
    d.state.lock().unwrap().file = Cursor::new(b"hello, world, not a log".to_vec());
    assert!(matches!(
        reload(&d),
        Err(StoreError::Corrupt { offset: 0, .. })
    ));
    let mut header = MAGIC.to_vec();
    header.extend_from_slice(&99u32.to_le_bytes());
    header.extend_from_slice(&[0; 4]);
    let d = FaultyDisk::default();
    d.state.lock().unwrap().file = Cursor::new(header);
    let err = reload(&d).unwrap_err().to_string();
    assert!(err.contains("version 99"), "{err}");
}

#[test]
fn a_rewrite_replaces_the_history_and_later_appends_follow_it() {
    let (disk, mut store) = fresh();
    for g in 0..5 {
        store.append(&group(g)).unwrap();
    }
    let live = group(9);
    store
        .rewrite(&mut |sink| live.iter().cloned().for_each(&mut *sink))
        .unwrap();
    assert_eq!(reload(&disk).unwrap(), live);
    store.append(&group(10)).unwrap();
    assert_eq!(reload(&disk).unwrap(), [group(9), group(10)].concat());
}

#[test]
fn a_failed_rewrite_keeps_the_old_log_and_its_appends() {
    let (disk, mut store) = fresh();
    store.append(&group(0)).unwrap();
    disk.state.lock().unwrap().fail_replace = true;
    assert!(store
        .rewrite(&mut |sink| group(7).into_iter().for_each(&mut *sink))
        .is_err());
    disk.state.lock().unwrap().fail_replace = false;
    store.append(&group(1)).unwrap();
    assert_eq!(reload(&disk).unwrap(), [group(0), group(1)].concat());
}

/// A background rewrite while groups keep being appended: once it switches
/// over, the log holds the frozen state and then every group appended since
/// the rewrite started, in order; before the switch, the old log holds
/// everything.
#[test]
fn a_background_rewrite_keeps_every_append_made_while_it_ran() {
    let (disk, mut store) = fresh();
    for g in 0..5 {
        store.append(&group(g)).unwrap();
    }
    let frozen = group(50);
    let produced = frozen.clone();
    assert!(store
        .start_rewrite(Box::new(move |sink| produced.into_iter().for_each(sink)))
        .unwrap());
    assert!(
        !store.start_rewrite(Box::new(|_| {})).unwrap(),
        "a second rewrite started while one runs"
    );
    let mut appended = Vec::new();
    let mut g = 100;
    while store.rewriting() {
        store.append(&group(g)).unwrap();
        appended.push(g);
        if store.rewriting() {
            // Still on the old log: it holds everything.
            let old: Vec<Op> = (0..5)
                .chain(appended.iter().copied())
                .flat_map(group)
                .collect();
            assert_eq!(reload(&disk).unwrap(), old);
        }
        g += 1;
    }
    let want: Vec<Op> = frozen
        .into_iter()
        .chain(appended.iter().copied().flat_map(group))
        .collect();
    assert_eq!(reload(&disk).unwrap(), want);
    store.append(&group(999)).unwrap();
    let got = reload(&disk).unwrap();
    assert_eq!(got[got.len() - 3..], group(999)[..]);
}

/// A background rewrite written after the last append takes effect when
/// the store is polled, without another append: an idle writer's
/// checkpoint is on disk, not staged until the next write.
#[test]
fn a_written_rewrite_switches_over_without_another_append() {
    let (disk, mut store) = fresh();
    for g in 0..3 {
        store.append(&group(g)).unwrap();
    }
    let frozen = group(70);
    let produced = frozen.clone();
    assert!(store
        .start_rewrite(Box::new(move |sink| produced.into_iter().for_each(sink)))
        .unwrap());
    // Until the rewrite's thread has written the file, polling keeps the
    // old log; the loop ends when the switch is made.
    while store.rewriting() {
        assert_eq!(
            reload(&disk).unwrap(),
            (0..3).flat_map(group).collect::<Vec<Op>>()
        );
        store.finish_rewrite().unwrap();
        std::thread::yield_now();
    }
    assert_eq!(reload(&disk).unwrap(), frozen);
    store.finish_rewrite().unwrap();
    store.append(&group(5)).unwrap();
    let want: Vec<Op> = frozen.into_iter().chain(group(5)).collect();
    assert_eq!(reload(&disk).unwrap(), want);
}

/// A torn tail whose side file name is taken (by an older copy, or by the
/// same copy before a crash) still lets start-up go on.
#[test]
fn a_taken_side_file_name_does_not_stop_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let make = |extra: &[u8]| {
        let mut store = LogStore::open(dir.path()).unwrap();
        store.load(&mut |_| {}).unwrap();
        store.append(&group(0)).unwrap();
        drop(store);
        let path = dir.path().join(LOG_FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        let good = bytes.len();
        bytes.extend_from_slice(extra);
        std::fs::write(&path, &bytes).unwrap();
        good
    };
    let good = make(&[9, 9, 9]);
    let side = dir.path().join(format!("{LOG_FILE}.torn-{good}"));
    std::fs::write(&side, b"an older copy").unwrap();
    let mut store = LogStore::open(dir.path()).unwrap();
    let mut ops = Vec::new();
    store.load(&mut |op| ops.push(op.to_op())).unwrap();
    assert_eq!(ops, group(0));
    assert_eq!(std::fs::read(&side).unwrap(), b"an older copy");
    let next = dir.path().join(format!("{LOG_FILE}.torn-{good}.1"));
    assert_eq!(std::fs::read(&next).unwrap(), [9, 9, 9]);
}
