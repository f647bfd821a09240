//! Every operation round-trips, every cut of a record is an error (never a
//! panic), and the bytes of a score are fixed.

use super::*;

#[test]
fn every_op_round_trips() {
    let v = Value::parse(r#"{"id": 7}"#).unwrap();
    let ops = vec![
        Op::TrieCreate { trie: "t".into() },
        Op::TrieSettings {
            trie: "f".into(),
            fold: crate::fold::Fold::Full,
        },
        Op::TrieInsert {
            trie: "t".into(),
            key: "ключ/?%".into(),
            value: v.clone(),
        },
        Op::TrieRemove {
            trie: "t".into(),
            key: "k".into(),
            value: Some(v.clone()),
        },
        Op::TrieRemove {
            trie: "t".into(),
            key: "k".into(),
            value: None,
        },
        Op::TrieDrop { trie: "t".into() },
        Op::StackPush {
            stack: "s".into(),
            value: v,
        },
        Op::StackPop { stack: "s".into() },
        Op::StackDrop { stack: "s".into() },
        Op::CacheSet {
            cache: "c".into(),
            key: "k".into(),
            value: i64::MIN,
        },
        Op::CacheRemove {
            cache: "c".into(),
            key: "k".into(),
        },
        Op::CacheDrop { cache: "c".into() },
        Op::Idempotent {
            key: "retry-7".into(),
            fingerprint: -3,
            reply: "P 2 {\"id\":7}".into(),
        },
        Op::TrieScore {
            trie: "t".into(),
            key: "k".into(),
            value: Value::parse("\"v\"").unwrap(),
            score: -0.25,
        },
        Op::TrieScore {
            trie: "t".into(),
            key: "日本".into(),
            value: Value::parse("[1]").unwrap(),
            score: f64::MAX,
        },
        Op::TrieScore {
            trie: "t".into(),
            key: "k".into(),
            value: Value::parse("1").unwrap(),
            score: 5e-324,
        },
    ];
    let mut buf = Vec::new();
    for op in &ops {
        op.encode(&mut buf);
    }
    let mut back = Vec::new();
    assert_eq!(
        Op::decode_all(&buf, |op| back.push(op.to_op())),
        Ok(ops.len() as u64)
    );
    assert_eq!(back, ops);
    // Every strict prefix is malformed, never a panic.
    for cut in 1..buf.len() {
        let _ = Op::decode_all(&buf[..cut], |_| {});
    }
}

/// The encoding of each operation is fixed: a log written today must
/// decode the same in every later build. The bytes of a score are its
/// IEEE 754 bits, little-endian, after the three strings.
#[test]
fn a_score_is_encoded_after_its_pair_as_ieee_bits() {
    let mut buf = Vec::new();
    Op::TrieScore {
        trie: "t".into(),
        key: "k".into(),
        value: Value::parse("7").unwrap(),
        score: 1.5,
    }
    .encode(&mut buf);
    let mut want = vec![13, 1, b't', 1, b'k', 1, b'7'];
    want.extend_from_slice(&1.5f64.to_le_bytes());
    assert_eq!(buf, want);
}

/// A score that is not finite was never written by the writer: it is
/// damage, reported with its offset, not a value to serve.
#[test]
fn a_recorded_score_that_is_not_finite_is_refused() {
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let mut buf = Vec::new();
        Op::TrieCreate { trie: "t".into() }.encode(&mut buf);
        let at = buf.len();
        buf.extend_from_slice(&[13, 1, b't', 1, b'k', 1, b'7']);
        buf.extend_from_slice(&bad.to_le_bytes());
        let err = Op::decode_all(&buf, |_| {}).unwrap_err();
        assert_eq!(err.0, at, "{bad}");
        assert!(err.1.contains("not finite"), "{}", err.1);
    }
}
