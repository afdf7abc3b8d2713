//! The JWS algorithms (RFC 7518 section 3, RFC 8037 section 3.1) and the elliptic
//! curves their keys live on. Every name parses in every build, so a token is read
//! the same whatever the features; a build without an algorithm's feature refuses
//! to build a key for it ([`Error::UnsupportedAlgorithm`]).

use core::fmt;

use crate::Error;

/// A JWS signature algorithm. There is deliberately no `none`.
///
/// A [`Key`](crate::Key) is bound to exactly one of these when it is built
/// (RFC 8725 section 3.1), and a token's `alg` is only compared with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Algorithm {
    /// HMAC with SHA-256.
    Hs256,
    /// HMAC with SHA-384 (feature `sha512`).
    Hs384,
    /// HMAC with SHA-512 (feature `sha512`).
    Hs512,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (feature `rsa`).
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384 (features `rsa` and `sha512`).
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512 (features `rsa` and `sha512`).
    Rs512,
    /// RSASSA-PSS with SHA-256, MGF1 with SHA-256, a 32-byte salt (feature `rsa`).
    Ps256,
    /// RSASSA-PSS with SHA-384, MGF1 with SHA-384, a 48-byte salt (features `rsa`
    /// and `sha512`).
    Ps384,
    /// RSASSA-PSS with SHA-512, MGF1 with SHA-512, a 64-byte salt (features `rsa`
    /// and `sha512`).
    Ps512,
    /// ECDSA on P-256 with SHA-256 (feature `es256`).
    Es256,
    /// ECDSA on P-384 with SHA-384 (feature `es384`).
    Es384,
    /// EdDSA on Ed25519 (RFC 8037; feature `eddsa`).
    EdDsa,
}

impl Algorithm {
    /// Every algorithm, in declaration order.
    pub const ALL: [Algorithm; 12] = [
        Algorithm::Hs256,
        Algorithm::Hs384,
        Algorithm::Hs512,
        Algorithm::Rs256,
        Algorithm::Rs384,
        Algorithm::Rs512,
        Algorithm::Ps256,
        Algorithm::Ps384,
        Algorithm::Ps512,
        Algorithm::Es256,
        Algorithm::Es384,
        Algorithm::EdDsa,
    ];

    /// The `alg` header value, e.g. `"HS256"` or `"EdDSA"`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Algorithm::Hs256 => "HS256",
            Algorithm::Hs384 => "HS384",
            Algorithm::Hs512 => "HS512",
            Algorithm::Rs256 => "RS256",
            Algorithm::Rs384 => "RS384",
            Algorithm::Rs512 => "RS512",
            Algorithm::Ps256 => "PS256",
            Algorithm::Ps384 => "PS384",
            Algorithm::Ps512 => "PS512",
            Algorithm::Es256 => "ES256",
            Algorithm::Es384 => "ES384",
            Algorithm::EdDsa => "EdDSA",
        }
    }

    /// The signature length in bytes, where the algorithm alone fixes it: the MAC
    /// length of an HMAC algorithm (which is also its minimum key length), `r || s`
    /// of ECDSA, 64 for EdDSA. `None` for RSA, whose signatures are as long as the
    /// key's modulus ([`Key::signature_len`](crate::Key::signature_len)).
    #[must_use]
    pub const fn signature_len(self) -> Option<usize> {
        match self {
            Algorithm::Hs256 => Some(32),
            Algorithm::Hs384 => Some(48),
            Algorithm::Hs512 | Algorithm::Es256 | Algorithm::EdDsa => Some(64),
            Algorithm::Es384 => Some(96),
            Algorithm::Rs256
            | Algorithm::Rs384
            | Algorithm::Rs512
            | Algorithm::Ps256
            | Algorithm::Ps384
            | Algorithm::Ps512 => None,
        }
    }

    /// Whether this is an HMAC algorithm (`HS*`), whose key is a shared secret.
    #[must_use]
    pub const fn is_hmac(self) -> bool {
        matches!(self, Algorithm::Hs256 | Algorithm::Hs384 | Algorithm::Hs512)
    }

    /// Whether this build can build keys for the algorithm: its family's feature
    /// (`rsa`, `es256`, `es384`, `eddsa`) is on, and `sha512` too for the SHA-384
    /// and SHA-512 variants of HMAC and RSA.
    #[must_use]
    pub const fn is_supported(self) -> bool {
        let sha512 = cfg!(feature = "sha512");
        let rsa = cfg!(feature = "rsa");
        match self {
            Algorithm::Hs256 => true,
            Algorithm::Hs384 | Algorithm::Hs512 => sha512,
            Algorithm::Rs256 | Algorithm::Ps256 => rsa,
            Algorithm::Rs384 | Algorithm::Rs512 | Algorithm::Ps384 | Algorithm::Ps512 => {
                rsa && sha512
            }
            Algorithm::Es256 => cfg!(feature = "es256"),
            Algorithm::Es384 => cfg!(feature = "es384"),
            Algorithm::EdDsa => cfg!(feature = "eddsa"),
        }
    }

    /// Parses an `alg` name exactly (names are case-sensitive, RFC 7515 section
    /// 4.1.1). Every algorithm's name parses in every build, whatever its feature.
    ///
    /// # Errors
    /// [`Error::AlgorithmNone`] for `none` in any letter case, [`Error::WrongAlgorithm`]
    /// for any other name (including registered ones this crate does not implement,
    /// such as `ES512`).
    pub fn from_name(name: &str) -> Result<Self, Error> {
        Self::from_name_bytes(name.as_bytes())
    }

    /// [`Algorithm::from_name`] on the name's bytes.
    pub(crate) fn from_name_bytes(name: &[u8]) -> Result<Self, Error> {
        match name {
            b"HS256" => Ok(Algorithm::Hs256),
            b"HS384" => Ok(Algorithm::Hs384),
            b"HS512" => Ok(Algorithm::Hs512),
            b"RS256" => Ok(Algorithm::Rs256),
            b"RS384" => Ok(Algorithm::Rs384),
            b"RS512" => Ok(Algorithm::Rs512),
            b"PS256" => Ok(Algorithm::Ps256),
            b"PS384" => Ok(Algorithm::Ps384),
            b"PS512" => Ok(Algorithm::Ps512),
            b"ES256" => Ok(Algorithm::Es256),
            b"ES384" => Ok(Algorithm::Es384),
            b"EdDSA" => Ok(Algorithm::EdDsa),
            n if n.eq_ignore_ascii_case(b"none") => Err(Error::AlgorithmNone),
            _ => Err(Error::WrongAlgorithm),
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An elliptic curve of a JWK's `crv` (RFC 7518 section 6.2.1.1) or an SPKI's
/// named curve, so that a key of another curve than its algorithm's is refused
/// ([`Error::KeyMismatch`]) rather than misread.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum EcCurve {
    /// NIST P-256 (secp256r1), the curve of ES256.
    P256,
    /// NIST P-384 (secp384r1), the curve of ES384.
    P384,
    /// NIST P-521 (secp521r1), the curve of ES512, which this crate does not
    /// implement: a key on it is always refused.
    P521,
}

impl EcCurve {
    /// The JWK `crv` name, e.g. `"P-256"`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            EcCurve::P256 => "P-256",
            EcCurve::P384 => "P-384",
            EcCurve::P521 => "P-521",
        }
    }

    /// Parses a JWK `crv` name exactly.
    ///
    /// # Errors
    /// [`Error::InvalidKey`] for any name but `P-256`, `P-384` and `P-521`.
    pub fn from_name(name: &str) -> Result<Self, Error> {
        match name {
            "P-256" => Ok(EcCurve::P256),
            "P-384" => Ok(EcCurve::P384),
            "P-521" => Ok(EcCurve::P521),
            _ => Err(Error::InvalidKey),
        }
    }

    /// The width of a coordinate in bytes (32, 48, 66).
    #[must_use]
    pub const fn field_len(self) -> usize {
        match self {
            EcCurve::P256 => 32,
            EcCurve::P384 => 48,
            EcCurve::P521 => 66,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn none_is_never_an_algorithm() {
        for n in ["none", "None", "NONE", "nOnE"] {
            assert_eq!(Algorithm::from_name(n), Err(Error::AlgorithmNone));
        }
        for n in ["hs256", "ES512", "eddsa", "EDDSA", "Ed25519", "RS1", ""] {
            assert_eq!(Algorithm::from_name(n), Err(Error::WrongAlgorithm), "{n}");
        }
    }

    /// Every name parses back to its algorithm in every build, and the lengths
    /// the algorithm alone fixes are RFC 7518's.
    #[test]
    fn names_round_trip_in_every_build() {
        extern crate std;
        for alg in Algorithm::ALL {
            assert_eq!(Algorithm::from_name(alg.name()), Ok(alg));
            assert_eq!(std::format!("{alg}"), alg.name());
        }
        let lens = Algorithm::ALL.map(Algorithm::signature_len);
        let want = [32, 48, 64, 0, 0, 0, 0, 0, 0, 64, 96, 64].map(|n| (n > 0).then_some(n));
        assert_eq!(lens, want);
        assert_eq!(
            Algorithm::ALL.map(Algorithm::is_hmac),
            [
                true, true, true, false, false, false, false, false, false, false, false, false
            ]
        );
    }

    #[test]
    fn supported_follows_the_features() {
        let sha512 = cfg!(feature = "sha512");
        let rsa = cfg!(feature = "rsa");
        assert!(Algorithm::Hs256.is_supported());
        assert_eq!(Algorithm::Hs512.is_supported(), sha512);
        assert_eq!(Algorithm::Ps256.is_supported(), rsa);
        assert_eq!(Algorithm::Rs384.is_supported(), rsa && sha512);
        assert_eq!(Algorithm::Es256.is_supported(), cfg!(feature = "es256"));
        assert_eq!(Algorithm::Es384.is_supported(), cfg!(feature = "es384"));
        assert_eq!(Algorithm::EdDsa.is_supported(), cfg!(feature = "eddsa"));
    }

    #[test]
    fn curve_names() {
        for c in [EcCurve::P256, EcCurve::P384, EcCurve::P521] {
            assert_eq!(EcCurve::from_name(c.name()), Ok(c));
        }
        for n in ["p-256", "secp256r1", "P256", "Ed25519", ""] {
            assert_eq!(EcCurve::from_name(n), Err(Error::InvalidKey), "{n}");
        }
        assert_eq!(EcCurve::P521.field_len(), 66);
    }
}
