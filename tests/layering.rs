//! The library's modules depend one way: each uses only the modules below it
//! in `src/lib.rs`'s layout list. This reads every source file and fails on
//! a `crate::` path (outside comments) that points up.

use std::path::Path;

/// Lowest first, as in `src/lib.rs`.
const LAYERS: &[&str] = &[
    "fold", "trie", "sync", "value", "limits", "store", "db", "import", "users", "server",
];

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn modules_depend_only_on_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut violations = Vec::new();
    for (rank, module) in LAYERS.iter().enumerate() {
        let mut files = Vec::new();
        let dir = src.join(module);
        if dir.is_dir() {
            sources(&dir, &mut files);
        }
        let file = src.join(format!("{module}.rs"));
        if file.is_file() {
            files.push(file);
        }
        assert!(!files.is_empty(), "no source for module {module}");
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                for (higher, name) in LAYERS.iter().enumerate().skip(rank + 1) {
                    if code.contains(&format!("crate::{name}::"))
                        || code.contains(&format!("crate::{name};"))
                        || code.contains(&format!("crate::{name}}}"))
                    {
                        violations.push(format!(
                            "{}:{}: {module} (layer {rank}) uses {name} (layer {higher})",
                            f.display(),
                            n + 1
                        ));
                    }
                }
            }
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}
