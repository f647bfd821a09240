//! [`Scores`]: the scores of a run of values, four bytes each, exact.
//!
//! # What it owns
//! Every stored pair has a score, an `f64`, kept beside its value in a
//! parallel vector (a bucket's, an inner node's, a big key's list leaf).
//! This module owns that vector's encoding and its positional edits, and
//! [`ScoreSlice`], the read-only view [`Values`](super::Values) carries.
//!
//! # Why it is built this way
//! Eight bytes per pair would be most of what a pair costs beside its key
//! (an id is eight). Scores people give are mostly counts and small
//! fractions, which an `f32` holds exactly. So a score is stored as a
//! 32-bit code: the `f32` bits when the `f32` is exactly the `f64`
//! (a finite `f32` is never NaN), and otherwise a NaN whose payload
//! indexes a side vector of exact `f64`s. Scores are always finite, so
//! the NaN space is free; a value's score is still an IEEE double, and it
//! comes back bit for bit. The side vector stays empty (no allocation)
//! while every score fits, which is the common case.

/// The tag of a code that points into the side vector: an `f32` quiet NaN.
const WIDE: u32 = 0x7fc0_0000;
/// The payload bits of a wide code (22 bits: four million per run).
const PAYLOAD: u32 = (1 << 22) - 1;

/// Scores of a run of values, in the same order as the values.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Scores {
    codes: Vec<u32>,
    /// Boxed: nearly always absent, and a bare `Vec` would cost every run
    /// 24 bytes instead of 8.
    #[allow(clippy::box_collection)]
    wide: Option<Box<Vec<f64>>>,
}

/// A score as its narrow code, when an `f32` holds it exactly.
#[inline]
pub(crate) fn narrow(s: f64) -> Option<u32> {
    let f = s as f32;
    (f64::from(f) == s && !f.is_nan()).then(|| f.to_bits())
}

#[inline]
fn decode(code: u32, wide: &[f64]) -> f64 {
    if is_wide(code) {
        wide[(code & PAYLOAD) as usize]
    } else {
        f64::from(f32::from_bits(code))
    }
}

#[inline]
fn is_wide(code: u32) -> bool {
    code & !PAYLOAD == WIDE
}

impl Scores {
    pub(crate) fn from_vec(v: &[f64]) -> Self {
        let mut s = Scores {
            codes: Vec::with_capacity(v.len()),
            wide: None,
        };
        for &x in v {
            s.push(x);
        }
        s
    }

    pub(crate) fn len(&self) -> usize {
        self.codes.len()
    }

    #[inline]
    pub(crate) fn get(&self, i: usize) -> f64 {
        decode(self.codes[i], self.wide())
    }

    fn wide(&self) -> &[f64] {
        self.wide.as_deref().map_or(&[], |w| w)
    }

    fn wide_mut(&mut self) -> &mut Vec<f64> {
        self.wide.get_or_insert_with(Box::default)
    }

    /// The view of all the scores.
    pub(crate) fn slice(&self) -> ScoreSlice<'_> {
        ScoreSlice {
            codes: &self.codes,
            wide: self.wide(),
        }
    }

    /// The view of `range`.
    pub(crate) fn range(&self, range: std::ops::Range<usize>) -> ScoreSlice<'_> {
        ScoreSlice {
            codes: &self.codes[range],
            wide: self.wide(),
        }
    }

    /// The code of `s`. Negative zero is stored as zero: the two are the
    /// same score, and one bit pattern per score keeps the ranked order a
    /// plain `total_cmp`.
    fn encode(&mut self, s: f64) -> u32 {
        debug_assert!(s.is_finite(), "scores are finite");
        let s = if s == 0.0 { 0.0 } else { s };
        narrow(s).unwrap_or_else(|| {
            let wide = self.wide_mut();
            let i = u32::try_from(wide.len())
                .ok()
                .filter(|&i| i <= PAYLOAD)
                .expect("fewer than 2^22 wide scores in one run");
            wide.push(s);
            WIDE | i
        })
    }

    /// Frees the side slot of a code that is leaving (no-op when narrow).
    fn release(&mut self, code: u32) {
        if !is_wide(code) {
            return;
        }
        let i = (code & PAYLOAD) as usize;
        let wide = self.wide_mut();
        let last = wide.len() - 1;
        wide.swap_remove(i);
        if wide.is_empty() {
            self.wide = None;
        }
        if i != last {
            let moved = WIDE | last as u32;
            if let Some(c) = self.codes.iter_mut().find(|c| **c == moved) {
                *c = WIDE | i as u32;
            }
        }
    }

    pub(crate) fn set(&mut self, i: usize, s: f64) {
        let old = self.codes[i];
        if is_wide(old) {
            if narrow(s).is_none() {
                self.wide_mut()[(old & PAYLOAD) as usize] = s;
                return;
            }
            // Mark the slot narrow first so that `release` patches no
            // stale reference to it.
            self.codes[i] = 0;
            self.release(old);
        }
        self.codes[i] = self.encode(s);
    }

    pub(crate) fn push(&mut self, s: f64) {
        let c = self.encode(s);
        self.codes.push(c);
    }

    /// Makes room for exactly `extra` more scores (a bulk build knows how
    /// many).
    pub(crate) fn reserve_exact(&mut self, extra: usize) {
        self.codes.reserve_exact(extra);
    }

    pub(crate) fn insert(&mut self, i: usize, s: f64) {
        let c = self.encode(s);
        self.codes.insert(i, c);
    }

    pub(crate) fn remove(&mut self, i: usize) -> f64 {
        let s = self.get(i);
        let c = self.codes.remove(i);
        self.release(c);
        s
    }

    /// Removes `range` and returns its scores.
    pub(crate) fn drain(&mut self, range: std::ops::Range<usize>) -> Vec<f64> {
        let out: Vec<f64> = self.range(range.clone()).iter().collect();
        let mut gone: Vec<u32> = self.codes.drain(range).filter(|&c| is_wide(c)).collect();
        // Highest slot first: each swap then moves a slot that is still
        // referenced from `codes`, where `release` patches it.
        gone.sort_unstable_by(|a, b| b.cmp(a));
        for c in gone {
            self.release(c);
        }
        out
    }

    /// Inserts `scores` at `at`.
    pub(crate) fn insert_all(&mut self, at: usize, scores: &[f64]) {
        let codes: Vec<u32> = scores.iter().map(|&s| self.encode(s)).collect();
        self.codes.splice(at..at, codes);
    }

    /// Replaces `range` with `scores`.
    pub(crate) fn splice(&mut self, range: std::ops::Range<usize>, scores: &[f64]) {
        let at = range.start;
        self.drain(range);
        self.insert_all(at, scores);
    }

    /// Grows like the values vector beside it (by an eighth).
    pub(crate) fn reserve(&mut self, extra: usize) {
        super::bucket::reserve(&mut self.codes, extra);
    }

    /// Gives back every unused slot (a run built once, not edited).
    pub(crate) fn shrink_to_fit(&mut self) {
        self.codes.shrink_to_fit();
        if let Some(w) = &mut self.wide {
            w.shrink_to_fit();
        }
    }

    pub(crate) fn shrink_if_sparse(&mut self) {
        super::node::shrink_if_sparse(&mut self.codes);
        if let Some(w) = &mut self.wide {
            super::node::shrink_if_sparse(w);
        }
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.codes.capacity() * 4
            + self
                .wide
                .as_ref()
                .map_or(0, |w| std::mem::size_of::<Vec<f64>>() + w.capacity() * 8)
    }

    /// The highest score, `-inf` when empty.
    pub(crate) fn max(&self) -> f64 {
        self.slice().max()
    }
}

/// A read-only run of scores (a view into [`Scores`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ScoreSlice<'a> {
    codes: &'a [u32],
    wide: &'a [f64],
}

impl<'a> ScoreSlice<'a> {
    pub(crate) const EMPTY: ScoreSlice<'static> = ScoreSlice {
        codes: &[],
        wide: &[],
    };

    pub(crate) fn len(&self) -> usize {
        self.codes.len()
    }

    #[inline]
    pub(crate) fn get(&self, i: usize) -> f64 {
        decode(self.codes[i], self.wide)
    }

    /// The view from `i` on.
    pub(crate) fn skip(&self, i: usize) -> ScoreSlice<'a> {
        ScoreSlice {
            codes: &self.codes[i.min(self.codes.len())..],
            wide: self.wide,
        }
    }

    pub(crate) fn iter(&self) -> impl ExactSizeIterator<Item = f64> + 'a {
        let wide = self.wide;
        self.codes.iter().map(move |&c| decode(c, wide))
    }

    /// The highest score, `-inf` when empty.
    pub(crate) fn max(&self) -> f64 {
        self.iter().fold(f64::NEG_INFINITY, f64::max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Op {
        Push(f64),
        Insert(usize, f64),
        Set(usize, f64),
        Remove(usize),
        Drain(usize, usize),
        Splice(usize, usize, Vec<f64>),
    }

    /// Scores narrow and wide, equal and distinct, signed zeros.
    fn score() -> impl Strategy<Value = f64> {
        prop_oneof![
            Just(0.0),
            Just(-0.0),
            (-1000i32..1000).prop_map(f64::from),
            (-1000i32..1000).prop_map(|x| f64::from(x) / 10.0),
            any::<f64>().prop_filter("finite", |x| x.is_finite()),
            Just(f64::MAX),
            Just(f64::MIN_POSITIVE / 4.0),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            score().prop_map(Op::Push),
            (any::<usize>(), score()).prop_map(|(i, s)| Op::Insert(i, s)),
            (any::<usize>(), score()).prop_map(|(i, s)| Op::Set(i, s)),
            any::<usize>().prop_map(Op::Remove),
            (any::<usize>(), 0usize..4).prop_map(|(i, n)| Op::Drain(i, n)),
            (
                any::<usize>(),
                0usize..4,
                proptest::collection::vec(score(), 0..4)
            )
                .prop_map(|(i, n, v)| Op::Splice(i, n, v)),
        ]
    }

    proptest! {
        /// Every edit agrees with a `Vec<f64>`, bit for bit (negative zero
        /// read back as zero), and no side slot outlives its code.
        #[test]
        fn agrees_with_a_vec(ops in proptest::collection::vec(op(), 0..200)) {
            let ops: Vec<Op> = ops.into_iter().map(|op| match op {
                Op::Push(x) => Op::Push(x + 0.0),
                Op::Insert(i, x) => Op::Insert(i, x + 0.0),
                Op::Set(i, x) => Op::Set(i, x + 0.0),
                Op::Splice(i, n, v) => Op::Splice(i, n, v.into_iter().map(|x| x + 0.0).collect()),
                op => op,
            }).collect();
            let mut s = Scores::default();
            let mut model: Vec<f64> = Vec::new();
            for op in ops {
                match op {
                    Op::Push(x) => { s.push(x); model.push(x); }
                    Op::Insert(i, x) => {
                        let i = i % (model.len() + 1);
                        s.insert(i, x);
                        model.insert(i, x);
                    }
                    Op::Set(i, x) if !model.is_empty() => {
                        let i = i % model.len();
                        s.set(i, x);
                        model[i] = x;
                    }
                    Op::Remove(i) if !model.is_empty() => {
                        let i = i % model.len();
                        prop_assert_eq!(s.remove(i).to_bits(), model.remove(i).to_bits());
                    }
                    Op::Drain(i, n) => {
                        let i = i % (model.len() + 1);
                        let end = (i + n).min(model.len());
                        let got = s.drain(i..end);
                        let want: Vec<f64> = model.drain(i..end).collect();
                        prop_assert_eq!(bits(&got), bits(&want));
                    }
                    Op::Splice(i, n, v) => {
                        let i = i % (model.len() + 1);
                        let end = (i + n).min(model.len());
                        s.splice(i..end, &v);
                        model.splice(i..end, v);
                    }
                    _ => {}
                }
                let got: Vec<f64> = s.slice().iter().collect();
                prop_assert_eq!(bits(&got), bits(&model));
                let wide = s.codes.iter().filter(|&&c| is_wide(c)).count();
                prop_assert_eq!(wide, s.wide().len(), "side slots leak or dangle");
                let max = model.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                prop_assert_eq!(s.max(), max);
            }
        }
    }

    fn bits(v: &[f64]) -> Vec<u64> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    #[test]
    fn counts_and_halves_take_four_bytes() {
        let s = Scores::from_vec(&[0.0, 1.0, 12_345.0, 0.5, -3.25, 16_777_216.0]);
        assert!(s.wide.is_none());
        let s = Scores::from_vec(&[0.1, 16_777_217.0]);
        assert_eq!(s.wide().len(), 2);
        assert_eq!(s.get(0), 0.1);
        assert_eq!(s.get(1), 16_777_217.0);
    }
}
