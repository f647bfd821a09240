//! `typeahead suggest TRIE PREFIX`: prints `key<TAB>value<TAB>score` lines
//! (and a fourth column, the typo distance, with `--fuzzy` other than 0).

use anyhow::Context;

use super::{api_error, ClientArgs};

/// Options of `suggest`.
#[derive(Debug, clap::Args)]
pub struct SuggestArgs {
    /// Trie name.
    trie: String,
    /// Prefix (empty for every key).
    prefix: String,
    /// How many entries (1 to 1000).
    #[arg(long, default_value_t = 10)]
    limit: usize,
    /// key (code point order) or score (highest first).
    #[arg(long, default_value = "key", value_parser = ["key", "score"])]
    order: String,
    /// value (each value once, at its best place) or none.
    #[arg(long, default_value = "none", value_parser = ["value", "none"])]
    dedupe: String,
    /// Typos a match may have: 0, 1, 2 or auto.
    #[arg(long, default_value = "0", value_parser = ["0", "1", "2", "auto"])]
    fuzzy: String,
    #[command(flatten)]
    client: ClientArgs,
}

pub fn run(a: SuggestArgs) -> anyhow::Result<()> {
    let base = a.client.server.trim_end_matches('/');
    let url = reqwest::Url::parse_with_params(
        &format!("{base}/v1/tries/{}/suggest", enc(&a.trie)),
        &[
            ("q", a.prefix.as_str()),
            ("limit", &a.limit.to_string()),
            ("order", &a.order),
            ("dedupe", &a.dedupe),
            ("fuzzy", &a.fuzzy),
        ],
    )
    .with_context(|| format!("bad server URL {base:?}"))?;
    let res =
        reqwest::blocking::get(url.clone()).with_context(|| format!("could not reach {base}"))?;
    if !res.status().is_success() {
        return Err(api_error(res));
    }
    let body: serde_json::Value = res.json().context("the server's answer is not JSON")?;
    let entries = body["entries"].as_array().cloned().unwrap_or_default();
    for e in entries {
        let key = e["key"].as_str().unwrap_or_default();
        match e.get("distance") {
            Some(d) => println!("{key}\t{}\t{}\t{d}", e["value"], e["score"]),
            None => println!("{key}\t{}\t{}", e["value"], e["score"]),
        }
    }
    Ok(())
}

pub fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}
