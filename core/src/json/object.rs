//! The member table of a validated object: each top-level member's name and
//! value as spans of the text, found by name or by a four-byte key, and a
//! duplicate name refused as the member is recorded.

use heapless::Vec;

use super::parse::Span;
use super::string::JsonStr;
use super::value::Value;
use crate::Error;

/// The most top-level members a header or claims object may have.
pub const MAX_MEMBERS: usize = 32;

#[derive(Clone, Copy, Debug)]
pub(super) struct Member {
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
pub(super) const MAX_TEXT_LEN: usize = 0x7fff;

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

/// What [`parse_object`](super::parse_object) knows about the names pushed so far: a one-word Bloom
/// filter of their fingerprints, and whether any has escapes.
#[derive(Default)]
pub(super) struct Seen {
    filter: u64,
    escaped: bool,
}

/// A validated JSON object's top-level members, borrowed from its text.
#[derive(Clone, Debug)]
pub(crate) struct Object<'a> {
    /// Valid UTF-8 (checked string by string while parsing: outside strings a
    /// valid object is ASCII), kept as bytes so nothing converts it as a whole.
    pub(super) text: &'a [u8],
    pub(super) members: Vec<Member, MAX_MEMBERS>,
}

impl<'a> Object<'a> {
    /// An object without members, to be filled by [`parse_into`](super::parse_into).
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

    // Inlinable into the validator's member loop, which sits in another file
    // (so, in a release build, another codegen unit).
    #[inline]
    pub(super) fn push(
        &mut self,
        seen: &mut Seen,
        key: Span,
        value: (usize, usize),
    ) -> Result<(), Error> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::testing::{err, ok};
    extern crate std;

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
}
