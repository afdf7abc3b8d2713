//! HMAC algorithms and keys: a key cannot be built shorter than its hash, and it
//! keeps the pre-keyed HMAC state so each verification hashes only the token.

use core::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
#[cfg(feature = "sha512")]
use sha2::{Sha384, Sha512};

use crate::Error;

/// The longest MAC any supported algorithm produces (HS512).
pub(crate) const MAX_MAC_LEN: usize = 64;

/// A JWS HMAC algorithm (RFC 7518 section 3.2). There is deliberately no `none`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Algorithm {
    /// HMAC with SHA-256.
    Hs256,
    /// HMAC with SHA-384.
    Hs384,
    /// HMAC with SHA-512.
    Hs512,
}

impl Algorithm {
    /// The `alg` header value, e.g. `"HS256"`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Algorithm::Hs256 => "HS256",
            Algorithm::Hs384 => "HS384",
            Algorithm::Hs512 => "HS512",
        }
    }

    /// The MAC length in bytes, which is also the minimum key length.
    #[must_use]
    pub const fn output_len(self) -> usize {
        match self {
            Algorithm::Hs256 => 32,
            Algorithm::Hs384 => 48,
            Algorithm::Hs512 => 64,
        }
    }

    /// Parses an `alg` name exactly (names are case-sensitive, RFC 7515 section 4.1.1).
    ///
    /// # Errors
    /// [`Error::AlgorithmNone`] for `none` in any letter case, [`Error::WrongAlgorithm`]
    /// for any other unsupported name.
    pub fn from_name(name: &str) -> Result<Self, Error> {
        Self::from_name_bytes(name.as_bytes())
    }

    /// [`Algorithm::from_name`] on the name's bytes.
    pub(crate) fn from_name_bytes(name: &[u8]) -> Result<Self, Error> {
        match name {
            b"HS256" => Ok(Algorithm::Hs256),
            b"HS384" => Ok(Algorithm::Hs384),
            b"HS512" => Ok(Algorithm::Hs512),
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

#[derive(Clone)]
enum State {
    Hs256(Hmac<Sha256>),
    #[cfg(feature = "sha512")]
    Hs384(Hmac<Sha384>),
    #[cfg(feature = "sha512")]
    Hs512(Hmac<Sha512>),
}

/// An HMAC key bound to one algorithm.
///
/// It holds the pre-keyed HMAC state (the inner and outer pad hashes), not the raw
/// secret, so every verification hashes only the token's signing input.
#[derive(Clone)]
pub struct Key {
    state: State,
}

impl Key {
    /// Builds a key for `alg` from `secret`.
    ///
    /// # Errors
    /// [`Error::KeyTooShort`] when `secret` is shorter than the hash output
    /// (32, 48 or 64 bytes), as RFC 7518 section 3.2 requires.
    pub fn new(alg: Algorithm, secret: &[u8]) -> Result<Self, Error> {
        if secret.len() < alg.output_len() {
            return Err(Error::KeyTooShort);
        }
        let state = match alg {
            Algorithm::Hs256 => State::Hs256(keyed(secret)?),
            #[cfg(feature = "sha512")]
            Algorithm::Hs384 => State::Hs384(keyed(secret)?),
            #[cfg(feature = "sha512")]
            Algorithm::Hs512 => State::Hs512(keyed(secret)?),
            #[cfg(not(feature = "sha512"))]
            Algorithm::Hs384 | Algorithm::Hs512 => return Err(Error::UnsupportedAlgorithm),
        };
        Ok(Key { state })
    }

    /// The algorithm this key signs and verifies with.
    #[must_use]
    pub const fn algorithm(&self) -> Algorithm {
        match self.state {
            State::Hs256(_) => Algorithm::Hs256,
            #[cfg(feature = "sha512")]
            State::Hs384(_) => Algorithm::Hs384,
            #[cfg(feature = "sha512")]
            State::Hs512(_) => Algorithm::Hs512,
        }
    }

    /// Writes the MAC of `data` into `out` and returns its length.
    pub(crate) fn mac(&self, data: &[u8], out: &mut [u8; MAX_MAC_LEN]) -> usize {
        fn put(tag: &[u8], out: &mut [u8; MAX_MAC_LEN]) -> usize {
            for (o, t) in out.iter_mut().zip(tag) {
                *o = *t;
            }
            tag.len()
        }
        match &self.state {
            State::Hs256(m) => put(&m.clone().chain_update(data).finalize().into_bytes(), out),
            #[cfg(feature = "sha512")]
            State::Hs384(m) => put(&m.clone().chain_update(data).finalize().into_bytes(), out),
            #[cfg(feature = "sha512")]
            State::Hs512(m) => put(&m.clone().chain_update(data).finalize().into_bytes(), out),
        }
    }

    /// Checks `tag` against the MAC of `data` in constant time; a tag of the wrong
    /// length never matches.
    pub(crate) fn verify(&self, data: &[u8], tag: &[u8]) -> Result<(), Error> {
        let ok = match &self.state {
            State::Hs256(m) => m.clone().chain_update(data).verify_slice(tag),
            #[cfg(feature = "sha512")]
            State::Hs384(m) => m.clone().chain_update(data).verify_slice(tag),
            #[cfg(feature = "sha512")]
            State::Hs512(m) => m.clone().chain_update(data).verify_slice(tag),
        };
        ok.map_err(|_| Error::BadSignature)
    }
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

    #[test]
    fn none_is_never_an_algorithm() {
        for n in ["none", "None", "NONE", "nOnE"] {
            assert_eq!(Algorithm::from_name(n), Err(Error::AlgorithmNone));
        }
        assert_eq!(Algorithm::from_name("hs256"), Err(Error::WrongAlgorithm));
        assert_eq!(Algorithm::from_name("HS256"), Ok(Algorithm::Hs256));
    }

    #[test]
    fn rfc4231_case_2_style_mac() {
        // RFC 4231 test case 1 key extended: the MAC matches `verify` and a flipped bit fails.
        let key = Key::new(Algorithm::Hs256, &[0x0b; 32]).unwrap();
        let mut out = [0u8; MAX_MAC_LEN];
        let n = key.mac(b"Hi There", &mut out);
        assert_eq!(n, 32);
        assert!(key.verify(b"Hi There", &out[..n]).is_ok());
        out[0] ^= 1;
        assert_eq!(key.verify(b"Hi There", &out[..n]), Err(Error::BadSignature));
        assert_eq!(
            key.verify(b"Hi There", &out[..31]),
            Err(Error::BadSignature)
        );
    }
}
