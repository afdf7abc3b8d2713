//! The validator: strict RFC 8259, iterative (no recursion), nesting bounded
//! before anything deeper is read; it records the top-level members of one
//! object in an [`Object`].

use super::object::{MAX_TEXT_LEN, Object, Seen};
use super::string::unescape;
use super::utf8::is_utf8;
use crate::Error;

/// The deepest nesting the validator can track (one bit per level).
pub const MAX_DEPTH_LIMIT: u8 = 64;

/// A string's span between its quotes, and whether it has escapes.
#[derive(Clone, Copy, Default)]
pub(super) struct Span {
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) escaped: bool,
}

pub(super) struct Parser<'a> {
    pub(super) b: &'a [u8],
    pub(super) pos: usize,
}

impl Parser<'_> {
    #[inline(always)]
    pub(super) fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    #[inline(always)]
    pub(super) fn bump(&mut self) {
        self.pos = self.pos.saturating_add(1);
    }

    #[cfg_attr(latchkey_fast, inline(always))]
    #[cfg_attr(not(latchkey_fast), inline(never))]
    pub(super) fn ws(&mut self) {
        // Tokens rarely hold whitespace: one test for anything above a space.
        while let Some(c) = self.peek()
            && c <= b' '
            && matches!(c, b' ' | b'\t' | b'\n' | b'\r')
        {
            self.bump();
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), Error> {
        if self.peek() == Some(c) {
            self.bump();
            Ok(())
        } else {
            Err(Error::InvalidJson)
        }
    }

    /// A string at the cursor; returns the span between the quotes. Inlined on
    /// the host (every string of a token passes here); one copy on the device.
    #[cfg_attr(latchkey_fast, inline(always))]
    #[cfg_attr(not(latchkey_fast), inline(never))]
    fn string(&mut self) -> Result<Span, Error> {
        self.expect(b'"')?;
        let start = self.pos;
        let mut escaped = false;
        loop {
            let rest = self.b.get(self.pos..).unwrap_or(&[]);
            self.pos = self.pos.saturating_add(crate::scan::string_end(rest));
            match self.peek().ok_or(Error::InvalidJson)? {
                b'"' => {
                    let end = self.pos;
                    self.bump();
                    return Ok(Span {
                        start,
                        end,
                        escaped,
                    });
                }
                b'\\' => {
                    self.bump();
                    self.escape()?;
                    escaped = true;
                }
                0x80.. => self.non_ascii()?,
                _ => return Err(Error::InvalidJson),
            }
        }
    }

    /// A run of non-ASCII bytes in a string, at the cursor: valid UTF-8 or an
    /// error. Multi-byte characters are made of such bytes only, so checking each
    /// run checks the string, and strings are the only place they may be.
    #[cold]
    #[inline(never)]
    fn non_ascii(&mut self) -> Result<(), Error> {
        let rest = self.b.get(self.pos..).unwrap_or(&[]);
        let n = rest.iter().position(u8::is_ascii).unwrap_or(rest.len());
        if !is_utf8(rest.get(..n).unwrap_or(&[])) {
            return Err(Error::InvalidUtf8);
        }
        self.pos = self.pos.saturating_add(n);
        Ok(())
    }

    /// An escape sequence, the cursor just after its backslash.
    #[cold]
    #[inline(never)]
    fn escape(&mut self) -> Result<(), Error> {
        let rest = self.b.get(self.pos..).unwrap_or(&[]);
        let (_, n) = unescape(rest).ok_or(Error::InvalidJson)?;
        self.pos = self.pos.saturating_add(n);
        Ok(())
    }

    fn digits(&mut self) -> usize {
        // Counted on a local slice, so the cursor is stored once, not per digit.
        let rest = self.b.get(self.pos..).unwrap_or(&[]);
        let n = rest
            .iter()
            .position(|c| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        self.pos = self.pos.saturating_add(n);
        n
    }

    #[cfg_attr(latchkey_fast, inline(always))]
    fn number(&mut self) -> Result<(), Error> {
        if self.peek() == Some(b'-') {
            self.bump();
        }
        match self.peek() {
            Some(b'0') => self.bump(),
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(Error::InvalidJson),
        }
        if self.peek() == Some(b'.') {
            self.bump();
            if self.digits() == 0 {
                return Err(Error::InvalidJson);
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.bump();
            if let Some(b'+' | b'-') = self.peek() {
                self.bump();
            }
            if self.digits() == 0 {
                return Err(Error::InvalidJson);
            }
        }
        Ok(())
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), Error> {
        let end = self.pos.saturating_add(word.len());
        // Byte by byte: `==` on slices would link `memcmp` for four bytes.
        if self.b.get(self.pos..end).is_some_and(|s| s.iter().eq(word)) {
            self.pos = end;
            Ok(())
        } else {
            Err(Error::InvalidJson)
        }
    }

    /// A member name and its colon.
    #[inline(always)]
    fn key(&mut self) -> Result<Span, Error> {
        let span = self.string()?;
        self.ws();
        self.expect(b':')?;
        Ok(span)
    }

    /// A scalar value at the cursor, or `false` if there is none (an array, an
    /// object, or not a value at all).
    #[cfg_attr(latchkey_fast, inline(always))]
    #[cfg_attr(not(latchkey_fast), inline)]
    pub(super) fn scalar(&mut self) -> Result<bool, Error> {
        match self.peek() {
            Some(b'"') => self.string().map(|_| ()),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            _ => return Ok(false),
        }
        .map(|()| true)
    }

    /// A member value of the top-level object (which is nesting level 1).
    #[inline(always)]
    fn value(&mut self, max_depth: u8) -> Result<(), Error> {
        if self.scalar()? {
            return Ok(());
        }
        match self.peek() {
            Some(b'{' | b'[') => self.nested(max_depth),
            _ => Err(Error::InvalidJson),
        }
    }

    /// An array or object at the cursor (the caller has seen `{` or `[`), inside
    /// the top-level object: walked
    /// iteratively, the kind of each open level one bit of a `u64`, nesting
    /// refused past `max_depth` levels (the top-level object counting as one).
    #[inline(never)]
    pub(super) fn nested(&mut self, max_depth: u8) -> Result<(), Error> {
        // Bit i of `stack` is set when nesting level i+2 (counted from the
        // innermost) is an object rather than an array.
        let mut stack = 0u64;
        let mut depth = 1u8;
        'open: loop {
            // The cursor is at `{` or `[`.
            let is_object = self.peek() == Some(b'{');
            if depth >= max_depth {
                return Err(Error::TooDeep);
            }
            depth = depth.saturating_add(1);
            stack = (stack << 1) | u64::from(is_object);
            self.bump();
            self.ws();
            let close = if is_object { b'}' } else { b']' };
            // An empty container is a value that has just ended.
            let mut ended = self.peek() == Some(close);
            if ended {
                self.bump();
                depth = depth.saturating_sub(1);
                stack >>= 1;
                if depth == 1 {
                    return Ok(());
                }
            }
            // One place reads member names (code size on the device).
            let mut named = is_object;
            loop {
                if named && !ended {
                    self.key()?;
                    self.ws();
                }
                if !ended && !self.scalar()? {
                    match self.peek() {
                        Some(b'{' | b'[') => continue 'open,
                        _ => return Err(Error::InvalidJson),
                    }
                }
                ended = false;
                // After a value: a separator (then the next value), or closes.
                loop {
                    self.ws();
                    let in_object = stack & 1 == 1;
                    match self.peek() {
                        Some(b',') => {
                            self.bump();
                            self.ws();
                            named = in_object;
                            break;
                        }
                        Some(close @ (b'}' | b']')) if (close == b'}') == in_object => {
                            self.bump();
                            depth = depth.saturating_sub(1);
                            stack >>= 1;
                            if depth == 1 {
                                return Ok(());
                            }
                        }
                        _ => return Err(Error::InvalidJson),
                    }
                }
            }
        }
    }
}

/// Validates `input` as one JSON object (nesting at most `max_depth` levels, the
/// object itself counting as one) and records its top-level members.
///
/// # Errors
/// [`Error::InvalidUtf8`], [`Error::NotAnObject`], [`Error::InvalidJson`],
/// [`Error::TooDeep`], [`Error::DuplicateMember`], [`Error::TooManyMembers`], or
/// [`Error::TokenTooLarge`] for input over 32 KiB.
pub(crate) fn parse_object(input: &[u8], max_depth: u8) -> Result<Object<'_>, Error> {
    let mut obj = Object::empty();
    parse_into(input, max_depth, &mut obj)?;
    Ok(obj)
}

/// [`parse_object`] into `obj` (whose members are replaced), so a caller can keep
/// the member table where it is rather than have it copied.
///
/// The top-level object, where every member is recorded, is a flat loop (member
/// after member); a nested value is walked by [`Parser::nested`] without
/// recursion.
///
/// # Errors
/// As [`parse_object`]; `obj` then holds an unspecified part of the members.
pub(crate) fn parse_into<'a>(
    input: &'a [u8],
    max_depth: u8,
    obj: &mut Object<'a>,
) -> Result<(), Error> {
    // Invalid UTF-8 is the error whatever else is wrong. Strings are checked as
    // they are read; anywhere else a non-ASCII byte fails the parse, and then the
    // whole text is looked at (only on failure, as the error's cause).
    parse_members(input, max_depth, obj).map_err(|e| {
        if is_utf8(input) {
            e
        } else {
            Error::InvalidUtf8
        }
    })
}

/// [`parse_into`], with invalid UTF-8 reported as some error, not necessarily
/// [`Error::InvalidUtf8`].
#[inline(always)]
fn parse_members<'a>(text: &'a [u8], max_depth: u8, obj: &mut Object<'a>) -> Result<(), Error> {
    if text.len() > MAX_TEXT_LEN {
        return Err(Error::TokenTooLarge);
    }
    let mut p = Parser { b: text, pos: 0 };
    p.ws();
    match p.peek() {
        Some(b'{') => p.bump(),
        Some(b'[' | b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n') => {
            return Err(Error::NotAnObject);
        }
        _ => return Err(Error::InvalidJson),
    }
    let max_depth = max_depth.clamp(1, MAX_DEPTH_LIMIT);
    obj.text = text;
    obj.members.clear();
    let mut seen = Seen::default();
    p.ws();
    if p.peek() == Some(b'}') {
        p.bump();
    } else {
        loop {
            let key = p.key()?;
            p.ws();
            let start = p.pos;
            p.value(max_depth)?;
            obj.push(&mut seen, key, (start, p.pos))?;
            p.ws();
            match p.peek() {
                Some(b',') => {
                    p.bump();
                    p.ws();
                }
                Some(b'}') => {
                    p.bump();
                    break;
                }
                _ => return Err(Error::InvalidJson),
            }
        }
    }
    p.ws();
    if p.pos == p.b.len() {
        Ok(())
    } else {
        Err(Error::InvalidJson)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::testing::{err, ok};
    extern crate std;

    #[test]
    fn valid_objects_and_members() {
        let o = ok(
            r#" { "a" : 1 , "b":[1,{"x":[]},"s"], "c":{"d":{}} ,"e":"x\"y", "f":-0.5e+3, "g":null, "h":true } "#,
        );
        assert_eq!(o.get("a").unwrap().raw(), "1");
        assert_eq!(o.get("b").unwrap().raw(), r#"[1,{"x":[]},"s"]"#);
        assert_eq!(o.get("c").unwrap().raw(), r#"{"d":{}}"#);
        assert_eq!(o.get("e").unwrap().as_str().unwrap().raw(), r#"x\"y"#);
        assert_eq!(o.get("f").unwrap().raw(), "-0.5e+3");
        assert!(o.get("g").unwrap().is_null());
        assert_eq!(o.get("h").unwrap().as_bool(), Some(true));
        assert_eq!(o.members().count(), 7);
        assert_eq!(ok("{}").members().count(), 0);
    }

    /// The longest text the member table can address is accepted; one byte more
    /// is refused as too large before anything is parsed.
    #[test]
    fn longest_text() {
        extern crate std;
        let mut text = std::string::String::from(r#"{"a":""#);
        while text.len() < MAX_TEXT_LEN - 2 {
            text.push('x');
        }
        text.push_str("\"}");
        assert_eq!(text.len(), MAX_TEXT_LEN);
        let o = ok(&text);
        assert_eq!(o.get("a").unwrap().raw().len(), MAX_TEXT_LEN - 6);
        text.insert(1, ' ');
        assert_eq!(err(&text), Error::TokenTooLarge);
    }

    #[test]
    fn rejects_what_rfc8259_rejects() {
        for s in [
            "",
            "{",
            "}",
            "{\"a\"}",
            "{\"a\":}",
            "{\"a\":1,}",
            "{,}",
            "{\"a\":01}",
            "{\"a\":1.}",
            "{\"a\":.5}",
            "{\"a\":1e}",
            "{\"a\":+1}",
            "{\"a\":tru}",
            "{\"a\":nul}",
            "{'a':1}",
            "{\"a\":\"\t\"}",
            "{\"a\":\"\\x\"}",
            "{\"a\":\"\\u12\"}",
            "{\"a\":\"\\ud800\"}",
            "{\"a\":\"\\udc00\"}",
            "{\"a\":[1,]}",
            "{\"a\":[1 2]}",
            "{\"a\":1}x",
            "{\"a\":1}{}",
            "{\"a\":NaN}",
            "{\"a\":\"x}",
            "{\"a\" 1}",
            "{\"a\":[}",
            // A nested value closed with the other kind of bracket.
            "{\"a\":[1}}",
            "{\"a\":[1}]}",
            "{\"a\":{\"b\":1]}",
            "{\"a\":{\"b\":1]}}",
            "{\"a\":[[1],{\"b\":[2}]]}",
            "{\"a\":{]}",
            // Found by the verify_signed fuzz target: a foreign byte where a
            // value starts, before a container, must not pass as one.
            "{\"d\":Y[1]]}",
            "{\"d\":Y]}",
            "{\"d\":Y{}]}",
            "{\"d\":[Y]}",
            "{\"d\":[1,Y]}",
            "{\"d\":{\"e\":Y}}",
        ] {
            assert_eq!(err(s), Error::InvalidJson, "{s:?}");
        }
        // Every byte that cannot start a value, at every place a value can start.
        for byte in 0u8..=255 {
            if matches!(
                byte,
                b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n' | b'{' | b'['
            ) || matches!(byte, b' ' | b'\t' | b'\n' | b'\r')
            {
                continue;
            }
            let c = char::from(byte);
            // `_]}` and `_}]}` also close a container the foreign byte might be
            // taken to have opened.
            for (before, after) in [
                ("{\"a\":", "}"),
                ("{\"a\":", "]}"),
                ("{\"a\":[", "]}"),
                ("{\"a\":[1,", "]]}"),
                ("{\"a\":{\"b\":", "}}"),
                ("{\"a\":{\"b\":", "]}}"),
            ] {
                let mut text = [0u8; 32];
                let n = before.len();
                text[..n].copy_from_slice(before.as_bytes());
                text[n] = byte;
                text[n + 1..n + 1 + after.len()].copy_from_slice(after.as_bytes());
                let text = &text[..n + 1 + after.len()];
                let got = parse_object(text, 16).unwrap_err();
                assert!(
                    got == Error::InvalidJson || got == Error::InvalidUtf8,
                    "{c:?} in {before}_{after}: {got:?}"
                );
            }
        }
        assert_eq!(err("[1]"), Error::NotAnObject);
        assert_eq!(err("\"x\""), Error::NotAnObject);
        assert_eq!(
            parse_object(b"{\"a\":\"\xff\"}", 16).unwrap_err(),
            Error::InvalidUtf8
        );
    }

    /// UTF-8 is checked string by string: every snippet, valid or not, at every
    /// kind of place, gives `InvalidUtf8` exactly when the text is not UTF-8, and
    /// otherwise accepts exactly what serde_json accepts.
    #[test]
    fn utf8_is_checked_wherever_it_appears() {
        extern crate std;
        use std::vec::Vec;
        let snippets: [&[u8]; 22] = [
            b"\xc3\xa9",               // é
            b"\xe2\x82\xac",           // €
            b"\xf0\x9d\x84\x9e",       // U+1D11E
            b"\xf4\x8f\xbf\xbf",       // U+10FFFF, the last
            b"\xef\xbf\xbf",           // U+FFFF
            b"a\xc3\xa9b\xe2\x82\xac", // mixed with ASCII
            b"\xc3",                   // truncated
            b"\xe2\x82",               // truncated
            b"\xf0\x9d\x84",           // truncated
            b"\x80",                   // lone continuation
            b"\xbf\xbf",               // lone continuations
            b"\xc0\x80",               // overlong NUL
            b"\xc1\xbf",               // overlong
            b"\xe0\x80\x80",           // overlong
            b"\xf0\x80\x80\x80",       // overlong
            b"\xed\xa0\x80",           // surrogate
            b"\xed\xbf\xbf",           // surrogate
            b"\xf4\x90\x80\x80",       // above U+10FFFF
            b"\xf8\x88\x80\x80\x80",   // five bytes
            b"\xff",
            b"\xc3\xa9\xff", // valid, then not
            b"\\\xc3\xa9",   // an escape of a non-ASCII character
        ];
        let places: [(&str, &str); 8] = [
            (r#"{"k":""#, r#""}"#),
            (r#"{""#, r#"":1}"#),
            (r#"{"k":["#, r#"]}"#),
            (r#"{"k":[""#, r#""]}"#),
            (r#"{"k":{""#, r#"":{"z":"a"}}}"#),
            (r#"{"a":1,"b":"xyzxyzxyz"#, r#"xyz"}"#),
            (r#"{"k":1}"#, ""),
            (r#"{"k":1,"#, r#""}"#),
        ];
        for snippet in snippets {
            for (before, after) in places {
                let text: Vec<u8> = [before.as_bytes(), snippet, after.as_bytes()].concat();
                let got = parse_object(&text, 16);
                let valid_utf8 = str::from_utf8(&text).is_ok();
                let serde_ok =
                    serde_json::from_slice::<serde_json::Value>(&text).is_ok_and(|v| v.is_object());
                match got {
                    Err(Error::InvalidUtf8) => assert!(!valid_utf8, "{text:?}"),
                    Ok(_) => assert!(valid_utf8 && serde_ok, "{text:?}"),
                    Err(e) => assert!(valid_utf8 && !serde_ok, "{text:?}: {e:?}"),
                }
                assert_eq!(got.is_err(), !valid_utf8 || !serde_ok, "{text:?}");
            }
        }
        // Invalid UTF-8 wins over any other error, wherever it is.
        for text in [
            &b"{\"a\":tru, \"\xff\"}"[..],
            b"{\"a\":1} \xff",
            b"{\"a\":1,\"a\":\"\xc3\"}",
            b"\xef\xbb\xbf{}",
        ] {
            let want = if str::from_utf8(text).is_ok() {
                Error::InvalidJson
            } else {
                Error::InvalidUtf8
            };
            assert_eq!(parse_object(text, 16).unwrap_err(), want, "{text:?}");
        }
    }

    #[test]
    fn depth_is_bounded_without_recursion() {
        let mut deep = [b'['; 30_000];
        deep[..5].copy_from_slice(b"{\"a\":");
        assert_eq!(parse_object(&deep, 16).unwrap_err(), Error::TooDeep);
        assert_eq!(parse_object(&deep, 64).unwrap_err(), Error::TooDeep);
        assert_eq!(
            parse_object(&[b'{'; 70_000], 16).unwrap_err(),
            Error::TokenTooLarge
        );
        let s = "{\"a\":[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]}"; // 16 levels
        assert!(parse_object(s.as_bytes(), 16).is_ok());
        assert_eq!(parse_object(s.as_bytes(), 15).unwrap_err(), Error::TooDeep);
    }
}
