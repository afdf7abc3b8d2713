//! Word-at-a-time byte searches for the hot loops: finding the segment dots and
//! the end of JSON strings. Plain integer arithmetic, no `unsafe`, any word size.

const W: usize = core::mem::size_of::<usize>();
const LO: usize = usize::from_ne_bytes([0x01; W]);
const HI: usize = usize::from_ne_bytes([0x80; W]);

/// `b` in every byte of a word.
#[inline(always)]
const fn splat(b: u8) -> usize {
    LO.wrapping_mul(b as usize)
}

/// Whether any byte of `w` is below `n` (exact for `n <= 0x80`).
#[inline(always)]
const fn any_below(w: usize, n: u8) -> bool {
    w.wrapping_sub(splat(n)) & !w & HI != 0
}

/// Whether any byte of `w` equals `b`.
#[inline(always)]
const fn any_eq(w: usize, b: u8) -> bool {
    any_below(w ^ splat(b), 1)
}

#[inline(always)]
fn word(chunk: &[u8]) -> usize {
    // `chunks_exact(W)` chunks always convert; a zero word would only send the
    // caller to its byte-by-byte loop.
    usize::from_ne_bytes(chunk.try_into().unwrap_or([0; W]))
}

/// The number of leading bytes of `hay` that can be skipped before a byte that
/// matches `stop` could occur: whole words for which `word_clear` holds.
#[inline(always)]
fn skip_words(hay: &[u8], word_clear: impl Fn(usize) -> bool) -> usize {
    let mut n = 0usize;
    for chunk in hay.chunks_exact(W) {
        if !word_clear(word(chunk)) {
            break;
        }
        n = n.saturating_add(W);
    }
    n
}

/// Index of the first `"`, `\` or control character (< 0x20) in `hay`, or its length.
///
/// Byte at a time: JSON strings in tokens are short (names, ids), where a word
/// loop's set-up costs more than it saves (measured with callgrind).
#[inline]
pub(crate) fn string_end(hay: &[u8]) -> usize {
    hay.iter()
        .position(|&c| STRING_STOP.get(usize::from(c)) != Some(&false))
        .unwrap_or(hay.len())
}

/// Bytes that end a run of plain string characters: `"`, `\` and controls.
// Evaluated at compile time: an out-of-bounds index here fails the build.
#[allow(clippy::indexing_slicing)]
static STRING_STOP: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// Whether `hay` contains the byte `b`.
#[inline]
pub(crate) fn contains(hay: &[u8], b: u8) -> bool {
    let skip = skip_words(hay, |w| !any_eq(w, b));
    hay.get(skip..).unwrap_or(&[]).contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

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
                .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
                .unwrap_or(hay.len());
            assert_eq!(string_end(hay), want, "{hay:?}");
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
        }
    }
}
