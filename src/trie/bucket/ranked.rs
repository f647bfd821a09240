//! A bucket's ranked list: its best streams (inline pairs, or big keys by
//! their maximum) in ranked order, with the bound of the big keys it
//! leaves out, which the ranked search reads before it opens the bucket.
//! Kept in step with each write where that is simple (an insertion shifts
//! the listed offsets and offers the new pair; a rising score moves its
//! pair), recomputed in one pass otherwise; the invariant check holds it
//! to the plain computation.

use super::{Bucket, TopEntry, TOP};

impl<V> Bucket<V> {
    /// Recomputes [`Bucket::max`], [`Bucket::top`] and
    /// [`Bucket::rest_max`] after a change: O(pairs in the bucket), which
    /// a write that shifts the bucket's vectors pays anyway.
    pub(in crate::trie) fn refresh_max(&mut self) {
        self.ranked = self.ranked_streams_fast();
    }

    /// After an insertion: listed records from byte `from` on moved by
    /// `by` bytes, listed inline slots from `slot` on by one.
    pub(super) fn rank_shift(&mut self, from: usize, by: usize, slot: usize) {
        for code in self.ranked.iter_mut().skip(1) {
            let (mut rec, mut s) = ((*code >> 32) as usize, *code as u32);
            if rec >= from {
                rec += by;
            }
            if s & TopEntry::BIG == 0 && s as usize >= slot {
                s += 1;
            }
            *code = (rec as u64) << 32 | u64::from(s);
        }
    }

    /// Whether stream `a` (score, code) ranks before `b`: score
    /// descending, then record, then slot.
    pub(super) fn ranks_before(a: (f64, u64), b: (f64, u64)) -> bool {
        a.0 > b.0 || (a.0 == b.0 && a.1 < b.1)
    }

    /// Adds an inline stream that is not listed (new, or just unlisted) to
    /// the ranked list if it belongs there: the list is the best `TOP`
    /// streams, so it enters when it beats the last or the list is short
    /// (then it holds every stream). A big key pushed off the end raises
    /// the bound of the unlisted ones.
    pub(super) fn rank_offer(&mut self, score: f64, code: u64) {
        if self.ranked.is_empty() {
            self.ranked = Box::new([f64::NEG_INFINITY.to_bits(), code]);
            return;
        }
        let mut rest_max = f64::from_bits(self.ranked[0]);
        let mut listed: smallvec::SmallVec<[(f64, u64); TOP + 1]> = self.ranked[1..]
            .iter()
            .map(|&c| {
                let e = TopEntry {
                    rec: (c >> 32) as u32,
                    slot: c as u32,
                };
                (self.bound(e), c)
            })
            .collect();
        let at = listed
            .iter()
            .position(|&e| Self::ranks_before((score, code), e))
            .unwrap_or(listed.len());
        if at >= TOP {
            return;
        }
        listed.insert(at, (score, code));
        if listed.len() > TOP {
            let (out_score, out) = listed.pop().expect("over TOP");
            if out as u32 & TopEntry::BIG != 0 {
                rest_max = rest_max.max(out_score);
            }
        }
        self.ranked = std::iter::once(rest_max.to_bits())
            .chain(listed.iter().map(|e| e.1))
            .collect();
    }

    /// After the score of the inline pair at `slot` (record at byte `rec`)
    /// went from `old` to `new`.
    pub(super) fn rank_rescored(&mut self, rec: usize, slot: usize, old: f64, new: f64) {
        let code = (rec as u64) << 32 | slot as u64;
        match self.ranked.iter().skip(1).position(|&c| c == code) {
            Some(i) => {
                let complete = self.ranked.len() - 1 < TOP;
                if new < old && !complete {
                    // It may fall below a stream the list does not hold.
                    self.refresh_max();
                    return;
                }
                let mut rest: Vec<u64> = self.ranked.to_vec();
                rest.remove(i + 1);
                self.ranked = rest.into_boxed_slice();
                self.rank_offer(new, code);
            }
            None => self.rank_offer(new, code),
        }
    }

    /// What [`ranked_streams`](Self::ranked_streams) computes, in one pass
    /// without allocating: streams come in record then slot order, so a
    /// stream ranks after every listed one with a score at least its own,
    /// and most are refused by one comparison with the last listed. Every
    /// write pays this, an import millions of times.
    pub(super) fn ranked_streams_fast(&self) -> Box<[u64]> {
        let mut top: [(f64, u64); TOP] = [(f64::NEG_INFINITY, 0); TOP];
        let mut len = 0;
        let mut rest_max = f64::NEG_INFINITY;
        // Offers a stream; gives back what falls off the list, if anything.
        let offer = |score: f64, code: u64, top: &mut [(f64, u64); TOP], len: &mut usize| {
            if *len == TOP && score <= top[TOP - 1].0 {
                return Some((score, code));
            }
            let at = top[..*len].partition_point(|e| e.0 >= score);
            let out = (*len == TOP).then(|| top[TOP - 1]);
            let end = (*len).min(TOP - 1);
            top.copy_within(at..end, at + 1);
            top[at] = (score, code);
            *len = (*len + 1).min(TOP);
            out
        };
        let mut any = false;
        for r in self.records() {
            any = true;
            let rec = u64::from(r.start as u32) << 32;
            match r.big {
                Some(b) => {
                    let code = rec | u64::from(b as u32 | TopEntry::BIG);
                    if let Some((sc, c)) = offer(self.big[b].max(), code, &mut top, &mut len) {
                        if c as u32 & TopEntry::BIG != 0 {
                            rest_max = rest_max.max(sc);
                        }
                    }
                }
                None => {
                    let scores = self.scores.range(r.value_start..r.value_end());
                    for (i, sc) in scores.iter().enumerate() {
                        let code = rec | u64::from((r.value_start + i) as u32);
                        if let Some((sc, c)) = offer(sc, code, &mut top, &mut len) {
                            if c as u32 & TopEntry::BIG != 0 {
                                rest_max = rest_max.max(sc);
                            }
                        }
                    }
                }
            }
        }
        if !any {
            return Box::default();
        }
        std::iter::once(rest_max.to_bits())
            .chain(top[..len].iter().map(|e| e.1))
            .collect()
    }

    /// The highest score in the bucket (`-inf` when empty): the bound a
    /// ranked search reads before it enters.
    pub(crate) fn max(&self) -> f64 {
        self.top()
            .next()
            .map_or(f64::NEG_INFINITY, |e| self.bound(e))
    }

    /// The highest bound among the big keys the ranked list does not name.
    pub(crate) fn rest_max(&self) -> f64 {
        self.ranked
            .first()
            .map_or(f64::NEG_INFINITY, |&b| f64::from_bits(b))
    }

    /// The ranked list's streams, best first.
    pub(crate) fn top(&self) -> impl ExactSizeIterator<Item = TopEntry> + '_ {
        self.ranked.iter().skip(1).map(|&x| TopEntry {
            rec: (x >> 32) as u32,
            slot: x as u32,
        })
    }

    /// A listed stream's score: a pair's own, a big key's maximum.
    pub(crate) fn bound(&self, e: TopEntry) -> f64 {
        if e.slot & TopEntry::BIG != 0 {
            self.big[(e.slot & !TopEntry::BIG) as usize].max()
        } else {
            self.scores.get(e.slot as usize)
        }
    }

    /// What [`refresh_max`](Self::refresh_max) stores, computed afresh
    /// the plain way (collect, select, sort): what the invariant check
    /// holds the fast pass to.
    pub(super) fn ranked_streams(&self) -> Box<[u64]> {
        // (score, record, slot): ranked order is score descending, then
        // key (record order), then insertion order (slot order).
        let mut streams: Vec<(f64, u32, u32)> = Vec::with_capacity(self.values.len());
        for r in self.records() {
            let rec = r.start as u32;
            match r.big {
                Some(b) => streams.push((self.big[b].max(), rec, b as u32 | TopEntry::BIG)),
                None => {
                    let scores = self.scores.range(r.value_start..r.value_end());
                    for (i, s) in scores.iter().enumerate() {
                        streams.push((s, rec, (r.value_start + i) as u32));
                    }
                }
            }
        }
        let order = |a: &(f64, u32, u32), b: &(f64, u32, u32)| {
            b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2))
        };
        if streams.is_empty() {
            return Box::default();
        }
        let mut rest_max = f64::NEG_INFINITY;
        if streams.len() > TOP {
            streams.select_nth_unstable_by(TOP - 1, order);
            rest_max = streams[TOP..]
                .iter()
                .filter(|s| s.2 & TopEntry::BIG != 0)
                .map(|s| s.0)
                .fold(f64::NEG_INFINITY, f64::max);
            streams.truncate(TOP);
        }
        streams.sort_unstable_by(order);
        std::iter::once(rest_max.to_bits())
            .chain(
                streams
                    .into_iter()
                    .map(|(_, rec, slot)| u64::from(rec) << 32 | u64::from(slot)),
            )
            .collect()
    }
}
