//! A bucket's write path: adding a pair or changing its score, moving a
//! key to a [`BigValues`] once it gathers many values (and back), removing
//! a value, and bursting an overflowing bucket into an inner node.

use std::sync::Arc;

use crate::trie::big::BigValues;
use crate::trie::node::{common_prefix_len, Inner, Inserted, Node};
use crate::trie::scores::Scores;
use crate::trie::values::{changed_score, new_score, Vals, DEMOTE, HEAD, PROMOTE};
use crate::trie::{ScoreOp, TrieError};

use super::{reserve, Bucket, Rec};

impl<V: Clone + Ord> Bucket<V> {
    /// Adds `value` under `suffix`, or changes the score of the pair when
    /// it is there (`op`; `None` leaves an existing pair as it is). Keeps
    /// the sparse index in step where it can (see `sparse`) and otherwise
    /// leaves it dropped, and leaves the maximum, for the caller to rebuild:
    /// a bucket that is about to burst needs neither.
    pub(crate) fn upsert_unindexed(
        &mut self,
        suffix: &[u8],
        value: V,
        op: Option<ScoreOp>,
    ) -> Result<Inserted, TrieError> {
        match self.seek(suffix) {
            Ok(r) => {
                if let Some(b) = r.big {
                    return self.upsert_big(&r, b, value, op);
                }
                if let Some(i) = self.inline_of(&r).iter().position(|x| *x == value) {
                    let at = r.value_start + i;
                    let old = self.scores.get(at);
                    let Some(s) = changed_score(old, op)? else {
                        return Ok(Inserted::Unchanged);
                    };
                    self.scores.set(at, s);
                    self.rank_rescored(r.start, at, old, s);
                    return Ok(Inserted::Updated);
                }
                let s = new_score(op)?;
                if r.count == PROMOTE {
                    // Too many to scan: move this key's values to a BigValues,
                    // keeping a copy of the first HEAD inline.
                    let head = r.value_start..r.value_start + HEAD;
                    let tail: Vec<V> = self.values.drain(head.end..r.value_end()).collect();
                    let tail_scores = self.scores.drain(head.end..r.value_end());
                    let mut list = self.values[head.clone()].to_vec();
                    let mut scores: Vec<f64> = self.scores.range(head).iter().collect();
                    list.extend(tail);
                    scores.extend(tail_scores);
                    list.push(value);
                    scores.push(s);
                    self.set_count(&r, HEAD, true);
                    self.big
                        .insert(r.big_start, Arc::new(BigValues::from_vecs(list, scores)));
                    self.refresh_max();
                } else {
                    let old_end = self.records_end();
                    let slot = r.value_end();
                    let stands = self.index_stands(
                        self.len(),
                        old_end,
                        self.values.len() + 1,
                        !self.big.is_empty(),
                    );
                    reserve(&mut self.values, 1);
                    self.values.insert(slot, value);
                    self.scores.reserve(1);
                    self.scores.insert(slot, s);
                    if stands && self.count_in_place(&r, r.count + 1) {
                        // The records keep their bytes: only the values
                        // after this key's moved.
                        self.shift_anchors(r.start + 1, 0, 1, 0);
                    } else {
                        self.set_count(&r, r.count + 1, false);
                    }
                    // Records after this one move by the count's new length.
                    let moved = self.records_end() - old_end;
                    self.rank_shift(r.start + 1, moved, slot);
                    self.rank_offer(s, (r.start as u64) << 32 | slot as u64);
                }
                Ok(Inserted::Added { new_key: false })
            }
            Err(at) => {
                let s = new_score(op)?;
                let old_end = self.records_end();
                self.insert_record(
                    at,
                    suffix,
                    Vals::Inline(vec![value], Scores::from_vec(&[s])),
                );
                self.rank_shift(at.byte, self.records_end() - old_end, at.value);
                self.rank_offer(s, (at.byte as u64) << 32 | at.value as u64);
                Ok(Inserted::Added { new_key: true })
            }
        }
    }

    /// Rewrites the inline count of the key at `r` (no big list) where its
    /// varint keeps its length, as it does for every count up to
    /// [`PROMOTE`]; false, changing nothing, where it would not.
    fn count_in_place(&mut self, r: &Rec, count: usize) -> bool {
        let mut buf = Vec::with_capacity(4);
        super::write_varint(&mut buf, count << 1);
        let at = r.suffix_end..r.end;
        if buf.len() != at.len() {
            return false;
        }
        self.data[at].copy_from_slice(&buf);
        true
    }

    /// [`upsert_unindexed`](Self::upsert_unindexed) for a big key (`b`, its
    /// list), keeping the inline head in step.
    fn upsert_big(
        &mut self,
        r: &Rec,
        b: usize,
        value: V,
        op: Option<ScoreOp>,
    ) -> Result<Inserted, TrieError> {
        // The list names a big key by its maximum: unless that moved or
        // the record itself changed (a value joining the inline head),
        // the list stands.
        let (max, head) = (self.big[b].max(), r.count);
        let done = self.upsert_big_values(r, b, value, op)?;
        let same = self.big[b].max() == max && self.record(r.pos()).count == head;
        if !matches!(done, Inserted::Unchanged) && !same {
            self.refresh_max();
        }
        Ok(done)
    }

    fn upsert_big_values(
        &mut self,
        r: &Rec,
        b: usize,
        value: V,
        op: Option<ScoreOp>,
    ) -> Result<Inserted, TrieError> {
        match self.big[b].find(&value) {
            Ok(pos) => {
                let Some(s) = changed_score(self.big[b].score_at(pos), op)? else {
                    return Ok(Inserted::Unchanged);
                };
                Arc::make_mut(&mut self.big[b]).set_score_at(pos, s);
                if let Some(i) = self.inline_of(r).iter().position(|x| *x == value) {
                    self.scores.set(r.value_start + i, s);
                }
                Ok(Inserted::Updated)
            }
            Err(slot) => {
                let s = new_score(op)?;
                Arc::make_mut(&mut self.big[b]).insert_at(&slot, value.clone(), s);
                if r.count < HEAD {
                    // The head holds every value so far (it is short
                    // only when the key is): the new one joins it.
                    self.values.insert(r.value_end(), value);
                    self.scores.insert(r.value_end(), s);
                    self.set_count(r, r.count + 1, true);
                }
                Ok(Inserted::Added { new_key: false })
            }
        }
    }

    /// Removes one value of the key at `r`; returns it when it was there.
    pub(crate) fn remove_value(&mut self, r: &Rec, v: &V) -> Option<V> {
        if let Some(b) = r.big {
            if !self.big[b].contains(v) {
                return None;
            }
            let removed = Arc::make_mut(&mut self.big[b]).remove(v);
            let big = &self.big[b];
            if big.len() <= DEMOTE {
                // Small again: all the values go back inline.
                let (list, scores) = self.big.remove(b).to_vecs();
                self.set_count(r, list.len(), false);
                self.values.splice(r.value_start..r.value_end(), list);
                self.scores.splice(r.value_start..r.value_end(), &scores);
            } else if let Some(pos) = self.values[r.value_start..r.value_end()]
                .iter()
                .position(|x| x == v)
            {
                // The head (the first `r.count` values) lost one: the next
                // value in order, if any, moves up.
                let next = big
                    .iter_from(r.count - 1)
                    .next_scored()
                    .map(|(v, s)| (v.clone(), s));
                self.values.remove(r.value_start + pos);
                self.scores.remove(r.value_start + pos);
                match next {
                    Some((next, s)) => {
                        self.values.insert(r.value_end() - 1, next);
                        self.scores.insert(r.value_end() - 1, s);
                    }
                    None => self.set_count(r, r.count - 1, true),
                }
            }
            return removed;
        }
        let pos = self.inline_of(r).iter().position(|x| x == v)?;
        if r.count == 1 {
            self.remove_record(r);
            return Some(v.clone());
        }
        let removed = self.values.remove(r.value_start + pos);
        self.scores.remove(r.value_start + pos);
        self.set_count(r, r.count - 1, false);
        Some(removed)
    }

    /// Splits an overflowing bucket into an inner node whose children are
    /// buckets, one per distinct next byte after the keys' common prefix.
    /// Every child ends up with fewer keys than the bucket had, so bursting
    /// always makes progress.
    pub(crate) fn burst(self) -> Inner<V> {
        let recs: Vec<Rec> = self.records().collect();
        let lcp = match (recs.first(), recs.last()) {
            (Some(a), Some(b)) => common_prefix_len(self.suffix(a), self.suffix(b)),
            _ => 0,
        };
        let mut inner = Inner::new(recs.first().map_or(&[][..], |r| &self.suffix(r)[..lcp]));
        let mut current: Option<(u8, Bucket<V>)> = None;
        for r in &recs {
            let rest = &self.suffix(r)[lcp..];
            let values = match r.big {
                Some(b) => Vals::Big(Arc::clone(&self.big[b])),
                None => Vals::Inline(
                    self.inline_of(r).to_vec(),
                    Scores::from_vec(
                        &self
                            .scores
                            .range(r.value_start..r.value_end())
                            .iter()
                            .collect::<Vec<_>>(),
                    ),
                ),
            };
            let Some((&label, tail)) = rest.split_first() else {
                inner.values = values;
                continue;
            };
            if current.as_ref().is_some_and(|(l, _)| *l != label) {
                let (l, mut b) = current.take().expect("checked");
                b.reindex();
                b.refresh_max();
                inner.push_child(l, Arc::new(Node::Bucket(b)));
            }
            let (_, b) = current.get_or_insert_with(|| (label, Bucket::default()));
            let at = b.end();
            b.insert_record(at, tail, values);
        }
        if let Some((l, mut b)) = current {
            b.reindex();
            b.refresh_max();
            inner.push_child(l, Arc::new(Node::Bucket(b)));
        }
        inner
    }
}
