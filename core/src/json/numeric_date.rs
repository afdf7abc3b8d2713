//! NumericDate (RFC 7519 section 2): a JSON number read as whole seconds since
//! the Unix epoch.

use super::value::Value;

impl Value<'_> {
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

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;

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
}
