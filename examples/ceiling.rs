//! The ceiling for the HTTP benchmark: a minimal axum handler answering every
//! GET with a fixed JSON body of a given size. No real handler can beat it.
//!
//! `cargo run --release --example ceiling -- 127.0.0.1:7791 336`

use axum::http::header;

// The same allocator as the typeahead binary, so that the ratio measures the
// handler, not the allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use axum::response::IntoResponse;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let addr = args
        .get(1)
        .map_or("127.0.0.1:7791", String::as_str)
        .to_owned();
    let size: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(336);
    let mut body = String::from("{\"entries\":[");
    while body.len() + 3 < size {
        body.push('0');
    }
    body.push_str("]}");
    let body: &'static str = Box::leak(body.into_boxed_str());
    let app = axum::Router::new().fallback(move || async move {
        ([(header::CONTENT_TYPE, "application/json")], body).into_response()
    });
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    eprintln!(
        "ceiling listening on http://{addr}, {}-byte body",
        body.len()
    );
    axum::serve(listener, app).await.expect("serve");
}
