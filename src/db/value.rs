//! [`Value`]: a JSON value stored as its canonical text.

use std::fmt;
use std::sync::Arc;

use crate::trie::HeapSize;

/// A JSON value (never `null`) kept as canonical JSON text: object keys
/// sorted, no insignificant whitespace. Two values are the same value when
/// their canonical texts are equal, so equality and hashing work on the text,
/// and answers embed the text as-is without re-parsing it.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Value(Arc<str>);

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
    /// use typeahead::db::Value;
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
        Ok(Value(text.into()))
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
        Value(text.into())
    }

    /// The canonical JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The value as a `serde_json::value::RawValue`-free JSON value.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::from_str(&self.0).expect("canonical text is valid JSON")
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl HeapSize for Value {
    fn heap_bytes(&self) -> usize {
        self.0.heap_bytes()
    }
}

impl serde::Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Embeds the canonical text verbatim: no re-parsing on the way out.
        let raw: &serde_json::value::RawValue =
            serde_json::from_str(&self.0).map_err(serde::ser::Error::custom)?;
        raw.serialize(s)
    }
}
