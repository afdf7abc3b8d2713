//! JSON strings: [`JsonStr`], the raw text between the quotes, and what reads
//! it: escape sequences (`unescape`, the one reader of them), the decoded bytes
//! and characters, and the comparisons built on them.

use core::str;

use super::utf8::{encode_utf8, utf8, utf8_char};
use crate::Error;

/// The character a string escape stands for and how many bytes it takes, `esc`
/// starting just after the backslash; `None` for anything RFC 8259 does not
/// allow: an unknown escape, a missing or non-hex digit, or a UTF-16 surrogate
/// that is not half of a high-low pair. The one reading of escapes, shared by
/// the validator and the decoders.
pub(super) fn unescape(esc: &[u8]) -> Option<(char, usize)> {
    let (&first, rest) = esc.split_first()?;
    let c = match first {
        b'"' | b'\\' | b'/' => char::from(first),
        b'b' => '\u{8}',
        b'f' => '\u{c}',
        b'n' => '\n',
        b'r' => '\r',
        b't' => '\t',
        b'u' => {
            let hi = hex4(rest)?;
            if !(0xD800..0xDC00).contains(&hi) {
                // `from_u32` refuses a lone low surrogate (0xDC00-0xDFFF).
                return Some((char::from_u32(hi)?, 5));
            }
            let Some([b'\\', b'u', low @ ..]) = rest.get(4..) else {
                return None;
            };
            let lo = hex4(low)?;
            if !(0xDC00..0xE000).contains(&lo) {
                return None;
            }
            let c = 0x10000u32
                .wrapping_add(hi.wrapping_sub(0xD800) << 10)
                .wrapping_add(lo.wrapping_sub(0xDC00));
            return Some((char::from_u32(c)?, 11));
        }
        _ => return None,
    };
    Some((c, 1))
}

/// The value of four hex digits at the start of `b`.
fn hex4(b: &[u8]) -> Option<u32> {
    let mut v = 0u32;
    for &c in b.get(..4)? {
        v = (v << 4) | char::from(c).to_digit(16)?;
    }
    Some(v)
}

/// A JSON string from a verified token, as written (escapes intact), borrowed
/// from the caller's scratch buffer. Compare it with [`JsonStr::eq_str`], which
/// understands escapes, or decode it with [`JsonStr::decode_into`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct JsonStr<'a> {
    /// Valid JSON string content, and so valid UTF-8 (the parser checked it).
    pub(super) raw: &'a [u8],
}

impl core::fmt::Debug for JsonStr<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("JsonStr").field(&self.raw()).finish()
    }
}

impl<'a> JsonStr<'a> {
    /// A string whose raw text (between the quotes) is `raw`, which the caller
    /// has checked is valid JSON string content.
    #[cfg(test)]
    pub(crate) fn from_raw(raw: &'a [u8]) -> Self {
        JsonStr { raw }
    }

    /// The string as written between the quotes, escapes intact.
    #[must_use]
    pub fn raw(self) -> &'a str {
        utf8(self.raw)
    }

    /// [`JsonStr::raw`] as bytes: no `&str` made, so no UTF-8 check is linked
    /// (a replay cache keyed by `jti` needs no more).
    #[must_use]
    pub fn raw_bytes(self) -> &'a [u8] {
        self.raw
    }

    /// The string itself when it has no escapes (the common case); `None` when it
    /// has, in which case use [`JsonStr::decode_into`].
    #[must_use]
    pub fn as_str(self) -> Option<&'a str> {
        self.plain().map(utf8)
    }

    /// The decoded characters.
    #[must_use]
    pub fn chars(self) -> Chars<'a> {
        Chars { rest: self.raw }
    }

    /// Whether the decoded string equals `s`.
    #[must_use]
    pub fn eq_str(self, s: &str) -> bool {
        self.bytes().eq(s.bytes())
    }

    /// Whether two strings decode to the same characters.
    pub(super) fn same_text(self, other: JsonStr<'_>) -> bool {
        self.bytes().eq(other.bytes())
    }

    /// Decodes the string into `buf` and returns it.
    ///
    /// # Errors
    /// [`Error::BufferTooSmall`] when `buf` cannot hold the decoded string.
    pub fn decode_into(self, buf: &mut [u8]) -> Result<&str, Error> {
        let out = self.decode_bytes(buf)?;
        str::from_utf8(out).map_err(|_| Error::InvalidUtf8)
    }

    /// [`JsonStr::decode_into`] as bytes (valid UTF-8, not checked again).
    ///
    /// # Errors
    /// [`Error::BufferTooSmall`] when `buf` cannot hold the decoded string.
    #[inline(never)]
    pub(crate) fn decode_bytes(self, buf: &mut [u8]) -> Result<&[u8], Error> {
        let mut n = 0usize;
        for b in self.bytes() {
            *buf.get_mut(n).ok_or(Error::BufferTooSmall)? = b;
            n = n.saturating_add(1);
        }
        buf.get(..n).ok_or(Error::BufferTooSmall)
    }

    /// The decoded string's UTF-8, a byte at a time: what the comparisons and
    /// the decoders read.
    fn bytes(self) -> Bytes<'a> {
        Bytes {
            raw: self.raw,
            pending: [0; 4],
            at: 0,
            len: 0,
        }
    }

    /// The raw text when it has no escapes (then it is the decoded string).
    pub(crate) fn plain(self) -> Option<&'a [u8]> {
        (!crate::scan::contains(self.raw, b'\\')).then_some(self.raw)
    }
}

/// The UTF-8 bytes of a decoded string, from its raw text: a byte outside an
/// escape is its own decoding (the parser checked the text), and an escape's
/// character is encoded and handed out byte by byte.
struct Bytes<'a> {
    raw: &'a [u8],
    /// The encoded escape, handed out from `at` up to `len`.
    pending: [u8; 4],
    at: u8,
    len: u8,
}

impl Iterator for Bytes<'_> {
    type Item = u8;

    // Out of line: at opt-level 3 each comparison would carry its own unrolled
    // copy (escaped strings are rare).
    #[inline(never)]
    fn next(&mut self) -> Option<u8> {
        if self.at < self.len {
            let b = self.pending.get(usize::from(self.at)).copied();
            self.at = self.at.saturating_add(1);
            return b;
        }
        let (&first, rest) = self.raw.split_first()?;
        if first != b'\\' {
            self.raw = rest;
            return Some(first);
        }
        // The parser refused bad escapes, so this never ends the string early.
        let (c, n) = unescape(rest)?;
        self.raw = rest.get(n..).unwrap_or(&[]);
        // 1 to 4 bytes: the cast is exact.
        self.len = encode_utf8(c, &mut self.pending).len() as u8;
        self.at = 1;
        self.pending.first().copied()
    }
}

/// The first character of raw string text and the raw bytes it took: an escape
/// decoded, any other character as written. `None` for empty text, a bad escape
/// or invalid UTF-8 (the parser refused both, so never for its strings).
#[inline(never)]
fn first_char(raw: &[u8]) -> Option<(char, usize)> {
    match raw.split_first()? {
        (b'\\', rest) => {
            let (c, n) = unescape(rest)?;
            Some((c, n.saturating_add(1)))
        }
        _ => utf8_char(raw),
    }
}

/// The decoded characters of a [`JsonStr`].
#[derive(Clone, Debug)]
pub struct Chars<'a> {
    /// Raw string text (escapes intact) not yet read.
    rest: &'a [u8],
}

impl Iterator for Chars<'_> {
    type Item = char;

    // One copy for `eq_str`, `decode_into` and callers (flash; escapes are rare).
    #[inline(never)]
    fn next(&mut self) -> Option<char> {
        let (c, n) = first_char(self.rest)?;
        self.rest = self.rest.get(n..)?;
        Some(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse::parse_object;
    use crate::json::testing::ok;
    use crate::json::value::Value;
    extern crate std;
    use std::format;
    use std::string::String;

    #[test]
    fn json_str_views() {
        extern crate std;
        let plain = JsonStr::from_raw(b"a b");
        assert_eq!(plain.as_str(), Some("a b"));
        assert_eq!(std::format!("{plain:?}"), r#"JsonStr("a b")"#);
        let escaped = JsonStr::from_raw(br"a\u0020b");
        assert_eq!(escaped.as_str(), None);
        assert_eq!(escaped.raw(), r"a\u0020b");
        assert!(escaped.eq_str("a b") && plain.eq_str("a b"));
        let null = Value { raw: b"null" };
        assert!(null.is_null());
        assert_eq!(std::format!("{null:?}"), r#"Value("null")"#);
        for raw in [&b"0"[..], b"false", b"\"null\"", b"[]"] {
            assert!(!Value { raw }.is_null());
        }
    }

    /// Every escape the validator accepts decodes to what serde_json decodes it
    /// to (through `decode_into`, `chars` and `eq_str`), and it accepts exactly the
    /// escapes serde_json accepts.
    #[test]
    fn escapes_agree_with_serde_json() {
        let snippets = [
            r#"\""#,
            r"\\",
            r"\/",
            r"\b",
            r"\f",
            r"\n",
            r"\r",
            r"\t",
            r"\u0000",
            r"\u001f",
            r"\u0041",
            r"\u00e9",
            r"\u00E9",
            r"\uFFFF",
            r"\uD7FF",
            r"\uE000",
            r"\uD83D\uDE00",
            r"\ud83d\ude00",
            r"\uD800\uDC00",
            r"\uDBFF\uDFFF",
            r"x\u0041y\n",
            r"\u0041\u0042",
            // refused
            r"\uD83D",
            r"\uDE00",
            r"\uD83Dx",
            r"\uD83D\u0041",
            r"\uD83D\uD83D",
            r"\uD83D\n",
            r"\uD83D\u",
            r"\uD83D\uDE0",
            r"\u12",
            r"\u12G4",
            r"\u",
            r"\x",
            r"\U0041",
            r"\a",
            r"\0",
            r"\ ",
            r"\",
        ];
        let mut accepted = 0;
        for snippet in snippets {
            let text = format!(r#"{{"s":"{snippet}"}}"#);
            let want = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v.get("s").and_then(|s| s.as_str().map(String::from)));
            match (parse_object(text.as_bytes(), 8), want) {
                (Ok(o), Some(want)) => {
                    let s = o.get("s").unwrap().as_str().unwrap();
                    let mut buf = [0u8; 16];
                    assert_eq!(s.decode_into(&mut buf).unwrap(), want, "{snippet}");
                    assert_eq!(s.chars().collect::<String>(), want, "{snippet}");
                    assert!(s.eq_str(&want), "{snippet}");
                    accepted += 1;
                }
                (Err(e), None) => assert_eq!(e, Error::InvalidJson, "{snippet}"),
                (got, want) => panic!("{snippet}: ours {:?}, serde_json {want:?}", got.err()),
            }
        }
        assert_eq!(accepted, 22);
    }

    #[test]
    fn utf8_encodes_and_decodes_as_char_does() {
        for c in (0..=0x10_ffff).filter_map(char::from_u32) {
            let mut want = [0u8; 4];
            let want = c.encode_utf8(&mut want).as_bytes();
            assert_eq!(encode_utf8(c, &mut [0u8; 4]), want, "{c:?}");
            // Written raw (not `"` or `\\`), a character reads back as itself.
            if c != '"' && c != '\\' {
                assert_eq!(first_char(want), Some((c, want.len())), "{c:?}");
            }
        }
    }

    #[test]
    fn escaped_and_literal_characters_compare_equal() {
        // The same characters written raw and as escapes, in every mix.
        let pairs: [(&str, &str); 6] = [
            ("\u{e9}", r"\u00e9"),
            ("\u{e9}", r"\u00E9"),
            ("\u{20ac}x", r"\u20acx"),
            ("\u{1f600}", r"\ud83d\ude00"),
            ("a\u{e9}\u{1f600}b", r"a\u00e9\ud83d\ude00b"),
            ("sub", r"\u0073ub"),
        ];
        for (literal, escaped) in pairs {
            let lit = JsonStr::from_raw(literal.as_bytes());
            let esc = JsonStr::from_raw(escaped.as_bytes());
            assert!(
                lit.chars().eq(esc.chars()) && esc.chars().eq(lit.chars()),
                "{literal:?} {escaped:?}"
            );
            // The duplicate check's comparison, on decoded bytes.
            assert!(lit.same_text(esc) && esc.same_text(lit), "{escaped:?}");
            assert!(esc.eq_str(literal) && lit.eq_str(literal), "{escaped:?}");
            assert!(esc.chars().eq(literal.chars()), "{escaped:?}");
            let mut buf = [0u8; 16];
            assert_eq!(esc.decode_bytes(&mut buf).unwrap(), literal.as_bytes());
        }
        // Differences anywhere: a character, a missing or extra one at the end.
        let differ: [(&str, &str); 6] = [
            ("\u{e8}", r"\u00e9"),
            ("\u{e9}", r"\u00e9x"),
            ("\u{e9}x", r"\u00e9"),
            ("\u{1f601}", r"\ud83d\ude00"),
            ("", r"\u0000"),
            ("a", r"\u0062"),
        ];
        for (literal, escaped) in differ {
            let lit = JsonStr::from_raw(literal.as_bytes());
            let esc = JsonStr::from_raw(escaped.as_bytes());
            assert!(
                !lit.chars().eq(esc.chars()) && !esc.chars().eq(lit.chars()),
                "{literal:?} {escaped:?}"
            );
            assert!(!lit.same_text(esc) && !esc.same_text(lit), "{escaped:?}");
            assert!(!esc.eq_str(literal), "{escaped:?}");
        }
        // A duplicate spelled with a raw non-ASCII name and an escaped one.
        assert_eq!(
            parse_object("{\"\u{e9}t\u{e9}\":1,\"\\u00e9t\\u00e9\":2}".as_bytes(), 4).unwrap_err(),
            Error::DuplicateMember
        );
        assert!(parse_object("{\"\u{e9}t\u{e9}\":1,\"\\u00e9t\\u00e8\":2}".as_bytes(), 4).is_ok());
    }

    #[test]
    fn strings_decode_with_escapes_and_surrogates() {
        let o = ok(r#"{"s":"a\n\u00e9\ud83d\ude00\/\\\""}"#);
        let s = o.get("s").unwrap().as_str().unwrap();
        assert!(s.as_str().is_none());
        let mut buf = [0u8; 32];
        assert_eq!(s.decode_into(&mut buf).unwrap(), "a\n\u{e9}\u{1f600}/\\\"");
        assert!(s.eq_str("a\n\u{e9}\u{1f600}/\\\""));
        assert!(!s.eq_str("a"));
        assert_eq!(s.decode_into(&mut [0u8; 3]), Err(Error::BufferTooSmall));
    }
}
