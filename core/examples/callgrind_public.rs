//! Instructions per public-key JWT verification under `valgrind --tool=callgrind`:
//! latchkey-core's `Verifier` against `jsonwebtoken` 12 (`rust_crypto`) and against
//! the raw primitive, each on the same RS256, PS256, ES256 or EdDSA token.
//!
//! ```text
//! callgrind_public <latchkey|leaf|jsonwebtoken|raw> <rs256|ps256|es256|eddsa> <iterations>
//! callgrind_public print <alg> 0      (prints the token)
//! ```
//!
//! Every token has a 285-byte signing input (the size issue 15 measured on): the
//! header `{"alg":…,"typ":"JWT","kid":"test-key-1"}` and typical access-token claims.
//! Keys: the 2048-bit `tests/data/rsa/rsa2048.pem`, and P-256 and Ed25519 keys from
//! fixed seeds.
//!
//! - latchkey: `Verifier::verify` of the whole token (size, segments, header, the
//!   signature, claims and their checks), the public `Key` built once.
//! - leaf: latchkey-core's own primitive (`alg::rsa`, `alg::ecdsa`, `alg::eddsa`) on
//!   the signing input alone, key built once: what the `Verifier` adds to it is the
//!   token layer (split, base64url, header, claims).
//! - jsonwebtoken: `decode` under the equivalent policy (leeway 60 s, `exp` and `nbf`
//!   checked), its `DecodingKey` built once (from the JWK components).
//! - raw: the primitive's verify of the signing input alone, its verifying key built
//!   once and the signature's bytes decoded once (outside the count); reading the
//!   bytes into the crate's signature type is inside it, as a verifier must do it.
//!   RSA: the `rsa` crate's PKCS#1 v1.5 or PSS `VerifyingKey`; ES256: `p256`'s
//!   `VerifyingKey::verify`; EdDSA: `ed25519-dalek`'s `verify_strict` (the check
//!   latchkey makes).
//!
//! As in `callgrind.rs`, each `measure_*` function runs one implementation
//! `iterations` times and is never inlined, so `--toggle-collect='*measure_*'` counts
//! exactly those calls; one call runs first, outside the collected function, and
//! must verify. `core/benches/callgrind_public.sh` runs all sixteen.
//!
//! In this build `jsonwebtoken` turns on the default features of `ed25519-dalek`
//! (`fast` basepoint tables) and `p256`: one copy of each crate is linked, so all
//! three verifiers use the same arithmetic.

use std::hint::black_box;
use std::process::ExitCode;

use base64ct::{Base64UrlUnpadded, Encoding};
use latchkey_core::alg::ecdsa::Es256VerifyingKey;
use latchkey_core::alg::eddsa::Ed25519VerifyingKey;
use latchkey_core::alg::rsa::{RsaHash, RsaVerifyingKey};
use latchkey_core::{Algorithm, EcCurve, Key, Validation, Verifier};
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{RandomizedSigner, SignatureEncoding, Signer, Verifier as _};
use rsa::traits::PublicKeyParts;
use rsa::{pkcs1v15, pss};
use serde::Deserialize;
use sha2::Sha256;

/// `iat` and `nbf` of the token.
const IAT: u64 = 1_700_000_000;
/// `exp`: far in the future, because `jsonwebtoken` reads the system clock.
const EXP: u64 = 4_000_000_000;
/// The time latchkey-core is given.
const NOW: u64 = 1_800_000_000;
/// The signing input's length.
const INPUT_LEN: usize = 285;

#[path = "../tests/support/splitmix.rs"]
mod splitmix;
use splitmix::SplitMix as SaltRng;

/// The header and claims of the token for `alg`: typical access-token claims,
/// padded (in `scope`) so that the signing input is [`INPUT_LEN`] bytes.
fn signing_input(alg: Algorithm) -> String {
    let header = format!(
        r#"{{"alg":"{}","typ":"JWT","kid":"test-key-1"}}"#,
        alg.name()
    );
    let header = Base64UrlUnpadded::encode_string(header.as_bytes());
    // The payload's base64 length for `claims` bytes of JSON.
    let b64_len = |n: usize| n.div_ceil(3) * 4 - (3 - n % 3) % 3;
    let claims = |scope: usize| {
        format!(
            concat!(
                r#"{{"sub":"alice","iat":{iat},"nbf":{iat},"exp":{exp},"#,
                r#""jti":"0f6e0c1a-6a3f-4d86-9b5e-2f0c9d7a1b34","scope":"{s}"}}"#
            ),
            iat = IAT,
            exp = EXP,
            s = "r".repeat(scope)
        )
    };
    let scope = (0..200)
        .find(|&n| header.len() + 1 + b64_len(claims(n).len()) == INPUT_LEN)
        .expect("a scope length that makes the signing input 285 bytes");
    let payload = Base64UrlUnpadded::encode_string(claims(scope).as_bytes());
    format!("{header}.{payload}")
}

/// The raw verifiers, keys built once.
enum Raw {
    Rs256(pkcs1v15::VerifyingKey<Sha256>),
    Ps256(pss::VerifyingKey<Sha256>),
    Es256(p256::ecdsa::VerifyingKey),
    EdDsa(ed25519_dalek::VerifyingKey),
}

/// latchkey-core's leaf verifiers, keys built once.
enum Leaf {
    Rs256(RsaVerifyingKey),
    Ps256(RsaVerifyingKey),
    Es256(Es256VerifyingKey),
    EdDsa(Ed25519VerifyingKey),
}

/// One algorithm's token and its four verifiers' keys.
struct Case {
    token: String,
    input_len: usize,
    signature: Vec<u8>,
    key: Key,
    leaf: Leaf,
    peer_key: jsonwebtoken::DecodingKey,
    peer_alg: jsonwebtoken::Algorithm,
    raw: Raw,
}

fn case(alg: Algorithm) -> Case {
    let input = signing_input(alg);
    let b64 = Base64UrlUnpadded::encode_string;
    let (signature, key, leaf, peer_key, raw) = match alg {
        Algorithm::Rs256 | Algorithm::Ps256 => {
            let private =
                rsa::PrivateKey::from_pkcs8_pem(include_str!("../tests/data/rsa/rsa2048.pem"))
                    .expect("test key");
            let public = private.to_public_key();
            let (n, e) = (public.n_bytes(), public.e_bytes());
            let key = Key::rsa(alg, &n, &e).expect("2048-bit key");
            let leaf_key = RsaVerifyingKey::new(&n, &e).expect("2048-bit key");
            let leaf = if alg == Algorithm::Rs256 {
                Leaf::Rs256(leaf_key)
            } else {
                Leaf::Ps256(leaf_key)
            };
            let peer = jsonwebtoken::DecodingKey::from_rsa_components(&b64(&n), &b64(&e));
            let (sig, raw) = if alg == Algorithm::Rs256 {
                let sig = pkcs1v15::SigningKey::<Sha256>::new(private).sign(input.as_bytes());
                (
                    sig.to_vec(),
                    Raw::Rs256(pkcs1v15::VerifyingKey::new(public)),
                )
            } else {
                let sig = pss::SigningKey::<Sha256>::new(private)
                    .sign_with_rng(&mut SaltRng(1), input.as_bytes());
                (sig.to_vec(), Raw::Ps256(pss::VerifyingKey::new(public)))
            };
            (sig, key, leaf, peer.expect("RSA components"), raw)
        }
        Algorithm::Es256 => {
            let sk = p256::ecdsa::SigningKey::from_slice(&[7; 32]).expect("scalar");
            let sig: p256::ecdsa::Signature = sk.sign(input.as_bytes());
            let point = sk.verifying_key().to_sec1_point(false);
            let (x, y) = point.as_bytes()[1..].split_at(32);
            let key = Key::ec(alg, EcCurve::P256, x, y).expect("P-256 point");
            let leaf = Leaf::Es256(Es256VerifyingKey::from_coordinates(x, y).expect("point"));
            let peer = jsonwebtoken::DecodingKey::from_ec_components(&b64(x), &b64(y));
            let raw = Raw::Es256(*sk.verifying_key());
            (
                sig.to_bytes().to_vec(),
                key,
                leaf,
                peer.expect("EC components"),
                raw,
            )
        }
        Algorithm::EdDsa => {
            let sk = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
            let sig = sk.sign(input.as_bytes());
            let x = sk.verifying_key().to_bytes();
            let key = Key::ed25519(alg, &x).expect("Ed25519 key");
            let leaf = Leaf::EdDsa(Ed25519VerifyingKey::from_bytes(&x).expect("key"));
            let peer = jsonwebtoken::DecodingKey::from_ed_components(&b64(&x));
            let raw = Raw::EdDsa(sk.verifying_key());
            (
                sig.to_bytes().to_vec(),
                key,
                leaf,
                peer.expect("Ed25519 x"),
                raw,
            )
        }
        other => unreachable!("{other}"),
    };
    Case {
        token: format!("{input}.{}", b64(&signature)),
        input_len: input.len(),
        signature,
        key,
        leaf,
        peer_key,
        peer_alg: alg.name().parse().expect("jsonwebtoken knows the name"),
        raw,
    }
}

/// One latchkey-core verification; `Ok` carries `exp` so nothing is optimized out.
#[inline(never)]
fn latchkey_once(
    v: &Verifier<'_>,
    token: &[u8],
    scratch: &mut [u8],
) -> Result<Option<i64>, latchkey_core::Error> {
    v.verify(black_box(token), black_box(NOW), scratch)
        .map(|claims| claims.exp())
}

#[inline(never)]
fn measure_latchkey(v: &Verifier<'_>, token: &[u8], n: u32) {
    let mut scratch = [0u8; 1024];
    for _ in 0..n {
        let _ = black_box(latchkey_once(v, token, &mut scratch));
    }
}

#[inline(never)]
fn leaf_once(leaf: &Leaf, input: &[u8], sig: &[u8]) -> bool {
    let (input, sig) = (black_box(input), black_box(sig));
    match leaf {
        Leaf::Rs256(k) => k.verify_pkcs1v15(RsaHash::Sha256, input, sig).is_ok(),
        Leaf::Ps256(k) => k.verify_pss(RsaHash::Sha256, input, sig).is_ok(),
        Leaf::Es256(k) => k.verify(input, sig).is_ok(),
        Leaf::EdDsa(k) => k.verify(input, sig).is_ok(),
    }
}

#[inline(never)]
fn measure_leaf(leaf: &Leaf, input: &[u8], sig: &[u8], n: u32) {
    for _ in 0..n {
        black_box(leaf_once(leaf, input, sig));
    }
}

/// The registered claims `jsonwebtoken` hands back, as latchkey's `Claims` does.
#[derive(Debug, Deserialize)]
#[allow(
    dead_code,
    reason = "deserialized for parity with latchkey's Claims, not read"
)]
struct Registered {
    exp: Option<u64>,
    nbf: Option<u64>,
    iat: Option<u64>,
    sub: Option<String>,
    jti: Option<String>,
}

#[inline(never)]
fn jsonwebtoken_once(
    key: &jsonwebtoken::DecodingKey,
    validation: &jsonwebtoken::Validation,
    token: &[u8],
) -> bool {
    jsonwebtoken::decode::<Registered>(black_box(token), key, validation).is_ok()
}

#[inline(never)]
fn measure_jsonwebtoken(
    key: &jsonwebtoken::DecodingKey,
    validation: &jsonwebtoken::Validation,
    token: &[u8],
    n: u32,
) {
    for _ in 0..n {
        black_box(jsonwebtoken_once(key, validation, token));
    }
}

#[inline(never)]
fn raw_once(raw: &Raw, input: &[u8], sig: &[u8]) -> bool {
    let (input, sig) = (black_box(input), black_box(sig));
    match raw {
        Raw::Rs256(k) => {
            pkcs1v15::Signature::try_from(sig).is_ok_and(|s| k.verify(input, &s).is_ok())
        }
        Raw::Ps256(k) => pss::Signature::try_from(sig).is_ok_and(|s| k.verify(input, &s).is_ok()),
        Raw::Es256(k) => {
            p256::ecdsa::Signature::from_slice(sig).is_ok_and(|s| k.verify(input, &s).is_ok())
        }
        Raw::EdDsa(k) => ed25519_dalek::Signature::from_slice(sig)
            .is_ok_and(|s| k.verify_strict(input, &s).is_ok()),
    }
}

#[inline(never)]
fn measure_raw(raw: &Raw, input: &[u8], sig: &[u8], n: u32) {
    for _ in 0..n {
        black_box(raw_once(raw, input, sig));
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(which), Some(alg), Some(n)) = (
        args.first(),
        args.get(1),
        args.get(2).and_then(|n| n.parse::<u32>().ok()),
    ) else {
        eprintln!(
            "usage: callgrind_public <latchkey|leaf|jsonwebtoken|raw|print> <rs256|ps256|es256|eddsa> <iterations>"
        );
        return ExitCode::from(2);
    };
    let alg = match alg.as_str() {
        "rs256" => Algorithm::Rs256,
        "ps256" => Algorithm::Ps256,
        "es256" => Algorithm::Es256,
        "eddsa" => Algorithm::EdDsa,
        other => {
            eprintln!("unknown algorithm {other:?}: rs256, ps256, es256 or eddsa");
            return ExitCode::from(2);
        }
    };
    let c = case(alg);
    assert_eq!(c.input_len, INPUT_LEN);
    let token = c.token.as_bytes();
    let input = &token[..c.input_len];
    match which.as_str() {
        "latchkey" => {
            let v = Verifier::new(c.key, Validation::new());
            let mut scratch = [0u8; 1024];
            let exp = latchkey_once(&v, token, &mut scratch).expect("latchkey verifies");
            assert_eq!(exp, Some(EXP as i64));
            measure_latchkey(&v, token, n);
        }
        "leaf" => {
            assert!(leaf_once(&c.leaf, input, &c.signature));
            measure_leaf(&c.leaf, input, &c.signature, n);
        }
        "jsonwebtoken" => {
            let mut validation = jsonwebtoken::Validation::new(c.peer_alg);
            validation.leeway = 60;
            validation.validate_nbf = true;
            assert!(jsonwebtoken_once(&c.peer_key, &validation, token));
            measure_jsonwebtoken(&c.peer_key, &validation, token, n);
        }
        "raw" => {
            assert!(raw_once(&c.raw, input, &c.signature));
            measure_raw(&c.raw, input, &c.signature, n);
        }
        "print" => {
            println!("{}", c.token);
            return ExitCode::SUCCESS;
        }
        other => {
            eprintln!("unknown implementation {other:?}: latchkey, leaf, jsonwebtoken or raw");
            return ExitCode::from(2);
        }
    }
    println!("{which} {} {} bytes x {n}", alg.name(), c.input_len);
    ExitCode::SUCCESS
}
