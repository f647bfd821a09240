//! Parsing and chunking: line numbers, quoted CSV fields, bad lines.

use super::pool::split_point;
use super::*;

fn spec() -> Spec {
    Spec {
        format: Format::Csv,
        key_columns: vec!["first".into(), "last".into()],
        value_column: "id".into(),
    }
}

#[test]
fn csv_records_with_quotes_and_their_line_numbers() {
    let cols = CsvColumns::from_header(b"id,first,last\n", &spec()).unwrap();
    // Line 2 holds a quoted comma, lines 3-4 one record with a quoted newline,
    // line 5 a bad record, line 6 a string id.
    let data = b"1,\"Ann, Jr\",Lee\n2,\"Bo\nB\",Ray\n3,Cy\n\"x\",Di,Dee\n".to_vec();
    let parsed = parse_chunk(
        &Chunk {
            seq: 0,
            first_line: 2,
            data,
        },
        Format::Csv,
        Some(&cols),
    );
    assert_eq!(parsed.records, 3);
    let keys: Vec<&str> = parsed.entries.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["Ann, Jr", "Lee", "Bo\nB", "Ray", "Di", "Dee"]);
    assert_eq!(parsed.entries[0].1.as_str(), "1");
    assert_eq!(parsed.entries[4].1.as_str(), "\"x\"");
    assert_eq!(parsed.errors.len(), 1);
    assert_eq!(parsed.errors[0].line, 5);
    assert!(
        parsed.errors[0].message.contains("columns"),
        "{:?}",
        parsed.errors
    );
}

#[test]
fn chunks_split_only_between_records() {
    let csv = b"a,\"x\ny\",b\nc,d,e\nf,\"g";
    // The last complete record ends after "c,d,e\n"; the newline inside
    // quotes is not a split point, nor is the unfinished quoted field.
    assert_eq!(split_point(csv, Format::Csv), Some(16));
    assert_eq!(split_point(b"{}\n{\"a\"", Format::Ndjson), Some(3));
    assert_eq!(split_point(b"no newline", Format::Ndjson), None);
}

#[test]
fn missing_columns_are_named() {
    let err = CsvColumns::from_header(b"id,first\n", &spec()).unwrap_err();
    assert!(err.contains("last"), "{err}");
}
