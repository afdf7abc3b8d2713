//! RSA signature verification without a heap: RSASSA-PKCS1-v1_5 (RS256, RS384, RS512)
//! and RSASSA-PSS (PS256, PS384, PS512), RFC 8017 as RFC 7518 sections 3.3 and 3.5
//! use them.
//!
//! An [`RsaVerifyingKey`] is built once from the modulus `n` and the public exponent
//! `e` as big-endian bytes (what a DER `RSAPublicKey` or a JWK's `n` and `e` hold) and
//! is checked then: e = 65537 only; a modulus of 2048 to 4096 bits, odd, without a
//! leading zero byte. Anything else is [`Error::InvalidKey`], so a verification never
//! meets a bad key. The key keeps `crypto-bigint`'s Montgomery parameters for `n`, so
//! a verification computes none of them.
//!
//! A signature must be exactly k bytes (the modulus length) and, read as a number,
//! below `n`; else it is [`Error::BadSignature`] without any arithmetic.
//!
//! - PKCS#1 v1.5: the whole expected encoding `0x00 0x01 FF..FF 0x00 DigestInfo(hash)`
//!   of k bytes is built and compared, all k bytes, in constant time, with
//!   `s^65537 mod n`. Padding and DigestInfo are never parsed, so no BER length, missing
//!   NULL, short padding or trailing garbage can slip through a parser.
//! - PSS: EMSA-PSS-VERIFY (RFC 8017 section 9.1.2) with MGF1 of the same hash and a
//!   salt as long as the hash (RFC 7518 section 3.5); the mask is applied in place.
//!
//! SHA-256 is always built; SHA-384 and SHA-512 come with the `sha512` feature, and
//! without it they are [`Error::UnsupportedAlgorithm`].
//!
//! # Arithmetic and memory
//! The modulus is held in the narrowest of three fixed widths that fits it: 2048, 3072
//! or 4096 bits (`crypto-bigint`'s `U2048`, `U3072`, `U4096`), each with its own
//! Montgomery parameters. One 4096-bit width for every key would be simpler, but a
//! Montgomery multiplication costs the square of the width, so a 2048-bit key would
//! take four times the work (odd sizes such as 2049 bits, which real keys do not use,
//! pay for the next width). The price is three copies of the arithmetic in flash and a
//! key as large as the 4096-bit variant: about 1.5 KiB (`n`, `R mod n` and `R^2 mod n`
//! of 512 bytes each, `-n^-1 mod 2^64`).
//!
//! `s^65537 mod n` is one multiplication by `R^2` into Montgomery form, sixteen
//! Montgomery squarings and one Montgomery multiplication by `s` itself, taken as it is:
//! that last product `(s^65536 R) s R^-1` is already the plain result, so there is no
//! conversion back. `crypto-bigint`'s generic `pow` would build a 16-entry table of
//! powers on the stack for a 4-bit window, which a 17-bit exponent does not repay.
//! Everything lives on the stack: up to two buffers of 512 bytes for the encoded
//! messages and two Montgomery numbers, each of which carries a copy of the parameters,
//! in a frame of the key's own width (a 2048-bit key never pays for 4096-bit frames).
//!
//! # Example
//! ```
//! use latchkey_core::Error;
//! use latchkey_core::alg::rsa::{RsaHash, RsaVerifyingKey};
//!
//! # fn main() -> Result<(), Error> {
//! // `n` and `e` as big-endian bytes, as a JWK's base64url `n`/`e` or a DER
//! // `RSAPublicKey` carry them (this `n` is odd and 2048 bits long, not a real key).
//! let n = [0xc5; 256];
//! let key = RsaVerifyingKey::new(&n, &[0x01, 0x00, 0x01])?;
//! assert_eq!(key.modulus_len(), 256);
//!
//! // A signature of the wrong length, or not below `n`, fails before any arithmetic;
//! // one that does not verify fails the same way.
//! let msg = b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9";
//! assert_eq!(key.verify_pkcs1v15(RsaHash::Sha256, msg, &[1; 255]), Err(Error::BadSignature));
//! assert_eq!(key.verify_pkcs1v15(RsaHash::Sha256, msg, &[0xff; 256]), Err(Error::BadSignature));
//! assert_eq!(key.verify_pss(RsaHash::Sha256, msg, &[1; 256]), Err(Error::BadSignature));
//!
//! // Keys outside the rules are refused when they are built: e = 3, 1024 bits, even `n`.
//! assert_eq!(RsaVerifyingKey::new(&n, &[3]), Err(Error::InvalidKey));
//! assert_eq!(RsaVerifyingKey::new(&n[..128], &[1, 0, 1]), Err(Error::InvalidKey));
//! assert_eq!(RsaVerifyingKey::new(&[0xc4; 256], &[1, 0, 1]), Err(Error::InvalidKey));
//! # Ok(())
//! # }
//! ```

use core::fmt;

use crypto_bigint::ctutils::CtEq;
use crypto_bigint::modular::{FixedMontyForm, FixedMontyParams};
use crypto_bigint::{Limb, MontyForm, MontyMultiplier, Odd, U2048, U3072, U4096, Uint, Word};
use sha2::{Digest, Sha256};
#[cfg(feature = "sha512")]
use sha2::{Sha384, Sha512};

use crate::Error;

/// The smallest modulus accepted, in bits.
pub const MIN_MODULUS_BITS: u32 = 2048;

/// The largest modulus accepted, in bits.
pub const MAX_MODULUS_BITS: u32 = 4096;

/// The only public exponent accepted, 65537, as big-endian bytes without leading zeros.
pub const PUBLIC_EXPONENT: [u8; 3] = [0x01, 0x00, 0x01];

/// The longest signature: the byte length of a 4096-bit modulus.
const MAX_LEN: usize = 512;

/// The longest digest (SHA-512).
const MAX_DIGEST_LEN: usize = 64;

/// The DER `DigestInfo` of each hash up to its digest: SEQUENCE { SEQUENCE { OID, NULL },
/// OCTET STRING of the digest's length } (RFC 8017 section 9.2, note 1).
const SHA256_DIGEST_INFO: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];
#[cfg(feature = "sha512")]
const SHA384_DIGEST_INFO: [u8; 19] = [
    0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05,
    0x00, 0x04, 0x30,
];
#[cfg(feature = "sha512")]
const SHA512_DIGEST_INFO: [u8; 19] = [
    0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05,
    0x00, 0x04, 0x40,
];

/// The hash a signature covers, which is also PSS's MGF1 hash and salt length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RsaHash {
    /// SHA-256: RS256 and PS256.
    Sha256,
    /// SHA-384: RS384 and PS384 (feature `sha512`).
    Sha384,
    /// SHA-512: RS512 and PS512 (feature `sha512`).
    Sha512,
}

/// The modulus's Montgomery parameters in the narrowest width that holds it.
#[derive(Clone, PartialEq, Eq)]
// The variants differ by 768 bytes, but without a heap there is nothing to box them
// in, and one 4096-bit width for all would quadruple the work on 2048-bit keys.
#[allow(clippy::large_enum_variant)]
enum Modulus {
    W2048(FixedMontyParams<{ U2048::LIMBS }>),
    W3072(FixedMontyParams<{ U3072::LIMBS }>),
    W4096(FixedMontyParams<{ U4096::LIMBS }>),
}

/// An RSA public key for verifying signatures, checked when built: e = 65537 and an
/// odd modulus of 2048 to 4096 bits.
#[derive(Clone, PartialEq, Eq)]
pub struct RsaVerifyingKey {
    modulus: Modulus,
    /// k, the modulus length in bytes, which is also the signature length.
    len: usize,
    /// The modulus length in bits.
    bits: u32,
}

impl RsaVerifyingKey {
    /// Builds a key from the modulus `n` and the public exponent `e`, both big-endian
    /// unsigned bytes (a JWK's decoded `n` and `e`, or the contents of a DER
    /// `RSAPublicKey`'s integers without their sign byte).
    ///
    /// # Errors
    /// [`Error::InvalidKey`] unless `e` is exactly `01 00 01` (65537) and `n` is odd,
    /// has no leading zero byte, and is 2048 to 4096 bits long.
    pub fn new(n: &[u8], e: &[u8]) -> Result<Self, Error> {
        // Only 65537: e = 3 keys invite the forgeries of sloppy PKCS#1 v1.5 verifiers,
        // and a fixed exponent lets the exponentiation be a fixed chain.
        if e != PUBLIC_EXPONENT {
            return Err(Error::InvalidKey);
        }
        let (&first, _) = n.split_first().ok_or(Error::InvalidKey)?;
        let &last = n.last().ok_or(Error::InvalidKey)?;
        // A leading zero byte would make k, and so the expected signature length,
        // disagree with the modulus; JWK (RFC 7518 6.3.1.1) forbids it too.
        if first == 0 || last & 1 == 0 {
            return Err(Error::InvalidKey);
        }
        let bits = u32::try_from(n.len())
            .ok()
            .and_then(|len| len.checked_mul(8))
            .and_then(|b| b.checked_sub(first.leading_zeros()))
            .ok_or(Error::InvalidKey)?;
        let modulus = match bits {
            MIN_MODULUS_BITS..=2048 => Modulus::W2048(params(n)?),
            2049..=3072 => Modulus::W3072(params(n)?),
            3073..=MAX_MODULUS_BITS => Modulus::W4096(params(n)?),
            _ => return Err(Error::InvalidKey),
        };
        Ok(RsaVerifyingKey {
            modulus,
            len: n.len(),
            bits,
        })
    }

    /// k, the modulus length in bytes: every signature is exactly this long.
    #[must_use]
    pub const fn modulus_len(&self) -> usize {
        self.len
    }

    /// The modulus length in bits (2048 to 4096).
    #[must_use]
    pub const fn modulus_bits(&self) -> u32 {
        self.bits
    }

    /// Verifies an RSASSA-PKCS1-v1_5 signature (RS256, RS384, RS512) over `msg`.
    ///
    /// # Errors
    /// [`Error::UnsupportedAlgorithm`] for SHA-384/512 in a build without the `sha512`
    /// feature; [`Error::BadSignature`] when `sig` is not k bytes, is not below `n`, or
    /// does not match.
    pub fn verify_pkcs1v15(&self, hash: RsaHash, msg: &[u8], sig: &[u8]) -> Result<(), Error> {
        let mut expected = [0u8; MAX_LEN];
        let expected = expected.get_mut(..self.len).ok_or(Error::BadSignature)?;
        pkcs1v15_encode(hash, msg, expected)?;
        let mut em = [0u8; MAX_LEN];
        let em = em.get_mut(..self.len).ok_or(Error::BadSignature)?;
        self.rsavp1(sig, em)?;
        if em.ct_eq(&*expected).to_bool() {
            Ok(())
        } else {
            Err(Error::BadSignature)
        }
    }

    /// Verifies an RSASSA-PSS signature (PS256, PS384, PS512) over `msg`: MGF1 with the
    /// same hash and a salt as long as the hash, as RFC 7518 section 3.5 fixes.
    ///
    /// # Errors
    /// [`Error::UnsupportedAlgorithm`] for SHA-384/512 in a build without the `sha512`
    /// feature; [`Error::BadSignature`] when `sig` is not k bytes, is not below `n`, or
    /// does not match.
    pub fn verify_pss(&self, hash: RsaHash, msg: &[u8], sig: &[u8]) -> Result<(), Error> {
        let check: fn(&[u8], &mut [u8], u32) -> bool = match hash {
            RsaHash::Sha256 => emsa_pss_verify::<Sha256>,
            #[cfg(feature = "sha512")]
            RsaHash::Sha384 => emsa_pss_verify::<Sha384>,
            #[cfg(feature = "sha512")]
            RsaHash::Sha512 => emsa_pss_verify::<Sha512>,
            #[cfg(not(feature = "sha512"))]
            RsaHash::Sha384 | RsaHash::Sha512 => return Err(Error::UnsupportedAlgorithm),
        };
        let mut em = [0u8; MAX_LEN];
        let em = em.get_mut(..self.len).ok_or(Error::BadSignature)?;
        self.rsavp1(sig, em)?;
        // emBits = modBits - 1 (RFC 8017 section 8.1.2).
        let em_bits = self.bits.checked_sub(1).ok_or(Error::BadSignature)?;
        if check(msg, em, em_bits) {
            Ok(())
        } else {
            Err(Error::BadSignature)
        }
    }

    /// RSAVP1 (RFC 8017 section 5.2.2): writes `sig^65537 mod n` into `out` as k
    /// big-endian bytes, after checking that `sig` is k bytes and below `n`.
    fn rsavp1(&self, sig: &[u8], out: &mut [u8]) -> Result<(), Error> {
        if sig.len() != self.len || out.len() != self.len {
            return Err(Error::BadSignature);
        }
        match &self.modulus {
            Modulus::W2048(p) => pow_65537(p, sig, out),
            Modulus::W3072(p) => pow_65537(p, sig, out),
            Modulus::W4096(p) => pow_65537(p, sig, out),
        }
    }
}

impl fmt::Debug for RsaVerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RsaVerifyingKey")
            .field("bits", &self.bits)
            .finish_non_exhaustive()
    }
}

/// Montgomery parameters for the odd modulus `n` in `LIMBS` limbs.
// Never inlined, like `pow_65537`: each width keeps its own frame, so a 2048-bit key
// never pays the stack of the 4096-bit arithmetic.
#[inline(never)]
fn params<const LIMBS: usize>(n: &[u8]) -> Result<FixedMontyParams<LIMBS>, Error> {
    let n = uint_from_be::<LIMBS>(n).ok_or(Error::InvalidKey)?;
    let n = Odd::new(n).into_option().ok_or(Error::InvalidKey)?;
    // Variable time is fine: the modulus is public.
    Ok(FixedMontyParams::new_vartime(n))
}

/// `sig^65537 mod n` into `out` (k bytes): `sig` must be below `n`.
#[inline(never)]
fn pow_65537<const LIMBS: usize>(
    params: &FixedMontyParams<LIMBS>,
    sig: &[u8],
    out: &mut [u8],
) -> Result<(), Error> {
    let s = uint_from_be::<LIMBS>(sig).ok_or(Error::BadSignature)?;
    if &s >= params.modulus().as_ref() {
        return Err(Error::BadSignature);
    }
    // s·R: s in Montgomery form.
    let mut acc = FixedMontyForm::new(&s, params);
    let mut mul = <FixedMontyForm<LIMBS> as MontyForm>::Multiplier::from(params);
    // (s·R)^(2^16)·R^-(2^16 - 1) = s^65536·R.
    for _ in 0..16 {
        mul.square_assign(&mut acc);
    }
    // s taken as a Montgomery number: the product (s^65536·R)·s·R^-1 is s^65537, out of
    // Montgomery form, so the usual conversion back costs nothing.
    let plain_s = FixedMontyForm::from_montgomery(s, params);
    mul.mul_assign(&mut acc, &plain_s);
    if uint_to_be(acc.as_montgomery(), out) {
        Ok(())
    } else {
        // Unreachable: the result is below n, which fits in k bytes.
        Err(Error::BadSignature)
    }
}

/// Reads big-endian bytes into a `LIMBS`-limb integer; `None` if they do not fit.
fn uint_from_be<const LIMBS: usize>(bytes: &[u8]) -> Option<Uint<LIMBS>> {
    if bytes.len() > Uint::<LIMBS>::BYTES {
        return None;
    }
    let mut words: [Word; LIMBS] = [0; LIMBS];
    // Limbs are little-endian: the last bytes are the lowest limb.
    for (word, chunk) in words.iter_mut().zip(bytes.rchunks(Limb::BYTES)) {
        *word = chunk
            .iter()
            .fold(0, |acc: Word, &b| acc.wrapping_shl(8) | Word::from(b));
    }
    Some(Uint::from_words(words))
}

/// Writes `x` into all of `out` big-endian; `false` if `x` does not fit.
fn uint_to_be<const LIMBS: usize>(x: &Uint<LIMBS>, out: &mut [u8]) -> bool {
    let mut bytes = x.as_words().iter().flat_map(|w| w.to_le_bytes());
    for o in out.iter_mut().rev() {
        *o = bytes.next().unwrap_or(0);
    }
    bytes.all(|b| b == 0)
}

/// Writes `H(msg)` into `out` and returns it.
fn digest<'a, D: Digest>(msg: &[u8], out: &'a mut [u8; MAX_DIGEST_LEN]) -> &'a [u8] {
    let h = D::digest(msg);
    for (o, b) in out.iter_mut().zip(h.iter()) {
        *o = *b;
    }
    out.get(..h.len()).unwrap_or(&[])
}

/// EMSA-PKCS1-v1_5-ENCODE (RFC 8017 section 9.2) into all of `em`:
/// `0x00 0x01 FF..FF 0x00 DigestInfo(H(msg))`.
fn pkcs1v15_encode(hash: RsaHash, msg: &[u8], em: &mut [u8]) -> Result<(), Error> {
    let mut buf = [0u8; MAX_DIGEST_LEN];
    let (info, h): (&[u8], &[u8]) = match hash {
        RsaHash::Sha256 => (&SHA256_DIGEST_INFO, digest::<Sha256>(msg, &mut buf)),
        #[cfg(feature = "sha512")]
        RsaHash::Sha384 => (&SHA384_DIGEST_INFO, digest::<Sha384>(msg, &mut buf)),
        #[cfg(feature = "sha512")]
        RsaHash::Sha512 => (&SHA512_DIGEST_INFO, digest::<Sha512>(msg, &mut buf)),
        #[cfg(not(feature = "sha512"))]
        RsaHash::Sha384 | RsaHash::Sha512 => return Err(Error::UnsupportedAlgorithm),
    };
    // T = DigestInfo; at least 8 bytes of FF (k >= 256 leaves over 180).
    let pad_end = em
        .len()
        .checked_sub(info.len())
        .and_then(|n| n.checked_sub(h.len()))
        .filter(|&n| n >= 11)
        .ok_or(Error::BadSignature)?;
    let (padding, t) = em
        .split_at_mut_checked(pad_end)
        .ok_or(Error::BadSignature)?;
    padding.fill(0xff);
    if let [first, second, .., last] = padding {
        *first = 0x00;
        *second = 0x01;
        *last = 0x00;
    }
    for (o, b) in t.iter_mut().zip(info.iter().chain(h)) {
        *o = *b;
    }
    Ok(())
}

/// EMSA-PSS-VERIFY (RFC 8017 section 9.1.2) with MGF1 of `D` and a salt as long as
/// `D`'s output, over `em`, the k bytes of `s^e mod n`; `em_bits` = modBits - 1.
/// `em` is unmasked in place.
fn emsa_pss_verify<D: Digest>(msg: &[u8], em: &mut [u8], em_bits: u32) -> bool {
    let h_len = <D as Digest>::output_size();
    let s_len = h_len;
    let em_len_bits = em_bits.div_ceil(8).saturating_mul(8);
    let Ok(em_len) = usize::try_from(em_bits.div_ceil(8)) else {
        return false;
    };
    // emLen = ceil(emBits / 8) is k - 1 when modBits - 1 is a multiple of 8; then the
    // top byte of the k-byte integer must be zero (RFC 8017 8.1.2 step 2c, I2OSP).
    let em = match em.len().checked_sub(em_len) {
        Some(0) => em,
        Some(1) => match em.split_first_mut() {
            Some((&mut 0, rest)) => rest,
            _ => return false,
        },
        _ => return false,
    };
    // Step 4: the trailer byte.
    let Some((&mut 0xbc, rest)) = em.split_last_mut() else {
        return false;
    };
    // Step 3 (emLen >= hLen + sLen + 2, else the splits fail) and step 5.
    let Some((masked_db, h)) = rest
        .len()
        .checked_sub(h_len)
        .and_then(|db_len| rest.split_at_mut_checked(db_len))
    else {
        return false;
    };
    // Step 6: the 8·emLen - emBits leftmost bits, beyond emBits, must be zero.
    let unused_bits = em_len_bits.saturating_sub(em_bits);
    let top_mask = u8::MAX.checked_shr(unused_bits).unwrap_or(0);
    let Some(top) = masked_db.first_mut() else {
        return false;
    };
    if *top & !top_mask != 0 {
        return false;
    }
    // Steps 7-9: DB = maskedDB xor MGF1(H), in place, and the unused bits cleared.
    mgf1_xor::<D>(h, masked_db);
    if let Some(top) = masked_db.first_mut() {
        *top &= top_mask;
    }
    let db = &*masked_db;
    // Step 10: DB = 00..00 01 salt.
    let Some((ps_one, salt)) = db
        .len()
        .checked_sub(s_len)
        .and_then(|ps_len| db.split_at_checked(ps_len))
    else {
        return false;
    };
    let Some((&0x01, ps)) = ps_one.split_last() else {
        return false;
    };
    if ps.iter().any(|&b| b != 0) {
        return false;
    }
    // Steps 2 and 11-14: H' = Hash(00 x 8 || Hash(M) || salt) must equal H.
    let m_hash = D::digest(msg);
    let h2 = D::new()
        .chain_update([0u8; 8])
        .chain_update(m_hash)
        .chain_update(salt)
        .finalize();
    h2.as_slice().ct_eq(&*h).to_bool()
}

/// XORs MGF1(`seed`) with `D` (RFC 8017 appendix B.2.1) into `out`, block by block,
/// so the mask never needs a buffer of its own.
fn mgf1_xor<D: Digest>(seed: &[u8], out: &mut [u8]) {
    for (counter, block) in (0u32..).zip(out.chunks_mut(<D as Digest>::output_size())) {
        let mask = D::new()
            .chain_update(seed)
            .chain_update(counter.to_be_bytes())
            .finalize();
        for (o, m) in block.iter_mut().zip(mask.iter()) {
            *o ^= m;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An odd 2048-bit number, a stand-in for a modulus where only the key checks matter.
    const N2048: [u8; 256] = [0xc5; 256];

    /// `len` bytes of a number in a 600-byte buffer.
    type Bytes = ([u8; 600], usize);

    /// `len` bytes of an odd number whose first byte is `top`.
    fn odd(len: usize, top: u8) -> Bytes {
        let mut n = [0xc5; 600];
        if let Some(first) = n.first_mut() {
            *first = top;
        }
        n[len.max(1) - 1] |= 1;
        (n, len)
    }

    /// One table: every rule of the key, a case on each side of it.
    #[test]
    fn key_rules() {
        /// Name, modulus bytes, exponent bytes, and the bit length or the error.
        struct Case(&'static str, Bytes, &'static [u8], Result<u32, Error>);
        const E: &[u8] = &PUBLIC_EXPONENT;
        const BAD: Result<u32, Error> = Err(Error::InvalidKey);
        let mut even = odd(256, 0xc5);
        even.0[255] &= !1;
        let cases = [
            Case("2048 bits", odd(256, 0x80), E, Ok(2048)),
            Case("2049 bits", odd(257, 0x01), E, Ok(2049)),
            Case("3072 bits", odd(384, 0xff), E, Ok(3072)),
            Case("3073 bits", odd(385, 0x01), E, Ok(3073)),
            Case("4096 bits", odd(512, 0x80), E, Ok(4096)),
            Case("2047 bits", odd(256, 0x7f), E, BAD),
            Case("1024 bits", odd(128, 0xc5), E, BAD),
            Case("4097 bits", odd(513, 0x01), E, BAD),
            Case("4800 bits", odd(600, 0xc5), E, BAD),
            Case("leading zero byte", odd(257, 0x00), E, BAD),
            Case("even", even, E, BAD),
            Case("empty n", odd(0, 0xc5), E, BAD),
            Case("e = 3", odd(256, 0xc5), &[3], BAD),
            Case("e = 65537, zero byte", odd(256, 0xc5), &[0, 1, 0, 1], BAD),
            Case("e = 65539", odd(256, 0xc5), &[1, 0, 3], BAD),
            Case("e = 1", odd(256, 0xc5), &[1], BAD),
            Case("empty e", odd(256, 0xc5), &[], BAD),
        ];
        for Case(name, (n, len), e, want) in cases {
            let n = &n[..len];
            let got = RsaVerifyingKey::new(n, e);
            assert_eq!(
                got.as_ref().map(|k| k.modulus_bits()),
                want.as_ref().copied(),
                "{name}"
            );
            if let Ok(key) = got {
                assert_eq!(key.modulus_len(), n.len(), "{name}");
            }
        }
    }

    /// Which width each size lands in: the narrowest that holds it.
    #[test]
    fn narrowest_width() {
        let width = |len: usize, top: u8| match RsaVerifyingKey::new(
            &odd(len, top).0[..len],
            &PUBLIC_EXPONENT,
        )
        .unwrap()
        .modulus
        {
            Modulus::W2048(_) => 2048,
            Modulus::W3072(_) => 3072,
            Modulus::W4096(_) => 4096,
        };
        assert_eq!(width(256, 0x80), 2048);
        assert_eq!(width(257, 0x01), 3072);
        assert_eq!(width(384, 0x80), 3072);
        assert_eq!(width(385, 0x01), 4096);
        assert_eq!(width(512, 0x80), 4096);
    }

    /// The exponentiation at its fixed points: 0, 1 and n - 1 = -1 are their own
    /// 65537th powers (the Wycheproof and differential tests check the rest).
    #[test]
    fn pow_fixed_points() {
        let key = RsaVerifyingKey::new(&N2048, &PUBLIC_EXPONENT).unwrap();
        let mut out = [0u8; 256];
        let mut n_minus_1 = N2048;
        n_minus_1[255] -= 1;
        for s in [
            [0u8; 256],
            {
                let mut one = [0u8; 256];
                one[255] = 1;
                one
            },
            n_minus_1,
        ] {
            key.rsavp1(&s, &mut out).unwrap();
            assert_eq!(out, s);
        }
    }

    #[test]
    fn signature_length_and_range() {
        let key = RsaVerifyingKey::new(&N2048, &PUBLIC_EXPONENT).unwrap();
        let mut out = [0u8; 256];
        // s = n and s > n are refused; n - 1 is the largest allowed.
        assert_eq!(key.rsavp1(&N2048, &mut out), Err(Error::BadSignature));
        assert_eq!(key.rsavp1(&[0xff; 256], &mut out), Err(Error::BadSignature));
        for len in [0, 1, 255, 257, 512] {
            let sig = [0u8; 512];
            for verify in [
                RsaVerifyingKey::verify_pkcs1v15,
                RsaVerifyingKey::verify_pss,
            ] {
                assert_eq!(
                    verify(&key, RsaHash::Sha256, b"", &sig[..len]),
                    Err(Error::BadSignature),
                    "{len}"
                );
            }
        }
    }

    /// The encoding RFC 8017 9.2 describes, byte for byte, for a 2048-bit key.
    #[test]
    fn pkcs1v15_encoding() {
        let mut em = [0u8; 256];
        pkcs1v15_encode(RsaHash::Sha256, b"abc", &mut em).unwrap();
        assert_eq!(&em[..2], &[0x00, 0x01]);
        assert!(em[2..256 - 52].iter().all(|&b| b == 0xff));
        assert_eq!(em[256 - 52], 0x00);
        assert_eq!(&em[256 - 51..256 - 32], &SHA256_DIGEST_INFO);
        assert_eq!(&em[256 - 32..], Sha256::digest(b"abc").as_slice());
    }

    #[test]
    #[cfg(not(feature = "sha512"))]
    fn sha384_and_sha512_need_the_sha512_feature() {
        let key = RsaVerifyingKey::new(&N2048, &PUBLIC_EXPONENT).unwrap();
        for hash in [RsaHash::Sha384, RsaHash::Sha512] {
            for verify in [
                RsaVerifyingKey::verify_pkcs1v15,
                RsaVerifyingKey::verify_pss,
            ] {
                assert_eq!(
                    verify(&key, hash, b"", &[0; 256]),
                    Err(Error::UnsupportedAlgorithm)
                );
            }
        }
    }

    /// The key is the 4096-bit parameters and two lengths: n, R mod n, R^2 mod n of
    /// 512 bytes each and -n^-1 mod 2^64.
    #[test]
    fn key_size() {
        let size = core::mem::size_of::<RsaVerifyingKey>();
        assert!((3 * 512..=3 * 512 + 48).contains(&size), "{size}");
    }

    /// The key prints its size, not its numbers.
    #[test]
    fn debug_shows_the_size() {
        extern crate std;
        let key = RsaVerifyingKey::new(&N2048, &PUBLIC_EXPONENT).unwrap();
        assert_eq!(
            std::format!("{key:?}"),
            "RsaVerifyingKey { bits: 2048, .. }"
        );
    }
}
