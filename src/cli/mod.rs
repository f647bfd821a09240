//! Command-line interface: `serve`, `import`, `suggest` and `gen-users`, each in its own
//! file. Raw clap arguments are turned into validated configs here.

mod gen_users;
mod import;
mod serve;
mod suggest;

use clap::{Parser, Subcommand};

/// A concurrent suggest-as-you-type server.
#[derive(Debug, Parser)]
#[command(name = "typeahead", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(serve::ServeArgs),
    /// Stream a CSV or NDJSON file into a trie on a running server.
    Import(import::ImportArgs),
    /// Print suggestions from a running server.
    Suggest(suggest::SuggestArgs),
    /// Write N synthetic users (CSV) and sampled prefixes to a directory.
    GenUsers(gen_users::GenUsersArgs),
}

/// Runs the chosen subcommand.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(a) => serve::run(a),
        Command::Import(a) => import::run(a),
        Command::Suggest(a) => suggest::run(a),
        Command::GenUsers(a) => gen_users::run(a),
    }
}

/// Options shared by the client subcommands.
#[derive(Debug, clap::Args)]
pub struct ClientArgs {
    /// Server base URL.
    #[arg(
        long,
        env = "TYPEAHEAD_SERVER",
        default_value = "http://127.0.0.1:7700"
    )]
    pub server: String,
    /// Bearer token for servers started with --token.
    #[arg(long, env = "TYPEAHEAD_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

/// Turns a non-2xx answer into an error carrying the server's message.
pub fn api_error(res: reqwest::blocking::Response) -> anyhow::Error {
    let status = res.status();
    let body = res.text().unwrap_or_default();
    let parsed: Option<serde_json::Value> = serde_json::from_str(&body).ok();
    let detail = parsed
        .as_ref()
        .and_then(|v| {
            v.pointer("/error/message")
                .and_then(|m| m.as_str())
                .map(str::to_owned)
        })
        .unwrap_or(body);
    let code = parsed
        .as_ref()
        .and_then(|v| {
            v.pointer("/error/code")
                .and_then(|m| m.as_str())
                .map(str::to_owned)
        })
        .unwrap_or_default();
    anyhow::anyhow!("server answered {status} {code}: {detail}")
}
