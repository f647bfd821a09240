//! Parsing a JSON body with the batch limit checked while parsing.
//!
//! A 16 MiB batch parsed whole into `serde_json::Value` takes about 2.5
//! times its size before its length can be checked, so a client sending
//! many at once made the server hold gigabytes only to refuse them. This
//! builds the same `Value`, but counts every array's elements as they
//! arrive and stops at the first array longer than [`MAX_BATCH`]: the only
//! long arrays a valid body has are batches (a value is at most 4 KiB), so
//! a body that would be refused anyway is refused after reading at most one
//! batch's worth of entries.
//!
//! It also keeps a batch entry's `score` and `incr` when they are numbers
//! JSON can write but an `f64` cannot hold (`1e400`): serde_json refuses
//! those as it parses, which would make the whole body `invalid_json`
//! instead of the entry's `invalid_score`. Those two fields of
//! `entries[i]` are read as raw text first; a number out of range comes
//! back as a string starting with [`OUT_OF_RANGE`] followed by the number's
//! text, which the score rule refuses by name.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Number, Value as Json};

use crate::limits::MAX_BATCH;

/// The message of the error that says an array ran past [`MAX_BATCH`].
pub(crate) const TOO_LONG: &str = "an array in the body holds more than the batch limit";

/// What a batch entry's `score` or `incr` becomes when it is a number out
/// of the range of an `f64`: this prefix, then the number as written.
pub(crate) const OUT_OF_RANGE: &str = "\u{0}out of range:";

/// Parses `bytes` as JSON; an array longer than [`MAX_BATCH`] is an error
/// whose message starts with [`TOO_LONG`].
pub(crate) fn parse(bytes: &[u8]) -> Result<Json, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let v = Bounded(Level::Root).deserialize(&mut de)?;
    de.end()?;
    Ok(v)
}

/// Where in the body a value is: scores are read differently only in the
/// entries of the top-level `entries` array.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    /// The body itself.
    Root,
    /// The top-level `entries` value.
    Entries,
    /// One element of `entries`.
    Entry,
    /// Anywhere else.
    Inner,
}

#[derive(Clone, Copy)]
struct Bounded(Level);

/// A batch entry's `score` or `incr`, read from its raw text.
fn score_field(raw: &RawValue) -> Result<Json, serde_json::Error> {
    let text = raw.get();
    // The raw text is valid JSON already (serde_json scanned it): a number
    // that does not parse is one out of range.
    let number = text.starts_with(|c: char| c == '-' || c.is_ascii_digit());
    match parse_inner(text.as_bytes()) {
        Err(_) if number => Ok(Json::String(format!("{OUT_OF_RANGE}{text}"))),
        other => other,
    }
}

/// Parses a nested piece with the same bound, as an inner value.
fn parse_inner(bytes: &[u8]) -> Result<Json, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let v = Bounded(Level::Inner).deserialize(&mut de)?;
    de.end()?;
    Ok(v)
}

impl<'de> DeserializeSeed<'de> for Bounded {
    type Value = Json;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Json, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Bounded {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
        Ok(Number::from_f64(v).map_or(Json::Null, Json::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }
    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Json, D::Error> {
        self.deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        let item = Bounded(match self.0 {
            Level::Entries => Level::Entry,
            _ => Level::Inner,
        });
        while let Some(v) = seq.next_element_seed(item)? {
            if out.len() == MAX_BATCH {
                return Err(serde::de::Error::custom(TOO_LONG));
            }
            out.push(v);
        }
        Ok(Json::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut out = Map::new();
        while let Some(k) = map.next_key::<String>()? {
            let v = match (self.0, k.as_str()) {
                (Level::Root, "entries") => map.next_value_seed(Bounded(Level::Entries))?,
                (Level::Entry, "score" | "incr") => {
                    let raw = map.next_value::<Box<RawValue>>()?;
                    score_field(&raw).map_err(serde::de::Error::custom)?
                }
                _ => map.next_value_seed(Bounded(Level::Inner))?,
            };
            out.insert(k, v);
        }
        Ok(Json::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn json_value() -> impl Strategy<Value = Json> {
        let leaf = prop_oneof![
            Just(Json::Null),
            any::<bool>().prop_map(Json::Bool),
            any::<i64>().prop_map(|i| Json::Number(i.into())),
            any::<u64>().prop_map(|i| Json::Number(i.into())),
            (-1e9f64..1e9).prop_map(|f| Number::from_f64(f).map_or(Json::Null, Json::Number)),
            ".{0,8}".prop_map(Json::String),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..8).prop_map(Json::Array),
                proptest::collection::btree_map(".{0,6}", inner, 0..8)
                    .prop_map(|m| Json::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Below the limit it parses exactly as serde_json does.
        #[test]
        fn parses_like_serde_json(v in json_value()) {
            let text = serde_json::to_string(&v).unwrap();
            let want: Json = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(parse(text.as_bytes()).unwrap(), want);
        }

        /// Invalid JSON is refused as serde_json refuses it.
        #[test]
        fn refuses_what_serde_json_refuses(text in ".{0,24}") {
            let ours = parse(text.as_bytes()).is_ok();
            let theirs = serde_json::from_str::<Json>(&text).is_ok();
            prop_assert_eq!(ours, theirs);
        }
    }

    /// serde_json refuses a number an f64 cannot hold; in a batch entry's
    /// score or increment it is kept as text for the score rule to refuse,
    /// and anywhere else the body stays invalid JSON.
    #[test]
    fn a_score_out_of_range_is_kept_for_the_score_rule() {
        let body = br#"{"entries":[{"key":"k","value":1,"score":1e400,"incr":-1e999}]}"#;
        let v = parse(body).unwrap();
        let e = &v["entries"][0];
        assert_eq!(e["score"], Json::String(format!("{OUT_OF_RANGE}1e400")));
        assert_eq!(e["incr"], Json::String(format!("{OUT_OF_RANGE}-1e999")));
        let v = parse(br#"{"entries":[{"score":2.5,"incr":"x","value":{"score":[1]}}]}"#).unwrap();
        assert_eq!(v["entries"][0]["score"], 2.5);
        assert_eq!(v["entries"][0]["incr"], "x");
        assert_eq!(v["entries"][0]["value"]["score"][0], 1);
        for elsewhere in [
            &br#"{"entries":[{"value":1e400}]}"#[..],
            br#"{"score":1e400}"#,
            br#"{"entries":[{"value":{"score":1e400}}]}"#,
            br#"{"entries":[[{"score":1e400}]]}"#,
            br#"{"entries":[{"score":1e400,}]}"#,
            br#"{"entries":[{"score":01}]}"#,
        ] {
            assert!(
                parse(elsewhere).is_err(),
                "{}",
                String::from_utf8_lossy(elsewhere)
            );
        }
    }

    #[test]
    fn an_array_past_the_limit_stops_the_parse() {
        let at = format!("{{\"entries\":[{}]}}", vec!["1"; MAX_BATCH].join(","));
        assert!(parse(at.as_bytes()).is_ok());
        let past = format!("{{\"entries\":[{}]}}", vec!["1"; MAX_BATCH + 1].join(","));
        let err = parse(past.as_bytes()).unwrap_err().to_string();
        assert!(err.starts_with(TOO_LONG), "{err}");
    }
}
