//! NumericDate (RFC 7519 section 2): a JSON number read as whole seconds since
//! the Unix epoch.

use super::object::MAX_TEXT_LEN;
use super::value::Value;

impl Value<'_> {
    /// A NumericDate (RFC 7519 section 2): any JSON number, fractions truncated
    /// toward zero; `None` when the value is not a number, or when truncated it
    /// does not fit an `i64` (`1e400`, `9223372036854775808`, `-1e400`): such a
    /// date is malformed, not a far future or a far past.
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
    /// bytes of a number the validator accepted.
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
        // Accumulated toward the sign, so that i64::MIN fits; a step past either
        // end is out of range, and the loop stops there (at most 20 steps past
        // the leading zeros).
        let mut v = 0i64;
        while left > 0 {
            let d = match digits.next() {
                Some(&c) => i64::from(c.wrapping_sub(b'0')),
                // Past the mantissa: zeros, which leave 0 as it is.
                None if v == 0 => break,
                None => 0,
            };
            v = v.checked_mul(10)?;
            v = if neg {
                v.checked_sub(d)?
            } else {
                v.checked_add(d)?
            };
            left = left.saturating_sub(1);
        }
        Some(v)
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

/// How far [`parse_exponent`] reads an exponent: a number's text has fewer
/// digits (`MAX_TEXT_LEN`), so past the clamp every nonzero mantissa is out of
/// range (or truncates to 0) as it is at the true exponent.
const EXP_CLAMP: i32 = 100_000;

// Beyond the clamp a nonzero digit must still move 20 places past the point
// (more than an i64 has): the text's digits, and 20 more. Checked when the
// crate is built.
const _: () = assert!(EXP_CLAMP as usize > MAX_TEXT_LEN.saturating_add(20));

/// An exponent's value, clamped to ±[`EXP_CLAMP`]. In `i32`, which the device
/// computes in one register.
fn parse_exponent(s: &[u8]) -> i32 {
    let (neg, digits) = match s {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, s),
    };
    let mut v = 0i32;
    for &d in digits {
        // v <= EXP_CLAMP before, so v * 10 + 9 cannot overflow.
        v = v
            .wrapping_mul(10)
            .wrapping_add(i32::from(d.wrapping_sub(b'0')))
            .min(EXP_CLAMP);
    }
    if neg { v.wrapping_neg() } else { v }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;

    use proptest::prelude::*;

    fn v(raw: &str) -> Option<i64> {
        Value {
            raw: raw.as_bytes(),
        }
        .as_numeric_date()
    }

    #[test]
    fn numeric_dates() {
        assert_eq!(v("1700000000"), Some(1_700_000_000));
        assert_eq!(v("1700000000.9"), Some(1_700_000_000));
        assert_eq!(v("1.7e9"), Some(1_700_000_000));
        assert_eq!(v("17E+8"), Some(1_700_000_000));
        assert_eq!(v("1e-3"), Some(0));
        assert_eq!(v("-5"), Some(-5));
        assert_eq!(v("\"1\""), None);
        assert_eq!(v("true"), None);
        assert_eq!(v("-0.5"), Some(0));
        assert_eq!(v("-0"), Some(0));
        assert_eq!(v("-1700000000.9"), Some(-1_700_000_000));
        assert_eq!(v("12.5e1"), Some(125));
        assert_eq!(v("1.25E+1"), Some(12));
        assert_eq!(v("0.0017e6"), Some(1700));
        assert_eq!(v("170e-1"), Some(17));
        assert_eq!(v("0e999"), Some(0));
        assert_eq!(v("1.5e9"), Some(1_500_000_000));
        assert_eq!(v("1e18"), Some(1_000_000_000_000_000_000));
        assert_eq!(v("0.0000000000000000001e19"), Some(1));
        assert_eq!(v("100e-2"), Some(1));
        assert_eq!(v("0.000e5"), Some(0));
        assert_eq!(v("5e-99999999999999999999"), Some(0));
        // The point moved onto the ends of the i64 range, and zeros past the
        // digits.
        assert_eq!(v("922337203685477580.7e1"), Some(i64::MAX));
        assert_eq!(v("92233720368547758.06e2"), Some(i64::MAX - 1));
        assert_eq!(v("-92233720368547758.08e2"), Some(i64::MIN));
        assert_eq!(v("9223372036854775807.9"), Some(i64::MAX));
        assert_eq!(v("-9223372036854775808.9"), Some(i64::MIN));
        assert_eq!(v("-9223372036854775807"), Some(-i64::MAX));
        assert_eq!(v("-9223372036854775808"), Some(i64::MIN));
        // Against the decimal value truncated toward zero (f64 is exact here:
        // integers below 2^53 and fractions of at most four digits).
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
            "-9223372036854775808",
            "-9223372036854775809",
        ] {
            assert_eq!(v(s), s.parse::<i64>().ok(), "{s}");
        }
    }

    /// A number whose value, truncated, does not fit an `i64` is no date at
    /// all: not the largest or smallest one.
    #[test]
    fn numbers_beyond_i64_are_no_dates() {
        for s in [
            "1e400",
            "-1e400",
            "1E+400",
            "9223372036854775808",
            "-9223372036854775809",
            "9223372036854775808.0",
            "1e19",
            "-1e19",
            "9.3e18",
            "-9.3e18",
            "92233720368547758.08e2",
            "922337203685477581e1",
            "18446744073709551615",
            "18446744073709551616",
            "-18446744073709551616",
            "99999999999999999999999",
            "-99999999999999999999",
            "0.5e99999999999999999999",
            "1e2147483648",
            "0.0000000000000000001e38",
        ] {
            assert_eq!(v(s), None, "{s}");
        }
        // The exponent's clamp is beyond any text's digits: a point moved past
        // 15,000 zeros lands where the true exponent puts it.
        let zeros = "0".repeat(15_000);
        assert_eq!(v(&std::format!("0.{zeros}1e20000")), None);
        assert_eq!(v(&std::format!("0.{zeros}1e15001")), Some(1));
        assert_eq!(v(&std::format!("1{zeros}e-20000")), Some(0));
        assert_eq!(v(&std::format!("-1{zeros}e-14999")), Some(-10));
    }

    /// The value truncated toward zero, from the decimal text alone (the point
    /// moved by the exponent, digits cut there), or `None` outside `i64`.
    fn truncated(neg: bool, int: &str, frac: &str, exp: i32) -> Option<i64> {
        let digits = std::format!("{int}{frac}");
        let point = int.len() as i64 + i64::from(exp);
        let whole = if point <= 0 {
            std::string::String::from("0")
        } else if point as usize >= digits.len() {
            std::format!("{digits}{}", "0".repeat(point as usize - digits.len()))
        } else {
            digits[..point as usize].into()
        };
        let whole = whole.trim_start_matches('0');
        if whole.len() > 20 {
            return None;
        }
        let m = if whole.is_empty() {
            0
        } else {
            whole.parse::<i128>().unwrap()
        };
        i64::try_from(if neg { -m } else { m }).ok()
    }

    /// Integer parts around the ends of the `i64` range, and random ones.
    fn int_part() -> impl Strategy<Value = std::string::String> {
        prop_oneof![
            prop::sample::select(
                &[
                    "0",
                    "1",
                    "9",
                    "922337203685477580",
                    "9223372036854775807",
                    "9223372036854775808",
                    "9223372036854775809",
                    "18446744073709551615",
                    "18446744073709551616",
                ][..]
            )
            .prop_map(std::string::String::from),
            "[1-9][0-9]{0,24}",
        ]
    }

    /// An exponent's mark, sign and digits.
    fn exponent() -> impl Strategy<Value = (&'static str, &'static str, i32)> {
        let mark = prop::sample::select(&["e", "E"][..]);
        let sign = prop::sample::select(&["", "+", "-"][..]);
        (mark, sign, 0i32..45)
    }

    proptest! {
        /// Any JSON number reads as its value truncated toward zero, or as no
        /// date when that is outside `i64`.
        #[test]
        fn numbers_read_as_their_truncated_value(
            neg in any::<bool>(),
            int in int_part(),
            frac in "[0-9]{0,6}",
            exp in prop::option::of(exponent()),
        ) {
            let mut text = std::format!("{}{int}", if neg { "-" } else { "" });
            if !frac.is_empty() {
                text = std::format!("{text}.{frac}");
            }
            let mut e = 0;
            if let Some((mark, sign, n)) = exp {
                text = std::format!("{text}{mark}{sign}{n}");
                e = if sign == "-" { -n } else { n };
            }
            prop_assert_eq!(v(&text), truncated(neg, &int, &frac, e), "{}", text);
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

    proptest! {
        /// Eight digits a step read what one digit a step reads: the same value,
        /// or `None` for the same texts (mostly digits, some bytes next to them).
        #[test]
        fn eight_digits_agree_with_one_digit_a_step(
            text in prop::collection::vec(
                prop_oneof![
                    9 => prop::sample::select(&b"0123456789"[..]),
                    1 => prop::sample::select(&[b'/', b':', b'.', b'-', b'e', 0xb0, 0x3f, 0][..]),
                ],
                1..=18,
            )
        ) {
            prop_assert_eq!(
                plain_digits_in::<true>(&text),
                plain_digits_in::<false>(&text)
            );
        }
    }
}
