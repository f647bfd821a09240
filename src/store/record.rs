//! The log's record format and the rule that tells a torn tail from damage.
//!
//! A file starts with a 16-byte header (`TYPEAHD\0`, the format version as
//! u32 LE, four reserved bytes). Each record is `length u32 LE | CRC-32 u32
//! LE | payload`, the payload being one group's operations.
//!
//! - Version 2 (written now): the CRC covers the four length bytes and the
//!   payload, so a damaged length is caught like a damaged payload.
//! - Version 1 (still read, and appended to in its own format until the next
//!   compaction rewrites the file as version 2): the CRC covers the payload
//!   only.
//!
//! # Torn or damaged
//! A crash during an append leaves at most one incomplete record, at the very
//! end of the file, that was never acknowledged. So a problem at offset `p`
//! is a torn tail only when all of these hold:
//! - the bytes from `p` to the end are fewer than a whole record (fewer than
//!   8, or fewer than the length field claims), or all zero (a
//!   zero-filled extent);
//! - they are not a whole record whose length field alone is damaged (the
//!   remaining payload matches the CRC under its true length);
//! - no valid record starts anywhere after `p`.
//!
//! Anything else, a complete record whose CRC fails included, is damage:
//! start-up stops and changes nothing.

/// The file's magic bytes.
pub(crate) const MAGIC: &[u8; 8] = b"TYPEAHD\0";
/// The version this build writes.
pub(crate) const FORMAT_VERSION: u32 = 2;
/// The header's length.
pub(crate) const HEADER_LEN: u64 = 16;
/// A record header's length.
pub(crate) const RECORD_HEADER: usize = 8;

/// A file header for `version`.
pub(crate) fn file_header(version: u32) -> [u8; HEADER_LEN as usize] {
    let mut h = [0u8; HEADER_LEN as usize];
    h[..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&version.to_le_bytes());
    h
}

/// The CRC stored in a record of `version` with `payload`.
pub(crate) fn checksum(version: u32, payload: &[u8]) -> u32 {
    if version >= 2 {
        let mut h = crc32fast::Hasher::new();
        h.update(&(payload.len() as u32).to_le_bytes());
        h.update(payload);
        h.finalize()
    } else {
        crc32fast::hash(payload)
    }
}

/// Fills in the header of the record that starts at `start` in `buf` (8
/// placeholder bytes followed by the payload).
///
/// # Errors
/// When the payload is over 4 GiB.
pub(crate) fn seal(buf: &mut [u8], start: usize, version: u32) -> std::io::Result<()> {
    let payload = &buf[start + RECORD_HEADER..];
    let len =
        u32::try_from(payload.len()).map_err(|_| std::io::Error::other("record over 4 GiB"))?;
    let crc = checksum(version, payload);
    buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
    buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

/// Whether a whole, valid record of `version` starts at `at` in `bytes`.
fn valid_at(bytes: &[u8], at: usize, version: u32) -> bool {
    if bytes.len() - at < RECORD_HEADER {
        return false;
    }
    let len = u32_at(bytes, at) as usize;
    let end = at + RECORD_HEADER;
    if len == 0 || bytes.len() - end < len {
        return false;
    }
    checksum(version, &bytes[end..end + len]) == u32_at(bytes, at + 4)
}

/// Why the bytes `rest` (from a problem offset to the end of the file) are
/// damage rather than a torn tail, or `None` when they are a torn tail.
pub(crate) fn damage_in_tail(rest: &[u8], version: u32) -> Option<&'static str> {
    if rest.iter().all(|&b| b == 0) {
        return None;
    }
    if rest.len() >= RECORD_HEADER {
        let len = u32_at(rest, 0) as usize;
        let payload = &rest[RECORD_HEADER..];
        if len <= payload.len() {
            return Some("record checksum mismatch");
        }
        if !payload.is_empty() && checksum(version, payload) == u32_at(rest, 4) {
            return Some("damaged record length (the payload after it is intact)");
        }
    }
    if (1..rest.len()).any(|at| valid_at(rest, at, version)) {
        return Some("unreadable record followed by valid records");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn record(version: u32, payload: &[u8]) -> Vec<u8> {
        let mut buf = vec![0; RECORD_HEADER];
        buf.extend_from_slice(payload);
        seal(&mut buf, 0, version).unwrap();
        buf
    }

    proptest! {
        /// A strict prefix of a last record is torn; with a record after it,
        /// or with one bit flipped anywhere in a record, it is damage.
        #[test]
        fn prefixes_are_torn_and_flips_are_damage(
            a in proptest::collection::vec(1u8..=255, 1..64),
            b in proptest::collection::vec(any::<u8>(), 1..64),
            cut in any::<proptest::sample::Index>(),
            bit in any::<proptest::sample::Index>(),
        ) {
            let ra = record(2, &a);
            let rb = record(2, &b);
            let cut = cut.index(ra.len());
            prop_assert_eq!(damage_in_tail(&ra[..cut], 2), None);
            let mut then = ra[..cut].to_vec();
            then.extend_from_slice(&rb);
            if cut > 0 {
                prop_assert!(damage_in_tail(&then, 2).is_some());
            }
            let mut flipped = ra.clone();
            let bit = bit.index(flipped.len() * 8);
            flipped[bit / 8] ^= 1 << (bit % 8);
            prop_assert!(damage_in_tail(&flipped, 2).is_some(), "flip {} undetected", bit);
        }
    }

    #[test]
    fn a_zero_filled_tail_is_torn() {
        assert_eq!(damage_in_tail(&[0; 40], 2), None);
        assert_eq!(damage_in_tail(&[], 2), None);
    }
}
