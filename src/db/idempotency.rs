//! Idempotency keys: a write retried after a lost answer is applied once.
//!
//! A client that sends a write with an `Idempotency-Key` and loses the
//! answer (a timeout, a dropped connection, a 504 `outcome_unknown`) can send
//! the same request with the same key again: if the first one was applied,
//! the retry gets the first one's answer and changes nothing; if it was not,
//! the retry is applied. The writer records the answer in the same group as
//! the write ([`Op::Idempotent`]), so the two are durable together and
//! survive restarts and compaction. Only successful writes are remembered
//! (a refused write changed nothing, so a retry may simply run again).
//!
//! The window is the most recent [`WINDOW`] keys: a key older than that is
//! forgotten, and reusing it applies the write again. A key reused with a
//! different request (method, path or body) is refused.

use std::collections::{HashMap, VecDeque};

use super::{Reply, Value};
use crate::store::Op;

/// How many keys are remembered.
pub const WINDOW: usize = 100_000;

/// A write's key and the fingerprint of the request that carried it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdemKey {
    /// The client's key.
    pub key: String,
    /// Fingerprint of method, path and body ([`fingerprint`]).
    pub fingerprint: i64,
}

/// FNV-1a over the parts, with a separator: stable across builds and
/// platforms, which a fingerprint kept on disk must be.
pub fn fingerprint(parts: &[&[u8]]) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in part.iter().chain(&[0xff]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h as i64
}

/// The remembered answers, oldest first.
#[derive(Default)]
pub(crate) struct Remembered {
    answers: HashMap<String, (i64, Reply)>,
    order: VecDeque<String>,
}

/// What the writer does with a keyed command.
pub(crate) enum Seen {
    /// Not seen: apply it.
    New,
    /// Seen with this answer: answer it again, apply nothing.
    Again(Reply),
    /// Seen with another request.
    Conflict,
}

impl Remembered {
    pub(crate) fn check(&self, k: &IdemKey) -> Seen {
        match self.answers.get(&k.key) {
            None => Seen::New,
            Some((f, reply)) if *f == k.fingerprint => Seen::Again(reply.clone()),
            Some(_) => Seen::Conflict,
        }
    }

    pub(crate) fn remember(&mut self, key: String, fingerprint: i64, reply: Reply) {
        if self
            .answers
            .insert(key.clone(), (fingerprint, reply))
            .is_none()
        {
            self.order.push_back(key);
        }
        while self.order.len() > WINDOW {
            if let Some(old) = self.order.pop_front() {
                self.answers.remove(&old);
            }
        }
    }

    /// Remembers a replayed [`Op::Idempotent`]; an answer that does not
    /// decode (written by a newer build) is skipped.
    pub(crate) fn replay(&mut self, key: &str, fingerprint: i64, reply: &str) {
        if let Some(reply) = decode(reply) {
            self.remember(key.to_owned(), fingerprint, reply);
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }

    /// Every remembered answer as operations, oldest first (for compaction).
    pub(crate) fn ops(&self) -> impl Iterator<Item = Op> + '_ {
        self.order.iter().filter_map(|k| {
            self.answers.get(k).map(|(f, r)| Op::Idempotent {
                key: k.clone(),
                fingerprint: *f,
                reply: encode(r),
            })
        })
    }
}

/// A reply as text for the log. An add's answer is `A added updated
/// unchanged`; logs written before scores hold `A added existing`, which
/// decodes with every existing pair unchanged (nothing else was possible).
pub(crate) fn encode(r: &Reply) -> String {
    match r {
        Reply::Added {
            added,
            updated,
            unchanged,
        } => format!("A {added} {updated} {unchanged}"),
        Reply::Removed(n) => format!("R {n}"),
        Reply::Len(n) => format!("L {n}"),
        Reply::Popped(v, n) => format!("P {n} {}", v.as_str()),
        Reply::Int(i) => format!("I {i}"),
        Reply::Done => "D".to_owned(),
        Reply::Created(new) => format!("C {}", u8::from(*new)),
    }
}

fn decode(s: &str) -> Option<Reply> {
    if let Some(counts) = s.strip_prefix("A ") {
        let counts: Vec<usize> = counts
            .split(' ')
            .map(|n| n.parse().ok())
            .collect::<Option<_>>()?;
        return match counts[..] {
            [added, existing] => Some(Reply::Added {
                added,
                updated: 0,
                unchanged: existing,
            }),
            [added, updated, unchanged] => Some(Reply::Added {
                added,
                updated,
                unchanged,
            }),
            _ => None,
        };
    }
    let mut it = s.splitn(3, ' ');
    let tag = it.next()?;
    let mut num = || it.next()?.parse::<usize>().ok();
    Some(match tag {
        "R" => Reply::Removed(num()?),
        "L" => Reply::Len(num()?),
        "P" => {
            let n = num()?;
            Reply::Popped(Value::parse(it.next()?).ok()?, n)
        }
        "I" => Reply::Int(s.get(2..)?.parse().ok()?),
        "D" => Reply::Done,
        "C" => Reply::Created(num()? == 1),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_reply_round_trips() {
        let v = Value::parse(r#"{"a": [1, "x y"]}"#).unwrap();
        for r in [
            Reply::Added {
                added: 3,
                updated: 0,
                unchanged: 0,
            },
            Reply::Added {
                added: 1,
                updated: 7,
                unchanged: 2,
            },
            Reply::Removed(2),
            Reply::Len(9),
            Reply::Popped(v, 4),
            Reply::Int(-17),
            Reply::Int(i64::MIN),
            Reply::Done,
        ] {
            assert_eq!(decode(&encode(&r)), Some(r));
        }
    }

    /// A log written before scores existed recorded an add's answer with
    /// two counts; a retry of that request still gets it back.
    #[test]
    fn an_answer_recorded_before_scores_still_decodes() {
        assert_eq!(
            decode("A 4 2"),
            Some(Reply::Added {
                added: 4,
                updated: 0,
                unchanged: 2
            })
        );
        for bad in ["A", "A ", "A 1", "A 1 2 3 4", "A 1 x", "A -1 2"] {
            assert_eq!(decode(bad), None, "{bad:?}");
        }
    }

    proptest! {
        /// Against a model that keeps the last WINDOW distinct keys.
        #[test]
        fn the_window_keeps_the_most_recent_keys(keys in proptest::collection::vec(0u32..300, 1..600)) {
            let mut r = Remembered::default();
            let mut model: Vec<u32> = Vec::new();
            for &k in &keys {
                r.remember(k.to_string(), i64::from(k), Reply::Len(k as usize));
                if !model.contains(&k) {
                    model.push(k);
                }
            }
            let kept: Vec<u32> = model.iter().rev().take(WINDOW).copied().collect();
            for k in 0..300u32 {
                let key = IdemKey { key: k.to_string(), fingerprint: i64::from(k) };
                match r.check(&key) {
                    Seen::Again(Reply::Len(n)) => prop_assert!(kept.contains(&k) && n == k as usize),
                    Seen::New => prop_assert!(!kept.contains(&k)),
                    _ => prop_assert!(false),
                }
            }
            let other = IdemKey { key: keys[0].to_string(), fingerprint: -1 };
            prop_assert!(matches!(r.check(&other), Seen::Conflict));
        }
    }
}
