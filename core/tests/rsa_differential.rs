//! `latchkey_core::alg::rsa` against the `rsa` crate, on the fixed test keys in
//! `tests/data/rsa/` (2048, 2049, 3072 and 4096 bits; see its README) and random
//! messages: what the `rsa` crate signs verifies, under both verifiers; a flipped bit
//! in the signature or the message verifies under neither; and a flipped bit in the
//! encoded message itself (re-signed with the raw private-key operation, so the
//! signature is a well-formed number below n) verifies under neither. The last one
//! reaches every byte of the padding, the DigestInfo, the PSS trailer, mask, separator
//! and salt, and the top byte a 2049-bit key's PSS encoding leaves empty.

use std::sync::OnceLock;

use latchkey_core::Error;
use latchkey_core::alg::rsa::{RsaHash, RsaVerifyingKey};
use proptest::prelude::*;
use proptest::sample::Index;
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey};
use rsa::signature::{RandomizedSigner, SignatureEncoding, Signer, Verifier};
use rsa::traits::PublicKeyParts;
use rsa::{BoxedUint, PrivateKey, PublicKey, hazmat, pkcs1v15, pss};
use sha2::{Sha256, Sha384, Sha512};
use spki::SubjectPublicKeyInfoRef;
use spki::der::Decode;

#[path = "support/splitmix.rs"]
mod splitmix;
use splitmix::SplitMix as TestRng;

struct TestKey {
    private: PrivateKey,
    public: PublicKey,
    ours: RsaVerifyingKey,
}

const KEY_FILES: [(&str, u32); 4] = [
    (include_str!("data/rsa/rsa2048.pem"), 2048),
    (include_str!("data/rsa/rsa2049.pem"), 2049),
    (include_str!("data/rsa/rsa3072.pem"), 3072),
    (include_str!("data/rsa/rsa4096.pem"), 4096),
];

fn keys() -> &'static [TestKey] {
    static KEYS: OnceLock<Vec<TestKey>> = OnceLock::new();
    KEYS.get_or_init(|| {
        KEY_FILES
            .iter()
            .map(|&(pem, bits)| {
                let private = PrivateKey::from_pkcs8_pem(pem).expect("test key");
                let public = private.to_public_key();
                // Ours from the SubjectPublicKeyInfo DER, as a caller would get it.
                let der = public.to_public_key_der().expect("SPKI DER");
                let spki = SubjectPublicKeyInfoRef::from_der(der.as_bytes()).expect("SPKI");
                let bytes = spki.subject_public_key.as_bytes().expect("whole bytes");
                let rsa_key = pkcs1::RsaPublicKeyRef::from_der(bytes).expect("RSAPublicKey");
                let ours = RsaVerifyingKey::new(
                    rsa_key.modulus.as_bytes(),
                    rsa_key.public_exponent.as_bytes(),
                )
                .expect("a key within the rules");
                assert_eq!(ours.modulus_bits(), bits);
                assert_eq!(ours.modulus_len(), public.size());
                TestKey {
                    private,
                    public,
                    ours,
                }
            })
            .collect()
    })
}

#[derive(Clone, Copy, Debug)]
enum Scheme {
    Pkcs1v15,
    Pss,
}

fn scheme() -> impl Strategy<Value = Scheme> {
    prop_oneof![Just(Scheme::Pkcs1v15), Just(Scheme::Pss)]
}

fn hash() -> impl Strategy<Value = RsaHash> {
    prop_oneof![
        Just(RsaHash::Sha256),
        Just(RsaHash::Sha384),
        Just(RsaHash::Sha512)
    ]
}

/// The `rsa` crate's signature, salt (PSS) from `rng`.
fn peer_sign(
    key: &TestKey,
    scheme: Scheme,
    hash: RsaHash,
    msg: &[u8],
    rng: &mut TestRng,
) -> Vec<u8> {
    fn pkcs1<D>(key: &TestKey, msg: &[u8]) -> Vec<u8>
    where
        pkcs1v15::SigningKey<D>: Signer<pkcs1v15::Signature>,
        D: rsa::sha2::Digest + rsa::pkcs8::AssociatedOid,
    {
        pkcs1v15::SigningKey::<D>::new(key.private.clone())
            .sign(msg)
            .to_vec()
    }
    fn pss<D>(key: &TestKey, msg: &[u8], rng: &mut TestRng) -> Vec<u8>
    where
        pss::SigningKey<D>: RandomizedSigner<pss::Signature>,
        D: rsa::sha2::Digest,
    {
        pss::SigningKey::<D>::new(key.private.clone())
            .sign_with_rng(rng, msg)
            .to_vec()
    }
    match (scheme, hash) {
        (Scheme::Pkcs1v15, RsaHash::Sha256) => pkcs1::<Sha256>(key, msg),
        (Scheme::Pkcs1v15, RsaHash::Sha384) => pkcs1::<Sha384>(key, msg),
        (Scheme::Pkcs1v15, RsaHash::Sha512) => pkcs1::<Sha512>(key, msg),
        (Scheme::Pss, RsaHash::Sha256) => pss::<Sha256>(key, msg, rng),
        (Scheme::Pss, RsaHash::Sha384) => pss::<Sha384>(key, msg, rng),
        (Scheme::Pss, RsaHash::Sha512) => pss::<Sha512>(key, msg, rng),
    }
}

/// The `rsa` crate's verdict (PSS: salt as long as the hash, as RFC 7518 3.5 fixes).
fn peer_verifies(key: &TestKey, scheme: Scheme, hash: RsaHash, msg: &[u8], sig: &[u8]) -> bool {
    fn pkcs1<D>(key: &TestKey, msg: &[u8], sig: &[u8]) -> bool
    where
        pkcs1v15::VerifyingKey<D>: Verifier<pkcs1v15::Signature>,
        D: rsa::sha2::Digest + rsa::pkcs8::AssociatedOid,
    {
        let Ok(sig) = pkcs1v15::Signature::try_from(sig) else {
            return false;
        };
        pkcs1v15::VerifyingKey::<D>::new(key.public.clone())
            .verify(msg, &sig)
            .is_ok()
    }
    fn pss<D>(key: &TestKey, msg: &[u8], sig: &[u8]) -> bool
    where
        pss::VerifyingKey<D>: Verifier<pss::Signature>,
        D: rsa::sha2::Digest,
    {
        let Ok(sig) = pss::Signature::try_from(sig) else {
            return false;
        };
        pss::VerifyingKey::<D>::new(key.public.clone())
            .verify(msg, &sig)
            .is_ok()
    }
    match (scheme, hash) {
        (Scheme::Pkcs1v15, RsaHash::Sha256) => pkcs1::<Sha256>(key, msg, sig),
        (Scheme::Pkcs1v15, RsaHash::Sha384) => pkcs1::<Sha384>(key, msg, sig),
        (Scheme::Pkcs1v15, RsaHash::Sha512) => pkcs1::<Sha512>(key, msg, sig),
        (Scheme::Pss, RsaHash::Sha256) => pss::<Sha256>(key, msg, sig),
        (Scheme::Pss, RsaHash::Sha384) => pss::<Sha384>(key, msg, sig),
        (Scheme::Pss, RsaHash::Sha512) => pss::<Sha512>(key, msg, sig),
    }
}

fn ours(key: &TestKey, scheme: Scheme, hash: RsaHash, msg: &[u8], sig: &[u8]) -> Result<(), Error> {
    match scheme {
        Scheme::Pkcs1v15 => key.ours.verify_pkcs1v15(hash, msg, sig),
        Scheme::Pss => key.ours.verify_pss(hash, msg, sig),
    }
}

/// A bit to flip, counted from the most significant: anywhere, or among the first or
/// last 24, where the encodings keep their edge cases (leading zero bytes, the bits
/// beyond emBits, the 0x01 type or the PSS trailer).
#[derive(Clone, Copy, Debug)]
enum Bit {
    Anywhere(Index),
    Head(usize),
    Tail(usize),
}

fn bit() -> impl Strategy<Value = Bit> {
    prop_oneof![
        2 => any::<Index>().prop_map(Bit::Anywhere),
        1 => (0..24usize).prop_map(Bit::Head),
        1 => (0..24usize).prop_map(Bit::Tail),
    ]
}

fn flip(bytes: &mut [u8], bit: Bit) {
    let bits = bytes.len() * 8;
    let i = match bit {
        Bit::Anywhere(i) => i.index(bits),
        Bit::Head(i) => i.min(bits - 1),
        Bit::Tail(i) => bits - 1 - i.min(bits - 1),
    };
    bytes[i / 8] ^= 0x80 >> (i % 8);
}

/// `x` as k big-endian bytes.
fn to_k_bytes(x: &BoxedUint, k: usize) -> Vec<u8> {
    let bytes = x.to_be_bytes();
    let (zeros, tail) = bytes.split_at(bytes.len() - k);
    assert!(zeros.iter().all(|&b| b == 0));
    tail.to_vec()
}

proptest! {
    #[test]
    fn peer_signatures_verify_and_flipped_bits_do_not(
        key in 0..KEY_FILES.len(),
        scheme in scheme(),
        hash in hash(),
        msg in proptest::collection::vec(any::<u8>(), 0..400),
        seed in any::<u64>(),
        sig_bit in bit(),
        msg_bit in bit(),
    ) {
        let key = &keys()[key];
        let sig = peer_sign(key, scheme, hash, &msg, &mut TestRng(seed));
        prop_assert_eq!(ours(key, scheme, hash, &msg, &sig), Ok(()));
        prop_assert!(peer_verifies(key, scheme, hash, &msg, &sig));

        let mut bad_sig = sig.clone();
        flip(&mut bad_sig, sig_bit);
        prop_assert_eq!(ours(key, scheme, hash, &msg, &bad_sig), Err(Error::BadSignature));
        prop_assert!(!peer_verifies(key, scheme, hash, &msg, &bad_sig));

        if !msg.is_empty() {
            let mut bad_msg = msg.clone();
            flip(&mut bad_msg, msg_bit);
            prop_assert_eq!(ours(key, scheme, hash, &bad_msg, &sig), Err(Error::BadSignature));
            prop_assert!(!peer_verifies(key, scheme, hash, &bad_msg, &sig));
        }

        // The other scheme, and the signature cut or extended by a byte.
        let other = match scheme {
            Scheme::Pkcs1v15 => Scheme::Pss,
            Scheme::Pss => Scheme::Pkcs1v15,
        };
        prop_assert_eq!(ours(key, other, hash, &msg, &sig), Err(Error::BadSignature));
        prop_assert_eq!(ours(key, scheme, hash, &msg, &sig[1..]), Err(Error::BadSignature));
        let mut longer = vec![0];
        longer.extend_from_slice(&sig);
        prop_assert_eq!(ours(key, scheme, hash, &msg, &longer), Err(Error::BadSignature));
    }

    #[test]
    fn flipped_bits_of_the_encoded_message_verify_under_neither(
        key in 0..KEY_FILES.len(),
        scheme in scheme(),
        hash in hash(),
        msg in proptest::collection::vec(any::<u8>(), 0..100),
        seed in any::<u64>(),
        em_bit in bit(),
    ) {
        let key = &keys()[key];
        let k = key.ours.modulus_len();
        let precision = key.public.n().as_ref().bits_precision();
        let mut rng = TestRng(seed);
        let sig = peer_sign(key, scheme, hash, &msg, &mut rng);
        let sig = BoxedUint::from_be_slice(&sig, precision).expect("k bytes");
        let em = hazmat::rsa_encrypt(&key.public, &sig).expect("public operation");
        let mut em = to_k_bytes(&em, k);
        flip(&mut em, em_bit);
        // Only numbers below n have a signature.
        prop_assume!(em < to_k_bytes(key.public.n().as_ref(), k));
        let em = BoxedUint::from_be_slice(&em, precision).expect("k bytes");
        let forged = hazmat::rsa_decrypt_and_check(&key.private, Some(&mut rng), &em)
            .expect("private operation");
        let forged = to_k_bytes(&forged, k);
        prop_assert_eq!(ours(key, scheme, hash, &msg, &forged), Err(Error::BadSignature));
        prop_assert!(!peer_verifies(key, scheme, hash, &msg, &forged));
    }
}

/// The 2049-bit key's PSS encoding is k - 1 bytes (RFC 8017 9.1.1, emLen = k - 1): the
/// top byte of `s^e mod n` must be zero. Setting it to 1 still gives a number below n
/// for about a third of the encodings (n starts 01 60), so this walks salts until one
/// does, then signs it raw: neither verifier may take it.
#[test]
fn pss_top_byte_of_a_2049_bit_key_must_be_zero() {
    let key = &keys()[1];
    assert_eq!(key.ours.modulus_bits(), 2049);
    let k = key.ours.modulus_len();
    let n = to_k_bytes(key.public.n().as_ref(), k);
    let precision = key.public.n().as_ref().bits_precision();
    for hash in [RsaHash::Sha256, RsaHash::Sha384, RsaHash::Sha512] {
        let msg = b"eyJhbGciOiJQUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9";
        let mut rng = TestRng(7);
        let em = (0..64)
            .find_map(|_| {
                let sig = peer_sign(key, Scheme::Pss, hash, msg, &mut rng);
                let sig = BoxedUint::from_be_slice(&sig, precision).unwrap();
                let mut em = to_k_bytes(&hazmat::rsa_encrypt(&key.public, &sig).unwrap(), k);
                assert_eq!(em[0], 0);
                em[0] = 1;
                (em < n).then_some(em)
            })
            .expect("an encoding below n - 2^2048 within 64 salts");
        let em = BoxedUint::from_be_slice(&em, precision).unwrap();
        let forged = hazmat::rsa_decrypt_and_check(&key.private, Some(&mut rng), &em).unwrap();
        let forged = to_k_bytes(&forged, k);
        assert_eq!(
            ours(key, Scheme::Pss, hash, msg, &forged),
            Err(Error::BadSignature)
        );
        assert!(!peer_verifies(key, Scheme::Pss, hash, msg, &forged));
    }
}
