//! DER public keys: SubjectPublicKeyInfo (RFC 5280 section 4.1.2.7; RSA as RFC
//! 3279, EC as RFC 5480, Ed25519 as RFC 8410) and PKCS#1 `RSAPublicKey` (RFC 8017
//! appendix A.1.1), decoded by RustCrypto's `der`, `spki` and `pkcs1`, borrowed.

use der::Decode;
use der::asn1::{AnyRef, ObjectIdentifier};
use pkcs1::RsaPublicKeyRef;
use spki::SubjectPublicKeyInfoRef;

use super::{Curve, ED25519_KEY_LEN, KeyMaterial, MAX_RSA_EXPONENT_LEN, MAX_RSA_MODULUS_LEN};
use crate::Error;

/// `rsaEncryption` (RFC 3279 section 2.3.1): parameters NULL.
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// `id-ecPublicKey` (RFC 5480 section 2.1.1): parameters a named curve.
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// `id-Ed25519` (RFC 8410 section 3): parameters absent.
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

/// The named curves (RFC 5480 section 2.1.1.1) and what they are.
const CURVES: [(ObjectIdentifier, Curve); 3] = [
    (
        ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7"),
        Curve::P256,
    ),
    (ObjectIdentifier::new_unwrap("1.3.132.0.34"), Curve::P384),
    (ObjectIdentifier::new_unwrap("1.3.132.0.35"), Curve::P521),
];

impl<'a> KeyMaterial<'a> {
    /// Reads a DER SubjectPublicKeyInfo: an RSA key (`rsaEncryption`, parameters
    /// NULL), an EC key (`id-ecPublicKey` on the named curve P-256, P-384 or P-521,
    /// the point uncompressed, `0x04 || x || y`) or an Ed25519 key (`id-Ed25519`,
    /// no parameters). The material borrows from `der`.
    ///
    /// # Errors
    /// - [`Error::InvalidKey`]: not exactly one DER SubjectPublicKeyInfo (truncated,
    ///   trailing bytes, BER, a bit string with unused bits), parameters other than
    ///   the algorithm's, an RSA key not a DER `RSAPublicKey` or beyond
    ///   [`MAX_RSA_MODULUS_LEN`] / [`MAX_RSA_EXPONENT_LEN`], an EC point of the
    ///   wrong length or form, an Ed25519 key not of 32 bytes;
    /// - [`Error::UnsupportedKey`]: another algorithm (RSA-PSS-only keys, X25519,
    ///   Ed448, DSA, ...), another named curve, or a compressed EC point.
    pub fn from_spki_der(der: &'a [u8]) -> Result<Self, Error> {
        let spki = SubjectPublicKeyInfoRef::from_der(der).map_err(|_| Error::InvalidKey)?;
        let key = spki
            .subject_public_key
            .as_bytes()
            .ok_or(Error::InvalidKey)?;
        let params = spki.algorithm.parameters;
        let oid = spki.algorithm.oid;
        if oid == RSA_ENCRYPTION {
            if !params.is_some_and(AnyRef::is_null) {
                return Err(Error::InvalidKey);
            }
            Self::from_pkcs1_der(key)
        } else if oid == EC_PUBLIC_KEY {
            // RFC 5480: a named curve, never implicit or specified parameters.
            let named: ObjectIdentifier = params
                .ok_or(Error::InvalidKey)?
                .decode_as()
                .map_err(|_| Error::InvalidKey)?;
            let curve = CURVES
                .iter()
                .find(|(c, _)| *c == named)
                .map(|(_, curve)| *curve)
                .ok_or(Error::UnsupportedKey)?;
            ec_point(curve, key)
        } else if oid == ED25519 {
            if params.is_some() || key.len() != ED25519_KEY_LEN {
                return Err(Error::InvalidKey);
            }
            Ok(KeyMaterial::Ed25519(key))
        } else {
            Err(Error::UnsupportedKey)
        }
    }

    /// Reads a DER PKCS#1 `RSAPublicKey` (`SEQUENCE { n INTEGER, e INTEGER }`).
    /// The material borrows from `der`, without the sign byte DER puts before an
    /// integer whose top bit is set.
    ///
    /// # Errors
    /// [`Error::InvalidKey`]: not exactly one DER `RSAPublicKey` (truncated,
    /// trailing bytes, a non-minimal or negative integer), `n` or `e` zero, or longer
    /// than [`MAX_RSA_MODULUS_LEN`] / [`MAX_RSA_EXPONENT_LEN`] bytes.
    pub fn from_pkcs1_der(der: &'a [u8]) -> Result<Self, Error> {
        let key = RsaPublicKeyRef::from_der(der).map_err(|_| Error::InvalidKey)?;
        let (n, e) = (key.modulus.as_bytes(), key.public_exponent.as_bytes());
        super::check_rsa_int(n, MAX_RSA_MODULUS_LEN)?;
        super::check_rsa_int(e, MAX_RSA_EXPONENT_LEN)?;
        Ok(KeyMaterial::Rsa { n, e })
    }
}

/// Splits a SEC1 uncompressed point, `0x04 || x || y`, into its coordinates.
fn ec_point(curve: Curve, point: &[u8]) -> Result<KeyMaterial<'_>, Error> {
    let len = curve.field_len();
    match point.split_first() {
        Some((0x04, xy)) if xy.len() == len.saturating_mul(2) => {
            let (x, y) = xy.split_at_checked(len).ok_or(Error::InvalidKey)?;
            Ok(KeyMaterial::Ec { curve, x, y })
        }
        // A valid compressed point (SEC1 2.3.3), which JWK cannot carry: one form,
        // so one check, in the key constructors.
        Some((0x02 | 0x03, x)) if x.len() == len => Err(Error::UnsupportedKey),
        _ => Err(Error::InvalidKey),
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec::Vec;

    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 8410 section 10.1: the example Ed25519 public key.
    #[test]
    fn rfc8410_ed25519() {
        let der = hex(
            "302a300506032b657003210019bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166e1",
        );
        let m = KeyMaterial::from_spki_der(&der).unwrap();
        assert_eq!(m, KeyMaterial::Ed25519(&der[12..]));
        // With parameters (NULL), or one byte short, it is malformed.
        let mut with_null = hex("302c300706032b65700500032100");
        with_null.extend_from_slice(&der[12..]);
        assert_eq!(
            KeyMaterial::from_spki_der(&with_null),
            Err(Error::InvalidKey)
        );
        let mut short = hex("3029300506032b6570032000");
        short.extend_from_slice(&der[12..43]);
        assert_eq!(KeyMaterial::from_spki_der(&short), Err(Error::InvalidKey));
        // X25519 (1.3.101.110) is a well-formed key of another kind.
        let mut x25519 = der.clone();
        x25519[8] = 0x6e;
        assert_eq!(
            KeyMaterial::from_spki_der(&x25519),
            Err(Error::UnsupportedKey)
        );
    }

    #[test]
    fn ec_points() {
        let x = [0x11; 32];
        let y = [0x22; 32];
        let mut point = std::vec![4u8];
        point.extend_from_slice(&x);
        point.extend_from_slice(&y);
        assert_eq!(
            ec_point(Curve::P256, &point),
            Ok(KeyMaterial::Ec {
                curve: Curve::P256,
                x: &x,
                y: &y
            })
        );
        assert_eq!(ec_point(Curve::P384, &point), Err(Error::InvalidKey));
        assert_eq!(ec_point(Curve::P256, &point[..64]), Err(Error::InvalidKey));
        point[0] = 6; // hybrid
        assert_eq!(ec_point(Curve::P256, &point), Err(Error::InvalidKey));
        point[0] = 2;
        assert_eq!(ec_point(Curve::P256, &point), Err(Error::InvalidKey));
        assert_eq!(
            ec_point(Curve::P256, &point[..33]),
            Err(Error::UnsupportedKey)
        );
        assert_eq!(ec_point(Curve::P256, &[]), Err(Error::InvalidKey));
    }
}
