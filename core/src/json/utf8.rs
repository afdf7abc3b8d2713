//! UTF-8 by hand: one decoder for the validator's check and the string readers,
//! and the encoder for escaped characters, so that `core::str::from_utf8` and its
//! 256-byte table are linked only when a caller asks for a `&str`.

use core::str;

/// The UTF-8 of `c`, written into `buf`.
pub(super) fn encode_utf8(c: char, buf: &mut [u8; 4]) -> &[u8] {
    let c = u32::from(c);
    // Length, and the lead byte's marker bits.
    let (len, lead) = match c {
        0..0x80 => (1, 0x00),
        0x80..0x800 => (2, 0xc0),
        0x800..0x1_0000 => (3, 0xe0),
        _ => (4, 0xf0),
    };
    let mut v = c;
    for i in (1..len).rev() {
        if let Some(b) = buf.get_mut(i) {
            *b = 0x80 | (v & 0x3f) as u8;
        }
        v >>= 6;
    }
    buf[0] = lead | v as u8;
    buf.get(..len).unwrap_or(&[])
}

/// The character `b` starts with and its length in bytes, when `b` starts with
/// valid UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above
/// U+10FFFF. The one UTF-8 decoder: the validator's check and [`Chars`](super::Chars) use it.
#[inline(never)]
pub(super) fn utf8_char(b: &[u8]) -> Option<(char, usize)> {
    let (&lead, rest) = b.split_first()?;
    // Continuation bytes, and the smallest value that needs them.
    let (n, min) = match lead {
        0x00..=0x7f => return Some((char::from(lead), 1)),
        0xc2..=0xdf => (1, 0x80),
        0xe0..=0xef => (2, 0x800),
        0xf0..=0xf4 => (3, 0x1_0000),
        _ => return None,
    };
    // The lead's value bits (the bit above them is 0 in every range above).
    let mut c = u32::from(lead) & (0x7f >> n);
    for &t in rest.get(..n)? {
        if t & 0xc0 != 0x80 {
            return None;
        }
        c = (c << 6) | u32::from(t & 0x3f);
    }
    if c < min {
        return None;
    }
    Some((char::from_u32(c)?, n.saturating_add(1)))
}

/// Whether `b` is valid UTF-8: the validator's own check (`str::from_utf8` and
/// its 256-byte table would be the only users of them on a device).
#[inline(never)]
pub(super) fn is_utf8(mut b: &[u8]) -> bool {
    while !b.is_empty() {
        let Some((_, n)) = utf8_char(b) else {
            return false;
        };
        b = b.get(n..).unwrap_or(&[]);
    }
    true
}

/// Validated JSON text as `&str`. The parser checked every string as UTF-8, and
/// outside strings a valid text is ASCII, so this never takes the `Err` arm.
pub(super) fn utf8(b: &[u8]) -> &str {
    str::from_utf8(b).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;

    #[test]
    fn is_utf8_agrees_with_core_str() {
        // Every 1- and 2-byte text, every 3-byte text with a multi-byte lead, and
        // 4-byte texts around every boundary of the second to fourth bytes.
        for a in 0..=255u8 {
            assert_eq!(is_utf8(&[a]), str::from_utf8(&[a]).is_ok(), "{a:02x}");
            for b in 0..=255u8 {
                let t = [a, b];
                assert_eq!(is_utf8(&t), str::from_utf8(&t).is_ok(), "{t:02x?}");
                if a < 0xc0 {
                    continue;
                }
                for c in 0..=255u8 {
                    let t = [a, b, c];
                    assert_eq!(is_utf8(&t), str::from_utf8(&t).is_ok(), "{t:02x?}");
                }
            }
        }
        let edges = [0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xff];
        for a in 0xf0..=0xff {
            for b in edges {
                for c in edges {
                    for d in edges {
                        let t = [a, b, c, d];
                        assert_eq!(is_utf8(&t), str::from_utf8(&t).is_ok(), "{t:02x?}");
                    }
                }
            }
        }
        assert!(is_utf8("a\u{e9}\u{20ac}\u{1d11e}\u{10ffff}".as_bytes()));
        assert!(!is_utf8(b"abc\xc3"));
    }
}
