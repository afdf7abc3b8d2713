//! Strict base64url without padding (RFC 7515 section 2): canonical only, no
//! whitespace, no padding, no stray trailing bits.
//!
//! Decoding uses a lookup table rather than `base64ct`'s constant-time arithmetic:
//! every decoded segment of a token is public data (the MAC is compared in
//! constant time afterwards), and the table is several times cheaper per byte on
//! a Cortex-M3 (see BENCHMARKS.md). Encoding uses `base64ct`. Tests check the
//! decoder against `base64ct` on every input they generate.

use base64ct::{Base64UrlUnpadded, Encoding};

use crate::Error;

const BAD: u8 = 0xff;

// Evaluated at compile time: an out-of-bounds index here fails the build, not a run.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
static TABLE: [u8; 256] = {
    let mut t = [BAD; 256];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut i = 0;
    while i < 64 {
        t[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    t
};

/// The sextet of `c`, or all ones for a character outside the alphabet: the
/// table's `0xff` read as `i8` and sign-extended. Shifted left by up to 18 bits and
/// combined, any invalid character leaves bit 31 set, and a valid quad never does
/// (it is 24 bits), so one test of the combined word covers all four characters.
#[inline(always)]
fn sextet(c: u8) -> u32 {
    // A table of 256 entries indexed by a u8 cannot be out of bounds.
    let t = *TABLE.get(usize::from(c)).unwrap_or(&BAD);
    i32::from(t.cast_signed()).cast_unsigned()
}

/// Bit 31 of a combined quad: some character was invalid.
const INVALID: u32 = 1 << 31;

/// The decoded length of `n` base64url characters, or `None` if no canonical
/// encoding has that length.
#[must_use]
pub(crate) const fn decoded_len(n: usize) -> Option<usize> {
    // n / 4 * 3 + 2 cannot overflow: n / 4 * 3 < n.
    let full = (n / 4).saturating_mul(3);
    match n % 4 {
        0 => Some(full),
        2 => Some(full.saturating_add(1)),
        3 => Some(full.saturating_add(2)),
        _ => None,
    }
}

/// Decodes `src` into the front of `dst` and returns the decoded bytes.
///
/// # Errors
/// [`Error::InvalidBase64`] for any character outside the base64url alphabet, an
/// impossible length, or non-zero trailing bits; [`Error::BufferTooSmall`] when
/// `dst` cannot hold the result.
// Inlined into its call sites on the host; one copy on the device (flash).
#[cfg_attr(latchkey_fast, inline(always))]
#[cfg_attr(not(latchkey_fast), inline(never))]
pub(crate) fn decode<'o>(src: &[u8], dst: &'o mut [u8]) -> Result<&'o [u8], Error> {
    decode_in::<OCTETS>(src, dst)
}

/// Whether [`decode`] takes eight characters a step before the four-character
/// loop: on 64-bit targets (`latchkey_fast`, see build.rs), where one `u64`
/// holds the six bytes they make. Elsewhere the four-character loop does all of
/// it. Tests run both.
const OCTETS: bool = cfg!(latchkey_fast);

/// [`decode`], with the eight-character step ([`octets`]) when `OCTETS`.
#[inline(always)]
fn decode_in<'o, const OCTETS: bool>(src: &[u8], dst: &'o mut [u8]) -> Result<&'o [u8], Error> {
    let len = decoded_len(src.len()).ok_or(Error::InvalidBase64)?;
    let whole = dst.get_mut(..len).ok_or(Error::BufferTooSmall)?;
    let (src, out) = if OCTETS {
        let (src, out, octets_ok) = octets(src, whole);
        if !octets_ok {
            return Err(Error::InvalidBase64);
        }
        (src, out)
    } else {
        (src, &mut *whole)
    };
    let chunks = src.chunks_exact(4);
    let tail = chunks.remainder();
    let mut bad = 0u32;
    let mut written = out.chunks_exact_mut(3);
    for (c, o) in chunks.zip(&mut written) {
        if let ([a, b, cc, d], [x, y, z]) = (c, o) {
            let (a, b, cc, d) = (sextet(*a), sextet(*b), sextet(*cc), sextet(*d));
            let n = (a << 18) | (b << 12) | (cc << 6) | d;
            bad |= n;
            *x = (n >> 16) as u8;
            *y = (n >> 8) as u8;
            *z = n as u8;
        }
    }
    let rest = written.into_remainder();
    match (tail, rest) {
        ([], []) => {}
        ([a, b], [x]) => {
            let (a, b) = (sextet(*a), sextet(*b));
            bad |= (a << 6) | b;
            if b & 0x0f != 0 {
                return Err(Error::InvalidBase64);
            }
            *x = ((a << 2) | (b >> 4)) as u8;
        }
        ([a, b, c], [x, y]) => {
            let (a, b, c) = (sextet(*a), sextet(*b), sextet(*c));
            let n = (a << 12) | (b << 6) | c;
            bad |= n;
            if c & 0x03 != 0 {
                return Err(Error::InvalidBase64);
            }
            *x = (n >> 10) as u8;
            *y = (n >> 2) as u8;
        }
        _ => return Err(Error::InvalidBase64),
    }
    if bad & INVALID != 0 {
        return Err(Error::InvalidBase64);
    }
    Ok(whole)
}

/// Decodes eight characters a step into six bytes (one word built, one copy
/// out) while at least eight remain; returns the characters and output left for
/// the four-character loop, and whether all characters so far were valid.
/// Sign-extended sextets work as in the quad loop: an invalid one leaves bit 63
/// set, which a valid 48-bit octet never has.
#[inline(always)]
fn octets<'s, 'o>(src: &'s [u8], out: &'o mut [u8]) -> (&'s [u8], &'o mut [u8], bool) {
    let chunks = src.chunks_exact(8);
    let rest = chunks.remainder();
    let mut bad = 0u64;
    let mut written = out.chunks_exact_mut(6);
    for (c, o) in chunks.zip(&mut written) {
        let [a, b, cc, d, e, f, g, h] = c else {
            continue;
        };
        let s = |ch: &u8| i64::from(sextet(*ch).cast_signed()).cast_unsigned();
        // Independent shifts, so the eight lookups do not wait on each other.
        let n = ((s(a) << 42) | (s(b) << 36) | (s(cc) << 30) | (s(d) << 24))
            | ((s(e) << 18) | (s(f) << 12) | (s(g) << 6) | s(h));
        // A valid octet is below 2^48; an invalid sextet is all ones, sign-extended
        // to 64 bits, so its term has bit 63 set (every shift is below 64).
        bad |= n;
        if let Some(bytes) = n.to_be_bytes().get(2..) {
            o.copy_from_slice(bytes);
        }
    }
    (rest, written.into_remainder(), bad >> 63 == 0)
}

/// Encodes `src` into the front of `dst`, returning the written text.
///
/// # Errors
/// [`Error::BufferTooSmall`] when `dst` cannot hold the encoding.
pub(crate) fn encode<'o>(src: &[u8], dst: &'o mut [u8]) -> Result<&'o str, Error> {
    Base64UrlUnpadded::encode(src, dst).map_err(|_| Error::BufferTooSmall)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec;
    use std::vec::Vec;

    use proptest::prelude::*;

    use super::*;

    type Decode = for<'o> fn(&[u8], &'o mut [u8]) -> Result<&'o [u8], Error>;

    /// Both forms of the decoder: with the eight-character step (64-bit
    /// targets) and the four-character loop alone (the device).
    const DECODERS: [(&str, Decode); 2] =
        [("octets", decode_in::<true>), ("quads", decode_in::<false>)];

    fn dec(decode: Decode, s: &str) -> Result<([u8; 64], usize), Error> {
        let mut buf = [0u8; 64];
        let n = decode(s.as_bytes(), &mut buf)?.len();
        Ok((buf, n))
    }

    #[test]
    fn rfc4648_vectors() {
        let cases: [(&str, &[u8]); 7] = [
            ("", b""),
            ("Zg", b"f"),
            ("Zm8", b"fo"),
            ("Zm9v", b"foo"),
            ("Zm9vYg", b"foob"),
            ("Zm9vYmE", b"fooba"),
            ("Zm9vYmFy", b"foobar"),
        ];
        for (enc, raw) in cases {
            for (form, decode) in DECODERS {
                let (buf, n) = dec(decode, enc).unwrap();
                assert_eq!(&buf[..n], raw, "{form} {enc}");
            }
            let mut out = [0u8; 16];
            assert_eq!(encode(raw, &mut out).unwrap(), enc);
        }
    }

    #[test]
    fn rejects_non_canonical_and_foreign_characters() {
        for (form, decode) in DECODERS {
            for bad in [
                "Zh",
                "Zm9",
                "Zm9vYh",
                "Z",
                "Zm9vY",
                "Zg==",
                "Zg=",
                "Zm9v Yg",
                "Zm+v",
                "Zm/v",
                "Zm9\n",
                "Zm9\u{e9}",
                "Zm9vYmFy+m9vYmFy",
            ] {
                assert_eq!(
                    dec(decode, bad).unwrap_err(),
                    Error::InvalidBase64,
                    "{form} {bad:?}"
                );
            }
            assert_eq!(dec(decode, "Zm8").unwrap().1, 2, "{form}");
        }
    }

    /// Canonical texts of every length up to 36 characters (the eight-character
    /// and four-character loops and both tails), from base64ct.
    fn canonical_texts() -> impl Iterator<Item = ([u8; 64], usize)> {
        (0..=27usize).map(|n| {
            let raw: [u8; 27] = core::array::from_fn(|i| (i as u8).wrapping_mul(37) ^ 0xa5);
            let mut text = [0u8; 64];
            let len = Base64UrlUnpadded::encode(&raw[..n], &mut text)
                .unwrap()
                .len();
            // The valid text decodes to what was encoded.
            for (form, decode) in DECODERS {
                let mut buf = [0u8; 64];
                assert_eq!(decode(&text[..len], &mut buf).unwrap(), &raw[..n], "{form}");
            }
            (text, len)
        })
    }

    const FOREIGN: [u8; 8] = [b'.', b'=', b'+', b'/', b' ', 0x80, 0xff, 0];

    /// A foreign character anywhere in a canonical text (every position of the
    /// eight- and four-character loops and of the tails) is refused.
    #[test]
    fn a_foreign_character_at_any_position_is_refused() {
        let mut buf = [0u8; 64];
        for (text, len) in canonical_texts() {
            for at in 0..len {
                for foreign in FOREIGN {
                    let mut bad = text;
                    bad[at] = foreign;
                    for (form, decode) in DECODERS {
                        assert_eq!(
                            decode(&bad[..len], &mut buf).err(),
                            Some(Error::InvalidBase64),
                            "{form}: {foreign:#x} at {at} of {len}"
                        );
                    }
                }
            }
        }
    }

    /// Two foreign characters are refused wherever they are: their all-ones
    /// sextets must not cancel out when a group's sextets are combined.
    #[test]
    fn two_foreign_characters_are_refused() {
        let mut buf = [0u8; 64];
        for (text, len) in canonical_texts() {
            for i in 0..len {
                for j in i + 1..len {
                    for (x, y) in [(b'.', b'.'), (0xff, b'='), (0x80, 0)] {
                        let mut bad = text;
                        bad[i] = x;
                        bad[j] = y;
                        for (form, decode) in DECODERS {
                            assert_eq!(
                                decode(&bad[..len], &mut buf).err(),
                                Some(Error::InvalidBase64),
                                "{form}: {x:#x} at {i} and {y:#x} at {j} of {len}"
                            );
                        }
                    }
                }
            }
        }
    }

    /// Zero bytes (all-`A` text) are written, not left as the buffer held them.
    #[test]
    fn zeros_are_written() {
        for n in 0..=24 {
            let text = [b'A'; 32];
            let len = n * 4 / 3 + usize::from(n % 3 != 0);
            for (form, decode) in DECODERS {
                let mut buf = [0xff; 24];
                assert_eq!(
                    decode(&text[..len], &mut buf),
                    Ok(&[0u8; 24][..n]),
                    "{form} {n}"
                );
            }
        }
    }

    #[test]
    fn small_buffer_is_an_error_not_a_panic() {
        for (form, decode) in DECODERS {
            let mut buf = [0u8; 2];
            assert_eq!(
                decode(b"Zm9v", &mut buf),
                Err(Error::BufferTooSmall),
                "{form}"
            );
        }
    }

    /// Characters at the edges of the alphabet and just outside it, and the
    /// last characters of both tails with stray bits set.
    const EDGES: [u8; 16] = [
        b'A', b'Z', b'a', b'z', b'0', b'9', b'-', b'_', b'@', b'[', b'`', b'{', b'/', b'=', 0x80,
        0xff,
    ];

    /// Texts of up to 48 characters (six eight-character steps), mostly from the
    /// alphabet.
    fn text() -> impl Strategy<Value = Vec<u8>> {
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let c = prop_oneof![
            8 => prop::sample::select(&alphabet[..]),
            1 => prop::sample::select(&EDGES[..]),
            1 => any::<u8>(),
        ];
        prop::collection::vec(c, 0..=48)
    }

    proptest! {
        /// The eight-character step changes nothing: both forms give the same
        /// bytes or the same error, for any text and any room in `dst`.
        #[test]
        fn octets_agree_with_quads(text in text(), short in 0usize..3) {
            let room = decoded_len(text.len()).unwrap_or(text.len()).saturating_sub(short);
            // Not zeros: a step that skipped writing zeros would pass unseen.
            let (mut a, mut b) = (vec![0xa5u8; room], vec![0xa5u8; room]);
            let wide = decode_in::<true>(&text, &mut a).map(<[u8]>::to_vec);
            let narrow = decode_in::<false>(&text, &mut b).map(<[u8]>::to_vec);
            prop_assert_eq!(wide, narrow);
        }

        /// Both forms decode what base64ct encodes, at every length.
        #[test]
        fn both_forms_decode_base64ct(raw in prop::collection::vec(any::<u8>(), 0..=40)) {
            let text = Base64UrlUnpadded::encode_string(&raw);
            for (form, decode) in DECODERS {
                let mut buf = [0u8; 40];
                prop_assert_eq!(decode(text.as_bytes(), &mut buf), Ok(&raw[..]), "{}", form);
            }
        }
    }
}
