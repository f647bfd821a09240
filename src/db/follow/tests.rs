//! A follower ends in the writer's state: any sequence of commands, run
//! through a writer whose store records each group, then replayed group by
//! group through [`apply`] into fresh state, gives the same tries (fold,
//! pairs in order, scores), stacks and caches as the writer holds. The
//! writer is the model: it is what every other test of `db` checks.

use std::sync::{Arc, Mutex};

use proptest::prelude::*;

use super::apply;
use crate::db::command::Command;
use crate::db::{Db, Request, ScoreOp, ScoredEntry, State, Value};
use crate::fold::Fold;
use crate::store::{LoadStats, Op, OpRef, Store, StoreError};

/// A store that keeps every group as it was appended.
#[derive(Clone, Default)]
struct Groups(Arc<Mutex<Vec<Vec<Op>>>>);

impl Store for Groups {
    fn append(&mut self, ops: &[Op]) -> Result<(), StoreError> {
        self.0.lock().unwrap().push(ops.to_vec());
        Ok(())
    }
    fn load(&mut self, _: &mut dyn FnMut(OpRef<'_>)) -> Result<LoadStats, StoreError> {
        Ok(LoadStats::default())
    }
}

type Pairs = Vec<(String, String, u64)>;
/// Tries (name, fold, pairs), stacks (name, items) and caches (name,
/// entries).
type Dump = (
    Vec<(String, Fold, Pairs)>,
    Vec<(String, Vec<String>)>,
    Vec<(String, Vec<(String, i64)>)>,
);

/// Everything a state holds, in a comparable form (scores as bits).
fn dump(state: &State) -> Dump {
    let tries = state
        .tries
        .load()
        .iter()
        .map(|(name, index)| {
            let snapshot = index.snapshot();
            let mut pairs = Vec::new();
            let mut it = snapshot.trie().iter_prefix("");
            while let Some((key, values)) = it.next_key() {
                for (value, score) in values.scored() {
                    pairs.push((key.to_owned(), value.as_str().to_owned(), score.to_bits()));
                }
            }
            (name.clone(), snapshot.trie().fold(), pairs)
        })
        .collect();
    let stacks = state
        .stacks
        .load()
        .iter()
        .map(|(name, s)| {
            let items = s.with_items(|items| items.iter().map(|v| v.as_str().to_owned()).collect());
            (name.clone(), items)
        })
        .collect();
    let caches = state
        .caches
        .load()
        .iter()
        .map(|(name, c)| {
            let mut entries = c.entries();
            entries.sort();
            (name.clone(), entries)
        })
        .collect();
    (tries, stacks, caches)
}

fn value(i: u8) -> Value {
    Value::parse(&i.to_string()).unwrap()
}

/// Commands over two tries, two stacks and two caches, with keys that
/// collide, fold alike ("Ab", "ab", "áb") or share prefixes.
fn command() -> impl Strategy<Value = Command> {
    let name = |p: &'static str| (0..2u8).prop_map(move |i| format!("{p}{i}"));
    let key = prop::sample::select(vec!["ab", "Ab", "áb", "abc", "b", "ba"]).prop_map(String::from);
    let score = prop_oneof![
        Just(None),
        (-3i8..4).prop_map(|s| Some(ScoreOp::Set(f64::from(s) / 2.0))),
        (-3i8..4).prop_map(|s| Some(ScoreOp::Incr(f64::from(s)))),
    ];
    let entry = (key.clone(), 0..4u8, score).prop_map(|(key, v, score)| ScoredEntry {
        key,
        value: value(v),
        score,
    });
    prop_oneof![
        4 => (name("t"), prop::collection::vec(entry, 1..4))
            .prop_map(|(trie, entries)| Command::TrieAdd { trie, entries }),
        1 => (name("t"), prop::sample::select(vec![Fold::None, Fold::Case, Fold::Full]))
            .prop_map(|(trie, fold)| Command::TrieCreate { trie, fold }),
        1 => (name("t"), key.clone(), prop::option::of(0..4u8)).prop_map(|(trie, key, v)| {
            Command::TrieRemove { trie, entries: vec![(key, v.map(value))] }
        }),
        1 => (name("t"), key.clone()).prop_map(|(trie, key)| Command::TrieRemoveKey { trie, key }),
        1 => name("t").prop_map(|trie| Command::TrieDrop { trie }),
        2 => (name("s"), 0..4u8).prop_map(|(stack, v)| Command::StackPush { stack, value: value(v) }),
        1 => name("s").prop_map(|stack| Command::StackPop { stack }),
        1 => name("s").prop_map(|stack| Command::StackDrop { stack }),
        1 => (name("c"), key.clone(), -2i64..3).prop_map(|(cache, key, value)| Command::CacheSet { cache, key, value }),
        2 => (name("c"), key.clone(), -2i64..3).prop_map(|(cache, key, by)| Command::CacheIncr { cache, key, by }),
        1 => (name("c"), key).prop_map(|(cache, key)| Command::CacheRemove { cache, key }),
        1 => name("c").prop_map(|cache| Command::CacheDrop { cache }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn a_follower_applying_the_groups_ends_in_the_writers_state(
        commands in prop::collection::vec(command(), 1..40),
    ) {
        let groups = Groups::default();
        let (db, _, _) = Db::open(groups.clone()).unwrap();
        // Queued without waiting, so that the writer groups them as it
        // finds them; refusals (a missing name, an empty stack) are part of
        // the run.
        let mut answers = Vec::new();
        for command in commands {
            let (reply, rx) = tokio::sync::oneshot::channel();
            db.tx.blocking_send(Request { command, reply, idem: None }).unwrap();
            answers.push(rx);
        }
        for rx in answers {
            let _ = rx.blocking_recv();
        }
        let follower = State::default();
        for group in groups.0.lock().unwrap().iter() {
            apply(&follower, group.clone());
        }
        prop_assert_eq!(dump(&follower), dump(&db.state));
    }
}
