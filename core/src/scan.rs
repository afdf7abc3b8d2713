//! The byte searches of the hot loops: finding the segment dots and the end of
//! JSON strings. Each search has two forms with the same results: [`words`], a
//! word at a time (plain integer arithmetic, no `unsafe`), which 64-bit targets
//! run (`latchkey_fast`, see build.rs), and [`bytes`], a byte at a time, which is
//! smaller on the device. Tests build both and hold one against the other.

#[cfg(latchkey_fast)]
pub(crate) use words::{contains, position, rposition, string_end};

#[cfg(not(latchkey_fast))]
pub(crate) use bytes::{contains, position, rposition, string_end};

/// The searches a word at a time: a match found from a mask of the high bits of
/// the bytes looked for, so a short run costs one word and one predictable
/// branch, not a branch per byte.
#[cfg(any(test, latchkey_fast))]
pub(crate) mod words {
    const W: usize = core::mem::size_of::<usize>();
    const LO: usize = usize::from_ne_bytes([0x01; W]);
    const HI: usize = usize::from_ne_bytes([0x80; W]);

    /// `b` in every byte of a word.
    #[inline(always)]
    const fn splat(b: u8) -> usize {
        LO.wrapping_mul(b as usize)
    }

    #[inline(always)]
    fn word(chunk: &[u8]) -> usize {
        // Callers pass exactly `W` bytes, which always convert; a zero word is
        // never reached.
        usize::from_ne_bytes(chunk.try_into().unwrap_or([0; W]))
    }

    /// Whether any byte of `w` is zero (exact for the word as a whole).
    #[inline(always)]
    const fn has_zero(w: usize) -> bool {
        w.wrapping_sub(LO) & !w & HI != 0
    }

    /// Index of the first `b` in `hay`: the byte found from the lowest set bit of
    /// the word's zero-byte mask (exact: a borrow can flag only bytes above a
    /// real match), read in memory order.
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

    /// Index of the last `b` in `hay`: from the end to the word holding it.
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

    /// Index of the first `"`, `\`, control character (< 0x20) or non-ASCII
    /// byte (>= 0x80, which the caller checks as UTF-8) in `hay`, or its length.
    ///
    /// The first stop byte is found from a mask of every stop byte's high bit
    /// (lowest set bit: the borrow tricks can flag bytes only above a real stop).
    /// The last bytes of `hay`, short of a word, one at a time.
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
        at.saturating_add(super::bytes::string_end(rest))
    }

    /// Whether `hay` contains the byte `b`.
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
        // Not `<[u8]>::contains`, which links `memchr` (172 bytes on the device)
        // for at most 2W - 1 bytes.
        #[allow(clippy::manual_contains)]
        pairs.remainder().iter().any(|&c| c == b)
    }
}

/// The searches a byte at a time: the device's (on a 32-bit target a four-byte
/// word saves less than the word code costs in flash at each inlined call site),
/// and the reference the word forms are tested against.
pub(crate) mod bytes {
    /// [`super::words::position`] a byte at a time.
    #[cfg(any(test, not(latchkey_fast)))]
    pub(crate) fn position(hay: &[u8], b: u8) -> Option<usize> {
        hay.iter().position(|&c| c == b)
    }

    /// [`super::words::rposition`] a byte at a time.
    #[cfg(any(test, not(latchkey_fast)))]
    pub(crate) fn rposition(hay: &[u8], b: u8) -> Option<usize> {
        hay.iter().rposition(|&c| c == b)
    }

    /// Index of the first `"`, `\`, control character (< 0x20) or non-ASCII
    /// byte (>= 0x80, which the caller checks as UTF-8) in `hay`, or its length.
    /// Also the word form's tail, for the bytes short of a word.
    #[inline]
    pub(crate) fn string_end(hay: &[u8]) -> usize {
        hay.iter()
            .position(|&c| is_string_stop(c))
            .unwrap_or(hay.len())
    }

    /// Whether `c` ends a run of plain string characters: `"`, `\`, a control
    /// character (below 0x20) or a non-ASCII byte (0x80 and up). Plain bytes are
    /// 0x20..=0x7f but those two; subtracting 0x20 (wrapping) puts the controls
    /// and the non-ASCII bytes alike at 0x60 or above, so one comparison finds
    /// both.
    #[inline(always)]
    pub(crate) const fn is_string_stop(c: u8) -> bool {
        c.wrapping_sub(0x20) >= 0x60 || c == b'"' || c == b'\\'
    }

    /// Whether `hay` contains the byte `b`.
    #[cfg(any(test, not(latchkey_fast)))]
    pub(crate) fn contains(hay: &[u8], b: u8) -> bool {
        // Not `<[u8]>::contains`, which links `memchr` (172 bytes on the device).
        #[allow(clippy::manual_contains)]
        hay.iter().any(|&c| c == b)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec::Vec;

    use proptest::prelude::*;

    use super::{bytes, words};

    const W: usize = core::mem::size_of::<usize>();

    type StringEnd = fn(&[u8]) -> usize;
    type Position = fn(&[u8], u8) -> Option<usize>;
    type Contains = fn(&[u8], u8) -> bool;

    /// Both forms of each search, named for the failure messages.
    const STRING_END: [(&str, StringEnd); 2] =
        [("words", words::string_end), ("bytes", bytes::string_end)];
    const POSITION: [(&str, Position, Position); 2] = [
        ("words", words::position, words::rposition),
        ("bytes", bytes::position, bytes::rposition),
    ];
    const CONTAINS: [(&str, Contains); 2] =
        [("words", words::contains), ("bytes", bytes::contains)];

    /// Every stop byte (among them the edges 0x1f, 0x80 and 0xff) at every
    /// position, behind fillers at the edges of the plain set (0x20, 0x7e, 0x7f,
    /// and the neighbours of `"` and `\\`).
    #[test]
    fn string_end_finds_every_stop_behind_every_filler() {
        for (form, string_end) in STRING_END {
            for filler in [b'a', 0x20, 0x21, 0x23, 0x5b, 0x5d, 0x7e, 0x7f] {
                for stop in [b'"', b'\\', 0x00, 0x01, 0x1f, 0x80, 0xc3, 0xff] {
                    for at in 0..3 * W {
                        let mut hay = [filler; 3 * W + 3];
                        hay[at] = stop;
                        assert_eq!(string_end(&hay), at, "{form} {filler:#x} {stop:#x} at {at}");
                    }
                }
                assert_eq!(string_end(&[filler; 3 * W + 3]), 3 * W + 3, "{form}");
            }
        }
    }

    /// The byte test the byte form scans with, for every byte.
    #[test]
    fn string_stops_are_quote_backslash_controls_and_non_ascii() {
        for c in 0..=255u8 {
            let stop = c == b'"' || c == b'\\' || !(0x20..0x80).contains(&c);
            assert_eq!(bytes::is_string_stop(c), stop, "{c:#x}");
            for (form, string_end) in STRING_END {
                let want = if stop { 1 } else { 2 };
                assert_eq!(string_end(&[b'a', c, b'"']), want, "{form} {c:#x}");
            }
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
            for (form, string_end) in STRING_END {
                assert_eq!(string_end(hay), want, "{form} {hay:?}");
            }
        }
    }

    #[test]
    fn positions_match_a_plain_search() {
        for (form, position, rposition) in POSITION {
            for len in 0..40 {
                let hay = [b'a'; 40];
                let hay = &hay[..len];
                assert_eq!(position(hay, b'.'), None, "{form}");
                assert_eq!(rposition(hay, b'.'), None, "{form}");
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
                        assert_eq!(position(hay, b'.'), first, "{form} {hay:?}");
                        assert_eq!(rposition(hay, b'.'), last, "{form} {hay:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn contains_matches_a_plain_search() {
        for (form, contains) in CONTAINS {
            for i in 0..40 {
                let mut hay = [b'a'; 40];
                assert!(!contains(&hay, b'.'), "{form}");
                hay[i] = b'.';
                assert!(contains(&hay, b'.'), "{form}");
                assert!(!contains(&hay[..i], b'.'), "{form}");
                // A second hit anywhere (also in the same byte of the other word
                // of a pair) never hides the first.
                for j in i + 1..40 {
                    let mut two = hay;
                    two[j] = b'.';
                    assert!(contains(&two, b'.'), "{form} {i} {j}");
                    assert!(contains(&two[..j], b'.'), "{form} {i} {j}");
                }
            }
        }
    }

    /// Bytes that sit at the edges of what the word tricks test: the needles and
    /// stop bytes, their neighbours, the same with the high bit flipped (a
    /// borrow's near misses), and the ends of the byte range.
    const EDGES: [u8; 18] = [
        b'.', b'"', b'\\', b'a', 0x00, 0x01, 0x1f, 0x20, 0x21, 0x2d, 0x2f, 0x7f, 0x80, 0xae, 0xa2,
        0xdc, 0xfe, 0xff,
    ];

    /// Haystacks of up to a dozen words, mostly edge bytes, starting anywhere in
    /// a word.
    fn hay() -> impl Strategy<Value = (Vec<u8>, usize)> {
        let byte = prop_oneof![3 => prop::sample::select(&EDGES[..]), 1 => any::<u8>()];
        (prop::collection::vec(byte, 0..12 * W), 0..W)
    }

    fn needle() -> impl Strategy<Value = u8> {
        prop_oneof![3 => prop::sample::select(&EDGES[..]), 1 => any::<u8>()]
    }

    proptest! {
        /// The word form of each search gives what the byte form gives.
        #[test]
        fn word_searches_agree_with_byte_searches((hay, skip) in hay(), b in needle()) {
            let hay = hay.get(skip..).unwrap_or(&[]);
            prop_assert_eq!(words::string_end(hay), bytes::string_end(hay));
            prop_assert_eq!(words::position(hay, b), bytes::position(hay, b));
            prop_assert_eq!(words::rposition(hay, b), bytes::rposition(hay, b));
            prop_assert_eq!(words::contains(hay, b), bytes::contains(hay, b));
        }
    }
}
