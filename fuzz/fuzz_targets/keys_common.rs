//! What the key-reader targets share: the material's promised shape, and the
//! material written again (DER and PEM by RustCrypto's encoders, a JWK with
//! base64ct), to check that what parses re-parses the same.
#![allow(dead_code)] // each target uses a part

use base64ct::{Base64UrlUnpadded, Encoding};
use der::Encode;
use der::asn1::{AnyRef, BitStringRef, ObjectIdentifier, UintRef};
use latchkey_core::keys::{
    Curve, ED25519_KEY_LEN, KeyMaterial, MAX_RSA_EXPONENT_LEN, MAX_RSA_MODULUS_LEN,
};

/// The shape every reader promises (see `KeyMaterial`).
pub fn check_shape(m: &KeyMaterial<'_>) {
    match *m {
        KeyMaterial::Rsa { n, e } => {
            assert!(n.first().is_some_and(|&b| b != 0) && n.len() <= MAX_RSA_MODULUS_LEN);
            assert!(e.first().is_some_and(|&b| b != 0) && e.len() <= MAX_RSA_EXPONENT_LEN);
        }
        KeyMaterial::Ec { curve, x, y } => {
            assert_eq!((x.len(), y.len()), (curve.field_len(), curve.field_len()));
        }
        KeyMaterial::Ed25519(x) => assert_eq!(x.len(), ED25519_KEY_LEN),
        KeyMaterial::Oct(_) => {}
        _ => panic!("a material this target does not know"),
    }
}

/// The DER of a PKCS#1 `RSAPublicKey` holding `n` and `e`.
pub fn to_pkcs1(n: &[u8], e: &[u8]) -> Vec<u8> {
    let key = pkcs1::RsaPublicKeyRef {
        modulus: UintRef::new(n).unwrap(),
        public_exponent: UintRef::new(e).unwrap(),
    };
    key.to_der_vec()
}

/// The DER of a SubjectPublicKeyInfo holding `m` (not an `oct` key).
pub fn to_spki(m: &KeyMaterial<'_>) -> Vec<u8> {
    const RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
    const EC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
    const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
    let named = |curve| match curve {
        Curve::P256 => ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7"),
        Curve::P384 => ObjectIdentifier::new_unwrap("1.3.132.0.34"),
        Curve::P521 => ObjectIdentifier::new_unwrap("1.3.132.0.35"),
        _ => panic!("a curve this target does not know"),
    };
    let (oid, curve, key) = match *m {
        KeyMaterial::Rsa { n, e } => (RSA, None, to_pkcs1(n, e)),
        KeyMaterial::Ec { curve, x, y } => (EC, Some(named(curve)), [&[4], x, y].concat()),
        KeyMaterial::Ed25519(x) => (ED25519, None, x.to_vec()),
        _ => panic!("no SPKI for {m:?}"),
    };
    let parameters = match &curve {
        Some(c) => Some(AnyRef::new(der::Tag::ObjectIdentifier, c.as_bytes()).unwrap()),
        None if oid == RSA => Some(AnyRef::NULL),
        None => None,
    };
    spki::SubjectPublicKeyInfoRef {
        algorithm: spki::AlgorithmIdentifierRef { oid, parameters },
        subject_public_key: BitStringRef::from_bytes(&key).unwrap(),
    }
    .to_der_vec()
}

/// `m` as a JWK.
pub fn to_jwk(m: &KeyMaterial<'_>) -> String {
    let b = Base64UrlUnpadded::encode_string;
    match *m {
        KeyMaterial::Rsa { n, e } => format!(r#"{{"kty":"RSA","n":"{}","e":"{}"}}"#, b(n), b(e)),
        KeyMaterial::Ec { curve, x, y } => format!(
            r#"{{"kty":"EC","crv":"{}","x":"{}","y":"{}"}}"#,
            curve.name(),
            b(x),
            b(y)
        ),
        KeyMaterial::Ed25519(x) => format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{}"}}"#, b(x)),
        KeyMaterial::Oct(k) => format!(r#"{{"kty":"oct","k":"{}"}}"#, b(k)),
        _ => panic!("a material this target does not know"),
    }
}

/// DER encoding into a vector, without `der`'s `alloc` feature.
trait ToDerVec {
    fn to_der_vec(&self) -> Vec<u8>;
}

impl<T: Encode> ToDerVec for T {
    fn to_der_vec(&self) -> Vec<u8> {
        let mut out = vec![0u8; 2048];
        let len = self.encode_to_slice(&mut out).unwrap().len();
        out.truncate(len);
        out
    }
}
