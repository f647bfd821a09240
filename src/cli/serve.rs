//! `typeahead serve`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use typeahead::server::{serve, ServerConfig};

/// Options of `serve`; each also comes from an environment variable.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "TYPEAHEAD_ADDR", default_value = "127.0.0.1:7700")]
    addr: SocketAddr,
    /// Where the data lives (created on first start).
    #[arg(long, env = "TYPEAHEAD_DATA_DIR", default_value = "./typeahead-data")]
    data_dir: PathBuf,
    /// Require `Authorization: Bearer TOKEN` on every request but GET, HEAD and OPTIONS.
    #[arg(long, env = "TYPEAHEAD_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Allow browsers on this origin (repeatable; comma-separated in the variable).
    #[arg(
        long = "cors-origin",
        env = "TYPEAHEAD_CORS_ORIGIN",
        value_delimiter = ','
    )]
    cors_origins: Vec<String>,
    /// Load 50,000 bundled synthetic users into the trie "users" if it does not exist.
    #[arg(long, env = "TYPEAHEAD_DEMO")]
    demo: bool,
    /// While listening on a loopback address, also answer requests whose
    /// Host is this name (repeatable; comma-separated in the variable).
    /// Other names are refused, against DNS rebinding.
    #[arg(
        long = "allow-host",
        env = "TYPEAHEAD_ALLOW_HOST",
        value_delimiter = ','
    )]
    allowed_hosts: Vec<String>,
    /// Seconds an import upload may send nothing before its job fails.
    #[arg(long, env = "TYPEAHEAD_IMPORT_IDLE_TIMEOUT", default_value_t = 30)]
    import_idle_timeout: u64,
    /// Most tries this server holds; creating one more is 409 `resource_limit`.
    #[arg(long, env = "TYPEAHEAD_MAX_TRIES", default_value_t = 10_000)]
    max_tries: usize,
    /// Most stacks.
    #[arg(long, env = "TYPEAHEAD_MAX_STACKS", default_value_t = 10_000)]
    max_stacks: usize,
    /// Most caches.
    #[arg(long, env = "TYPEAHEAD_MAX_CACHES", default_value_t = 10_000)]
    max_caches: usize,
    /// The fewest operations that make housekeeping worth it: the log is
    /// rewritten from the live state (in the background) once the operations
    /// since the last rewrite pass this many and half the live state (an
    /// eighth once writes pause), and the tries are repacked after a pause
    /// once the writes since the last repack pass this many and an eighth.
    #[arg(long, env = "TYPEAHEAD_COMPACT_MIN_OPS", default_value_t = 100_000)]
    compact_min_ops: u64,
    /// MiB of request bodies in flight at once; a request past it gets 503
    /// `overloaded` without its body being read (at least 16).
    #[arg(long, env = "TYPEAHEAD_BODY_BUDGET_MIB", default_value_t = 64)]
    body_budget_mib: usize,
    /// Seconds a request's headers may take to arrive.
    #[arg(long, env = "TYPEAHEAD_HEADER_TIMEOUT", default_value_t = 10)]
    header_timeout: u64,
    /// Seconds a connection may stay open without sending anything.
    #[arg(long, env = "TYPEAHEAD_IDLE_TIMEOUT", default_value_t = 60)]
    idle_timeout: u64,
    /// Most client connections open at once (later ones wait to be accepted).
    #[arg(long, env = "TYPEAHEAD_MAX_CONNECTIONS", default_value_t = 1024)]
    max_connections: usize,
    /// Run as a node of a cluster whose store of record is this PostgreSQL
    /// database (postgres://user@host:port/db) instead of the data
    /// directory's log; see docs/deploy.md.
    #[arg(long, env = "TYPEAHEAD_POSTGRES", hide_env_values = true)]
    postgres: Option<String>,
    /// With --postgres: the URL other nodes forward writes to (default:
    /// http:// and the address listened on).
    #[arg(long, env = "TYPEAHEAD_ADVERTISE_URL")]
    advertise_url: Option<String>,
    /// Longest a request may take, in seconds.
    #[arg(long, env = "TYPEAHEAD_REQUEST_TIMEOUT", default_value_t = 30)]
    request_timeout: u64,
}

pub fn run(a: ServeArgs) -> anyhow::Result<()> {
    if a.token.as_deref() == Some("") {
        anyhow::bail!("--token must not be empty");
    }
    if let Some(url) = &a.advertise_url {
        if axum_origin_invalid(url) {
            anyhow::bail!("--advertise-url {url:?} is not a URL like http://10.0.0.5:7700");
        }
    }
    if a.advertise_url.is_some() && a.postgres.is_none() {
        anyhow::bail!("--advertise-url only applies with --postgres");
    }
    for origin in &a.cors_origins {
        if axum_origin_invalid(origin) {
            anyhow::bail!("--cors-origin {origin:?} is not an origin like https://example.com");
        }
    }
    let config = ServerConfig {
        addr: a.addr,
        data_dir: a.data_dir,
        token: a.token,
        cors_origins: a.cors_origins,
        demo: a.demo,
        request_timeout: Duration::from_secs(a.request_timeout.max(1)),
        allowed_hosts: a.allowed_hosts,
        body_budget: a.body_budget_mib.saturating_mul(1 << 20),
        db_limits: typeahead::db::Limits {
            max_tries: a.max_tries,
            max_stacks: a.max_stacks,
            max_caches: a.max_caches,
            compact_min_ops: a.compact_min_ops.max(1),
        },
        conn_limits: typeahead::server::ConnLimits {
            header_read: Duration::from_secs(a.header_timeout.max(1)),
            idle: Duration::from_secs(a.idle_timeout.max(1)),
            max_connections: a.max_connections.max(1),
        },
        import_idle_timeout: Duration::from_secs(a.import_idle_timeout.max(1)),
        postgres: a.postgres,
        advertise_url: a.advertise_url,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(serve(config))?;
    Ok(())
}

fn axum_origin_invalid(origin: &str) -> bool {
    !(origin.starts_with("http://") || origin.starts_with("https://")) || origin.ends_with('/')
}
