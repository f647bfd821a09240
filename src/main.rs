//! The `typeahead` binary: the server and the CLI.

fn main() {
    println!("typeahead {}", env!("CARGO_PKG_VERSION"));
}
