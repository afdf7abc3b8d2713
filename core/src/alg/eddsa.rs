//! EdDSA over Ed25519 (RFC 8032, JWS `alg` `EdDSA` of RFC 8037): a verifying key
//! checked when it is built, and strict verification.
//!
//! Strict means one signature per message and key, whoever verifies: `S` must be
//! below the group order, `R` must be the canonical encoding of a point that is not
//! of small order, and the key must be the canonical encoding of a point that is not
//! of small order. ed25519-dalek's `verify_strict` does the signature part; the key
//! part is done once, in [`Ed25519VerifyingKey::from_bytes`].
//!
//! ```
//! use latchkey_core::alg::eddsa::Ed25519VerifyingKey;
//!
//! # fn main() -> Result<(), latchkey_core::Error> {
//! // RFC 8032 section 7.1, TEST 1: the empty message.
//! let public = [
//!     0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64,
//!     0x07, 0x3a, 0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68,
//!     0xf7, 0x07, 0x51, 0x1a,
//! ];
//! let signature = [
//!     0xe5, 0x56, 0x43, 0x00, 0xc3, 0x60, 0xac, 0x72, 0x90, 0x86, 0xe2, 0xcc, 0x80, 0x6e,
//!     0x82, 0x8a, 0x84, 0x87, 0x7f, 0x1e, 0xb8, 0xe5, 0xd9, 0x74, 0xd8, 0x73, 0xe0, 0x65,
//!     0x22, 0x49, 0x01, 0x55, 0x5f, 0xb8, 0x82, 0x15, 0x90, 0xa3, 0x3b, 0xac, 0xc6, 0x1e,
//!     0x39, 0x70, 0x1c, 0xf9, 0xb4, 0x6b, 0xd2, 0x5b, 0xf5, 0xf0, 0x59, 0x5b, 0xbe, 0x24,
//!     0x65, 0x51, 0x41, 0x43, 0x8e, 0x7a, 0x10, 0x0b,
//! ];
//! let key = Ed25519VerifyingKey::from_bytes(&public)?;
//! key.verify(b"", &signature)?;
//! assert_eq!(key.verify(b"x", &signature), Err(latchkey_core::Error::BadSignature));
//! # Ok(())
//! # }
//! ```

use ed25519_dalek::{Signature, VerifyingKey};

use crate::Error;

/// An Ed25519 public key that has passed every check a key can fail.
///
/// There is no way to build one from a key that is not the canonical encoding of a
/// point of the curve, or that is of small order (RFC 8032 section 5.1.3; weak keys),
/// so [`verify`](Self::verify) never meets such a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ed25519VerifyingKey(VerifyingKey);

impl Ed25519VerifyingKey {
    /// Length of a public key: the 32-byte encoding of RFC 8032 (a JWK's `x`).
    pub const KEY_LEN: usize = 32;
    /// Length of a signature: `R` then `S`, 32 bytes each.
    pub const SIGNATURE_LEN: usize = 64;

    /// A key from its 32-byte encoding (RFC 8032 section 5.1.2).
    ///
    /// # Errors
    /// [`Error::InvalidKey`] when `public_key` is not 32 bytes, does not decode to a
    /// point of the curve, is a non-canonical encoding (`y` not reduced, or `x = 0`
    /// with the sign bit set: RFC 8032 section 5.1.3 refuses both), or is a point of
    /// small order (such a key admits signatures that hold for many messages).
    pub fn from_bytes(public_key: &[u8]) -> Result<Self, Error> {
        let bytes: &[u8; Self::KEY_LEN] = public_key.try_into().map_err(|_| Error::InvalidKey)?;
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| Error::InvalidKey)?;
        // dalek decodes leniently: it reduces `y` and takes `-0` for 0. The hash in
        // every verification covers the key's bytes as given, so a second spelling
        // of the same point would be a second key; only the canonical one is kept.
        if key.to_edwards().compress().as_bytes() != bytes || key.is_weak() {
            return Err(Error::InvalidKey);
        }
        Ok(Self(key))
    }

    /// The key's 32-byte encoding, as it was given.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; Self::KEY_LEN] {
        self.0.as_bytes()
    }

    /// Checks an Ed25519 signature of `msg` under this key, strictly.
    ///
    /// # Errors
    /// [`Error::BadSignature`] when `sig` is not exactly 64 bytes, `S` is not below
    /// the group order, `R` is not a canonical point encoding or is of small order,
    /// or the signature does not match.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> Result<(), Error> {
        let sig: &[u8; Self::SIGNATURE_LEN] = sig.try_into().map_err(|_| Error::BadSignature)?;
        self.0
            .verify_strict(msg, &Signature::from_bytes(sig))
            .map_err(|_| Error::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::{Signer, SigningKey};

    use super::*;

    fn signer(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    #[test]
    fn round_trip_and_every_flipped_bit_fails() {
        let sk = signer(7);
        let key = Ed25519VerifyingKey::from_bytes(sk.verifying_key().as_bytes()).unwrap();
        assert_eq!(key.as_bytes(), sk.verifying_key().as_bytes());
        let msg = b"eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhbGljZSJ9";
        let sig = sk.sign(msg).to_bytes();
        assert_eq!(key.verify(msg, &sig), Ok(()));
        for bit in 0..sig.len() * 8 {
            let mut bad = sig;
            bad[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(key.verify(msg, &bad), Err(Error::BadSignature), "bit {bit}");
        }
        assert_eq!(
            key.verify(b"another message", &sig),
            Err(Error::BadSignature)
        );
        let other = Ed25519VerifyingKey::from_bytes(signer(8).verifying_key().as_bytes()).unwrap();
        assert_eq!(other.verify(msg, &sig), Err(Error::BadSignature));
    }

    #[test]
    fn signature_of_the_wrong_length_is_bad() {
        let sk = signer(1);
        let key = Ed25519VerifyingKey::from_bytes(sk.verifying_key().as_bytes()).unwrap();
        let sig = sk.sign(b"m").to_bytes();
        let mut long = [0u8; 65];
        long[..64].copy_from_slice(&sig);
        for bad in [&[][..], &sig[..63], &long[..]] {
            assert_eq!(key.verify(b"m", bad), Err(Error::BadSignature));
        }
    }

    #[test]
    fn non_canonical_s_is_bad() {
        // S + L verifies in a lenient verifier (RFC 8032 section 8.4).
        const L: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let sk = signer(2);
        let key = Ed25519VerifyingKey::from_bytes(sk.verifying_key().as_bytes()).unwrap();
        let mut sig = sk.sign(b"m").to_bytes();
        let mut carry = 0u16;
        for (s, l) in sig[32..].iter_mut().zip(L) {
            let sum = u16::from(*s) + u16::from(l) + carry;
            *s = sum as u8;
            carry = sum >> 8;
        }
        assert_eq!(carry, 0, "S + L fits 256 bits for a reduced S");
        assert_eq!(key.verify(b"m", &sig), Err(Error::BadSignature));
    }

    #[test]
    fn keys_of_the_wrong_length_are_refused() {
        let pk = *signer(3).verifying_key().as_bytes();
        for bad in [&[][..], &pk[..31], &[pk.as_slice(), &[0]].concat()[..]] {
            assert_eq!(Ed25519VerifyingKey::from_bytes(bad), Err(Error::InvalidKey));
        }
    }

    /// The eight points of small order, by their canonical encodings (the identity,
    /// the point of order 2, two of order 4, four of order 8).
    const SMALL_ORDER: [&str; 8] = [
        "0100000000000000000000000000000000000000000000000000000000000000",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0000000000000000000000000000000000000000000000000000000000000080",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
    ];

    fn unhex(s: &str) -> [u8; 32] {
        core::array::from_fn(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
    }

    #[test]
    fn small_order_keys_are_refused() {
        for p in SMALL_ORDER.map(unhex) {
            // dalek agrees that these are points and weak: the list is right.
            assert!(VerifyingKey::from_bytes(&p).unwrap().is_weak(), "{p:02x?}");
            assert_eq!(
                Ed25519VerifyingKey::from_bytes(&p),
                Err(Error::InvalidKey),
                "{p:02x?}"
            );
        }
    }

    #[test]
    fn non_canonical_key_encodings_are_refused() {
        // y = p + k for k < 19 still fits 255 bits: the only unreduced encodings.
        // Each that dalek decodes names the same point as the encoding of y = k.
        let mut strong = 0;
        for k in 0..19u8 {
            for sign in [0, 0x80] {
                let mut enc = [0xff; 32];
                enc[0] = 0xed + k;
                enc[31] = 0x7f | sign;
                let Ok(lenient) = VerifyingKey::from_bytes(&enc) else {
                    continue;
                };
                assert_eq!(
                    Ed25519VerifyingKey::from_bytes(&enc),
                    Err(Error::InvalidKey),
                    "{k}"
                );
                if !lenient.is_weak() {
                    strong += 1;
                    let mut canonical = [0; 32];
                    canonical[0] = k;
                    canonical[31] = sign;
                    assert!(Ed25519VerifyingKey::from_bytes(&canonical).is_ok(), "{k}");
                }
            }
        }
        // Some of them are refused only for their spelling, not their order.
        assert!(strong > 0);
    }
}
