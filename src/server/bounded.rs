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

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value as Json};

use crate::limits::MAX_BATCH;

/// The message of the error that says an array ran past [`MAX_BATCH`].
pub(crate) const TOO_LONG: &str = "an array in the body holds more than the batch limit";

/// Parses `bytes` as JSON; an array longer than [`MAX_BATCH`] is an error
/// whose message starts with [`TOO_LONG`].
pub(crate) fn parse(bytes: &[u8]) -> Result<Json, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let v = Bounded.deserialize(&mut de)?;
    de.end()?;
    Ok(v)
}

#[derive(Clone, Copy)]
struct Bounded;

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
        while let Some(v) = seq.next_element_seed(self)? {
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
            let v = map.next_value_seed(self)?;
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

    #[test]
    fn an_array_past_the_limit_stops_the_parse() {
        let at = format!("{{\"entries\":[{}]}}", vec!["1"; MAX_BATCH].join(","));
        assert!(parse(at.as_bytes()).is_ok());
        let past = format!("{{\"entries\":[{}]}}", vec!["1"; MAX_BATCH + 1].join(","));
        let err = parse(past.as_bytes()).unwrap_err().to_string();
        assert!(err.starts_with(TOO_LONG), "{err}");
    }
}
