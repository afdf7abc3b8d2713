//! The byte searches of the hot loops: finding the segment dots and the end of
//! JSON strings. With `latchkey_fast` (the host, see build.rs) a word at a time,
//! plain integer arithmetic, no `unsafe`; on the device a byte at a time, which
//! is smaller there.

#[cfg(any(test, latchkey_fast))]
const W: usize = core::mem::size_of::<usize>();
#[cfg(latchkey_fast)]
const LO: usize = usize::from_ne_bytes([0x01; W]);
#[cfg(latchkey_fast)]
const HI: usize = usize::from_ne_bytes([0x80; W]);

/// `b` in every byte of a word.
#[cfg(latchkey_fast)]
#[inline(always)]
const fn splat(b: u8) -> usize {
    LO.wrapping_mul(b as usize)
}

#[cfg(latchkey_fast)]
#[inline(always)]
fn word(chunk: &[u8]) -> usize {
    // Callers pass exactly `W` bytes, which always convert; a zero word is
    // never reached.
    usize::from_ne_bytes(chunk.try_into().unwrap_or([0; W]))
}

/// Whether any byte of `w` is zero (exact for the word as a whole).
#[cfg(latchkey_fast)]
#[inline(always)]
const fn has_zero(w: usize) -> bool {
    w.wrapping_sub(LO) & !w & HI != 0
}

/// Index of the first `b` in `hay`: a word at a time, the byte found from the
/// lowest set bit of the word's zero-byte mask (exact: a borrow can flag only
/// bytes above a real match), read in memory order.
#[cfg(latchkey_fast)]
#[inline]
pub(crate) fn position(hay: &[u8], b: u8) -> Option<usize> {
    let mut at = 0usize;
    while let Some(chunk) = hay.get(at..).and_then(|rest| rest.first_chunk::<W>()) {
        let x = usize::from_le_bytes(*chunk) ^ splat(b);
        let hits = x.wrapping_sub(LO) & !x & HI;
        if hits != 0 {
            // trailing_zeros / 8 < W: the sum stays within `hay`.
            return Some(at.saturating_add((hits.trailing_zeros() / 8) as usize));
        }
        at = at.saturating_add(W);
    }
    let i = hay.get(at..)?.iter().position(|&c| c == b)?;
    Some(at.saturating_add(i))
}

/// Index of the last `b` in `hay`: a word at a time from the end to the word
/// holding it.
#[cfg(latchkey_fast)]
#[inline]
pub(crate) fn rposition(hay: &[u8], b: u8) -> Option<usize> {
    let mut end = hay.len();
    for chunk in hay.rchunks_exact(W) {
        if has_zero(word(chunk) ^ splat(b)) {
            break;
        }
        end = end.saturating_sub(W);
    }
    hay.get(..end)?.iter().rposition(|&c| c == b)
}

/// Index of the first `"`, `\`, control character (< 0x20) or non-ASCII byte
/// (>= 0x80, which the caller checks as UTF-8) in `hay`, or its length.
///
/// A word at a time, the first stop byte found from a mask of every stop byte's
/// high bit (lowest set bit: the borrow tricks can flag bytes only above a real
/// stop), so a short string costs one word and one predictable branch, not a
/// branch per byte. The last bytes of `hay`, short of a word, one at a time.
#[cfg(latchkey_fast)]
#[inline(always)]
pub(crate) fn string_end(hay: &[u8]) -> usize {
    let mut at = 0usize;
    while let Some(chunk) = hay.get(at..).and_then(|rest| rest.first_chunk::<W>()) {
        // Memory order, so the lowest set bit is the first byte on any target.
        let w = usize::from_le_bytes(*chunk);
        let quote = w ^ splat(b'"');
        let backslash = w ^ splat(b'\\');
        // Non-ASCII bytes flag themselves: their own high bit.
        let stops = (quote.wrapping_sub(LO) & !quote)
            | (backslash.wrapping_sub(LO) & !backslash)
            | (w.wrapping_sub(splat(0x20)) & !w)
            | w;
        let stops = stops & HI;
        if stops != 0 {
            // trailing_zeros / 8 < W: the sum stays within `hay`.
            return at.saturating_add((stops.trailing_zeros() / 8) as usize);
        }
        at = at.saturating_add(W);
    }
    let rest = hay.get(at..).unwrap_or(&[]);
    at.saturating_add(bytewise_string_end(rest))
}

/// Narrower targets (the device) scan one byte at a time: a four-byte word saves
/// less there than the word code costs in flash at each inlined call site.
#[cfg(not(latchkey_fast))]
#[inline]
pub(crate) fn string_end(hay: &[u8]) -> usize {
    bytewise_string_end(hay)
}

/// [`string_end`] a byte at a time.
#[inline(always)]
fn bytewise_string_end(hay: &[u8]) -> usize {
    hay.iter()
        .position(|&c| is_string_stop(c))
        .unwrap_or(hay.len())
}

/// Whether `c` ends a run of plain string characters: `"`, `\`, a control
/// character (below 0x20) or a non-ASCII byte (0x80 and up). Plain bytes are
/// 0x20..=0x7f but those two; subtracting 0x20 (wrapping) puts the controls and
/// the non-ASCII bytes alike at 0x60 or above, so one comparison finds both.
#[inline(always)]
const fn is_string_stop(c: u8) -> bool {
    c.wrapping_sub(0x20) >= 0x60 || c == b'"' || c == b'\\'
}

/// Whether `hay` contains the byte `b`.
#[cfg(latchkey_fast)]
#[inline]
pub(crate) fn contains(hay: &[u8], b: u8) -> bool {
    // Two words a step; the zero-byte test is exact for "any byte", so a hit
    // needs no byte-by-byte confirmation.
    let mut pairs = hay.chunks_exact(2 * W);
    for pair in &mut pairs {
        let (x, y) = pair.split_at_checked(W).unwrap_or((&[], &[]));
        let (x, y) = (word(x) ^ splat(b), word(y) ^ splat(b));
        // `has_zero(x) || has_zero(y)`, with one branch.
        if (x.wrapping_sub(LO) & !x | y.wrapping_sub(LO) & !y) & HI != 0 {
            return true;
        }
    }
    // Not `<[u8]>::contains`, which links `memchr` (172 bytes on the device) for
    // at most 2W - 1 bytes.
    #[allow(clippy::manual_contains)]
    pairs.remainder().iter().any(|&c| c == b)
}

/// [`position`] on the device, a byte at a time (smaller).
#[cfg(not(latchkey_fast))]
pub(crate) fn position(hay: &[u8], b: u8) -> Option<usize> {
    hay.iter().position(|&c| c == b)
}

/// [`rposition`] on the device, a byte at a time (smaller).
#[cfg(not(latchkey_fast))]
pub(crate) fn rposition(hay: &[u8], b: u8) -> Option<usize> {
    hay.iter().rposition(|&c| c == b)
}

/// [`contains`] on the device, a byte at a time (smaller).
#[cfg(not(latchkey_fast))]
pub(crate) fn contains(hay: &[u8], b: u8) -> bool {
    // Not `<[u8]>::contains`, which links `memchr` (172 bytes on the device).
    #[allow(clippy::manual_contains)]
    hay.iter().any(|&c| c == b)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every stop byte (among them the edges 0x1f, 0x80 and 0xff) at every
    /// position, behind fillers at the edges of the plain set (0x20, 0x7e, 0x7f,
    /// and the neighbours of `"` and `\\`).
    #[test]
    fn string_end_finds_every_stop_behind_every_filler() {
        for filler in [b'a', 0x20, 0x21, 0x23, 0x5b, 0x5d, 0x7e, 0x7f] {
            for stop in [b'"', b'\\', 0x00, 0x01, 0x1f, 0x80, 0xc3, 0xff] {
                for at in 0..3 * W {
                    let mut hay = [filler; 3 * W + 3];
                    hay[at] = stop;
                    assert_eq!(string_end(&hay), at, "{filler:#x} {stop:#x} at {at}");
                }
            }
            assert_eq!(string_end(&[filler; 3 * W + 3]), 3 * W + 3);
        }
    }

    /// The byte test the device scans with (and the host for a string's last
    /// bytes), for every byte, and the byte-at-a-time scan with it.
    #[test]
    fn string_stops_are_quote_backslash_controls_and_non_ascii() {
        for c in 0..=255u8 {
            let stop = c == b'"' || c == b'\\' || !(0x20..0x80).contains(&c);
            assert_eq!(is_string_stop(c), stop, "{c:#x}");
            assert_eq!(
                bytewise_string_end(&[b'a', c, b'"']),
                if stop { 1 } else { 2 }
            );
        }
    }

    #[test]
    fn string_end_matches_a_plain_search() {
        let cases: [&[u8]; 8] = [
            b"",
            b"abc",
            b"abcdefghijklmnop\"",
            b"abcdefghijk\\lmnop",
            b"abcdefgh\x1fijklmnop",
            b"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"",
            b"0123456789012345678901234567890123\x7f\x80\xff\"x",
            b"\"",
        ];
        for hay in cases {
            let want = hay
                .iter()
                .position(|&c| c == b'"' || c == b'\\' || !(0x20..0x80).contains(&c))
                .unwrap_or(hay.len());
            assert_eq!(string_end(hay), want, "{hay:?}");
        }
    }

    #[test]
    fn positions_match_a_plain_search() {
        for len in 0..40 {
            let hay = [b'a'; 40];
            let hay = &hay[..len];
            assert_eq!(position(hay, b'.'), None);
            assert_eq!(rposition(hay, b'.'), None);
            for i in 0..len {
                for j in i..len {
                    let mut h = [b'a'; 40];
                    h[i] = b'.';
                    h[j] = b'.';
                    h[(i + j) / 2] = 0x2e ^ 0x80; // a near miss
                    if (i + j) / 2 == i || (i + j) / 2 == j {
                        h[(i + j) / 2] = b'.';
                    }
                    let hay = &h[..len];
                    let first = hay.iter().position(|&c| c == b'.');
                    let last = hay.iter().rposition(|&c| c == b'.');
                    assert_eq!(position(hay, b'.'), first, "{hay:?}");
                    assert_eq!(rposition(hay, b'.'), last, "{hay:?}");
                }
            }
        }
    }

    #[test]
    fn contains_matches_a_plain_search() {
        for i in 0..40 {
            let mut hay = [b'a'; 40];
            assert!(!contains(&hay, b'.'));
            hay[i] = b'.';
            assert!(contains(&hay, b'.'));
            assert!(!contains(&hay[..i], b'.'));
            // A second hit anywhere (also in the same byte of the other word of
            // a pair) never hides the first.
            for j in i + 1..40 {
                let mut two = hay;
                two[j] = b'.';
                assert!(contains(&two, b'.'), "{i} {j}");
                assert!(contains(&two[..j], b'.'), "{i} {j}");
            }
        }
    }
}
