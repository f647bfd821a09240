//! Parsing and chunking: line numbers, quoted CSV fields, bad lines.

use super::pool::split_point;
use super::*;

fn spec() -> Spec {
    Spec {
        format: Format::Csv,
        key_columns: vec!["first".into(), "last".into()],
        value_column: "id".into(),
        score_column: None,
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
    let keys: Vec<&str> = parsed.entries.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["Ann, Jr", "Lee", "Bo\nB", "Ray", "Di", "Dee"]);
    assert_eq!(parsed.entries[0].value.as_str(), "1");
    assert_eq!(parsed.entries[4].value.as_str(), "\"x\"");
    assert!(parsed.entries.iter().all(|e| e.score.is_none()));
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

fn chunk(first_line: u64, data: &[u8]) -> Chunk {
    Chunk {
        seq: 0,
        first_line,
        data: data.to_vec(),
    }
}

/// The scores of a parsed chunk, by key.
fn scores(parsed: &Parsed) -> Vec<(&str, Option<ScoreOp>)> {
    parsed
        .entries
        .iter()
        .map(|e| (e.key.as_str(), e.score))
        .collect()
}

#[test]
fn a_csv_score_column_scores_every_key_of_its_record() {
    let spec = Spec {
        score_column: Some("rank".into()),
        ..spec()
    };
    let cols = CsvColumns::from_header(b"id,first,last,rank\n", &spec).unwrap();
    let data = b"1,ann,lee,4.5\n2,bo,ray,\n3,cy,dee,-7\n4,di,fu,high\n5,ed,gu,inf\n6,fa,hu,1e400\n7,gi,ho,NaN\n8,ha,ib,1e3\n";
    let parsed = parse_chunk(&chunk(2, data), Format::Csv, Some(&cols));
    assert_eq!(parsed.records, 4);
    assert_eq!(
        scores(&parsed),
        [
            ("ann", Some(ScoreOp::Set(4.5))),
            ("lee", Some(ScoreOp::Set(4.5))),
            ("bo", None),
            ("ray", None),
            ("cy", Some(ScoreOp::Set(-7.0))),
            ("dee", Some(ScoreOp::Set(-7.0))),
            ("ha", Some(ScoreOp::Set(1000.0))),
            ("ib", Some(ScoreOp::Set(1000.0))),
        ]
    );
    let errors: Vec<(u64, &str)> = parsed
        .errors
        .iter()
        .map(|e| (e.line, e.message.as_str()))
        .collect();
    assert_eq!(
        errors,
        [
            (5, "score: \"high\" is not a finite number"),
            (6, "score: \"inf\" is not a finite number"),
            (7, "score: \"1e400\" is not a finite number"),
            (8, "score: \"NaN\" is not a finite number"),
        ]
    );
    let err = CsvColumns::from_header(b"id,first,last\n", &spec).unwrap_err();
    assert!(err.contains("\"rank\""), "{err}");
}

#[test]
fn an_ndjson_score_is_optional_and_must_be_a_finite_number() {
    let data = br#"{"keys":["a","b"],"value":1,"score":2.5}
{"keys":["c"],"value":2}
{"keys":["d"],"value":3,"score":"9"}
{"keys":["e"],"value":4,"score":null}
{"keys":["f"],"value":5,"score":1e400}
{"keys":["g"],"value":6,"score":-0.25}
"#;
    let parsed = parse_chunk(&chunk(1, data), Format::Ndjson, None);
    assert_eq!(parsed.records, 3);
    assert_eq!(
        scores(&parsed),
        [
            ("a", Some(ScoreOp::Set(2.5))),
            ("b", Some(ScoreOp::Set(2.5))),
            ("c", None),
            ("g", Some(ScoreOp::Set(-0.25))),
        ]
    );
    let lines: Vec<u64> = parsed.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, [3, 4, 5]);
    assert_eq!(
        parsed.errors[0].message,
        "\"score\" must be a number, got \"9\""
    );
    assert_eq!(
        parsed.errors[1].message,
        "\"score\" must be a number, got null"
    );
    assert!(
        parsed.errors[2]
            .message
            .starts_with("invalid JSON: number out of range"),
        "{}",
        parsed.errors[2].message
    );
}
