//! [`Value`]: a JSON value stored as its canonical text; the `Interner`
//! that gives equal long values one text; and how a score is written as a
//! JSON number ([`push_score`]), the one form every answer and message uses.
//!
//! # Why values are built this way
//! A value is stored once per pair it belongs to, and a person indexed
//! under a first name, a last name and a username is three pairs. A value
//! of up to [`INLINE`] bytes (ids, short strings: the usual case) lives in
//! the 16-byte value itself; a longer one is a pointer to one shared text,
//! which the writer's `Interner` makes the same text for every pair that
//! holds an equal value. The alternative, every pair holding a 4-byte index
//! into a per-trie table of distinct values, costs the index plus a table
//! entry (the text in a 16-byte slot, a reference count, a hash slot: about
//! 38 bytes per distinct value), so for an id under three keys
//! `4 + 38 / 3 ≈ 16.7` bytes per pair against 16 inline, one more cache miss
//! per answer entry, and a table readers must see versioned with the
//! trie. The measurements pick inline ids and shared long texts.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use crate::trie::HeapSize;

/// A JSON value (never `null`) kept as canonical JSON text: object keys
/// sorted, no insignificant whitespace. Two values are the same value when
/// their canonical texts are equal, so equality, ordering and hashing work on
/// the text, and answers embed the text as-is without re-parsing it.
///
/// Texts of up to [`INLINE`] bytes (ids, short strings: most values) are
/// stored inside the value itself, so they cost no allocation and comparing
/// them chases no pointer; longer ones are shared behind an `Arc` (a thin
/// one, so that a value stays 16 bytes).
#[derive(Clone)]
pub struct Value(Repr);

#[derive(Clone)]
enum Repr {
    Inline { len: u8, bytes: [u8; INLINE] },
    Shared(Arc<Box<str>>),
}

/// Longest text stored inline (the value stays 16 bytes).
pub const INLINE: usize = 14;

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
            Value(Repr::Shared(Arc::new(text.into())))
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

/// An `Arc<Box<str>>`'s allocation besides its text: the two counts and
/// the box.
const SHARED_HEADER: usize = 2 * std::mem::size_of::<usize>() + std::mem::size_of::<Box<str>>();

impl HeapSize for Value {
    /// A shared text's bytes divided among the values that hold it, so that
    /// a trie's count of an interned value is its share, not a copy per pair.
    fn heap_bytes(&self) -> usize {
        match &self.0 {
            Repr::Inline { .. } => 0,
            Repr::Shared(s) => (SHARED_HEADER + s.len()).div_ceil(Arc::strong_count(s)),
        }
    }
}

/// Gives equal long values one shared text: the writer passes every value
/// it stores through [`Interner::intern`], so a record under many keys
/// holds its text once. Inline values pass through untouched.
///
/// The set holds a reference to each text it knows. A text whose pairs are
/// all gone is held only by the set; such texts are swept whenever the set
/// has doubled since the last sweep, so the set costs at most twice the live
/// texts and a sweep is paid for by the insertions before it.
#[derive(Debug, Default)]
pub(crate) struct Interner {
    set: HashSet<SharedText>,
    /// Live texts after the last sweep.
    swept: usize,
}

/// The sweep waits for at least this many texts.
const SWEEP_MIN: usize = 1024;

#[derive(Debug, Clone)]
struct SharedText(Arc<Box<str>>);

impl PartialEq for SharedText {
    fn eq(&self, other: &Self) -> bool {
        **self.0 == **other.0
    }
}

impl Eq for SharedText {}

impl std::hash::Hash for SharedText {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (**self.0).hash(state);
    }
}

impl std::borrow::Borrow<str> for SharedText {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl Interner {
    /// `v`, holding the one shared text of its value when it is long.
    pub(crate) fn intern(&mut self, v: &Value) -> Value {
        let Repr::Shared(s) = &v.0 else {
            return v.clone();
        };
        if let Some(known) = self.set.get(&***s) {
            return Value(Repr::Shared(Arc::clone(&known.0)));
        }
        if self.set.len() >= 2 * self.swept.max(SWEEP_MIN) {
            self.set.retain(|t| Arc::strong_count(&t.0) > 1);
            self.swept = self.set.len();
        }
        self.set.insert(SharedText(Arc::clone(s)));
        v.clone()
    }

    /// The value whose canonical text is `text` (from our own log), as
    /// [`Interner::intern`] would give it, without allocating a text the set
    /// already has.
    pub(crate) fn canonical(&mut self, text: &str) -> Value {
        if text.len() > INLINE {
            if let Some(known) = self.set.get(text) {
                return Value(Repr::Shared(Arc::clone(&known.0)));
            }
        }
        self.intern(&Value::from_canonical(text))
    }

    /// Texts the set holds, live or not yet swept.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.set.len()
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
        assert_eq!(std::mem::size_of::<Value>(), 16);
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

    /// Equal long values come out of the interner holding one text, whose
    /// bytes each holder counts a share of; texts no value holds any more
    /// are swept once the set has doubled.
    #[test]
    fn the_interner_gives_equal_long_values_one_text() {
        let text = r#"{"id":7,"name":"a value longer than inline"}"#;
        let mut interner = Interner::default();
        let a = interner.intern(&Value::from_canonical(text));
        let b = interner.intern(&Value::from_canonical(text));
        let short = interner.intern(&Value::from_canonical("7"));
        assert_eq!(a, b);
        let (Repr::Shared(x), Repr::Shared(y)) = (&a.0, &b.0) else {
            panic!("long values are shared");
        };
        assert!(Arc::ptr_eq(x, y), "one text for equal values");
        assert_eq!(short.heap_bytes(), 0);
        assert_eq!(interner.len(), 1, "inline values are not kept");
        // Held by a, b and the set: each counts a third.
        assert_eq!(a.heap_bytes(), (SHARED_HEADER + text.len()).div_ceil(3));
        drop((a, b));
        let keep: Vec<Value> = (0..2 * SWEEP_MIN)
            .map(|i| interner.intern(&Value::from_canonical(&format!("\"a longer text {i:05}\""))))
            .collect();
        assert!(interner.len() <= 2 * SWEEP_MIN, "swept: {}", interner.len());
        assert!(
            !interner.set.contains(text),
            "a text no value holds is swept"
        );
        let again = interner.intern(&Value::from_canonical(&format!(
            "\"a longer text {:05}\"",
            3
        )));
        let (Repr::Shared(x), Repr::Shared(y)) = (&again.0, &keep[3].0) else {
            panic!("long values are shared");
        };
        assert!(Arc::ptr_eq(x, y), "a live text survives the sweep");
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
