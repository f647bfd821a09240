//! Writes the benchmark data: `N` synthetic users as CSV (`id,first,last,username`)
//! and `Q` prefixes sampled as a person types (a random user, a random field
//! among lowercase first / lowercase last / username, a prefix of 1 to 8 chars).
//!
//! `cargo run --release --example gen_data -- USERS QUERIES OUT_DIR`
//! writes `OUT_DIR/users.csv` and `OUT_DIR/queries.txt`, deterministic (seed 42).

use std::io::{BufWriter, Write};

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let users: usize = args
        .get(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let queries: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let out = std::path::PathBuf::from(args.get(3).map_or("target/bench-data", String::as_str));
    std::fs::create_dir_all(&out)?;
    let list = typeahead::users::generate(users, 42);
    typeahead::users::write_csv(
        &list,
        BufWriter::new(std::fs::File::create(out.join("users.csv"))?),
    )?;
    let mut q = BufWriter::new(std::fs::File::create(out.join("queries.txt"))?);
    let mut x = 42u64;
    let mut next = || {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (x >> 33) as usize
    };
    for _ in 0..queries {
        let u = &list[next() % list.len()];
        let keys = u.keys();
        let field = &keys[next() % 3];
        let n = field.chars().count().min(1 + next() % 8);
        writeln!(q, "{}", field.chars().take(n).collect::<String>())?;
    }
    q.flush()?;
    eprintln!(
        "wrote {} users and {queries} queries to {}",
        list.len(),
        out.display()
    );
    Ok(())
}
