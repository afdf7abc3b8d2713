//! Key formats: what a PEM file, a DER blob, a JWK or a JWK Set holds, read into
//! [`KeyMaterial`], raw key bytes that borrow from the input or from a caller
//! buffer, for the key constructors to check and bind to an algorithm.
//!
//! | format | reader | feature |
//! | --- | --- | --- |
//! | DER SubjectPublicKeyInfo (RSA, EC P-256/P-384/P-521, Ed25519) | `KeyMaterial::from_spki_der` | `der` |
//! | DER PKCS#1 `RSAPublicKey` | `KeyMaterial::from_pkcs1_der` | `der` |
//! | PEM `PUBLIC KEY` (SPKI), `RSA PUBLIC KEY` (PKCS#1) | `KeyMaterial::from_pem` | `pem` |
//! | one JWK (RFC 7517, 7518, 8037) | `Jwk::parse`, then `Jwk::material` | `jwk` |
//! | a JWK Set, `{"keys":[...]}` | `JwkSet::parse`, then `JwkSet::keys` | `jwk` |
//!
//! The readers check the format, not the key: a 1024-bit modulus, `e = 3`, a point
//! off its curve or an HMAC secret of two bytes all come out as material, and the
//! key constructors ([`alg`](crate::alg), [`Key`](crate::Key)) refuse them. What
//! the readers refuse, and how:
//! - a malformed key file: [`Error::InvalidKey`] (the JWK reader's JSON errors are
//!   its own: [`Error::InvalidJson`], [`Error::DuplicateMember`], ...);
//! - a well-formed key of a kind this crate does not read (another curve or key
//!   type, a compressed point, a certificate): [`Error::UnsupportedKey`];
//! - a private key (a PEM `... PRIVATE KEY`, a JWK with `d`): [`Error::PrivateKey`],
//!   so that a verifier is never handed one by accident;
//! - a JWK that is not for signatures (`use`, `key_ops`): [`Error::KeyNotForVerify`].
//!
//! Every length is bounded: an RSA modulus of at most [`MAX_RSA_MODULUS_LEN`] bytes
//! and an exponent of at most [`MAX_RSA_EXPONENT_LEN`], so [`PEM_BUFFER_LEN`] and
//! [`JWK_BUFFER_LEN`] bytes of caller buffer hold any public key these readers
//! return. A device normally gets its keys at build time, as bytes for the key
//! constructors; these readers are meant for the host (and build for the device).

#[cfg(feature = "der")]
mod asn1;
mod bind;
#[cfg(feature = "jwk")]
mod jwk;
#[cfg(feature = "jwk")]
mod jwks;
#[cfg(feature = "pem")]
mod pem;

use core::fmt;

#[cfg(feature = "jwk")]
pub use jwk::{Jwk, MAX_JWK_DEPTH, MAX_KEY_OPS};
#[cfg(feature = "jwk")]
pub use jwks::{JwkSet, JwkSetKeys};

#[cfg(doc)]
use crate::Error;

/// The longest RSA modulus the readers return, in bytes: 4096 bits, the largest
/// key [`alg::rsa`](crate::alg) takes. A longer one is [`Error::InvalidKey`].
pub const MAX_RSA_MODULUS_LEN: usize = 512;

/// The longest RSA public exponent the readers return, in bytes (64 bits; the
/// RSA verifier takes only 65537, three bytes). A longer one is
/// [`Error::InvalidKey`].
pub const MAX_RSA_EXPONENT_LEN: usize = 8;

/// A caller buffer of this many bytes holds the DER of any PEM key
/// `KeyMaterial::from_pem` returns: the SubjectPublicKeyInfo of an RSA key of
/// [`MAX_RSA_MODULUS_LEN`] and [`MAX_RSA_EXPONENT_LEN`] bytes, each with its sign
/// byte (larger than any EC or Ed25519 one).
pub const PEM_BUFFER_LEN: usize = 556;

/// A caller buffer of this many bytes holds the decoded members of any public
/// JWK: an RSA key's `n` and `e` at their longest. An `oct` (HMAC) JWK's `k` is
/// not bounded; `Jwk::decoded_len` says what a given key needs.
pub const JWK_BUFFER_LEN: usize = MAX_RSA_MODULUS_LEN + MAX_RSA_EXPONENT_LEN;

/// A key's type, as JWK's `kty` names it (RFC 7518 section 6.1, RFC 8037).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum KeyType {
    /// `RSA`.
    Rsa,
    /// `EC`, an elliptic-curve key of one of the NIST curves.
    Ec,
    /// `OKP`, an octet key pair (here: Ed25519).
    Okp,
    /// `oct`, a symmetric (HMAC) secret; only a JWK holds one.
    Oct,
}

impl KeyType {
    /// The JWK `kty` value.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            KeyType::Rsa => "RSA",
            KeyType::Ec => "EC",
            KeyType::Okp => "OKP",
            KeyType::Oct => "oct",
        }
    }
}

/// The curve of an EC key: JWK's `crv` (RFC 7518 section 6.2.1.1), SPKI's named
/// curve (RFC 5480). A caller binding a key to an algorithm refuses a key whose
/// curve is not the algorithm's (ES256: P-256).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Curve {
    /// P-256 (secp256r1, prime256v1).
    P256,
    /// P-384 (secp384r1).
    P384,
    /// P-521 (secp521r1).
    P521,
}

impl Curve {
    /// The JWK `crv` value.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
            Curve::P521 => "P-521",
        }
    }

    /// The length in bytes of a coordinate (of `x`, of `y`).
    #[must_use]
    pub const fn field_len(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
        }
    }

    /// The curve a JWK `crv` names, if it is one of these.
    #[cfg(feature = "jwk")]
    pub(crate) fn from_name(name: crate::JsonStr<'_>) -> Option<Self> {
        [Curve::P256, Curve::P384, Curve::P521]
            .into_iter()
            .find(|c| name.eq_str(c.name()))
    }
}

/// Ed25519's public key length in bytes (RFC 8032).
pub const ED25519_KEY_LEN: usize = 32;

/// What a key file holds, as raw bytes: what the key constructors take.
///
/// The readers have checked the shape: an RSA `n` and `e` are unsigned big-endian
/// without leading zero bytes, `n` at most [`MAX_RSA_MODULUS_LEN`] and `e` at most
/// [`MAX_RSA_EXPONENT_LEN`] bytes; EC coordinates are exactly
/// [`Curve::field_len`] bytes each; an Ed25519 key is [`ED25519_KEY_LEN`] bytes.
/// Not checked here: what makes a key usable (RSA size and exponent, the point on
/// its curve, an HMAC secret's length), which the key constructors check.
#[derive(Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyMaterial<'a> {
    /// An RSA public key: the modulus and the public exponent.
    Rsa {
        /// The modulus `n`, big-endian.
        n: &'a [u8],
        /// The public exponent `e`, big-endian.
        e: &'a [u8],
    },
    /// An EC public key: the curve and the affine coordinates of its point.
    Ec {
        /// The curve, which a caller compares with the algorithm's.
        curve: Curve,
        /// `x`, big-endian, [`Curve::field_len`] bytes.
        x: &'a [u8],
        /// `y`, big-endian, [`Curve::field_len`] bytes.
        y: &'a [u8],
    },
    /// An Ed25519 public key (RFC 8032's encoding, [`ED25519_KEY_LEN`] bytes).
    Ed25519(&'a [u8]),
    /// A symmetric secret, an HMAC key (JWK `kty` `oct`, member `k`).
    Oct(&'a [u8]),
}

impl KeyMaterial<'_> {
    /// The key's type.
    #[must_use]
    pub const fn kty(&self) -> KeyType {
        match self {
            KeyMaterial::Rsa { .. } => KeyType::Rsa,
            KeyMaterial::Ec { .. } => KeyType::Ec,
            KeyMaterial::Ed25519(_) => KeyType::Okp,
            KeyMaterial::Oct(_) => KeyType::Oct,
        }
    }

    /// The curve of an EC key; `None` for the others.
    #[must_use]
    pub const fn curve(&self) -> Option<Curve> {
        match self {
            KeyMaterial::Ec { curve, .. } => Some(*curve),
            _ => None,
        }
    }
}

/// Public keys in full; a secret only by its length.
impl fmt::Debug for KeyMaterial<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyMaterial::Rsa { n, e } => f.debug_struct("Rsa").field("n", n).field("e", e).finish(),
            KeyMaterial::Ec { curve, x, y } => f
                .debug_struct("Ec")
                .field("curve", curve)
                .field("x", x)
                .field("y", y)
                .finish(),
            KeyMaterial::Ed25519(x) => f.debug_tuple("Ed25519").field(x).finish(),
            KeyMaterial::Oct(k) => write!(f, "Oct(<{} bytes>)", k.len()),
        }
    }
}

/// Checks an unsigned big-endian RSA integer: not empty, no leading zero byte (so
/// not zero), at most `max` bytes.
#[cfg(feature = "der")]
pub(crate) fn check_rsa_int(int: &[u8], max: usize) -> Result<(), crate::Error> {
    match int.first() {
        Some(&first) if first != 0 && int.len() <= max => Ok(()),
        _ => Err(crate::Error::InvalidKey),
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::format;

    use super::*;

    #[test]
    fn names_and_lengths() {
        assert_eq!(
            [KeyType::Rsa, KeyType::Ec, KeyType::Okp, KeyType::Oct].map(KeyType::name),
            ["RSA", "EC", "OKP", "oct"]
        );
        assert_eq!(
            [Curve::P256, Curve::P384, Curve::P521].map(|c| (c.name(), c.field_len())),
            [("P-256", 32), ("P-384", 48), ("P-521", 66)]
        );
        let m = KeyMaterial::Ec {
            curve: Curve::P384,
            x: &[1],
            y: &[2],
        };
        assert_eq!((m.kty(), m.curve()), (KeyType::Ec, Some(Curve::P384)));
        assert_eq!(KeyMaterial::Oct(b"k").curve(), None);
        assert_eq!(KeyMaterial::Ed25519(&[0; 32]).kty(), KeyType::Okp);
    }

    /// A secret is never printed.
    #[test]
    fn debug_hides_a_secret() {
        let text = format!("{:?}", KeyMaterial::Oct(b"hunter2hunter2"));
        assert_eq!(text, "Oct(<14 bytes>)");
        let text = format!(
            "{:?}",
            KeyMaterial::Rsa {
                n: &[0xc5],
                e: &[1, 0, 1]
            }
        );
        assert_eq!(text, "Rsa { n: [197], e: [1, 0, 1] }");
    }
}
