//! Strict RFC 8259 JSON validation, iterative (no recursion) and allocation-free,
//! and the zero-copy views it hands out: [`JsonStr`], [`Value`] and the top-level
//! member table of an object.
//!
//! The validator rejects invalid UTF-8, raw control characters in strings, bad
//! escapes and lone surrogates, non-RFC numbers, trailing data, nesting deeper
//! than the caller's bound, and duplicate member names in the top-level object
//! (escape-aware: `"\u0073ub"` and `"sub"` are the same name).

use core::str;

use heapless::Vec;

use crate::Error;

/// The most top-level members a header or claims object may have.
pub const MAX_MEMBERS: usize = 32;

/// The deepest nesting the validator can track (one bit per level).
pub const MAX_DEPTH_LIMIT: u8 = 64;

#[derive(Clone, Copy, Debug)]
struct Member {
    /// The name's span; the top bit of the start is set when the name has
    /// escapes (names without, nearly all, compare as bytes). Eight bytes a
    /// member: the table is copied with the claims, and its size is the
    /// verifier's stack.
    key: (u16, u16),
    value: (u16, u16),
}

/// The top bit of [`Member::key`]'s start: the name has escapes.
const ESCAPED: u16 = 0x8000;

/// Longest JSON text the member table can address (offsets keep one bit free).
const MAX_TEXT_LEN: usize = 0x7fff;

impl Member {
    fn escaped(&self) -> bool {
        self.key.0 & ESCAPED != 0
    }
}

/// Length and first and last bytes of a name, folded into 16 bits: names that
/// differ here differ, so a name whose fingerprint the duplicate filter has not
/// seen is new, and only the others are compared with the names before them.
#[inline(always)]
const fn fingerprint(name: &[u8]) -> u16 {
    // Missing bytes read as 0.
    let (a, l) = match (name.first(), name.last()) {
        (Some(a), Some(l)) => (*a, *l),
        _ => (0, 0),
    };
    (name.len() as u16 & 0xff) | (((a ^ l.rotate_left(3)) as u16) << 8)
}

/// Bit of the duplicate filter for fingerprint `fp`.
#[inline(always)]
const fn filter_bit(fp: u16) -> u64 {
    1u64 << ((fp ^ (fp >> 8)) & 63)
}

/// What [`parse_object`] knows about the names pushed so far: a one-word Bloom
/// filter of their fingerprints, and whether any has escapes.
#[derive(Default)]
struct Seen {
    filter: u64,
    escaped: bool,
}

/// A string's span between its quotes, and whether it has escapes.
#[derive(Clone, Copy, Default)]
struct Span {
    start: usize,
    end: usize,
    escaped: bool,
}

/// A validated JSON object's top-level members, borrowed from its text.
#[derive(Clone, Debug)]
pub(crate) struct Object<'a> {
    /// Valid UTF-8 (checked string by string while parsing: outside strings a
    /// valid object is ASCII), kept as bytes so nothing converts it as a whole.
    text: &'a [u8],
    members: Vec<Member, MAX_MEMBERS>,
}

impl<'a> Object<'a> {
    /// An object without members, to be filled by [`parse_into`].
    pub(crate) const fn empty() -> Self {
        Object {
            text: &[],
            members: Vec::new(),
        }
    }

    fn slice(&self, (start, end): (u16, u16)) -> &'a [u8] {
        self.text
            .get(usize::from(start)..usize::from(end))
            .unwrap_or(&[])
    }

    /// The raw name's bytes.
    fn key_bytes(&self, m: &Member) -> &'a [u8] {
        self.slice((m.key.0 & !ESCAPED, m.key.1))
    }

    fn key(&self, m: &Member) -> JsonStr<'a> {
        JsonStr {
            raw: self.slice((m.key.0 & !ESCAPED, m.key.1)),
        }
    }

    fn is_named(&self, m: &Member, name: &str) -> bool {
        if m.escaped() {
            self.key(m).eq_str(name)
        } else {
            self.key(m).raw == name.as_bytes()
        }
    }

    /// The value of the member called `name`, if any.
    pub(crate) fn get(&self, name: &str) -> Option<Value<'a>> {
        self.members
            .iter()
            .find(|m| self.is_named(m, name))
            .map(|m| Value {
                raw: self.slice(m.value),
            })
    }

    /// The values of the members whose [`name_key`]s are `keys`, in one pass
    /// over the members (names with escapes decoded first).
    #[inline(always)]
    pub(crate) fn pick<const N: usize>(&self, keys: &[u32; N]) -> [Option<Value<'a>>; N] {
        let mut out = [None; N];
        self.pick_into(keys, &mut out);
        out
    }

    /// [`Object::pick`] into `out`. Not generic, so the device carries one copy
    /// for the header and the claims (the host inlines it).
    #[cfg_attr(latchkey_fast, inline(always))]
    fn pick_into(&self, keys: &[u32], out: &mut [Option<Value<'a>>]) {
        for m in &self.members {
            // Longer names have no key: four bytes decode every one that has.
            let mut buf = [0u8; 4];
            let name = if m.escaped() {
                match self.key(m).decode_bytes(&mut buf) {
                    Ok(name) => name,
                    Err(_) => continue,
                }
            } else {
                self.key_bytes(m)
            };
            let Some(key) = name_key(name) else {
                continue;
            };
            if let Some(v) = keys
                .iter()
                .position(|&k| k == key)
                .and_then(|i| out.get_mut(i))
            {
                *v = Some(Value {
                    raw: self.slice(m.value),
                });
            }
        }
    }

    /// Every top-level member, in document order.
    pub(crate) fn members(&self) -> impl Iterator<Item = (JsonStr<'a>, Value<'a>)> + '_ {
        self.members.iter().map(|m| {
            (
                self.key(m),
                Value {
                    raw: self.slice(m.value),
                },
            )
        })
    }

    /// Whether a member already recorded has `member`'s name (escapes decoded).
    /// Out of line: the filter in [`Object::push`] makes it rare, and at
    /// opt-level 3 LLVM would unroll the loop there.
    #[inline(never)]
    fn has(&self, member: &Member) -> bool {
        let name = self.key(member);
        self.members.iter().any(|m| self.key(m).same_text(name))
    }

    fn push(&mut self, seen: &mut Seen, key: Span, value: (usize, usize)) -> Result<(), Error> {
        // Offsets are at most the text's length, which `parse_into` has checked
        // is at most MAX_TEXT_LEN: they fit 15 bits, and the casts are exact.
        let raw = self.text.get(key.start..key.end).unwrap_or(&[]);
        let flag = if key.escaped { ESCAPED } else { 0 };
        let member = Member {
            key: (key.start as u16 | flag, key.end as u16),
            value: (value.0 as u16, value.1 as u16),
        };
        let bit = filter_bit(fingerprint(raw));
        // Without escapes on either side, equal names have equal fingerprints, so
        // a fingerprint the filter has not seen cannot be a duplicate.
        let may_repeat = key.escaped || seen.escaped || seen.filter & bit != 0;
        if may_repeat && self.has(&member) {
            return Err(Error::DuplicateMember);
        }
        self.members
            .push(member)
            .map_err(|_| Error::TooManyMembers)?;
        seen.filter |= bit;
        seen.escaped |= key.escaped;
        Ok(())
    }
}

/// A member name of three or four bytes as one number, for [`Object::pick`]; a
/// three-byte name ends in `0xff`, which UTF-8 never holds, so it differs from
/// every four-byte name. `None` for any other length.
pub(crate) const fn name_key(name: &[u8]) -> Option<u32> {
    match *name {
        [a, b, c] => Some(u32::from_le_bytes([a, b, c, 0xff])),
        [a, b, c, d] => Some(u32::from_le_bytes([a, b, c, d])),
        _ => None,
    }
}

/// [`name_key`] of a name the caller knows is three or four bytes long; for any
/// other, `u32::MAX`, which no name's key is (UTF-8 holds no 0xff), so it matches
/// nothing.
pub(crate) const fn key_of(name: &[u8]) -> u32 {
    match name_key(name) {
        Some(key) => key,
        None => u32::MAX,
    }
}

struct Parser<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    #[inline(always)]
    fn bump(&mut self) {
        self.pos = self.pos.saturating_add(1);
    }

    #[cfg_attr(latchkey_fast, inline(always))]
    #[cfg_attr(not(latchkey_fast), inline(never))]
    fn ws(&mut self) {
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
    fn scalar(&mut self) -> Result<bool, Error> {
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
    fn nested(&mut self, max_depth: u8) -> Result<(), Error> {
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

/// The character a string escape stands for and how many bytes it takes, `esc`
/// starting just after the backslash; `None` for anything RFC 8259 does not
/// allow: an unknown escape, a missing or non-hex digit, or a UTF-16 surrogate
/// that is not half of a high-low pair. The one reading of escapes, shared by
/// the validator and the decoders.
fn unescape(esc: &[u8]) -> Option<(char, usize)> {
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

/// A JSON string from a verified token, as written (escapes intact), borrowed
/// from the caller's scratch buffer. Compare it with [`JsonStr::eq_str`], which
/// understands escapes, or decode it with [`JsonStr::decode_into`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct JsonStr<'a> {
    /// Valid JSON string content, and so valid UTF-8 (the parser checked it).
    raw: &'a [u8],
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
    fn same_text(self, other: JsonStr<'_>) -> bool {
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

/// The UTF-8 of `c`, written into `buf`.
fn encode_utf8(c: char, buf: &mut [u8; 4]) -> &[u8] {
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
/// U+10FFFF. The one UTF-8 decoder: the validator's check and [`Chars`] use it.
#[inline(never)]
fn utf8_char(b: &[u8]) -> Option<(char, usize)> {
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
fn is_utf8(mut b: &[u8]) -> bool {
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
fn utf8(b: &[u8]) -> &str {
    str::from_utf8(b).unwrap_or_default()
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

/// A JSON value from a verified token, as written, borrowed from the caller's
/// scratch buffer.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Value<'a> {
    /// Valid JSON text, and so valid UTF-8 (the parser checked it).
    raw: &'a [u8],
}

impl core::fmt::Debug for Value<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("Value").field(&self.raw()).finish()
    }
}

impl<'a> Value<'a> {
    /// The value's JSON text.
    #[must_use]
    pub fn raw(self) -> &'a str {
        utf8(self.raw)
    }

    /// The string, when the value is one.
    #[must_use]
    pub fn as_str(self) -> Option<JsonStr<'a>> {
        match self.raw {
            [b'"', raw @ .., b'"'] => Some(JsonStr { raw }),
            _ => None,
        }
    }

    /// The integer, when the value is an integer that fits an `i64` (no fraction,
    /// no exponent).
    #[must_use]
    pub fn as_i64(self) -> Option<i64> {
        let (neg, digits) = match self.raw {
            [b'-', rest @ ..] => (true, rest),
            raw => (false, raw),
        };
        if digits.is_empty() {
            return None;
        }
        // Accumulated toward the sign, so `i64::MIN` fits.
        let mut v = 0i64;
        for &c in digits {
            let d = i64::from(c.wrapping_sub(b'0'));
            if !(0..=9).contains(&d) {
                return None;
            }
            v = v.checked_mul(10)?;
            v = if neg {
                v.checked_sub(d)?
            } else {
                v.checked_add(d)?
            };
        }
        Some(v)
    }

    /// The boolean, when the value is one.
    #[must_use]
    pub fn as_bool(self) -> Option<bool> {
        match self.raw {
            b"true" => Some(true),
            b"false" => Some(false),
            _ => None,
        }
    }

    /// Whether the value is `null`.
    #[must_use]
    pub fn is_null(self) -> bool {
        self.raw == b"null"
    }

    /// The elements, when the value is an array.
    #[must_use]
    pub fn as_array(self) -> Option<Elements<'a>> {
        match self.raw {
            [b'[', rest @ .., b']'] => Some(Elements { rest }),
            _ => None,
        }
    }

    /// A NumericDate (RFC 7519 section 2): any JSON number, fractions truncated
    /// toward zero, out-of-range values saturated.
    #[inline(always)]
    pub(crate) fn as_numeric_date(self) -> Option<i64> {
        // Fast path for the usual case, plain digits: 18 of them cannot overflow.
        let b = self.raw;
        if (1..=18).contains(&b.len())
            && let Some(v) = plain_digits(b)
        {
            return Some(v);
        }
        self.numeric_date_slow()
    }

    /// [`Value::as_numeric_date`] for anything but plain digits: a sign, a fraction,
    /// an exponent, or more digits than the fast path takes. One pass over the
    /// bytes of a number the validator accepted; magnitudes saturate at `i64::MAX`
    /// (either sign).
    #[inline(never)]
    fn numeric_date_slow(self) -> Option<i64> {
        let (neg, b) = match self.raw {
            [b'-', rest @ ..] => (true, rest),
            b => (false, b),
        };
        // Anything else (a string, `true`, ...) is not a number.
        if !b.first()?.is_ascii_digit() {
            return None;
        }
        let e = b.iter().position(|&c| c | 0x20 == b'e').unwrap_or(b.len());
        let (mantissa, exp) = b.split_at_checked(e)?;
        let exp = parse_exponent(exp.get(1..).unwrap_or(&[]));
        let int_len = mantissa
            .iter()
            .position(|&c| c == b'.')
            .unwrap_or(mantissa.len());
        // Digits left of the decimal point once the exponent is applied: the
        // mantissa's digits, then zeros, until the point (one loop, one multiply).
        // `int_len` is at most the text's length, which `MAX_TEXT_LEN` bounds.
        let mut left = i32::try_from(int_len)
            .unwrap_or(i32::MAX)
            .saturating_add(exp);
        let mut digits = mantissa.iter().filter(|&&c| c != b'.');
        let mut v = 0i64;
        while left > 0 && v != i64::MAX {
            let d = match digits.next() {
                Some(&c) => i64::from(c.wrapping_sub(b'0')),
                // Past the mantissa: zeros, which leave 0 as it is.
                None if v == 0 => break,
                None => 0,
            };
            v = v.saturating_mul(10).saturating_add(d);
            left = left.saturating_sub(1);
        }
        Some(if neg { v.saturating_neg() } else { v })
    }
}

/// The value of 1 to 18 ASCII digits (no sign), or `None` if any byte is not a
/// digit.
#[inline(always)]
fn plain_digits(b: &[u8]) -> Option<i64> {
    plain_digits_in::<EIGHT_DIGITS>(b)
}

/// Whether [`plain_digits`] takes eight digits a step, as one word: on 64-bit
/// targets (`latchkey_fast`, see build.rs); the device, without 64-bit words,
/// takes one digit a step. Tests run both.
const EIGHT_DIGITS: bool = cfg!(latchkey_fast);

/// [`plain_digits`], eight digits a step first ([`eight_digits`]) when
/// `EIGHT_DIGITS`, then the rest one at a time.
#[inline(always)]
fn plain_digits_in<const EIGHT_DIGITS: bool>(b: &[u8]) -> Option<i64> {
    let (b, mut v) = if EIGHT_DIGITS {
        eight_digits(b)?
    } else {
        (b, 0)
    };
    for &c in b {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v.wrapping_mul(10).wrapping_add(u64::from(d));
    }
    // At most 18 digits: below 10^18 < i64::MAX.
    i64::try_from(v).ok()
}

/// The value of the leading digits of `b` taken eight at a time, and the digits
/// left (fewer than eight); `None` if any of those eights is not all digits.
#[inline(always)]
fn eight_digits(b: &[u8]) -> Option<(&[u8], u64)> {
    const ZEROS: u64 = u64::from_ne_bytes([b'0'; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0xf0; 8]);
    const SIX: u64 = u64::from_ne_bytes([6; 8]);
    let mut v = 0u64;
    let mut chunks = b.chunks_exact(8);
    for chunk in &mut chunks {
        let w = u64::from_le_bytes(chunk.try_into().ok()?);
        // Every byte is 0x30..=0x3f, and adding 6 keeps it below 0x40.
        if w & HIGH != ZEROS || w.wrapping_add(SIX) & HIGH != ZEROS {
            return None;
        }
        // Digits (first in the low byte) to pairs, fours, then eight.
        let d = w.wrapping_sub(ZEROS);
        let d = d.wrapping_mul(10).wrapping_add(d >> 8) & 0x00ff_00ff_00ff_00ff;
        let d = d.wrapping_mul(100).wrapping_add(d >> 16) & 0x0000_ffff_0000_ffff;
        let d = d.wrapping_mul(10_000).wrapping_add(d >> 32) & 0xffff_ffff;
        v = v.wrapping_mul(100_000_000).wrapping_add(d);
    }
    Some((chunks.remainder(), v))
}

/// An exponent's value, clamped to ±10,000: past 10^4 every i64 saturates (or
/// truncates to 0) anyway. In `i32`, which the device computes in one register.
fn parse_exponent(s: &[u8]) -> i32 {
    let (neg, digits) = match s {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, s),
    };
    let mut v = 0i32;
    for &d in digits {
        // v <= 10,000 before, so v * 10 + 9 cannot overflow.
        v = v
            .wrapping_mul(10)
            .wrapping_add(i32::from(d.wrapping_sub(b'0')))
            .min(10_000);
    }
    if neg { v.wrapping_neg() } else { v }
}

/// The string in `v`, if there is a `v`: `Ok(None)` without one, `err` when it
/// holds anything but a string. How the header and the claims read their
/// string members.
pub(crate) fn optional_str(v: Option<Value<'_>>, err: Error) -> Result<Option<JsonStr<'_>>, Error> {
    v.map(|v| v.as_str().ok_or(err)).transpose()
}

/// The elements of a JSON array [`Value`].
#[derive(Clone, Debug)]
pub struct Elements<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Elements<'a> {
    type Item = Value<'a>;

    /// The next element, read by the validator's own readers: the array was
    /// validated with the text it is part of, so each element is a scalar or a
    /// nested value within the depth bound, and a separator or the end follows.
    fn next(&mut self) -> Option<Value<'a>> {
        let mut p = Parser {
            b: self.rest,
            pos: 0,
        };
        p.ws();
        if p.peek() == Some(b',') {
            p.bump();
            p.ws();
        }
        let start = p.pos;
        if !p.scalar().ok()? {
            match p.peek() {
                Some(b'{' | b'[') => p.nested(MAX_DEPTH_LIMIT).ok()?,
                _ => return None,
            }
        }
        let item = self.rest.get(start..p.pos)?;
        self.rest = self.rest.get(p.pos..)?;
        Some(Value { raw: item })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::format;
    use std::string::String;

    fn ok(s: &str) -> Object<'_> {
        parse_object(s.as_bytes(), 16).unwrap_or_else(|e| panic!("{s:?}: {e:?}"))
    }

    fn err(s: &str) -> Error {
        parse_object(s.as_bytes(), 16).expect_err(s)
    }

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
    fn as_i64_agrees_with_str_parse_on_json_values() {
        extern crate std;
        use std::string::ToString;
        let mut raws: std::vec::Vec<std::string::String> = [
            "0",
            "-0",
            "7",
            "-7",
            "10",
            "-10",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "-9223372036854775809",
            "99999999999999999999",
            "1.0",
            "1e3",
            "-1E3",
            "0.5",
            "\"1\"",
            "true",
            "null",
            "[1]",
            "{}",
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        for p in 0..19 {
            let n = 10i64.pow(p);
            for v in [n - 1, n, n + 1, -n - 1, -n, -n + 1] {
                raws.push(v.to_string());
            }
        }
        for v in [i64::MAX, i64::MAX - 1, i64::MIN, i64::MIN + 1] {
            raws.push(v.to_string());
        }
        for raw in &raws {
            let text = std::format!("{{\"n\":{raw}}}");
            let o = ok(&text);
            let v = o.get("n").unwrap();
            assert_eq!(v.as_i64(), raw.parse::<i64>().ok(), "{raw}");
        }
    }

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

    #[test]
    fn escaped_names_are_found_and_duplicates_rejected() {
        let o = ok(r#"{"\u0073ub":"x"}"#);
        assert_eq!(o.get("sub").unwrap().as_str().unwrap().raw(), "x");
        assert_eq!(err(r#"{"sub":1,"\u0073ub":2}"#), Error::DuplicateMember);
        // The escaped spelling first, or both escaped, with members between.
        for text in [
            r#"{"\u0073ub":1,"sub":2}"#,
            r#"{"\u0073ub":1,"x":0,"y":0,"sub":2}"#,
            r#"{"\u0073ub":1,"s\u0075b":2}"#,
            r#"{"x":0,"su\u0062":1,"y":0,"sub":2}"#,
        ] {
            assert_eq!(err(text), Error::DuplicateMember, "{text}");
        }
        assert_eq!(err(r#"{"a":1,"a":1}"#), Error::DuplicateMember);
        // Nested duplicates are not the header's or the claims' business.
        ok(r#"{"a":{"b":1,"c":1}}"#);
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

    #[test]
    fn too_many_members() {
        let mut s = heapless::String::<1024>::new();
        s.push('{').unwrap();
        for i in 0..=MAX_MEMBERS {
            if i > 0 {
                s.push(',').unwrap();
            }
            core::fmt::Write::write_fmt(&mut s, format_args!("\"k{i}\":{i}")).unwrap();
        }
        s.push('}').unwrap();
        assert_eq!(err(&s), Error::TooManyMembers);
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

    #[test]
    fn numeric_dates() {
        let v = |raw: &str| {
            Value {
                raw: raw.as_bytes(),
            }
            .as_numeric_date()
        };
        assert_eq!(v("1700000000"), Some(1_700_000_000));
        assert_eq!(v("1700000000.9"), Some(1_700_000_000));
        assert_eq!(v("1.7e9"), Some(1_700_000_000));
        assert_eq!(v("17E+8"), Some(1_700_000_000));
        assert_eq!(v("1e-3"), Some(0));
        assert_eq!(v("-5"), Some(-5));
        assert_eq!(v("1e400"), Some(i64::MAX));
        assert_eq!(v("99999999999999999999999"), Some(i64::MAX));
        assert_eq!(v("-1e400"), Some(-i64::MAX));
        assert_eq!(v("\"1\""), None);
        assert_eq!(v("true"), None);
        assert_eq!(v("-0.5"), Some(0));
        assert_eq!(v("-1700000000.9"), Some(-1_700_000_000));
        assert_eq!(v("12.5e1"), Some(125));
        assert_eq!(v("1.25E+1"), Some(12));
        assert_eq!(v("0.0017e6"), Some(1700));
        assert_eq!(v("170e-1"), Some(17));
        assert_eq!(v("0e999"), Some(0));
        assert_eq!(v("1e18"), Some(1_000_000_000_000_000_000));
        assert_eq!(v("1e19"), Some(i64::MAX));
        // The point moved across the saturation bound, and zeros past the digits.
        assert_eq!(v("922337203685477580.7e1"), Some(i64::MAX));
        assert_eq!(v("92233720368547758.06e2"), Some(i64::MAX - 1));
        assert_eq!(v("92233720368547758.08e2"), Some(i64::MAX));
        assert_eq!(v("0.0000000000000000001e19"), Some(1));
        assert_eq!(v("100e-2"), Some(1));
        assert_eq!(v("0.000e5"), Some(0));
        assert_eq!(v("0.5e99999999999999999999"), Some(i64::MAX));
        assert_eq!(v("5e-99999999999999999999"), Some(0));
        // Magnitudes saturate at i64::MAX on either side, so the most negative
        // i64 reads as -i64::MAX.
        assert_eq!(v("-9223372036854775807"), Some(-i64::MAX));
        assert_eq!(v("-9223372036854775808"), Some(-i64::MAX));
        assert_eq!(v("-99999999999999999999"), Some(-i64::MAX));
        // Against the decimal value truncated toward zero (f64 is exact here:
        // integers below 2^53 and fractions of at most four digits).
        extern crate std;
        for sign in ["", "-"] {
            for int in ["0", "1", "17", "170000", "123456789"] {
                for frac in ["", ".0", ".5", ".999", ".0001"] {
                    for exp in ["", "e0", "e1", "E3", "e-1", "e-3", "E+2", "e-12"] {
                        let s = std::format!("{sign}{int}{frac}{exp}");
                        let want = s.parse::<f64>().unwrap().trunc() as i64;
                        assert_eq!(v(&s), Some(want), "{s}");
                    }
                }
            }
        }
        // Around the plain-digits fast path's bounds, against `str::parse`.
        for s in [
            "0",
            "007",
            "999999999999999999",
            "1000000000000000000",
            "9223372036854775807",
            "9223372036854775808",
        ] {
            assert_eq!(v(s), Some(s.parse::<i64>().unwrap_or(i64::MAX)), "{s}");
        }
    }

    type PlainDigits = fn(&[u8]) -> Option<i64>;

    /// Both forms of the plain-digit reader: eight digits a step (64-bit
    /// targets) and one at a time (the device).
    const PLAIN_DIGITS: [(&str, PlainDigits); 2] = [
        ("eight", plain_digits_in::<true>),
        ("one", plain_digits_in::<false>),
    ];

    #[test]
    fn plain_digits_match_str_parse() {
        let digits = b"123456789012345678";
        for (form, plain_digits) in PLAIN_DIGITS {
            for len in 1..=18 {
                let s = &digits[..len];
                let want = core::str::from_utf8(s).unwrap().parse::<i64>().ok();
                assert_eq!(plain_digits(s), want, "{form} {s:?}");
                // Any one byte just outside '0'..='9' (or far outside) spoils it.
                for i in 0..len {
                    for bad in [b'/', b':', b'.', b'-', b'e', 0x30 | 0x80, 0x39 + 6, 0] {
                        let mut t = [0u8; 18];
                        t[..len].copy_from_slice(s);
                        t[i] = bad;
                        assert_eq!(plain_digits(&t[..len]), None, "{form} {:?}", &t[..len]);
                    }
                }
            }
            assert_eq!(plain_digits(b"000000000000000000"), Some(0), "{form}");
            assert_eq!(
                plain_digits(b"999999999999999999"),
                Some(999_999_999_999_999_999),
                "{form}"
            );
            assert_eq!(plain_digits(b"4000000000"), Some(4_000_000_000), "{form}");
        }
    }

    proptest::proptest! {
        /// Eight digits a step read what one digit a step reads: the same value,
        /// or `None` for the same texts (mostly digits, some bytes next to them).
        #[test]
        fn eight_digits_agree_with_one_digit_a_step(
            text in proptest::collection::vec(
                proptest::prop_oneof![
                    9 => proptest::sample::select(&b"0123456789"[..]),
                    1 => proptest::sample::select(&[b'/', b':', b'.', b'-', b'e', 0xb0, 0x3f, 0][..]),
                ],
                1..=18,
            )
        ) {
            proptest::prop_assert_eq!(plain_digits_in::<true>(&text), plain_digits_in::<false>(&text));
        }
    }

    #[test]
    fn picked_names_match_exactly() {
        let o = ok(r#"{"exp\u0000":1,"ex":2,"expx":3,"\u0065xp":4,"crit":5,"cri":6}"#);
        let [exp, crit, cri, ex] = o.pick(&[
            key_of(b"exp"),
            key_of(b"crit"),
            key_of(b"cri"),
            key_of(b"ex"),
        ]);
        assert_eq!(exp.map(Value::raw), Some("4"));
        assert_eq!(crit.map(Value::raw), Some("5"));
        assert_eq!(cri.map(Value::raw), Some("6"));
        // Only three- and four-byte names have keys; a table entry for another
        // length matches nothing, not even a four-byte name of 0xff-free bytes.
        assert_eq!(ex, None);
        assert_eq!(name_key(b"ex"), None);
        assert_eq!(name_key(b"abcde"), None);
        assert_eq!(key_of(b"ex"), u32::MAX);
        assert_ne!(name_key(&[0; 4]), Some(key_of(b"ex")));
        // A three-byte name's key differs from every four-byte name's (real names
        // are UTF-8, which never holds the 0xff that ends a three-byte key).
        for c in 0..0xff {
            assert_ne!(name_key(&[b'e', b'x', b'p', c]), name_key(b"exp"), "{c:#x}");
        }
    }

    #[test]
    fn array_elements() {
        let o = ok(r#"{"a":[ "x" , {"b":[1,2]}, "y\"," ,3 ]}"#);
        let items: heapless::Vec<&str, 8> = o
            .get("a")
            .unwrap()
            .as_array()
            .unwrap()
            .map(Value::raw)
            .collect();
        assert_eq!(&items[..], &["\"x\"", "{\"b\":[1,2]}", "\"y\\\",\"", "3"]);
        assert_eq!(
            ok(r#"{"a":[]}"#)
                .get("a")
                .unwrap()
                .as_array()
                .unwrap()
                .count(),
            0
        );
    }
}
