//! The variable-length integers of bucket records: LEB128, seven bits per
//! byte, low bits first, the top bit set on every byte but the last.
//!
//! # Why
//! A record's two integers (its suffix length and its value count) are
//! nearly always below 128, so each costs one byte and the reader's fast
//! path is one compare, inlined into the bucket scan; longer ones take a
//! `#[cold]` loop kept out of it.
#[inline]
pub(super) fn read_varint(data: &[u8], pos: &mut usize) -> usize {
    // Suffix lengths and value counts are almost always below 128: one byte.
    let b = data[*pos];
    if b < 0x80 {
        *pos += 1;
        return usize::from(b);
    }
    read_varint_long(data, pos)
}

#[cold]
fn read_varint_long(data: &[u8], pos: &mut usize) -> usize {
    let mut n = 0usize;
    let mut shift = 0;
    loop {
        let b = data[*pos];
        *pos += 1;
        n |= usize::from(b & 0x7f) << shift;
        if b < 0x80 {
            return n;
        }
        shift += 7;
    }
}

pub(super) fn write_varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}
