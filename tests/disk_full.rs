//! A disk that fills and empties again, with the real binary on a small
//! tmpfs: writes are refused with 507 while it is full, reads keep working,
//! writes resume by themselves once space is free, and nothing acknowledged
//! is lost. Mounting needs root (CI runs as root); elsewhere the test says
//! so and checks nothing.

mod common;

use std::path::Path;
use std::process::Command;

use common::Server;
use serde_json::json;

/// A tmpfs mounted for the test's life.
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Tmpfs(dir))
    }

    fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0.path()).status();
    }
}

/// Fills the file system holding `dir` with a file, until it refuses.
fn fill(dir: &Path) -> std::path::PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![7u8; 4096];
    while f.write_all(&chunk).is_ok() {}
    let _ = f.sync_all();
    path
}

#[test]
fn a_full_disk_refuses_writes_keeps_reads_and_recovers_by_itself() {
    let Some(fs) = Tmpfs::mount("4m") else {
        eprintln!("SKIPPED: mounting a tmpfs needs root");
        return;
    };
    let data = fs.path().join("data");
    let mut server = Server::start_in(&data, &[]);
    let add = |server: &Server, i: usize| {
        server.post_json(
            "/v1/tries/t/entries",
            &json!({"entries": [{"key": format!("k{i:04}"), "value": "x".repeat(64)}]}),
        )
    };
    for i in 0..50 {
        assert_eq!(add(&server, i).0, 200);
    }
    let filler = fill(fs.path());
    // Full: once the log's last page is used up, writes are refused with
    // 507 and change nothing.
    let mut i = 50;
    let refused = loop {
        let r = add(&server, i);
        if r.0 == 507 {
            break r;
        }
        assert_eq!(r.0, 200, "{:?}", r.1);
        i += 1;
        assert!(i < 2_000, "no write was refused on a full disk");
    };
    common::assert_error(&refused, 507, "insufficient_storage");
    common::assert_error(&add(&server, i), 507, "insufficient_storage");
    let (status, body, _) = server.get("/v1/tries/t/suggest?q=k&limit=1000");
    assert_eq!(status, 200, "reads stopped on a full disk: {body}");
    let before = body["entries"].as_array().unwrap().len();
    assert_eq!(server.get("/healthz").0, 200);
    // Space comes back: writes resume without a restart.
    std::fs::remove_file(filler).unwrap();
    for i in i..i + 10 {
        assert_eq!(add(&server, i).0, 200);
    }
    let count = |server: &Server| {
        server.get("/v1/tries/t/suggest?q=k&limit=1000").1["entries"]
            .as_array()
            .unwrap()
            .len()
    };
    let after = count(&server);
    assert_eq!(after, before + 10);
    // Everything acknowledged survives a crash.
    server.kill9();
    server.respawn();
    assert_eq!(count(&server), after);
}
