//! The optimal string alignment distance (restricted Damerau-Levenshtein:
//! insert, delete, substitute, swap two adjacent characters) between a
//! query and the prefixes of a text, counted in code points, as a
//! deterministic automaton that reads the text one character at a time.
//!
//! A state is one row of the classic dynamic program (the distances from
//! each prefix of the query to the text read so far), kept only on the
//! diagonal band `|i - j| <= 2` and capped at `max + 1`: a cell off the
//! band is at least 3 and a capped cell cannot come back under the bound,
//! so the band decides every distance up to 2 exactly (the construction of
//! Schulz and Mihov's universal automata, computed on the fly). A state is
//! a few bytes and `Copy`, so a walk of the trie keeps one per level.
//!
//! [`Osa::last`] is the distance of the query to the text read so far;
//! [`Osa::floor`] is a lower bound on it for every continuation of the
//! text (row minima never fall), which is what lets a walk prune a branch.

/// The largest distance the automaton decides.
pub const MAX_DISTANCE: u8 = 2;

const M: usize = MAX_DISTANCE as usize;
/// The band's width.
const W: usize = 2 * M + 1;

/// The useful characters after a state: at most the window's, inline.
pub type Useful = smallvec::SmallVec<[char; 2 * M + 2]>;

/// The automaton of one query and bound.
#[derive(Clone, Debug)]
pub struct Osa<'q> {
    q: &'q [char],
    max: u8,
}

/// A state: the band of one row, the row before it and the last character
/// read (both for transpositions), and the best distance of any prefix
/// read so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct State {
    /// Characters read.
    j: usize,
    /// `row[k]` is the distance of `q[..j + k - M]` to the text read.
    row: [u8; W],
    prev: [u8; W],
    pub(crate) last: char,
    /// The smallest [`Osa::last`] of any prefix read so far.
    pub best: u8,
}

impl<'q> Osa<'q> {
    /// The automaton for `q` with distances decided up to `max` (at most
    /// [`MAX_DISTANCE`]; larger is taken as it).
    pub fn new(q: &'q [char], max: u8) -> Self {
        Osa {
            q,
            max: max.min(MAX_DISTANCE),
        }
    }

    /// The bound.
    pub fn max(&self) -> u8 {
        self.max
    }

    fn cap(&self) -> u8 {
        self.max + 1
    }

    /// The state before any character.
    pub fn start(&self) -> State {
        let mut row = [self.cap(); W];
        for (k, cell) in row.iter_mut().enumerate().skip(M) {
            let i = k - M;
            if i <= self.q.len() {
                *cell = (i as u8).min(self.cap());
            }
        }
        let mut s = State {
            j: 0,
            row,
            prev: [self.cap(); W],
            last: '\0',
            best: 0,
        };
        s.best = self.last(&s);
        s
    }

    /// The state after reading `c`.
    pub fn step(&self, s: &State, c: char) -> State {
        let cap = self.cap();
        let j = s.j + 1;
        let n = self.q.len();
        let mut row = [cap; W];
        for k in 0..W {
            // The cell's query length: i = j + k - M.
            let Some(i) = (j + k).checked_sub(M) else {
                continue;
            };
            if i > n {
                break;
            }
            if i == 0 {
                row[k] = j.min(usize::from(cap)) as u8;
                continue;
            }
            // Row j - 1 holds q[..i] at k + 1 and q[..i - 1] at k.
            let mut v = s.row.get(k + 1).map_or(cap, |&x| x.saturating_add(1));
            if k > 0 {
                v = v.min(row[k - 1] + 1);
            }
            v = v.min(s.row[k] + u8::from(self.q[i - 1] != c));
            if i >= 2 && s.j >= 1 && self.q[i - 1] == s.last && self.q[i - 2] == c {
                // Row j - 2 holds q[..i - 2] at k.
                v = v.min(s.prev[k] + 1);
            }
            row[k] = v.min(cap);
        }
        let mut next = State {
            j,
            row,
            prev: s.row,
            last: c,
            best: s.best,
        };
        next.best = next.best.min(self.last(&next));
        next
    }

    /// The distance of the query to the text read (capped at `max + 1`).
    pub fn last(&self, s: &State) -> u8 {
        // q[..n] sits at k = n - j + M.
        (self.q.len() + M)
            .checked_sub(s.j)
            .and_then(|k| s.row.get(k))
            .copied()
            .unwrap_or(self.cap())
    }

    /// A lower bound on [`Osa::last`] after any continuation of the text.
    pub fn floor(&self, s: &State) -> u8 {
        s.row.iter().copied().min().unwrap_or(self.cap())
    }

    /// Whether reading on can reach a distance below both `s.best` and
    /// the bound: a walk descends only while it can.
    pub fn can_improve(&self, s: &State) -> bool {
        self.floor(s) < s.best.min(self.cap())
    }

    /// Whether reading `c` after `s` matters to a walk: it brings the
    /// distance to a new low within the bound, or leaves a state that can.
    pub fn useful(&self, s: &State, c: char) -> bool {
        let next = self.step(s, c);
        self.last(&next) < s.best.min(self.cap()) || self.can_improve(&next)
    }

    /// The characters that can be [`useful`](Self::useful) after `s`,
    /// ascending, or `None` when every character can. A step compares the
    /// character only with the query's characters near the diagonal, so
    /// every character outside that window acts alike: one stands for all.
    pub fn useful_chars(&self, s: &State) -> Option<Useful> {
        let lo = s.j.saturating_sub(M + 1);
        let hi = (s.j + M + 1).min(self.q.len());
        let window = &self.q[lo.min(hi)..hi];
        let other = ['\u{10FFFF}', '\u{10FFFE}', '\u{10FFFD}']
            .into_iter()
            .find(|c| !window.contains(c))
            .expect("a window holds at most 2 * MAX_DISTANCE + 2 characters");
        if self.useful(s, other) {
            return None;
        }
        let mut out = Useful::new();
        for &c in window {
            if !out.contains(&c) && self.useful(s, c) {
                out.push(c);
            }
        }
        out.sort_unstable();
        Some(out)
    }
}

/// The smallest distance between `q` and a prefix of `text`, and the
/// length in code points of the longest prefix at that distance; `None`
/// when the distance exceeds `max`.
pub fn best_prefix(q: &[char], text: &str, max: u8) -> Option<(u8, usize)> {
    let osa = Osa::new(q, max);
    let mut s = osa.start();
    let mut best = (osa.last(&s), 0);
    for (j, c) in text.chars().enumerate() {
        if osa.floor(&s) > best.0.min(osa.max()) {
            break;
        }
        s = osa.step(&s, c);
        let d = osa.last(&s);
        if d <= best.0 {
            best = (d, j + 1);
        }
    }
    (best.0 <= osa.max()).then_some(best)
}
