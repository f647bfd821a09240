//! The [`Osa`] automaton as a deterministic automaton built while it is
//! walked: each distinct state once, each transition computed once.
//!
//! # What it owns
//! A query's states, numbered as they are first reached, the transitions
//! between them by *character class*, and what a walk asks of a state (its
//! distance, its best distance so far, whether it can still improve, the
//! characters that can be useful after it).
//!
//! # Why it is built this way
//! A step of [`Osa`] compares the character read only with the query's
//! characters, so every character outside the query acts alike and a
//! character of the query acts as any other equal one: a query of `n`
//! distinct characters has `n + 1` classes. A trie walk reaches the same
//! few states along many paths (after a substitution, every letter outside
//! the query leads to one state), so computing a step once per (state,
//! class) and looking it up afterwards replaces most of a walk's arithmetic
//! with a table read: a typo query steps the automaton several times per
//! trie byte (once per candidate character when it asks which ones are
//! useful), and the steps were most of its time in a profile. States are
//! numbered through a hash map; a query reaches a few hundred at most.

use std::collections::HashMap;

use super::osa::{Osa, State, Useful};

/// A state's number.
pub(crate) type Id = u32;

/// A character class.
type Class = u16;

/// No transition computed yet.
const UNKNOWN: Id = Id::MAX;

/// What a walk reads of a state, kept beside it.
#[derive(Clone, Copy)]
struct Facts {
    last: u8,
    best: u8,
    improve: bool,
}

/// The lazily built automaton of one query and bound.
pub(crate) struct Dfa<'q> {
    osa: Osa<'q>,
    /// The class of each ASCII character (0: none of the query's).
    ascii: [Class; 128],
    /// The query's other characters and their classes.
    wide: Vec<(char, Class)>,
    /// A character of each class; class 0's is none of the query's.
    reps: Vec<char>,
    states: Vec<State>,
    facts: Vec<Facts>,
    ids: HashMap<State, Id, foldhash::fast::FixedState>,
    /// `next[id * classes + class]`.
    next: Vec<Id>,
    useful: Vec<Option<Option<Useful>>>,
}

impl<'q> Dfa<'q> {
    /// The automaton of `q` with distances decided up to `max`, holding
    /// its start state (number 0).
    pub(crate) fn new(q: &'q [char], max: u8) -> Self {
        let osa = Osa::new(q, max);
        let mut ascii = [0 as Class; 128];
        let mut wide = Vec::new();
        let other = ['\u{10FFFF}', '\u{10FFFE}', '\u{10FFFD}']
            .into_iter()
            .chain(('\u{E000}'..='\u{F8FF}').take(q.len()))
            .find(|c| !q.contains(c))
            .expect("more candidates than query characters");
        let mut reps = vec![other];
        for &c in q {
            if reps.contains(&c) {
                continue;
            }
            let class = Class::try_from(reps.len()).expect("a query of at most 64 KiB");
            reps.push(c);
            match u8::try_from(u32::from(c)) {
                Ok(b) if b < 128 => ascii[usize::from(b)] = class,
                _ => wide.push((c, class)),
            }
        }
        let mut dfa = Dfa {
            osa,
            ascii,
            wide,
            reps,
            states: Vec::new(),
            facts: Vec::new(),
            ids: HashMap::default(),
            next: Vec::new(),
            useful: Vec::new(),
        };
        let start = dfa.osa.start();
        dfa.intern(start);
        dfa
    }

    /// The bound.
    pub(crate) fn max(&self) -> u8 {
        self.osa.max()
    }

    fn classes(&self) -> usize {
        self.reps.len()
    }

    fn class(&self, c: char) -> Class {
        match u8::try_from(u32::from(c)) {
            Ok(b) if b < 128 => self.ascii[usize::from(b)],
            _ => self
                .wide
                .iter()
                .find(|&&(w, _)| w == c)
                .map_or(0, |&(_, class)| class),
        }
    }

    /// The number of `s`, numbering it if it is new. Its last character
    /// is replaced by its class's, which the steps cannot tell apart.
    fn intern(&mut self, mut s: State) -> Id {
        s.last = self.reps[usize::from(self.class(s.last))];
        if let Some(&id) = self.ids.get(&s) {
            return id;
        }
        let id = Id::try_from(self.states.len()).expect("a query reaches few states");
        self.facts.push(Facts {
            last: self.osa.last(&s),
            best: s.best,
            improve: self.osa.can_improve(&s),
        });
        self.states.push(s);
        self.ids.insert(s, id);
        self.next
            .extend(std::iter::repeat_n(UNKNOWN, self.classes()));
        self.useful.push(None);
        id
    }

    /// The state after reading `c` in state `id`.
    #[inline]
    pub(crate) fn step(&mut self, id: Id, c: char) -> Id {
        let at = id as usize * self.classes() + usize::from(self.class(c));
        let next = self.next[at];
        if next != UNKNOWN {
            return next;
        }
        let s = self.osa.step(&self.states[id as usize], c);
        let next = self.intern(s);
        self.next[at] = next;
        next
    }

    /// The distance of the query to the text read (capped at `max + 1`).
    #[inline]
    pub(crate) fn last(&self, id: Id) -> u8 {
        self.facts[id as usize].last
    }

    /// The smallest distance of any prefix of the text read.
    #[inline]
    pub(crate) fn best(&self, id: Id) -> u8 {
        self.facts[id as usize].best
    }

    /// [`Osa::can_improve`].
    #[inline]
    pub(crate) fn can_improve(&self, id: Id) -> bool {
        self.facts[id as usize].improve
    }

    /// [`Osa::useful_chars`], computed once per state.
    pub(crate) fn useful_chars(&mut self, id: Id) -> Option<&Useful> {
        let i = id as usize;
        if self.useful[i].is_none() {
            self.useful[i] = Some(self.osa.useful_chars(&self.states[i]));
        }
        self.useful[i].as_ref().and_then(Option::as_ref)
    }
}
