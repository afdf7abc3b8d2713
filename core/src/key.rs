//! [`Key`]: exactly one key bound to exactly one algorithm (RFC 8725 section 3.1),
//! an HMAC secret or a public key, checked when it is built so that a verification
//! never meets a bad one.
//!
//! An HMAC key keeps the pre-keyed HMAC state, so each verification hashes only the
//! token; a public key keeps its leaf verifying key from [`alg`](crate::alg) (for
//! RSA, with the Montgomery parameters of its modulus).

use core::fmt;

use hmac::{KeyInit, Mac};
use sha2::Sha256;
#[cfg(feature = "sha512")]
use sha2::{Sha384, Sha512};

#[cfg(feature = "es256")]
use crate::alg::ecdsa::Es256VerifyingKey;
#[cfg(feature = "es384")]
use crate::alg::ecdsa::Es384VerifyingKey;
#[cfg(feature = "eddsa")]
use crate::alg::eddsa::Ed25519VerifyingKey;
#[cfg(feature = "rsa")]
use crate::alg::rsa::{RsaHash, RsaVerifyingKey};
use crate::algorithm::{Algorithm, EcCurve};
use crate::jws::Signer;
use crate::{Error, HeaderParams};

/// The longest signature a verification in this build decodes: an RSA-4096
/// signature with `rsa`, else `r || s` of P-384 with `es384`, else 64 bytes (HS512,
/// ES256, EdDSA). It sizes the stack buffer the signature segment is decoded into.
pub(crate) const VERIFY_SIGNATURE_LEN: usize = if cfg!(feature = "rsa") {
    512
} else if cfg!(feature = "es384") {
    96
} else {
    64
};

/// A pre-keyed HMAC state (the inner and outer pad hashes), one per hash.
#[derive(Clone)]
enum Hmac {
    Hs256(hmac::Hmac<Sha256>),
    #[cfg(feature = "sha512")]
    Hs384(hmac::Hmac<Sha384>),
    #[cfg(feature = "sha512")]
    Hs512(hmac::Hmac<Sha512>),
}

impl Hmac {
    const fn algorithm(&self) -> Algorithm {
        match self {
            Hmac::Hs256(_) => Algorithm::Hs256,
            #[cfg(feature = "sha512")]
            Hmac::Hs384(_) => Algorithm::Hs384,
            #[cfg(feature = "sha512")]
            Hmac::Hs512(_) => Algorithm::Hs512,
        }
    }

    /// Writes the MAC of `data` into the front of `out` and returns its length.
    fn mac(&self, data: &[u8], out: &mut [u8]) -> Result<usize, Error> {
        fn put(tag: &[u8], out: &mut [u8]) -> Result<usize, Error> {
            out.get_mut(..tag.len())
                .ok_or(Error::BufferTooSmall)?
                .copy_from_slice(tag);
            Ok(tag.len())
        }
        match self {
            Hmac::Hs256(m) => put(&m.clone().chain_update(data).finalize().into_bytes(), out),
            #[cfg(feature = "sha512")]
            Hmac::Hs384(m) => put(&m.clone().chain_update(data).finalize().into_bytes(), out),
            #[cfg(feature = "sha512")]
            Hmac::Hs512(m) => put(&m.clone().chain_update(data).finalize().into_bytes(), out),
        }
    }

    /// Checks `tag` against the MAC of `data` in constant time; a tag of the wrong
    /// length never matches.
    fn verify(&self, data: &[u8], tag: &[u8]) -> Result<(), Error> {
        let ok = match self {
            Hmac::Hs256(m) => m.clone().chain_update(data).verify_slice(tag),
            #[cfg(feature = "sha512")]
            Hmac::Hs384(m) => m.clone().chain_update(data).verify_slice(tag),
            #[cfg(feature = "sha512")]
            Hmac::Hs512(m) => m.clone().chain_update(data).verify_slice(tag),
        };
        ok.map_err(|_| Error::BadSignature)
    }
}

/// An RSA public key and the one algorithm it is bound to.
#[cfg(feature = "rsa")]
#[derive(Clone)]
struct Rsa {
    /// PSS (`PS*`) rather than PKCS#1 v1.5 (`RS*`).
    pss: bool,
    hash: RsaHash,
    key: RsaVerifyingKey,
}

#[derive(Clone)]
// With `rsa` the RSA variant is ~1.5 KiB and the others a few hundred bytes at most;
// without a heap there is nothing to box it in, and a key is built once and kept.
#[allow(clippy::large_enum_variant)]
enum Kind {
    Hmac(Hmac),
    #[cfg(feature = "rsa")]
    Rsa(Rsa),
    #[cfg(feature = "es256")]
    Es256(Es256VerifyingKey),
    #[cfg(feature = "es384")]
    Es384(Es384VerifyingKey),
    #[cfg(feature = "eddsa")]
    Ed25519(Ed25519VerifyingKey),
}

/// Exactly one key bound to exactly one [`Algorithm`] (RFC 8725 section 3.1): an
/// HMAC secret, which verifies and signs, or a public key, which only verifies.
///
/// Every constructor takes the algorithm, and refuses a key of the wrong type for it
/// ([`Error::KeyMismatch`]: an HMAC secret for RS256, an RSA key for ES256, a P-384
/// point for ES256), an algorithm this build leaves out
/// ([`Error::UnsupportedAlgorithm`]), and a key that breaks the algorithm's rules
/// ([`Error::KeyTooShort`], [`Error::InvalidKey`]). A verification never meets a bad
/// key, and never lets a token's `alg` choose another algorithm.
///
/// Core holds no private asymmetric keys: tokens of the public-key algorithms are
/// signed elsewhere, through [`Signer`].
///
/// # Size
/// A key is as large as its largest variant, so a build pays for the families it
/// enables. `core::mem::size_of::<Key>()` (2026-12, the `key_sizes` test checks the
/// x86_64 column; the thumbv7m one is from a `cargo check` of a size assertion):
///
/// | features | x86_64 | thumbv7m |
/// | --- | ---: | ---: |
/// | none (HS256 only, as before public keys) | 144 B | 144 B |
/// | `es256` and/or `es384` | 152 B | 152 B |
/// | `eddsa` | 200 B | 200 B |
/// | `sha512` (default), with or without `es256`/`es384`/`eddsa` | 304 B | 296 B |
/// | `rsa`, with any others | 1,584 B | 1,568 B |
///
/// An RSA key keeps the 4096-bit Montgomery parameters whatever its size (see
/// `alg::rsa`, feature `rsa`); a [`KeySet`](crate::KeySet) of `N` keys is `N`
/// times that and the `kid`s.
#[derive(Clone)]
pub struct Key {
    kind: Kind,
}

impl Key {
    /// An HMAC key for `alg` (HS256, HS384 or HS512) from `secret`.
    ///
    /// # Errors
    /// [`Error::KeyMismatch`] when `alg` is not an HMAC algorithm;
    /// [`Error::KeyTooShort`] when `secret` is shorter than the hash output (32, 48
    /// or 64 bytes), as RFC 7518 section 3.2 requires;
    /// [`Error::UnsupportedAlgorithm`] for HS384 and HS512 without the `sha512`
    /// feature.
    pub fn new(alg: Algorithm, secret: &[u8]) -> Result<Self, Error> {
        let min_len = match alg.signature_len() {
            Some(len) if alg.is_hmac() => len,
            _ => return Err(Error::KeyMismatch),
        };
        if secret.len() < min_len {
            return Err(Error::KeyTooShort);
        }
        let hmac = match alg {
            Algorithm::Hs256 => Hmac::Hs256(keyed(secret)?),
            #[cfg(feature = "sha512")]
            Algorithm::Hs384 => Hmac::Hs384(keyed(secret)?),
            #[cfg(feature = "sha512")]
            Algorithm::Hs512 => Hmac::Hs512(keyed(secret)?),
            _ => return Err(Error::UnsupportedAlgorithm),
        };
        Ok(Key {
            kind: Kind::Hmac(hmac),
        })
    }

    /// An RSA public key for `alg` (RS256/384/512, PS256/384/512) from the modulus
    /// `n` and the public exponent `e`, big-endian unsigned bytes (a JWK's decoded
    /// `n` and `e`, or a DER `RSAPublicKey`'s integers without their sign byte).
    ///
    /// # Errors
    /// [`Error::KeyMismatch`] when `alg` is not an RSA algorithm;
    /// [`Error::UnsupportedAlgorithm`] without the `rsa` feature, or for the SHA-384
    /// and SHA-512 variants without `sha512`; [`Error::InvalidKey`] unless e = 65537
    /// and `n` is odd, 2048 to 4096 bits, without a leading zero byte
    /// (`alg::rsa::RsaVerifyingKey::new`).
    pub fn rsa(alg: Algorithm, n: &[u8], e: &[u8]) -> Result<Self, Error> {
        use Algorithm::*;
        if !matches!(alg, Rs256 | Rs384 | Rs512 | Ps256 | Ps384 | Ps512) {
            return Err(Error::KeyMismatch);
        }
        if !alg.is_supported() {
            return Err(Error::UnsupportedAlgorithm);
        }
        #[cfg(feature = "rsa")]
        {
            let (pss, hash) = match alg {
                Rs256 => (false, RsaHash::Sha256),
                Rs384 => (false, RsaHash::Sha384),
                Rs512 => (false, RsaHash::Sha512),
                Ps256 => (true, RsaHash::Sha256),
                Ps384 => (true, RsaHash::Sha384),
                Ps512 => (true, RsaHash::Sha512),
                _ => return Err(Error::KeyMismatch),
            };
            let key = RsaVerifyingKey::new(n, e)?;
            Ok(Key {
                kind: Kind::Rsa(Rsa { pss, hash, key }),
            })
        }
        #[cfg(not(feature = "rsa"))]
        {
            let _ = (n, e);
            Err(Error::UnsupportedAlgorithm)
        }
    }

    /// An ECDSA public key for `alg` (ES256 or ES384) on `curve` from its affine
    /// coordinates, big-endian, each exactly the curve's
    /// [`field_len`](EcCurve::field_len) (a JWK's decoded `x` and `y`).
    ///
    /// # Errors
    /// [`Error::KeyMismatch`] when `alg` is not an ECDSA algorithm or `curve` is not
    /// its curve (P-256 for ES256, P-384 for ES384); [`Error::UnsupportedAlgorithm`]
    /// without the algorithm's feature (`es256`, `es384`); [`Error::InvalidKey`] when
    /// a coordinate has the wrong length or is not reduced, or the point is not on the
    /// curve.
    pub fn ec(alg: Algorithm, curve: EcCurve, x: &[u8], y: &[u8]) -> Result<Self, Error> {
        match ec_algorithm(alg, curve)? {
            #[cfg(feature = "es256")]
            Algorithm::Es256 => Ok(Key {
                kind: Kind::Es256(Es256VerifyingKey::from_coordinates(x, y)?),
            }),
            #[cfg(feature = "es384")]
            Algorithm::Es384 => Ok(Key {
                kind: Kind::Es384(Es384VerifyingKey::from_coordinates(x, y)?),
            }),
            _ => {
                let _ = (x, y);
                Err(Error::UnsupportedAlgorithm)
            }
        }
    }

    /// [`Key::ec`] from the SEC1 uncompressed point `0x04 || x || y` (what an SPKI
    /// holds); the compressed and hybrid forms are refused.
    ///
    /// # Errors
    /// As [`Key::ec`]; [`Error::InvalidKey`] also when `sec1` is not the
    /// uncompressed form.
    pub fn ec_sec1(alg: Algorithm, curve: EcCurve, sec1: &[u8]) -> Result<Self, Error> {
        match ec_algorithm(alg, curve)? {
            #[cfg(feature = "es256")]
            Algorithm::Es256 => Ok(Key {
                kind: Kind::Es256(Es256VerifyingKey::from_sec1(sec1)?),
            }),
            #[cfg(feature = "es384")]
            Algorithm::Es384 => Ok(Key {
                kind: Kind::Es384(Es384VerifyingKey::from_sec1(sec1)?),
            }),
            _ => {
                let _ = sec1;
                Err(Error::UnsupportedAlgorithm)
            }
        }
    }

    /// An Ed25519 public key for `alg` (EdDSA, the only algorithm of such a key) from
    /// its 32-byte encoding (a JWK's decoded `x`, RFC 8037 section 2).
    ///
    /// # Errors
    /// [`Error::KeyMismatch`] when `alg` is not EdDSA; [`Error::UnsupportedAlgorithm`]
    /// without the `eddsa` feature; [`Error::InvalidKey`] when `x` is not the
    /// canonical encoding of a point that is not of small order
    /// (`alg::eddsa::Ed25519VerifyingKey::from_bytes`).
    pub fn ed25519(alg: Algorithm, x: &[u8]) -> Result<Self, Error> {
        if alg != Algorithm::EdDsa {
            return Err(Error::KeyMismatch);
        }
        #[cfg(feature = "eddsa")]
        {
            Ok(Key {
                kind: Kind::Ed25519(Ed25519VerifyingKey::from_bytes(x)?),
            })
        }
        #[cfg(not(feature = "eddsa"))]
        {
            let _ = x;
            Err(Error::UnsupportedAlgorithm)
        }
    }

    /// The algorithm this key is bound to: the only one it verifies (and, for an
    /// HMAC key, signs) with.
    #[must_use]
    pub const fn algorithm(&self) -> Algorithm {
        match &self.kind {
            Kind::Hmac(h) => h.algorithm(),
            #[cfg(feature = "rsa")]
            Kind::Rsa(Rsa { pss, hash, .. }) => match (pss, hash) {
                (false, RsaHash::Sha256) => Algorithm::Rs256,
                (false, RsaHash::Sha384) => Algorithm::Rs384,
                (false, RsaHash::Sha512) => Algorithm::Rs512,
                (true, RsaHash::Sha256) => Algorithm::Ps256,
                (true, RsaHash::Sha384) => Algorithm::Ps384,
                (true, RsaHash::Sha512) => Algorithm::Ps512,
            },
            #[cfg(feature = "es256")]
            Kind::Es256(_) => Algorithm::Es256,
            #[cfg(feature = "es384")]
            Kind::Es384(_) => Algorithm::Es384,
            #[cfg(feature = "eddsa")]
            Kind::Ed25519(_) => Algorithm::EdDsa,
        }
    }

    /// The length of every signature under this key, in bytes: the MAC length, the
    /// RSA modulus length k, `r || s`, or 64 for Ed25519. A signature of any other
    /// length is [`Error::BadSignature`] without any arithmetic.
    #[must_use]
    pub const fn signature_len(&self) -> usize {
        match &self.kind {
            #[cfg(feature = "rsa")]
            Kind::Rsa(Rsa { key, .. }) => key.modulus_len(),
            // Every other algorithm fixes the length by itself.
            _ => match self.algorithm().signature_len() {
                Some(len) => len,
                None => 0,
            },
        }
    }

    /// Whether this is a public key (verifies only) rather than an HMAC secret.
    #[must_use]
    pub const fn is_public(&self) -> bool {
        !matches!(self.kind, Kind::Hmac(_))
    }

    /// Checks `signature` of `signing_input` under this key: HMAC in constant time,
    /// the others through their leaf verifying keys.
    #[inline]
    pub(crate) fn verify(&self, signing_input: &[u8], signature: &[u8]) -> Result<(), Error> {
        match &self.kind {
            Kind::Hmac(h) => h.verify(signing_input, signature),
            #[cfg(feature = "rsa")]
            Kind::Rsa(Rsa {
                pss: false,
                hash,
                key,
            }) => key.verify_pkcs1v15(*hash, signing_input, signature),
            #[cfg(feature = "rsa")]
            Kind::Rsa(Rsa {
                pss: true,
                hash,
                key,
            }) => key.verify_pss(*hash, signing_input, signature),
            #[cfg(feature = "es256")]
            Kind::Es256(k) => k.verify(signing_input, signature),
            #[cfg(feature = "es384")]
            Kind::Es384(k) => k.verify(signing_input, signature),
            #[cfg(feature = "eddsa")]
            Kind::Ed25519(k) => k.verify(signing_input, signature),
        }
    }

    /// Signs `payload` as a compact JWS into `out` and returns the token: the
    /// compact-JWS writer ([`sign`](crate::sign)) with this key as its [`Signer`].
    ///
    /// # Errors
    /// [`Error::KeyMismatch`] for a public key, which cannot sign;
    /// [`Error::BufferTooSmall`] when `out` cannot hold the token or the header
    /// (with `kid` and `typ`) is over 256 bytes.
    pub fn sign<'o>(
        &self,
        header: &HeaderParams<'_>,
        payload: &[u8],
        out: &'o mut [u8],
    ) -> Result<&'o str, Error> {
        crate::jws::sign(self, header, payload, out)
    }

    /// Serializes `claims` as JSON (with `serde-json-core`, into `scratch`) and
    /// signs it into `out` ([`sign_json`](crate::sign_json) with this key).
    ///
    /// # Errors
    /// As [`Key::sign`]; [`Error::BufferTooSmall`] also when `scratch` cannot hold
    /// the JSON.
    pub fn sign_json<'o, T: serde::Serialize + ?Sized>(
        &self,
        header: &HeaderParams<'_>,
        claims: &T,
        scratch: &mut [u8],
        out: &'o mut [u8],
    ) -> Result<&'o str, Error> {
        crate::jws::sign_json(self, header, claims, scratch, out)
    }
}

/// An HMAC key signs with its MAC; a public key cannot sign.
impl Signer for Key {
    fn algorithm(&self) -> Algorithm {
        Key::algorithm(self)
    }

    fn signature_len(&self) -> usize {
        Key::signature_len(self)
    }

    /// # Errors
    /// [`Error::KeyMismatch`] for a public key; [`Error::BufferTooSmall`] when `out`
    /// is shorter than the MAC.
    fn sign(&self, signing_input: &[u8], out: &mut [u8]) -> Result<usize, Error> {
        match &self.kind {
            Kind::Hmac(h) => h.mac(signing_input, out),
            // Unreachable in a build with only HMAC.
            #[allow(unreachable_patterns)]
            _ => Err(Error::KeyMismatch),
        }
    }
}

/// The ECDSA algorithm `alg` when `curve` is its curve.
fn ec_algorithm(alg: Algorithm, curve: EcCurve) -> Result<Algorithm, Error> {
    let want = match alg {
        Algorithm::Es256 => EcCurve::P256,
        Algorithm::Es384 => EcCurve::P384,
        _ => return Err(Error::KeyMismatch),
    };
    if curve != want {
        return Err(Error::KeyMismatch);
    }
    Ok(alg)
}

fn keyed<M: KeyInit>(secret: &[u8]) -> Result<M, Error> {
    M::new_from_slice(secret).map_err(|_| Error::KeyTooShort)
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("alg", &self.algorithm())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Algorithms print as their JOSE names; a key prints its algorithm and
    /// never its secret.
    #[test]
    fn display_and_debug() {
        extern crate std;
        use std::format;
        assert_eq!(format!("{}", Algorithm::Hs256), "HS256");
        let key = Key::new(Algorithm::Hs256, b"secret-secret-secret-secret-32b!").unwrap();
        let shown = format!("{key:?}");
        assert_eq!(shown, "Key { alg: Hs256, .. }");
        assert!(!shown.contains("secret"));
    }

    #[test]
    fn short_keys_are_refused() {
        assert_eq!(
            Key::new(Algorithm::Hs256, &[0; 31]).unwrap_err(),
            Error::KeyTooShort
        );
        assert_eq!(
            Key::new(Algorithm::Hs384, &[0; 47]).unwrap_err(),
            Error::KeyTooShort
        );
        assert_eq!(
            Key::new(Algorithm::Hs512, &[0; 63]).unwrap_err(),
            Error::KeyTooShort
        );
        #[cfg(feature = "sha512")]
        assert!(Key::new(Algorithm::Hs512, &[0; 64]).is_ok());
    }

    #[test]
    #[cfg(not(feature = "sha512"))]
    fn hs384_and_hs512_need_the_sha512_feature() {
        for alg in [Algorithm::Hs384, Algorithm::Hs512] {
            assert_eq!(
                Key::new(alg, &[0; 64]).unwrap_err(),
                Error::UnsupportedAlgorithm
            );
        }
        assert!(Key::new(Algorithm::Hs256, &[0; 64]).is_ok());
    }

    /// Each constructor takes only its own family's algorithms, in every build: the
    /// type of the key is checked before the features and the key itself.
    #[test]
    fn each_constructor_refuses_the_other_families() {
        for alg in Algorithm::ALL {
            let hmac = alg.is_hmac();
            let rsa = alg.name().starts_with('R') || alg.name().starts_with('P');
            let mismatch = Err(Error::KeyMismatch);
            let checked = |r: Result<Key, Error>, fits: bool| {
                assert_eq!(
                    r.as_ref().err() == Some(&Error::KeyMismatch),
                    !fits,
                    "{alg}"
                );
            };
            checked(Key::new(alg, &[7; 64]), hmac);
            checked(Key::rsa(alg, &[0xc5; 256], &[1, 0, 1]), rsa);
            for curve in [EcCurve::P256, EcCurve::P384] {
                let fits = matches!(
                    (alg, curve),
                    (Algorithm::Es256, EcCurve::P256) | (Algorithm::Es384, EcCurve::P384)
                );
                checked(Key::ec(alg, curve, &[1; 32], &[1; 32]), fits);
                checked(Key::ec_sec1(alg, curve, &[4; 65]), fits);
            }
            // No algorithm of this crate uses P-521.
            assert_eq!(
                Key::ec(alg, EcCurve::P521, &[1; 66], &[1; 66]).map(|_| ()),
                mismatch,
                "{alg}"
            );
            checked(Key::ed25519(alg, &[1; 32]), alg == Algorithm::EdDsa);
        }
    }

    /// A family whose feature is off is `UnsupportedAlgorithm`, whatever the key
    /// bytes; with the feature on, bad bytes are `InvalidKey`.
    #[test]
    fn features_decide_before_the_key_bytes() {
        let want = |alg: Algorithm| {
            if alg.is_supported() {
                Error::InvalidKey
            } else {
                Error::UnsupportedAlgorithm
            }
        };
        for alg in [Algorithm::Rs256, Algorithm::Ps512] {
            assert_eq!(Key::rsa(alg, &[2; 256], &[3]).unwrap_err(), want(alg));
        }
        assert_eq!(
            Key::ec(Algorithm::Es256, EcCurve::P256, &[0; 32], &[0; 32]).unwrap_err(),
            want(Algorithm::Es256)
        );
        assert_eq!(
            Key::ec_sec1(Algorithm::Es384, EcCurve::P384, &[4; 97]).unwrap_err(),
            want(Algorithm::Es384)
        );
        assert_eq!(
            Key::ed25519(Algorithm::EdDsa, &[0; 31]).unwrap_err(),
            want(Algorithm::EdDsa)
        );
    }

    #[test]
    fn hmac_key_signs_and_verifies_in_constant_time() {
        let key = Key::new(Algorithm::Hs256, &[0x0b; 32]).unwrap();
        assert!(!key.is_public());
        assert_eq!(key.signature_len(), 32);
        let mut out = [0u8; 64];
        let n = Signer::sign(&key, b"Hi There", &mut out).unwrap();
        assert_eq!(n, 32);
        assert!(key.verify(b"Hi There", &out[..n]).is_ok());
        assert_eq!(
            Signer::sign(&key, b"Hi There", &mut [0u8; 31]),
            Err(Error::BufferTooSmall)
        );
        out[0] ^= 1;
        assert_eq!(key.verify(b"Hi There", &out[..n]), Err(Error::BadSignature));
        assert_eq!(
            key.verify(b"Hi There", &out[..31]),
            Err(Error::BadSignature)
        );
    }

    /// `size_of::<Key>()` per feature set on a 64-bit host, as the type's docs
    /// list it.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn key_sizes() {
        let want = if cfg!(feature = "rsa") {
            1584
        } else if cfg!(feature = "sha512") {
            304
        } else if cfg!(feature = "eddsa") {
            200
        } else if cfg!(any(feature = "es256", feature = "es384")) {
            152
        } else {
            144
        };
        assert_eq!(core::mem::size_of::<Key>(), want);
    }
}
