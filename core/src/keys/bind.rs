//! Binding what a key file holds to one algorithm (RFC 8725 section 3.1): the
//! [`Key`] constructors that take [`KeyMaterial`], DER, PEM or a JWK.

use super::KeyMaterial;
#[cfg(feature = "jwk")]
use super::{JWK_BUFFER_LEN, Jwk};
use crate::{Algorithm, EcCurve, Error, Key};

impl From<super::Curve> for EcCurve {
    fn from(curve: super::Curve) -> Self {
        match curve {
            super::Curve::P256 => EcCurve::P256,
            super::Curve::P384 => EcCurve::P384,
            super::Curve::P521 => EcCurve::P521,
        }
    }
}

impl Key {
    /// The key of `material`, bound to `alg`: RSA material through [`Key::rsa`], EC
    /// through [`Key::ec`] with its curve, Ed25519 through [`Key::ed25519`], an `oct`
    /// secret through [`Key::new`].
    ///
    /// # Errors
    /// [`Error::KeyMismatch`] when the material is not of `alg`'s type or curve (an
    /// RSA key for ES256, a P-384 key for ES256, a secret for RS256, any P-521 key);
    /// otherwise the constructor's errors ([`Error::InvalidKey`],
    /// [`Error::KeyTooShort`], [`Error::UnsupportedAlgorithm`]).
    pub fn from_material(alg: Algorithm, material: KeyMaterial<'_>) -> Result<Self, Error> {
        match material {
            KeyMaterial::Rsa { n, e } => Key::rsa(alg, n, e),
            KeyMaterial::Ec { curve, x, y } => Key::ec(alg, curve.into(), x, y),
            KeyMaterial::Ed25519(x) => Key::ed25519(alg, x),
            KeyMaterial::Oct(k) => Key::new(alg, k),
        }
    }

    /// A public key for `alg` from DER: a SubjectPublicKeyInfo
    /// ([`KeyMaterial::from_spki_der`]) or, failing that, a PKCS#1 `RSAPublicKey`
    /// ([`KeyMaterial::from_pkcs1_der`]); then [`Key::from_material`].
    ///
    /// # Errors
    /// The SPKI reader's error when `der` is neither; else as
    /// [`Key::from_material`].
    #[cfg(feature = "der")]
    pub fn from_der(alg: Algorithm, der: &[u8]) -> Result<Self, Error> {
        // The two cannot be confused: an SPKI starts with a SEQUENCE, an
        // RSAPublicKey with an INTEGER.
        let material = KeyMaterial::from_spki_der(der)
            .or_else(|e| KeyMaterial::from_pkcs1_der(der).map_err(|_| e))?;
        Self::from_material(alg, material)
    }

    /// A public key for `alg` from one PEM document, `PUBLIC KEY` (SPKI) or `RSA
    /// PUBLIC KEY` (PKCS#1), decoded into a [`PEM_BUFFER_LEN`](super::PEM_BUFFER_LEN)
    /// buffer on the stack; then [`Key::from_material`].
    ///
    /// # Errors
    /// [`KeyMaterial::from_pem`]'s ([`Error::PrivateKey`] for a private key,
    /// [`Error::UnsupportedKey`], [`Error::InvalidKey`]); then as
    /// [`Key::from_material`].
    #[cfg(feature = "pem")]
    pub fn from_pem(alg: Algorithm, pem: &[u8]) -> Result<Self, Error> {
        let mut buf = [0u8; super::PEM_BUFFER_LEN];
        Self::from_material(alg, KeyMaterial::from_pem(pem, &mut buf)?)
    }

    /// The key of one JWK ([`Jwk::parse`]), bound to exactly one algorithm: the
    /// JWK's `alg` when it has one, which must then be `pinned` too if the caller
    /// pins one; else `pinned`.
    ///
    /// The `alg` is compared as written: an escaped name (`"\u0052S256"`) is not
    /// read. The members are decoded into a [`JWK_BUFFER_LEN`] buffer on the stack,
    /// which holds any public key; an `oct` secret longer than that is refused.
    ///
    /// # Errors
    /// - [`Jwk::parse`]'s ([`Error::PrivateKey`], [`Error::KeyNotForVerify`],
    ///   [`Error::UnsupportedKey`], [`Error::InvalidKey`], the JSON errors);
    /// - [`Error::NoAlgorithm`]: neither the JWK nor the caller names an algorithm;
    /// - [`Error::KeyMismatch`]: the JWK's `alg` is not `pinned`, or the key is not
    ///   of its algorithm's type or curve ([`Key::from_material`]);
    /// - [`Error::UnsupportedKey`]: the JWK's `alg` is no signature algorithm of
    ///   this crate (`ES512`, `A256GCM`), [`Error::AlgorithmNone`] for `none`,
    ///   [`Error::InvalidKey`] when it has escapes;
    /// - [`Error::BufferTooSmall`]: an `oct` secret over [`JWK_BUFFER_LEN`] bytes;
    /// - the constructor's, as [`Key::from_material`].
    #[cfg(feature = "jwk")]
    pub fn from_jwk(text: &[u8], pinned: Option<Algorithm>) -> Result<Self, Error> {
        Self::from_parsed_jwk(&Jwk::parse(text)?, pinned)
    }

    /// [`Key::from_jwk`] of a parsed JWK.
    #[cfg(feature = "jwk")]
    pub(crate) fn from_parsed_jwk(jwk: &Jwk<'_>, pinned: Option<Algorithm>) -> Result<Self, Error> {
        let alg = bound_algorithm(jwk, pinned)?;
        let mut buf = [0u8; JWK_BUFFER_LEN];
        Self::from_material(alg, jwk.material(&mut buf)?)
    }
}

/// The one algorithm a JWK's key is for: its `alg`, which must be `pinned` when
/// both are given, else `pinned`.
#[cfg(feature = "jwk")]
fn bound_algorithm(jwk: &Jwk<'_>, pinned: Option<Algorithm>) -> Result<Algorithm, Error> {
    let Some(alg) = jwk.alg() else {
        return pinned.ok_or(Error::NoAlgorithm);
    };
    let name = alg.as_str().ok_or(Error::InvalidKey)?;
    let alg = Algorithm::from_name(name).map_err(|e| match e {
        Error::AlgorithmNone => e,
        _ => Error::UnsupportedKey,
    })?;
    match pinned {
        Some(pinned) if pinned != alg => Err(Error::KeyMismatch),
        _ => Ok(alg),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn material_of_the_wrong_type_or_curve() {
        use super::super::Curve;
        let ec = |curve| KeyMaterial::Ec {
            curve,
            x: &[1; 32],
            y: &[1; 32],
        };
        let cases = [
            (Algorithm::Es256, KeyMaterial::Oct(&[7; 64])),
            (Algorithm::Hs256, ec(Curve::P256)),
            (Algorithm::Es256, ec(Curve::P384)),
            (Algorithm::Es256, ec(Curve::P521)),
            (Algorithm::Es384, ec(Curve::P521)),
            (
                Algorithm::Es256,
                KeyMaterial::Rsa {
                    n: &[0xc5; 256],
                    e: &[1, 0, 1],
                },
            ),
            (Algorithm::Rs256, KeyMaterial::Ed25519(&[1; 32])),
            (Algorithm::EdDsa, KeyMaterial::Oct(&[7; 64])),
        ];
        for (alg, m) in cases {
            assert_eq!(
                Key::from_material(alg, m).map(|_| ()),
                Err(Error::KeyMismatch),
                "{alg} {m:?}"
            );
        }
        let key = Key::from_material(Algorithm::Hs256, KeyMaterial::Oct(&[7; 32])).unwrap();
        assert_eq!(key.algorithm(), Algorithm::Hs256);
        assert_eq!(
            Key::from_material(Algorithm::Hs256, KeyMaterial::Oct(&[7; 31])).map(|_| ()),
            Err(Error::KeyTooShort)
        );
    }

    #[test]
    #[cfg(all(feature = "jwk", feature = "sha512"))]
    fn jwk_binding_rule() {
        extern crate std;
        use std::format;
        let k = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0-P0A";
        let jwk = |alg: &str| format!(r#"{{"kty":"oct","k":"{k}"{alg}}}"#);
        let bind = |alg: &str, pinned| {
            Key::from_jwk(jwk(alg).as_bytes(), pinned).map(|key| key.algorithm())
        };
        let hs384 = Some(Algorithm::Hs384);
        assert_eq!(bind(r#","alg":"HS384""#, None), Ok(Algorithm::Hs384));
        assert_eq!(bind(r#","alg":"HS384""#, hs384), Ok(Algorithm::Hs384));
        assert_eq!(bind("", hs384), Ok(Algorithm::Hs384));
        assert_eq!(bind("", None), Err(Error::NoAlgorithm));
        assert_eq!(
            bind(r#","alg":"HS384""#, Some(Algorithm::Hs256)),
            Err(Error::KeyMismatch)
        );
        assert_eq!(
            bind(r#","alg":"RS256""#, Some(Algorithm::Rs256)),
            Err(Error::KeyMismatch)
        );
        for alg in ["A256GCM", "A256KW", "ES512", "hs384", "HS384 ", ""] {
            let member = format!(r#","alg":"{alg}""#);
            assert_eq!(bind(&member, hs384), Err(Error::UnsupportedKey), "{alg}");
        }
        assert_eq!(bind(r#","alg":"none""#, hs384), Err(Error::AlgorithmNone));
        assert_eq!(
            bind(r#","alg":"\u0048S384""#, hs384),
            Err(Error::InvalidKey)
        );
        // The stack buffer holds any public key, not any secret.
        let long = "A".repeat(700); // 525 bytes
        let text = format!(r#"{{"kty":"oct","k":"{long}","alg":"HS256"}}"#);
        assert_eq!(
            Key::from_jwk(text.as_bytes(), None).map(|_| ()),
            Err(Error::BufferTooSmall)
        );
    }
}
