//! The `typeahead` binary: parses arguments, sets up logging, runs one
//! subcommand, and prints the error chain on failure.

mod cli;

use clap::Parser;

/// mimalloc instead of glibc's malloc: a request allocates a few dozen small,
/// short-lived blocks (headers, query, body, futures), and glibc's free path
/// (consolidation, unlinking) showed as ~10% of the server's CPU under the
/// suggest load. See the commit that added it for the measurement.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    let default_level = if matches!(args.command, cli::Command::Serve(_)) {
        "info"
    } else {
        "warn"
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level)),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    match cli::run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("typeahead: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
