//! Tokens of every public-key algorithm, end to end: signed through core's
//! [`Signer`] by the RustCrypto signing keys (ed25519-dalek, p256, p384, rsa),
//! verified with the public [`Key`] (and, as a peer, by `jsonwebtoken`); the
//! binding of a key to one algorithm and one key type; the rules by which a
//! [`KeySet`] chooses a key; and header members that carry keys never supplying one.

use std::sync::OnceLock;

use base64ct::{Base64UrlUnpadded, Encoding};
use latchkey_core::{
    Algorithm, EcCurve, Error, HeaderParams, Key, KeySet, Signer, Validation, Verifier,
};
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{RandomizedSigner, SignatureEncoding, Signer as _};
use rsa::traits::PublicKeyParts;
use sha2::{Sha256, Sha384, Sha512};

const NOW: u64 = 1_700_000_000;
const CLAIMS: &[u8] = br#"{"sub":"alice","iat":1700000000,"exp":4000000000}"#;

#[path = "support/splitmix.rs"]
mod splitmix;
use splitmix::SplitMix as SaltRng;

/// A test signing key of any family, and the algorithm it signs for: what a host
/// would wrap around its own private keys.
enum TestSigner {
    Ed25519(ed25519_dalek::SigningKey),
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    Rsa(Algorithm, rsa::PrivateKey),
}

impl Signer for TestSigner {
    fn algorithm(&self) -> Algorithm {
        match self {
            TestSigner::Ed25519(_) => Algorithm::EdDsa,
            TestSigner::P256(_) => Algorithm::Es256,
            TestSigner::P384(_) => Algorithm::Es384,
            TestSigner::Rsa(alg, _) => *alg,
        }
    }

    fn signature_len(&self) -> usize {
        match self {
            TestSigner::Rsa(_, key) => key.size(),
            _ => self.algorithm().signature_len().unwrap(),
        }
    }

    fn sign(&self, input: &[u8], out: &mut [u8]) -> Result<usize, Error> {
        let sig: Vec<u8> = match self {
            TestSigner::Ed25519(k) => k.sign(input).to_bytes().to_vec(),
            TestSigner::P256(k) => {
                let sig: p256::ecdsa::Signature = k.sign(input);
                sig.to_bytes().to_vec()
            }
            TestSigner::P384(k) => {
                let sig: p384::ecdsa::Signature = k.sign(input);
                sig.to_bytes().to_vec()
            }
            TestSigner::Rsa(alg, key) => rsa_sign(*alg, key.clone(), input),
        };
        out.get_mut(..sig.len())
            .ok_or(Error::BufferTooSmall)?
            .copy_from_slice(&sig);
        Ok(sig.len())
    }
}

fn rsa_sign(alg: Algorithm, key: rsa::PrivateKey, input: &[u8]) -> Vec<u8> {
    use rsa::{pkcs1v15, pss};
    let rng = &mut SaltRng(input.len() as u64);
    match alg {
        Algorithm::Rs256 => pkcs1v15::SigningKey::<Sha256>::new(key)
            .sign(input)
            .to_vec(),
        Algorithm::Rs384 => pkcs1v15::SigningKey::<Sha384>::new(key)
            .sign(input)
            .to_vec(),
        Algorithm::Rs512 => pkcs1v15::SigningKey::<Sha512>::new(key)
            .sign(input)
            .to_vec(),
        Algorithm::Ps256 => pss::SigningKey::<Sha256>::new(key)
            .sign_with_rng(rng, input)
            .to_vec(),
        Algorithm::Ps384 => pss::SigningKey::<Sha384>::new(key)
            .sign_with_rng(rng, input)
            .to_vec(),
        Algorithm::Ps512 => pss::SigningKey::<Sha512>::new(key)
            .sign_with_rng(rng, input)
            .to_vec(),
        other => panic!("not an RSA algorithm: {other}"),
    }
}

fn rsa_private() -> &'static rsa::PrivateKey {
    static KEY: OnceLock<rsa::PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| {
        rsa::PrivateKey::from_pkcs8_pem(include_str!("data/rsa/rsa2048.pem")).expect("test key")
    })
}

/// The raw public material, as a key parser would hand it over.
enum Public {
    Ed25519([u8; 32]),
    Ec(EcCurve, Vec<u8>, Vec<u8>),
    Rsa(Vec<u8>, Vec<u8>),
}

impl TestSigner {
    /// A signer for `alg`, from a fixed seed.
    fn new(alg: Algorithm, seed: u8) -> Self {
        match alg {
            Algorithm::EdDsa => {
                TestSigner::Ed25519(ed25519_dalek::SigningKey::from_bytes(&[seed; 32]))
            }
            Algorithm::Es256 => {
                TestSigner::P256(p256::ecdsa::SigningKey::from_slice(&[seed; 32]).unwrap())
            }
            Algorithm::Es384 => {
                TestSigner::P384(p384::ecdsa::SigningKey::from_slice(&[seed; 48]).unwrap())
            }
            rsa => TestSigner::Rsa(rsa, rsa_private().clone()),
        }
    }

    fn public(&self) -> Public {
        match self {
            TestSigner::Ed25519(k) => Public::Ed25519(k.verifying_key().to_bytes()),
            TestSigner::P256(k) => {
                let p = k.verifying_key().to_sec1_point(false);
                let (x, y) = p.as_bytes()[1..].split_at(32);
                Public::Ec(EcCurve::P256, x.to_vec(), y.to_vec())
            }
            TestSigner::P384(k) => {
                let p = k.verifying_key().to_sec1_point(false);
                let (x, y) = p.as_bytes()[1..].split_at(48);
                Public::Ec(EcCurve::P384, x.to_vec(), y.to_vec())
            }
            TestSigner::Rsa(_, k) => {
                let public = k.to_public_key();
                Public::Rsa(public.n_bytes().to_vec(), public.e_bytes().to_vec())
            }
        }
    }

    /// The public key, bound to `alg`.
    fn key_for(&self, alg: Algorithm) -> Result<Key, Error> {
        match self.public() {
            Public::Ed25519(x) => Key::ed25519(alg, &x),
            Public::Ec(curve, x, y) => Key::ec(alg, curve, &x, &y),
            Public::Rsa(n, e) => Key::rsa(alg, &n, &e),
        }
    }

    fn key(&self) -> Key {
        self.key_for(self.algorithm()).unwrap()
    }

    /// The same key for `jsonwebtoken`.
    fn peer_key(&self) -> jsonwebtoken::DecodingKey {
        use jsonwebtoken::DecodingKey;
        let b64 = Base64UrlUnpadded::encode_string;
        match self.public() {
            Public::Ed25519(x) => DecodingKey::from_ed_components(&b64(&x)).unwrap(),
            Public::Ec(_, x, y) => DecodingKey::from_ec_components(&b64(&x), &b64(&y)).unwrap(),
            Public::Rsa(n, e) => DecodingKey::from_rsa_components(&b64(&n), &b64(&e)).unwrap(),
        }
    }
}

/// Every public-key algorithm core names.
fn public_algs() -> impl Iterator<Item = Algorithm> {
    Algorithm::ALL.into_iter().filter(|a| !a.is_hmac())
}

fn sign(signer: &impl Signer, kid: Option<&str>, claims: &[u8]) -> String {
    let mut out = [0u8; 2048];
    let header = HeaderParams {
        typ: Some("JWT"),
        kid,
    };
    latchkey_core::sign(signer, &header, claims, &mut out)
        .unwrap()
        .to_owned()
}

/// A token of exactly this header text, signed by `signer` (the writer only writes
/// `alg`, `typ` and `kid`).
fn sign_raw(signer: &impl Signer, header: &str, claims: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        Base64UrlUnpadded::encode_string(header.as_bytes()),
        Base64UrlUnpadded::encode_string(claims)
    );
    let mut sig = vec![0; signer.signature_len()];
    let n = signer.sign(input.as_bytes(), &mut sig).unwrap();
    format!("{input}.{}", Base64UrlUnpadded::encode_string(&sig[..n]))
}

fn verify<K: latchkey_core::KeySource>(
    verifier: &Verifier<'_, K>,
    token: &str,
) -> Result<(), Error> {
    let mut scratch = [0u8; 2048];
    verifier
        .verify(token.as_bytes(), NOW, &mut scratch)
        .map(|c| assert!(c.sub().is_some_and(|s| s.eq_str("alice"))))
}

/// Every algorithm: what the signer signs, the public key verifies (and so does
/// jsonwebtoken), under the same header and claims; one flipped bit of the
/// signature or of the payload does not.
#[test]
fn round_trip_every_algorithm() {
    for alg in public_algs() {
        let signer = TestSigner::new(alg, 7);
        let key = signer.key();
        assert_eq!(key.algorithm(), alg);
        assert!(key.is_public());
        assert_eq!(key.signature_len(), signer.signature_len(), "{alg}");
        let token = sign(&signer, Some("k1"), CLAIMS);
        let verifier = Verifier::new(key, Validation::new());
        assert_eq!(verify(&verifier, &token), Ok(()), "{alg}");

        let peer_alg: jsonwebtoken::Algorithm = alg.name().parse().unwrap();
        let peer = jsonwebtoken::decode::<serde_json::Value>(
            &token,
            &signer.peer_key(),
            &jsonwebtoken::Validation::new(peer_alg),
        );
        assert!(peer.is_ok(), "{alg}: jsonwebtoken says {peer:?}");

        let (input, sig) = token.rsplit_once('.').unwrap();
        let mut raw = Base64UrlUnpadded::decode_vec(sig).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        let flipped = format!("{input}.{}", Base64UrlUnpadded::encode_string(&raw));
        assert_eq!(
            verify(&verifier, &flipped),
            Err(Error::BadSignature),
            "{alg}"
        );
        let other_claims = CLAIMS
            .to_vec()
            .into_iter()
            .map(|b| if b == b'4' { b'5' } else { b })
            .collect::<Vec<_>>();
        let (header, _) = input.split_once('.').unwrap();
        let moved = format!(
            "{header}.{}.{sig}",
            Base64UrlUnpadded::encode_string(&other_claims)
        );
        assert_eq!(verify(&verifier, &moved), Err(Error::BadSignature), "{alg}");
    }
}

/// A key verifies only its own algorithm: another algorithm in the header is
/// refused before the signature, including the algorithm of the same key material
/// under another scheme (RS256 vs PS256) and HMAC keyed with the public key bytes.
#[test]
fn a_key_verifies_only_its_algorithm() {
    let rs = TestSigner::new(Algorithm::Rs256, 1);
    let ps = TestSigner::new(Algorithm::Ps256, 1);
    let es = TestSigner::new(Algorithm::Es256, 1);
    let rs_verifier = Verifier::new(rs.key(), Validation::new());
    let es_verifier = Verifier::new(es.key(), Validation::new());
    // Same modulus, the other scheme.
    assert_eq!(
        verify(&rs_verifier, &sign(&ps, None, CLAIMS)),
        Err(Error::WrongAlgorithm)
    );
    assert_eq!(
        verify(&es_verifier, &sign(&rs, None, CLAIMS)),
        Err(Error::WrongAlgorithm)
    );
    // The header says PS256 but the signature is PKCS#1 v1.5 (and the reverse).
    let ps_verifier = Verifier::new(ps.key(), Validation::new());
    let mislabelled = sign_raw(&rs, r#"{"alg":"PS256"}"#, CLAIMS);
    assert_eq!(verify(&ps_verifier, &mislabelled), Err(Error::BadSignature));
    let mislabelled = sign_raw(&ps, r#"{"alg":"RS256"}"#, CLAIMS);
    assert_eq!(verify(&rs_verifier, &mislabelled), Err(Error::BadSignature));
    // Algorithm confusion: HS256 keyed with the public key's bytes.
    let Public::Rsa(n, _) = rs.public() else {
        unreachable!()
    };
    let confused = Key::new(Algorithm::Hs256, &n).unwrap();
    assert_eq!(
        verify(&rs_verifier, &sign(&confused, None, CLAIMS)),
        Err(Error::WrongAlgorithm)
    );
    assert_eq!(
        verify(&rs_verifier, &sign_raw(&rs, r#"{"alg":"none"}"#, CLAIMS)),
        Err(Error::AlgorithmNone)
    );
}

/// Key material of one type never becomes a key of another: the constructors
/// refuse a key of the wrong family or curve, whatever its bytes.
#[test]
fn wrong_key_types_are_refused() {
    let rsa = TestSigner::new(Algorithm::Rs256, 1);
    let p256 = TestSigner::new(Algorithm::Es256, 1);
    let p384 = TestSigner::new(Algorithm::Es384, 1);
    let ed = TestSigner::new(Algorithm::EdDsa, 1);
    // An RSA key for ES256 or EdDSA, an EC key for RS256, an Ed25519 key for ES256.
    for alg in [Algorithm::Es256, Algorithm::EdDsa, Algorithm::Hs256] {
        assert_eq!(rsa.key_for(alg).err(), Some(Error::KeyMismatch), "{alg}");
    }
    assert_eq!(
        p256.key_for(Algorithm::Rs256).err(),
        Some(Error::KeyMismatch)
    );
    assert_eq!(ed.key_for(Algorithm::Es256).err(), Some(Error::KeyMismatch));
    // A P-384 point for ES256 and a P-256 point for ES384: the curve is the key's.
    assert_eq!(
        p384.key_for(Algorithm::Es256).err(),
        Some(Error::KeyMismatch)
    );
    assert_eq!(
        p256.key_for(Algorithm::Es384).err(),
        Some(Error::KeyMismatch)
    );
    // Named P-256 but with P-384's coordinates: a malformed P-256 key.
    let Public::Ec(_, x, y) = p384.public() else {
        unreachable!()
    };
    assert_eq!(
        Key::ec(Algorithm::Es256, EcCurve::P256, &x, &y).err(),
        Some(Error::InvalidKey)
    );
    // An HMAC secret for RS256, even one as long as a modulus.
    assert_eq!(
        Key::new(Algorithm::Rs256, &[7; 256]).err(),
        Some(Error::KeyMismatch)
    );
    // The SEC1 form agrees with the coordinates.
    let Public::Ec(_, x, y) = p256.public() else {
        unreachable!()
    };
    let sec1 = [&[4][..], &x, &y].concat();
    let key = Key::ec_sec1(Algorithm::Es256, EcCurve::P256, &sec1).unwrap();
    let verifier = Verifier::new(key, Validation::new());
    assert_eq!(verify(&verifier, &sign(&p256, None, CLAIMS)), Ok(()));
}

/// A public key cannot sign, through `Key::sign` or the writer.
#[test]
fn public_keys_cannot_sign() {
    for alg in public_algs() {
        let key = TestSigner::new(alg, 2).key();
        let mut out = [0u8; 2048];
        assert_eq!(
            key.sign(&HeaderParams::default(), CLAIMS, &mut out),
            Err(Error::KeyMismatch)
        );
        assert_eq!(
            latchkey_core::sign(&key, &HeaderParams::default(), CLAIMS, &mut out),
            Err(Error::KeyMismatch)
        );
    }
}

/// The key-set rules with keys of several families: the kid picks; without a kid
/// the one key of the header's alg; never a guess.
#[test]
fn key_set_selection() {
    let rs = TestSigner::new(Algorithm::Rs256, 1);
    let es_a = TestSigner::new(Algorithm::Es256, 1);
    let es_b = TestSigner::new(Algorithm::Es256, 2);
    let ed = TestSigner::new(Algorithm::EdDsa, 1);
    let mut keys = KeySet::<4>::new();
    keys.insert(Some("rsa"), rs.key()).unwrap();
    keys.insert(Some("ec-a"), es_a.key()).unwrap();
    keys.insert(Some("ec-b"), es_b.key()).unwrap();
    keys.insert(None, ed.key()).unwrap();
    assert_eq!(keys.insert(None, ed.key()), Err(Error::KeySetFull));
    let mut other = KeySet::<4>::new();
    other.insert(Some("ec-a"), es_a.key()).unwrap();
    assert_eq!(
        other.insert(Some("ec-a"), es_b.key()),
        Err(Error::DuplicateKey)
    );
    assert_eq!(other.len(), 1);

    let v = Verifier::with_keys(&keys, Validation::new());
    // The kid picks the key.
    assert_eq!(verify(&v, &sign(&rs, Some("rsa"), CLAIMS)), Ok(()));
    assert_eq!(verify(&v, &sign(&es_a, Some("ec-a"), CLAIMS)), Ok(()));
    assert_eq!(verify(&v, &sign(&es_b, Some("ec-b"), CLAIMS)), Ok(()));
    // A kid naming another key of the same algorithm: that key, which fails.
    assert_eq!(
        verify(&v, &sign(&es_a, Some("ec-b"), CLAIMS)),
        Err(Error::BadSignature)
    );
    // A kid naming a key of another algorithm than the header's.
    assert_eq!(
        verify(&v, &sign(&es_a, Some("rsa"), CLAIMS)),
        Err(Error::WrongAlgorithm)
    );
    // An unknown kid, even for an algorithm with a kid-less key.
    assert_eq!(
        verify(&v, &sign(&ed, Some("ed"), CLAIMS)),
        Err(Error::UnknownKey)
    );
    // No kid: the one key of the alg (with or without a kid of its own).
    assert_eq!(verify(&v, &sign(&ed, None, CLAIMS)), Ok(()));
    assert_eq!(verify(&v, &sign(&rs, None, CLAIMS)), Ok(()));
    // No kid and two keys of the alg.
    assert_eq!(
        verify(&v, &sign(&es_a, None, CLAIMS)),
        Err(Error::AmbiguousKey)
    );
    // No kid and no key of the alg.
    let ps = TestSigner::new(Algorithm::Ps256, 1);
    assert_eq!(verify(&v, &sign(&ps, None, CLAIMS)), Err(Error::UnknownKey));
    // Selection comes after the size and segment checks, and before the signature.
    let mut scratch = [0u8; 2048];
    assert_eq!(
        v.verify_jws(b"a.b", &mut scratch).err(),
        Some(Error::Malformed)
    );
}

/// `jwk`, `jku`, `x5u` and `x5c` never supply a key: a token signed by the key it
/// embeds (or points to) fails with the verifier's key, and one signed by the
/// verifier's key passes whatever those members say. Through a key set too.
#[test]
fn key_carrying_header_members_are_ignored() {
    let real = TestSigner::new(Algorithm::Es256, 1);
    let attacker = TestSigner::new(Algorithm::Es256, 66);
    let Public::Ec(_, x, y) = attacker.public() else {
        unreachable!()
    };
    let b64 = Base64UrlUnpadded::encode_string;
    let header = format!(
        concat!(
            r#"{{"alg":"ES256","kid":"real","#,
            r#""jwk":{{"kty":"EC","crv":"P-256","x":"{}","y":"{}"}},"#,
            r#""jku":"https://attacker.example/jwks.json","#,
            r#""x5u":"https://attacker.example/cert.pem","x5c":["MIIB"]}}"#
        ),
        b64(&x),
        b64(&y)
    );
    let mut keys = KeySet::<1>::new();
    keys.insert(Some("real"), real.key()).unwrap();
    let one = Verifier::new(real.key(), Validation::new());
    let set = Verifier::with_keys(&keys, Validation::new());
    let forged = sign_raw(&attacker, &header, CLAIMS);
    let genuine = sign_raw(&real, &header, CLAIMS);
    assert_eq!(verify(&one, &forged), Err(Error::BadSignature));
    assert_eq!(verify(&set, &forged), Err(Error::BadSignature));
    assert_eq!(verify(&one, &genuine), Ok(()));
    assert_eq!(verify(&set, &genuine), Ok(()));
}
