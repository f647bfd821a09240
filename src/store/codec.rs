//! [`Op`] and its binary encoding in log records.
//!
//! An operation is a tag byte followed by its fields: strings as a LEB128
//! length and UTF-8 bytes, integers as 8 bytes little-endian, scores as the
//! 8 bytes of their IEEE 754 binary64 encoding, little-endian. Decoding
//! checks everything (tags, lengths, UTF-8, finite scores) and reports what
//! is wrong instead of panicking, since the bytes come from disk.
//!
//! Tags are never reused: a new operation takes the next number, so a log
//! written before it existed still decodes the same.

use crate::fold::Fold;
use crate::value::Value;

/// One recorded change.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Op {
    /// Create an empty trie (no-op when it exists).
    TrieCreate {
        /// Trie name.
        trie: String,
    },
    /// Add a pair (creates the trie).
    TrieInsert {
        /// Trie name.
        trie: String,
        /// Key.
        key: String,
        /// Value.
        value: Value,
    },
    /// Remove one pair, or the whole key when `value` is `None`.
    TrieRemove {
        /// Trie name.
        trie: String,
        /// Key.
        key: String,
        /// Value, or all values.
        value: Option<Value>,
    },
    /// Delete a trie.
    TrieDrop {
        /// Trie name.
        trie: String,
    },
    /// Push onto a stack (creates it).
    StackPush {
        /// Stack name.
        stack: String,
        /// Value.
        value: Value,
    },
    /// Pop a stack's top.
    StackPop {
        /// Stack name.
        stack: String,
    },
    /// Delete a stack.
    StackDrop {
        /// Stack name.
        stack: String,
    },
    /// Set a cache key (creates the cache).
    CacheSet {
        /// Cache name.
        cache: String,
        /// Key.
        key: String,
        /// Value.
        value: i64,
    },
    /// Remove a cache key.
    CacheRemove {
        /// Cache name.
        cache: String,
        /// Key.
        key: String,
    },
    /// Delete a cache.
    CacheDrop {
        /// Cache name.
        cache: String,
    },
    /// Remember the answer to a write sent with an `Idempotency-Key`, so a
    /// retry gets it again instead of applying the write twice. Recorded in
    /// the same group as the write itself.
    Idempotent {
        /// The client's key.
        key: String,
        /// A fingerprint of the request (method, path, body).
        fingerprint: i64,
        /// The answer, encoded by the writer.
        reply: String,
    },
    /// The pair (key, value) exists with exactly this score: creates the
    /// trie and the pair when absent, and sets the score of a pair that is
    /// there. The score is the absolute result of the write (an increment
    /// records the sum), so replay does no arithmetic and is deterministic.
    TrieScore {
        /// Trie name.
        trie: String,
        /// Key.
        key: String,
        /// Value.
        value: Value,
        /// The pair's score: always finite.
        score: f64,
    },
    /// Create a trie with these settings (a trie that exists takes them;
    /// the writer records this only when it creates one).
    TrieSettings {
        /// Trie name.
        trie: String,
        /// How it folds keys and queries.
        fold: Fold,
    },
}

const TRIE_CREATE: u8 = 1;
const TRIE_INSERT: u8 = 2;
const TRIE_REMOVE_PAIR: u8 = 3;
const TRIE_REMOVE_KEY: u8 = 4;
const TRIE_DROP: u8 = 5;
const STACK_PUSH: u8 = 6;
const STACK_POP: u8 = 7;
const STACK_DROP: u8 = 8;
const CACHE_SET: u8 = 9;
const CACHE_REMOVE: u8 = 10;
const CACHE_DROP: u8 = 11;
const IDEMPOTENT: u8 = 12;
const TRIE_SCORE: u8 = 13;
const TRIE_SETTINGS: u8 = 14;

fn put_str(out: &mut Vec<u8>, s: &str) {
    let mut n = s.len();
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out.extend_from_slice(s.as_bytes());
}

impl Op {
    /// Appends the encoding of `self` to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Op::TrieCreate { trie } => {
                out.push(TRIE_CREATE);
                put_str(out, trie);
            }
            Op::TrieInsert { trie, key, value } => {
                out.push(TRIE_INSERT);
                put_str(out, trie);
                put_str(out, key);
                put_str(out, value.as_str());
            }
            Op::TrieRemove {
                trie,
                key,
                value: Some(value),
            } => {
                out.push(TRIE_REMOVE_PAIR);
                put_str(out, trie);
                put_str(out, key);
                put_str(out, value.as_str());
            }
            Op::TrieRemove {
                trie,
                key,
                value: None,
            } => {
                out.push(TRIE_REMOVE_KEY);
                put_str(out, trie);
                put_str(out, key);
            }
            Op::TrieDrop { trie } => {
                out.push(TRIE_DROP);
                put_str(out, trie);
            }
            Op::StackPush { stack, value } => {
                out.push(STACK_PUSH);
                put_str(out, stack);
                put_str(out, value.as_str());
            }
            Op::StackPop { stack } => {
                out.push(STACK_POP);
                put_str(out, stack);
            }
            Op::StackDrop { stack } => {
                out.push(STACK_DROP);
                put_str(out, stack);
            }
            Op::CacheSet { cache, key, value } => {
                out.push(CACHE_SET);
                put_str(out, cache);
                put_str(out, key);
                out.extend_from_slice(&value.to_le_bytes());
            }
            Op::CacheRemove { cache, key } => {
                out.push(CACHE_REMOVE);
                put_str(out, cache);
                put_str(out, key);
            }
            Op::CacheDrop { cache } => {
                out.push(CACHE_DROP);
                put_str(out, cache);
            }
            Op::Idempotent {
                key,
                fingerprint,
                reply,
            } => {
                out.push(IDEMPOTENT);
                put_str(out, key);
                out.extend_from_slice(&fingerprint.to_le_bytes());
                put_str(out, reply);
            }
            Op::TrieScore {
                trie,
                key,
                value,
                score,
            } => {
                out.push(TRIE_SCORE);
                put_str(out, trie);
                put_str(out, key);
                put_str(out, value.as_str());
                out.extend_from_slice(&score.to_le_bytes());
            }
            Op::TrieSettings { trie, fold } => {
                out.push(TRIE_SETTINGS);
                put_str(out, trie);
                out.push(fold.code());
            }
        }
    }

    /// Decodes every operation in `buf`.
    ///
    /// # Errors
    /// A description of the first malformed byte and its offset in `buf`.
    pub fn decode_all<'a>(
        buf: &'a [u8],
        mut sink: impl FnMut(OpRef<'a>),
    ) -> Result<u64, (usize, String)> {
        let mut r = Reader { buf, pos: 0 };
        let mut n = 0;
        while r.pos < buf.len() {
            let start = r.pos;
            let op = r.op().map_err(|e| (start, e))?;
            sink(op);
            n += 1;
        }
        Ok(n)
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, String> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or("record ends inside an operation")?;
        self.pos += 1;
        Ok(b)
    }

    fn str(&mut self) -> Result<&'a str, String> {
        let mut n = 0usize;
        let mut shift = 0;
        loop {
            let b = self.byte()?;
            if shift > 28 {
                return Err("string length is too long".into());
            }
            n |= usize::from(b & 0x7f) << shift;
            if b < 0x80 {
                break;
            }
            shift += 7;
        }
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let end = end.ok_or("string runs past the end of its record")?;
        let s = std::str::from_utf8(&self.buf[self.pos..end]).map_err(|e| e.to_string())?;
        self.pos = end;
        Ok(s)
    }

    fn eight(&mut self, what: &str) -> Result<[u8; 8], String> {
        let end = self.pos + 8;
        let bytes = self
            .buf
            .get(self.pos..end)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .ok_or_else(|| format!("{what} runs past its record"))?;
        self.pos = end;
        Ok(bytes)
    }

    fn i64(&mut self) -> Result<i64, String> {
        Ok(i64::from_le_bytes(self.eight("integer")?))
    }

    /// A score: finite, as the writer never records anything else.
    fn score(&mut self) -> Result<f64, String> {
        let score = f64::from_le_bytes(self.eight("score")?);
        if !score.is_finite() {
            return Err(format!("score {score} is not finite"));
        }
        Ok(score)
    }

    fn op(&mut self) -> Result<OpRef<'a>, String> {
        let tag = self.byte()?;
        Ok(match tag {
            TRIE_CREATE => OpRef::TrieCreate { trie: self.str()? },
            TRIE_INSERT => OpRef::TrieInsert {
                trie: self.str()?,
                key: self.str()?,
                value: self.str()?,
            },
            TRIE_REMOVE_PAIR => OpRef::TrieRemove {
                trie: self.str()?,
                key: self.str()?,
                value: Some(self.str()?),
            },
            TRIE_REMOVE_KEY => OpRef::TrieRemove {
                trie: self.str()?,
                key: self.str()?,
                value: None,
            },
            TRIE_DROP => OpRef::TrieDrop { trie: self.str()? },
            STACK_PUSH => OpRef::StackPush {
                stack: self.str()?,
                value: self.str()?,
            },
            STACK_POP => OpRef::StackPop { stack: self.str()? },
            STACK_DROP => OpRef::StackDrop { stack: self.str()? },
            CACHE_SET => OpRef::CacheSet {
                cache: self.str()?,
                key: self.str()?,
                value: self.i64()?,
            },
            CACHE_REMOVE => OpRef::CacheRemove {
                cache: self.str()?,
                key: self.str()?,
            },
            CACHE_DROP => OpRef::CacheDrop { cache: self.str()? },
            IDEMPOTENT => OpRef::Idempotent {
                key: self.str()?,
                fingerprint: self.i64()?,
                reply: self.str()?,
            },
            TRIE_SCORE => OpRef::TrieScore {
                trie: self.str()?,
                key: self.str()?,
                value: self.str()?,
                score: self.score()?,
            },
            TRIE_SETTINGS => {
                let trie = self.str()?;
                let code = self.byte()?;
                let fold = Fold::from_code(code).ok_or_else(|| format!("unknown fold {code}"))?;
                OpRef::TrieSettings { trie, fold }
            }
            other => return Err(format!("unknown operation tag {other}")),
        })
    }
}

/// An [`Op`] borrowed from a log buffer: replay reads millions of these
/// without allocating a string per field. Values are canonical JSON text.
#[derive(Debug, Clone, Copy, PartialEq)]
#[allow(missing_docs)]
pub enum OpRef<'a> {
    TrieCreate {
        trie: &'a str,
    },
    TrieInsert {
        trie: &'a str,
        key: &'a str,
        value: &'a str,
    },
    TrieRemove {
        trie: &'a str,
        key: &'a str,
        value: Option<&'a str>,
    },
    TrieDrop {
        trie: &'a str,
    },
    StackPush {
        stack: &'a str,
        value: &'a str,
    },
    StackPop {
        stack: &'a str,
    },
    StackDrop {
        stack: &'a str,
    },
    CacheSet {
        cache: &'a str,
        key: &'a str,
        value: i64,
    },
    CacheRemove {
        cache: &'a str,
        key: &'a str,
    },
    CacheDrop {
        cache: &'a str,
    },
    Idempotent {
        key: &'a str,
        fingerprint: i64,
        reply: &'a str,
    },
    TrieScore {
        trie: &'a str,
        key: &'a str,
        value: &'a str,
        score: f64,
    },
    TrieSettings {
        trie: &'a str,
        fold: Fold,
    },
}

impl OpRef<'_> {
    /// The owned operation.
    pub fn to_op(self) -> Op {
        let s = str::to_owned;
        let v = Value::from_canonical;
        match self {
            OpRef::TrieCreate { trie } => Op::TrieCreate { trie: s(trie) },
            OpRef::TrieInsert { trie, key, value } => Op::TrieInsert {
                trie: s(trie),
                key: s(key),
                value: v(value),
            },
            OpRef::TrieRemove { trie, key, value } => Op::TrieRemove {
                trie: s(trie),
                key: s(key),
                value: value.map(v),
            },
            OpRef::TrieDrop { trie } => Op::TrieDrop { trie: s(trie) },
            OpRef::StackPush { stack, value } => Op::StackPush {
                stack: s(stack),
                value: v(value),
            },
            OpRef::StackPop { stack } => Op::StackPop { stack: s(stack) },
            OpRef::StackDrop { stack } => Op::StackDrop { stack: s(stack) },
            OpRef::CacheSet { cache, key, value } => Op::CacheSet {
                cache: s(cache),
                key: s(key),
                value,
            },
            OpRef::CacheRemove { cache, key } => Op::CacheRemove {
                cache: s(cache),
                key: s(key),
            },
            OpRef::CacheDrop { cache } => Op::CacheDrop { cache: s(cache) },
            OpRef::Idempotent {
                key,
                fingerprint,
                reply,
            } => Op::Idempotent {
                key: s(key),
                fingerprint,
                reply: s(reply),
            },
            OpRef::TrieScore {
                trie,
                key,
                value,
                score,
            } => Op::TrieScore {
                trie: s(trie),
                key: s(key),
                value: v(value),
                score,
            },
            OpRef::TrieSettings { trie, fold } => Op::TrieSettings {
                trie: s(trie),
                fold,
            },
        }
    }
}

impl Op {
    /// The borrowed form.
    pub fn as_ref(&self) -> OpRef<'_> {
        match self {
            Op::TrieCreate { trie } => OpRef::TrieCreate { trie },
            Op::TrieInsert { trie, key, value } => OpRef::TrieInsert {
                trie,
                key,
                value: value.as_str(),
            },
            Op::TrieRemove { trie, key, value } => OpRef::TrieRemove {
                trie,
                key,
                value: value.as_ref().map(Value::as_str),
            },
            Op::TrieDrop { trie } => OpRef::TrieDrop { trie },
            Op::StackPush { stack, value } => OpRef::StackPush {
                stack,
                value: value.as_str(),
            },
            Op::StackPop { stack } => OpRef::StackPop { stack },
            Op::StackDrop { stack } => OpRef::StackDrop { stack },
            Op::CacheSet { cache, key, value } => OpRef::CacheSet {
                cache,
                key,
                value: *value,
            },
            Op::CacheRemove { cache, key } => OpRef::CacheRemove { cache, key },
            Op::CacheDrop { cache } => OpRef::CacheDrop { cache },
            Op::Idempotent {
                key,
                fingerprint,
                reply,
            } => OpRef::Idempotent {
                key,
                fingerprint: *fingerprint,
                reply,
            },
            Op::TrieScore {
                trie,
                key,
                value,
                score,
            } => OpRef::TrieScore {
                trie,
                key,
                value: value.as_str(),
                score: *score,
            },
            Op::TrieSettings { trie, fold } => OpRef::TrieSettings { trie, fold: *fold },
        }
    }
}

#[cfg(test)]
mod tests;
