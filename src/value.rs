//! [`Value`]: a JSON value stored as its canonical text; and how a score
//! is written as a JSON number ([`push_score`]), the one form every answer
//! and message uses.

use std::fmt;
use std::sync::Arc;

use crate::trie::HeapSize;

/// A JSON value (never `null`) kept as canonical JSON text: object keys
/// sorted, no insignificant whitespace. Two values are the same value when
/// their canonical texts are equal, so equality, ordering and hashing work on
/// the text, and answers embed the text as-is without re-parsing it.
///
/// Texts of up to 22 bytes (ids, short strings: most values) are
/// stored inside the value itself, so they cost no allocation and comparing
/// them chases no pointer; longer ones are shared behind an `Arc`.
#[derive(Clone)]
pub struct Value(Repr);

#[derive(Clone)]
enum Repr {
    Inline { len: u8, bytes: [u8; INLINE] },
    Shared(Arc<str>),
}

/// Longest text stored inline (the value stays 24 bytes).
pub const INLINE: usize = 22;

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Value {}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Value {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

// Hashing, equality and order are all those of the text's bytes, so a map
// keyed by values can be searched with a byte slice.
impl std::borrow::Borrow<[u8]> for Value {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl std::hash::Hash for Value {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

/// Why a JSON value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueError {
    /// `null` is not a value.
    #[error("value must not be null")]
    Null,
    /// The canonical text is longer than the limit.
    #[error("value is {len} bytes once serialized; the limit is {max}")]
    TooLarge {
        /// Canonical length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The text is not JSON.
    #[error("value is not valid JSON: {0}")]
    Invalid(String),
}

/// Largest canonical JSON text of a value, in bytes.
pub const MAX_VALUE_BYTES: usize = 4096;

impl Value {
    /// Canonicalizes a parsed JSON value. serde_json's `Map` is a `BTreeMap`
    /// (no `preserve_order` feature), so serializing sorts object keys.
    ///
    /// # Errors
    /// [`ValueError::Null`] for `null`, [`ValueError::TooLarge`] past
    /// [`MAX_VALUE_BYTES`].
    ///
    /// # Examples
    /// ```
    /// use typeahead::Value;
    /// let a = Value::from_json(&serde_json::json!({"b": 1, "a": [true]})).unwrap();
    /// assert_eq!(a.as_str(), r#"{"a":[true],"b":1}"#);
    /// ```
    pub fn from_json(v: &serde_json::Value) -> Result<Self, ValueError> {
        if v.is_null() {
            return Err(ValueError::Null);
        }
        let text = serde_json::to_string(v).map_err(|e| ValueError::Invalid(e.to_string()))?;
        if text.len() > MAX_VALUE_BYTES {
            return Err(ValueError::TooLarge {
                len: text.len(),
                max: MAX_VALUE_BYTES,
            });
        }
        Ok(Self::from_canonical(&text))
    }

    /// Parses and canonicalizes JSON text.
    ///
    /// # Errors
    /// As [`Value::from_json`], plus [`ValueError::Invalid`] for bad JSON.
    pub fn parse(text: &str) -> Result<Self, ValueError> {
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| ValueError::Invalid(e.to_string()))?;
        Self::from_json(&v)
    }

    /// Wraps text already known to be canonical (from our own log).
    pub(crate) fn from_canonical(text: &str) -> Self {
        if text.len() <= INLINE {
            let mut bytes = [0; INLINE];
            bytes[..text.len()].copy_from_slice(text.as_bytes());
            Value(Repr::Inline {
                len: text.len() as u8,
                bytes,
            })
        } else {
            Value(Repr::Shared(text.into()))
        }
    }

    /// The canonical JSON text as bytes (no UTF-8 check, unlike
    /// [`as_str`](Self::as_str)).
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Repr::Shared(s) => s.as_bytes(),
        }
    }

    /// The canonical JSON text.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            // Built from a &str cut at its own length: always valid UTF-8.
            Repr::Inline { .. } => {
                std::str::from_utf8(self.as_bytes()).expect("inline text is UTF-8")
            }
            Repr::Shared(s) => s,
        }
    }

    /// The value as a `serde_json::value::RawValue`-free JSON value.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::from_str(self.as_str()).expect("canonical text is valid JSON")
    }
}

/// 2^53: every integer of smaller magnitude is an `f64` exactly, and reads
/// back exactly in a client that keeps JSON numbers as doubles (JavaScript).
const EXACT_INTEGERS: f64 = 9_007_199_254_740_992.0;

/// Appends a score as a JSON number: an integral score of magnitude below
/// 2^53 as an integer (`42`, and `0` for -0.0), any other as the shortest
/// decimal that reads back as the same `f64` (`0.1`, `1e300`,
/// `9007199254740992.0`). Nothing is allocated.
///
/// A score that is not finite is never stored (the engine and the log
/// refuse it); JSON has no such number, so it is written as `0` and an
/// answer still parses.
///
/// # Examples
/// ```
/// let mut out = Vec::new();
/// for s in [42.0, -0.0, 0.1, 1e300, 9007199254740992.0] {
///     typeahead::value::push_score(&mut out, s);
///     out.push(b' ');
/// }
/// assert_eq!(out, b"42 0 0.1 1e300 9007199254740992.0 ");
/// ```
pub fn push_score(out: &mut Vec<u8>, score: f64) {
    if score.trunc() == score && score.abs() < EXACT_INTEGERS {
        out.extend_from_slice(itoa::Buffer::new().format(score as i64).as_bytes());
    } else if score.is_finite() {
        out.extend_from_slice(ryu::Buffer::new().format_finite(score).as_bytes());
    } else {
        out.push(b'0');
    }
}

/// A score as text for a message: as [`push_score`] writes it, and `NaN`,
/// `inf` or `-inf` for what is not finite.
pub fn score_text(score: f64) -> String {
    if !score.is_finite() {
        return score.to_string();
    }
    let mut out = Vec::with_capacity(24);
    push_score(&mut out, score);
    String::from_utf8(out).unwrap_or_default()
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl HeapSize for Value {
    fn heap_bytes(&self) -> usize {
        match &self.0 {
            Repr::Inline { .. } => 0,
            Repr::Shared(s) => s.heap_bytes(),
        }
    }
}

impl serde::Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Embeds the canonical text verbatim: no re-parsing on the way out.
        let raw: &serde_json::value::RawValue =
            serde_json::from_str(self.as_str()).map_err(serde::ser::Error::custom)?;
        raw.serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_and_shared_values_compare_by_text() {
        let short = Value::parse("12345").unwrap();
        let long = Value::parse(r#"{"name": "a rather long value that is shared"}"#).unwrap();
        assert_eq!(std::mem::size_of::<Value>(), 24);
        assert_eq!(short.heap_bytes(), 0);
        assert!(long.heap_bytes() > 0);
        assert_eq!(short, Value::from_canonical("12345"));
        assert_eq!(
            long.as_str(),
            r#"{"name":"a rather long value that is shared"}"#
        );
        let edge = "x".repeat(INLINE - 2);
        let at_limit = Value::parse(&format!("\"{edge}\"")).unwrap();
        let over = Value::parse(&format!("\"{edge}y\"")).unwrap();
        assert_eq!(at_limit.heap_bytes(), 0);
        assert!(over.heap_bytes() > 0);
        assert!(at_limit < over && short < long);
        assert_eq!(Value::parse("[1, 2]").unwrap().to_string(), "[1,2]");
    }

    /// Integers below 2^53 as integers, everything else as the shortest
    /// round-trip decimal; each text reads back as the same double.
    #[test]
    fn scores_are_written_as_integers_or_shortest_decimals() {
        for (score, text) in [
            (0.0, "0"),
            (-0.0, "0"),
            (42.0, "42"),
            (-7.0, "-7"),
            (9_007_199_254_740_991.0, "9007199254740991"),
            (9_007_199_254_740_992.0, "9007199254740992.0"),
            (-9_007_199_254_740_992.0, "-9007199254740992.0"),
            (1e16, "1e16"),
            (0.1, "0.1"),
            (0.1 + 0.2, "0.30000000000000004"),
            (123.25, "123.25"),
            (-2.5e-7, "-2.5e-7"),
            (1e300, "1e300"),
            (f64::MAX, "1.7976931348623157e308"),
            (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
            (5e-324, "5e-324"),
        ] {
            assert_eq!(score_text(score), text);
            assert_eq!(text.parse::<f64>().unwrap(), score, "{text}");
            let json: serde_json::Value = serde_json::from_str(text).unwrap();
            assert_eq!(json.as_f64(), Some(score), "{text} is a JSON number");
        }
        assert_eq!(score_text(f64::NAN), "NaN");
        assert_eq!(score_text(f64::NEG_INFINITY), "-inf");
        let mut out = Vec::new();
        push_score(&mut out, f64::INFINITY);
        assert_eq!(out, b"0");
    }
}
