//! `typeahead gen-users N [OUT_DIR]`: the tour's and the benchmarks' data.

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use anyhow::Context;

/// Options of `gen-users`.
#[derive(Debug, clap::Args)]
pub struct GenUsersArgs {
    /// How many users.
    users: usize,
    /// Where to write `users.csv` (`id,first,last,username,followers`) and
    /// `queries.txt` (created if missing). Without it, the users go to
    /// standard output as CSV.
    out_dir: Option<PathBuf>,
    /// How many sampled prefixes to write to `queries.txt`.
    #[arg(long, default_value_t = 100_000)]
    queries: usize,
    /// Seed; the same seed writes the same files.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

pub fn run(a: GenUsersArgs) -> anyhow::Result<()> {
    let list = typeahead::users::generate(a.users, a.seed);
    let Some(dir) = &a.out_dir else {
        let mut out = BufWriter::new(std::io::stdout().lock());
        typeahead::users::write_csv(&list, &mut out)?;
        out.flush()?;
        return Ok(());
    };
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("users.csv");
    let mut out = BufWriter::new(
        std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?,
    );
    typeahead::users::write_csv(&list, &mut out)?;
    out.flush()?;
    let path = dir.join("queries.txt");
    let mut out = BufWriter::new(
        std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?,
    );
    typeahead::users::write_queries(&list, a.queries, a.seed, &mut out)?;
    out.flush()?;
    eprintln!(
        "wrote {} users to {} and {} queries to {}",
        list.len(),
        dir.join("users.csv").display(),
        a.queries,
        path.display()
    );
    Ok(())
}
