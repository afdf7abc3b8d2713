//! Strict RFC 8259 JSON validation, iterative (no recursion) and allocation-free,
//! and the zero-copy views it hands out: [`JsonStr`], [`Value`] and the top-level
//! member table of an object.
//!
//! The validator rejects invalid UTF-8, raw control characters in strings, bad
//! escapes and lone surrogates, non-RFC numbers, trailing data, nesting deeper
//! than the caller's bound, and duplicate member names in the top-level object
//! (escape-aware: `"\u0073ub"` and `"sub"` are the same name).
//!
//! `parse` is the validator, `object` the member table it fills, `string` and
//! `utf8` read string text, `value` the values, `numeric_date` the dates.

mod numeric_date;
mod object;
mod parse;
mod string;
mod utf8;
mod value;

pub use object::MAX_MEMBERS;
#[cfg(test)]
pub(crate) use object::name_key;
pub(crate) use object::{Object, key_of};
pub use parse::MAX_DEPTH_LIMIT;
pub(crate) use parse::{parse_into, parse_object};
pub use string::{Chars, JsonStr};
pub(crate) use value::optional_str;
pub use value::{Elements, Value};

/// What the submodules' tests share.
#[cfg(test)]
mod testing {
    use super::{Object, parse_object};
    use crate::Error;

    pub(super) fn ok(s: &str) -> Object<'_> {
        parse_object(s.as_bytes(), 16).unwrap_or_else(|e| panic!("{s:?}: {e:?}"))
    }

    pub(super) fn err(s: &str) -> Error {
        parse_object(s.as_bytes(), 16).expect_err(s)
    }
}
