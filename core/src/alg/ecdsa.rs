//! ECDSA (RFC 7518 section 3.4): `ES256` (P-256, SHA-256, feature `es256`) and
//! `ES384` (P-384, SHA-384, feature `es384`, meant for the host), verifying keys
//! checked when they are built.
//!
//! A key is the curve point of a JWK (`x`, `y`) or of a SEC1 uncompressed encoding
//! (`0x04 || x || y`, what an SPKI holds); it must be a point of the curve, each
//! coordinate reduced, and not the identity. Both curves have cofactor 1, so such a
//! point is in the prime-order group: there is no small-order check to add.
//!
//! A signature is JWS's fixed-width `r || s`, each exactly the field's width
//! (never DER), with `r` and `s` in `[1, n - 1]`. `s` above `n / 2` is accepted:
//! RFC 7518 does not ask for low `s`, and a signer that does not normalize it
//! (p256's does not) makes such a signature half of the time.
//!
//! ```
//! # #[cfg(feature = "es256")] {
//! use base64ct::{Base64UrlUnpadded, Encoding};
//! use latchkey_core::{Error, alg::ecdsa::Es256VerifyingKey};
//!
//! # fn main() -> Result<(), Error> {
//! // RFC 7515 appendix A.3: the key's JWK `x` and `y`, the signing input, the signature.
//! let b64 = |s: &str| Base64UrlUnpadded::decode_vec(s).unwrap();
//! let key = Es256VerifyingKey::from_coordinates(
//!     &b64("f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"),
//!     &b64("x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"),
//! )?;
//! let input = b"eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
//! let sig = b64("DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q");
//! key.verify(input, &sig)?;
//! assert_eq!(key.verify(b"another input", &sig), Err(Error::BadSignature));
//! # Ok(())
//! # }
//! # main().unwrap();
//! # }
//! ```

use crate::Error;

/// One verifying-key type per curve: the checks are the same, only the widths,
/// the curve and the hash differ.
macro_rules! verifying_key {
    (
        $(#[$doc:meta])*
        $name:ident, $feature:literal, $curve:ident, $field_len:literal
    ) => {
        $(#[$doc])*
        #[cfg(feature = $feature)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct $name($curve::ecdsa::VerifyingKey);

        #[cfg(feature = $feature)]
        impl $name {
            /// Width of one coordinate, and of `r` and of `s`, in bytes.
            pub const FIELD_LEN: usize = $field_len;
            /// Length of a signature: `r || s`.
            pub const SIGNATURE_LEN: usize = 2 * $field_len;
            /// Length of a SEC1 uncompressed point: `0x04 || x || y`.
            pub const SEC1_LEN: usize = 1 + 2 * $field_len;

            /// A key from its affine coordinates, big-endian, each exactly
            /// [`FIELD_LEN`](Self::FIELD_LEN) bytes (a JWK's decoded `x` and `y`:
            /// RFC 7518 section 6.2.1.2 keeps the leading zeros).
            ///
            /// # Errors
            /// [`Error::InvalidKey`] when a coordinate has the wrong length or is not
            /// below the field prime, or the point is not on the curve.
            pub fn from_coordinates(x: &[u8], y: &[u8]) -> Result<Self, Error> {
                let x = x.try_into().map_err(|_| Error::InvalidKey)?;
                let y = y.try_into().map_err(|_| Error::InvalidKey)?;
                let point = $curve::Sec1Point::from_affine_coordinates(x, y, false);
                $curve::ecdsa::VerifyingKey::from_sec1_point(&point)
                    .map(Self)
                    .map_err(|_| Error::InvalidKey)
            }

            /// A key from its SEC1 uncompressed encoding, `0x04 || x || y`
            /// ([`SEC1_LEN`](Self::SEC1_LEN) bytes; the point of an SPKI).
            ///
            /// The compressed and hybrid forms are refused: JWK and the usual SPKI
            /// carry both coordinates, and one form means one check.
            ///
            /// # Errors
            /// [`Error::InvalidKey`] when `sec1` is not [`SEC1_LEN`](Self::SEC1_LEN)
            /// bytes starting with `0x04`, or for any reason of
            /// [`from_coordinates`](Self::from_coordinates).
            pub fn from_sec1(sec1: &[u8]) -> Result<Self, Error> {
                match sec1.split_first() {
                    Some((0x04, xy)) => {
                        let (x, y) = xy.split_at_checked(Self::FIELD_LEN).ok_or(Error::InvalidKey)?;
                        Self::from_coordinates(x, y)
                    }
                    _ => Err(Error::InvalidKey),
                }
            }

            /// Checks a JWS signature (`r || s`) of `msg` under this key.
            ///
            /// # Errors
            /// [`Error::BadSignature`] when `sig` is not exactly
            /// [`SIGNATURE_LEN`](Self::SIGNATURE_LEN) bytes, `r` or `s` is outside
            /// `[1, n - 1]`, or the signature does not match.
            pub fn verify(&self, msg: &[u8], sig: &[u8]) -> Result<(), Error> {
                use $curve::ecdsa::signature::Verifier as _;
                if sig.len() != Self::SIGNATURE_LEN {
                    return Err(Error::BadSignature);
                }
                // `from_slice` refuses r or s of 0 or not below n.
                let sig = $curve::ecdsa::Signature::from_slice(sig).map_err(|_| Error::BadSignature)?;
                self.0.verify(msg, &sig).map_err(|_| Error::BadSignature)
            }
        }
    };
}

verifying_key! {
    /// An `ES256` public key: a point of P-256 that has passed every check a key can
    /// fail, so [`verify`](Self::verify) never meets a bad one. Signatures are
    /// checked over SHA-256 of the message.
    Es256VerifyingKey, "es256", p256, 32
}

verifying_key! {
    /// An `ES384` public key: a point of P-384 that has passed every check a key can
    /// fail, so [`verify`](Self::verify) never meets a bad one. Signatures are
    /// checked over SHA-384 of the message.
    Es384VerifyingKey, "es384", p384, 48
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::{vec, vec::Vec};

    use super::*;

    /// `a - b` of two big-endian numbers of one width, `a >= b`.
    fn sub(a: &[u8], b: &[u8]) -> Vec<u8> {
        let mut out = vec![0; a.len()];
        let mut borrow = 0i16;
        for i in (0..a.len()).rev() {
            let d = i16::from(a[i]) - i16::from(b[i]) - borrow;
            borrow = i16::from(d < 0);
            out[i] = (d + 256 * borrow) as u8;
        }
        assert_eq!(borrow, 0);
        out
    }

    /// `a + b` of two big-endian numbers of one width; the sum must fit.
    fn add(a: &[u8], b: &[u8]) -> Vec<u8> {
        let mut out = vec![0; a.len()];
        let mut carry = 0u16;
        for i in (0..a.len()).rev() {
            let d = u16::from(a[i]) + u16::from(b[i]) + carry;
            carry = d >> 8;
            out[i] = d as u8;
        }
        assert_eq!(carry, 0);
        out
    }

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// The same tests for each curve: `$key` the type under test, `$curve` the
    /// crate that signs, `$p` and `$n` the field prime and the group order in hex,
    /// (`$x`, `$y`) a point with a small `x` (the smallest, found with Python).
    macro_rules! curve_tests {
        (
            $module:ident, $feature:literal, $key:ident, $curve:ident,
            $p:literal, $n:literal, $x:literal, $y:literal
        ) => {
            #[cfg(feature = $feature)]
            mod $module {
                use $curve::ecdsa::{SigningKey, signature::Signer};

                use super::*;

                const MSG: &[u8] = b"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9";

                fn signer(seed: u8) -> (SigningKey, $key) {
                    let sk = SigningKey::from_slice(&[seed; $key::FIELD_LEN]).unwrap();
                    let sec1 = sk.verifying_key().to_sec1_point(false);
                    let key = $key::from_sec1(sec1.as_bytes()).unwrap();
                    (sk, key)
                }

                fn sign(sk: &SigningKey, msg: &[u8]) -> Vec<u8> {
                    let sig: $curve::ecdsa::Signature = sk.sign(msg);
                    sig.to_bytes().to_vec()
                }

                #[test]
                fn round_trip_and_changed_bytes_fail() {
                    let (sk, key) = signer(7);
                    let sig = sign(&sk, MSG);
                    assert_eq!(sig.len(), $key::SIGNATURE_LEN);
                    assert_eq!(key.verify(MSG, &sig), Ok(()));
                    // One bit in each byte (all 8 * len take long in a debug build).
                    for i in 0..sig.len() {
                        let mut bad = sig.clone();
                        bad[i] ^= 1 << (i % 8);
                        assert_eq!(key.verify(MSG, &bad), Err(Error::BadSignature), "byte {i}");
                    }
                    assert_eq!(
                        key.verify(b"another message", &sig),
                        Err(Error::BadSignature)
                    );
                    let (_, other) = signer(8);
                    assert_eq!(other.verify(MSG, &sig), Err(Error::BadSignature));
                }

                #[test]
                fn high_s_is_accepted() {
                    let (sk, key) = signer(3);
                    let sig = sign(&sk, MSG);
                    let (r, s) = sig.split_at($key::FIELD_LEN);
                    let flipped = [r, &sub(&unhex($n), s)].concat();
                    assert_ne!(flipped, sig);
                    assert_eq!(key.verify(MSG, &flipped), Ok(()));
                }

                #[test]
                fn r_and_s_outside_1_to_n_minus_1_are_bad() {
                    let (sk, key) = signer(4);
                    let sig = sign(&sk, MSG);
                    let (r, s) = sig.split_at($key::FIELD_LEN);
                    let n = &unhex($n)[..];
                    let zero = &[0; $key::FIELD_LEN][..];
                    let ones = &[0xff; $key::FIELD_LEN][..];
                    for (r, s) in [(zero, s), (r, zero), (n, s), (r, n), (ones, s), (r, ones)] {
                        let bad = [r, s].concat();
                        assert_eq!(key.verify(MSG, &bad), Err(Error::BadSignature));
                    }
                }

                #[test]
                fn signatures_of_the_wrong_length_or_der_are_bad() {
                    let (sk, key) = signer(5);
                    let sig = sign(&sk, MSG);
                    let der: $curve::ecdsa::DerSignature = sk.sign(MSG);
                    let long = [&sig[..], &[0]].concat();
                    for bad in [&[][..], &sig[..sig.len() - 1], &long, der.as_bytes()] {
                        assert_eq!(key.verify(MSG, bad), Err(Error::BadSignature));
                    }
                }

                #[test]
                fn sec1_and_coordinates_agree() {
                    let (sk, key) = signer(6);
                    let sec1 = sk.verifying_key().to_sec1_point(false);
                    let (x, y) = sec1.as_bytes()[1..].split_at($key::FIELD_LEN);
                    assert_eq!($key::from_coordinates(x, y), Ok(key));
                }

                #[test]
                fn bad_points_are_refused() {
                    let (sk, _) = signer(9);
                    let good = sk.verifying_key().to_sec1_point(false).as_bytes().to_vec();
                    let compressed = sk.verifying_key().to_sec1_point(true).as_bytes().to_vec();
                    let (x, y) = good[1..].split_at($key::FIELD_LEN);
                    let p = unhex($p);
                    let mut off_curve = good.clone();
                    *off_curve.last_mut().unwrap() ^= 1;
                    let mut hybrid = good.clone();
                    hybrid[0] = 0x06 | (y[y.len() - 1] & 1);
                    let zeros = [&[4][..], &[0; 2 * $key::FIELD_LEN]].concat();
                    let bad: [(&str, Vec<u8>); 9] = [
                        ("empty", vec![]),
                        ("identity", vec![0]),
                        ("compressed", compressed),
                        ("hybrid", hybrid),
                        ("off the curve", off_curve),
                        ("(0, 0)", zeros),
                        ("short", good[..good.len() - 1].to_vec()),
                        ("long", [&good[..], &[0]].concat()),
                        ("untagged", good[1..].to_vec()),
                    ];
                    for (what, sec1) in bad {
                        assert_eq!($key::from_sec1(&sec1), Err(Error::InvalidKey), "{what}");
                    }
                    assert_eq!($key::from_coordinates(&p, y), Err(Error::InvalidKey));
                    assert_eq!($key::from_coordinates(x, &p), Err(Error::InvalidKey));
                    assert_eq!($key::from_coordinates(&x[1..], y), Err(Error::InvalidKey));
                    assert_eq!(
                        $key::from_coordinates(x, &[y, &[0]].concat()),
                        Err(Error::InvalidKey)
                    );
                }

                #[test]
                fn unreduced_coordinates_are_refused() {
                    // ($x, $y) is on the curve, and x + p still fits the field width:
                    // a decoder that reduced coordinates would take x + p for x.
                    let mut x = [0; $key::FIELD_LEN];
                    *x.last_mut().unwrap() = $x;
                    let y = unhex($y);
                    assert!($key::from_coordinates(&x, &y).is_ok());
                    let p = unhex($p);
                    let x_plus_p = add(&p, &x);
                    assert_eq!(
                        $key::from_coordinates(&x_plus_p, &y),
                        Err(Error::InvalidKey)
                    );
                }
            }
        };
    }

    curve_tests!(
        es256,
        "es256",
        Es256VerifyingKey,
        p256,
        "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff",
        "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551",
        5,
        "459243b9aa581806fe913bce99817ade11ca503c64d9a3c533415c083248fbcc"
    );

    curve_tests!(
        es384,
        "es384",
        Es384VerifyingKey,
        p384,
        "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffff",
        "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973",
        2,
        "8cdeadbbd04911a3c1931e26df3fa6439dca9c7eb286fbd46fc319f0e2bb780232baf57825fc0c1912ada2fefe84024c"
    );
}
