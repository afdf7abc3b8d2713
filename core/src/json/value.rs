//! [`Value`], a JSON value of a verified token as written, its typed readers,
//! and the elements of an array.

use super::parse::{MAX_DEPTH_LIMIT, Parser};
use super::string::JsonStr;
use super::utf8::utf8;
use crate::Error;

/// A JSON value from a verified token, as written, borrowed from the caller's
/// scratch buffer.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Value<'a> {
    /// Valid JSON text, and so valid UTF-8 (the parser checked it).
    pub(super) raw: &'a [u8],
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
    use crate::json::testing::ok;
    extern crate std;

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
